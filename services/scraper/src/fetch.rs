//! One HTTP scrape: text format preferred, gzip accepted, a body size limit enforced
//! while reading (a larger body is an error, not an OOM), a timeout.

use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};

/// What Prometheus sends, with the text format first.
const ACCEPT_TEXT: &str =
    "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1";

/// A failed scrape. `kind()` is the small fixed set used as a metric label.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connection refused, reset, DNS, TLS…
    #[error("target {url}: scrape: {reason}")]
    Transport {
        /// The target.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// No answer within the timeout.
    #[error("target {url}: scrape: no answer within {timeout:?}")]
    Timeout {
        /// The target.
        url: String,
        /// The limit.
        timeout: Duration,
    },
    /// A status other than 200.
    #[error("target {url}: scrape: HTTP {status}")]
    Status {
        /// The target.
        url: String,
        /// The status.
        status: u16,
    },
    /// The body is larger than allowed.
    #[error("target {url}: scrape: body exceeds {limit} bytes")]
    TooLarge {
        /// The target.
        url: String,
        /// `max_body_bytes`.
        limit: u64,
    },
    /// The body is not UTF-8 text.
    #[error("target {url}: scrape: body is not UTF-8")]
    Encoding {
        /// The target.
        url: String,
    },
}

impl FetchError {
    /// The metric label: `transport`, `timeout`, `status`, `too_large`, `encoding`.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Transport { .. } => "transport",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Status { .. } => "status",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Encoding { .. } => "encoding",
        }
    }
}

/// A shared HTTP client for scrapes (connections are reused across scrapes).
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: u64,
}

impl Fetcher {
    /// A client with `timeout` per scrape and `max_body` bytes per body.
    pub fn new(timeout: Duration, max_body: u64) -> Result<Self, reqwest::Error> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_TEXT));
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .gzip(true)
            .build()?;
        Ok(Self {
            client,
            timeout,
            max_body,
        })
    }

    /// The body of `url`.
    pub async fn fetch(&self, url: &str) -> Result<String, FetchError> {
        let err = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout {
                    url: url.to_owned(),
                    timeout: self.timeout,
                }
            } else {
                FetchError::Transport {
                    url: url.to_owned(),
                    reason: e.to_string(),
                }
            }
        };
        let mut response = self.client.get(url).send().await.map_err(err)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_owned(),
            limit: self.max_body,
        };
        if response.content_length().is_some_and(|n| n > self.max_body) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(err)? {
            if (body.len() + chunk.len()) as u64 > self.max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| FetchError::Encoding {
            url: url.to_owned(),
        })
    }
}
