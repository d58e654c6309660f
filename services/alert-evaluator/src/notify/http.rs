//! HTTP pieces both shells share: the user agent, the client, URLs fit for logs,
//! and the JSON POST each delivery makes.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{RequestBuilder, Response, Url};

/// `User-Agent` of every request.
pub(super) const USER_AGENT: &str = concat!("poolpilot/", env!("CARGO_PKG_VERSION"));

/// The HTTP client of one sender; an error only when TLS cannot be set up, and
/// then every delivery reports it.
pub(super) fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// `scheme://host:port/path` without credentials, query or fragment: webhook
/// URLs often carry secrets there.
pub(super) fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    // Both only fail for URLs that cannot have credentials, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Where one shell posts: its client and URL, each kept as the reason it could not
/// be set up (then every delivery reports it), and the URL as logs show it.
pub(super) struct Endpoint {
    client: Result<reqwest::Client, String>,
    url: Result<Url, String>,
    shown_url: String,
}

impl Endpoint {
    /// `configured` is the URL as written, shown when it is not valid.
    pub(super) fn new(url: Result<Url, String>, configured: &str) -> Self {
        let shown_url = url
            .as_ref()
            .map_or_else(|_| configured.to_owned(), redacted);
        Self {
            client: client(),
            url,
            shown_url,
        }
    }

    /// The URL for logs and errors: [`redacted`], or as configured when not valid.
    pub(super) fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// A POST with `Content-Type: application/json` bounded by `timeout`, with
    /// `Authorization: Bearer` when `bearer_token` is set; the caller adds the body.
    /// The reason when the client or the URL could not be set up.
    pub(super) fn post_json(
        &self,
        timeout: Duration,
        bearer_token: Option<&str>,
    ) -> Result<RequestBuilder, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let url = self.url.as_ref().map_err(Clone::clone)?;
        let request = client
            .post(url.clone())
            .timeout(timeout)
            .header(CONTENT_TYPE, "application/json");
        Ok(match bearer_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        })
    }
}

/// Sends `request`; a transport error leaves the URL out (it may carry secrets).
pub(super) async fn send(request: RequestBuilder) -> Result<Response, reqwest::Error> {
    request.send().await.map_err(reqwest::Error::without_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_query() -> Result<(), Box<dyn std::error::Error>> {
        let url = Url::parse("https://user:pw@hooks.example.com/x/y?token=abc#f")?;
        assert_eq!(redacted(&url), "https://hooks.example.com/x/y");
        Ok(())
    }
}
