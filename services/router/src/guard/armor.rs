//! An HTTP client for Model Armor's sanitize methods, or for any checker that
//! answers in their shape.
//!
//! [`Armor::check`] sends one prompt or model response to a template:
//!
//! - `POST {url}:sanitizeUserPrompt` with `{"userPromptData":{"text":...}}`;
//! - `POST {url}:sanitizeModelResponse` with `{"modelResponseData":{"text":...}}`;
//!
//! where `url` is the template's resource URL, and reads the
//! `sanitizationResult` of the answer into a [`Verdict`]. Field names follow
//! `google/cloud/modelarmor/v1/service.proto` in proto3's JSON mapping.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use reqwest::Url;
use serde::{Deserialize, Serialize};

/// Where the checker is and how to talk to it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArmorConfig {
    /// The template's resource URL, up to but not including
    /// `:sanitizeUserPrompt`, e.g.
    /// `https://modelarmor.us-central1.rep.googleapis.com/v1/projects/P/locations/us-central1/templates/T`.
    pub url: String,
    /// The name of an environment variable holding a bearer token, read once
    /// by [`Armor::new`] and sent as `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// Whether an answer with `invocationResult: PARTIAL`, where some filters
    /// were skipped or failed, counts as a verdict rather than an error.
    #[serde(default)]
    pub accept_partial: bool,
}

/// What is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A user prompt, on its way to the model: `sanitizeUserPrompt`.
    Prompt,
    /// A model response, on its way back: `sanitizeModelResponse`.
    Response,
}

/// The checker's verdict on one text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Whether any filter matched: `filterMatchState` is `MATCH_FOUND`, or a
    /// filter result says so.
    pub matched: bool,
    /// The `filterResults` keys whose result is `MATCH_FOUND`, sorted, e.g.
    /// `pi_and_jailbreak`, `rai`, `sdp`.
    pub filters: Vec<String>,
}

/// Why a check gave no verdict.
///
/// # Failing open or closed
///
/// [`Armor`] decides nothing about an unanswered check: every way a check can
/// go wrong is one of these, and the caller maps it to allow (fail open) or
/// block (fail closed), as a GKE extension's `failOpen` does. A guard in front
/// of a model normally fails closed on [`ArmorError::Invocation`] and
/// [`ArmorError::Malformed`], where the checker answered without vouching for
/// the text, and chooses per deployment for [`ArmorError::Timeout`],
/// [`ArmorError::Connect`], [`ArmorError::Transport`] and
/// [`ArmorError::Status`], where it did not answer. [`ArmorError::InvalidUrl`],
/// [`ArmorError::Token`] and [`ArmorError::Client`] come from [`Armor::new`],
/// at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ArmorError {
    /// The configured URL is not a template resource URL.
    #[error(
        "armor url {url:?} is not a template URL (…/projects/P/locations/L/templates/T): {reason}"
    )]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The bearer token's environment variable is unset, not Unicode, or not
    /// usable in a header.
    #[error("armor bearer token: environment variable {name} {reason}")]
    Token {
        /// The variable's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be set up.
    #[error("armor HTTP client setup: {0}")]
    Client(String),
    /// No full answer within the check's timeout.
    #[error("armor check unanswered after {after:?}")]
    Timeout {
        /// The timeout the check ran under.
        after: Duration,
    },
    /// The checker could not be reached.
    #[error("armor checker unreachable: {0}")]
    Connect(String),
    /// The connection broke, or the request could not be sent, after
    /// connecting.
    #[error("armor exchange broken off: {0}")]
    Transport(String),
    /// The checker answered with an HTTP status other than 2xx.
    #[error("armor checker answered HTTP {code}: {body}")]
    Status {
        /// The HTTP status code.
        code: u16,
        /// The first 200 bytes of the answer's body.
        body: String,
    },
    /// The answer is not a sanitization result this client can read.
    #[error("armor answer unreadable: {0}")]
    Malformed(String),
    /// The checker ran only some of its filters (`PARTIAL`, unless
    /// [`ArmorConfig::accept_partial`]) or none (`FAILURE`).
    #[error("armor invocationResult is {0}: not every filter ran")]
    Invocation(String),
}

/// A client for one Model Armor template. Cheap to clone: clones share one
/// connection pool.
///
/// [`Armor::check`] sends one text, and reads the `sanitizationResult` of the
/// answer into a [`Verdict`]:
///
/// - a prompt: `POST {url}:sanitizeUserPrompt` with
///   `{"userPromptData":{"text":...}}`;
/// - a model response: `POST {url}:sanitizeModelResponse` with
///   `{"modelResponseData":{"text":...}}` (the optional `userPrompt` is not
///   sent);
///
/// where `url` is [`ArmorConfig::url`]. Field names are those of
/// `google/cloud/modelarmor/v1/service.proto` in proto3's JSON mapping.
#[derive(Debug, Clone)]
pub struct Armor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    prompt_url: Url,
    response_url: Url,
    authorization: Option<HeaderValue>,
    accept_partial: bool,
}

impl Armor {
    /// Checks `config` and builds a client for it.
    ///
    /// # Errors
    ///
    /// [`ArmorError::InvalidUrl`] unless `config.url` is an `http` or `https`
    /// URL without query or fragment whose path ends in
    /// `projects/P/locations/L/templates/T`; [`ArmorError::Token`] when a
    /// bearer token is configured but its variable does not hold one;
    /// [`ArmorError::Client`] when the HTTP client cannot be set up.
    pub fn new(config: &ArmorConfig) -> Result<Self, ArmorError> {
        let base = template_url(&config.url)?;
        let method_url = |method: &str| {
            Url::parse(&format!("{base}:{method}")).map_err(|error| ArmorError::InvalidUrl {
                url: config.url.clone(),
                reason: error.to_string(),
            })
        };
        let authorization = config.bearer_token_env.as_deref().map(bearer).transpose()?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("poolpilot-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ArmorError::Client(error.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                prompt_url: method_url("sanitizeUserPrompt")?,
                response_url: method_url("sanitizeModelResponse")?,
                authorization,
                accept_partial: config.accept_partial,
            }),
        })
    }

    /// Checks `text`, bounded by `timeout`: connecting, sending and reading
    /// the whole answer.
    ///
    /// # Errors
    ///
    /// See [`ArmorError`], which also says how callers map errors to allow
    /// or block.
    pub async fn check(
        &self,
        event: Event,
        text: &str,
        timeout: Duration,
    ) -> Result<Verdict, ArmorError> {
        let inner = &self.inner;
        let request = match event {
            Event::Prompt => {
                inner
                    .client
                    .post(inner.prompt_url.clone())
                    .json(&SanitizeUserPrompt {
                        user_prompt_data: DataItem { text },
                    })
            }
            Event::Response => {
                inner
                    .client
                    .post(inner.response_url.clone())
                    .json(&SanitizeModelResponse {
                        model_response_data: DataItem { text },
                    })
            }
        };
        let request = match &inner.authorization {
            Some(authorization) => {
                request.header(http::header::AUTHORIZATION, authorization.clone())
            }
            None => request,
        };
        let exchange = async {
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status();
            let body = response.bytes().await.map_err(transport_error)?;
            Ok::<_, ArmorError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| ArmorError::Timeout { after: timeout })??;
        if !status.is_success() {
            let head = &body[..body.len().min(200)];
            return Err(ArmorError::Status {
                code: status.as_u16(),
                body: String::from_utf8_lossy(head).into_owned(),
            });
        }
        verdict(&body, inner.accept_partial)
    }
}

/// `url` without a trailing `/`, once it is known to be a template URL.
fn template_url(url: &str) -> Result<&str, ArmorError> {
    let invalid = |reason: &str| ArmorError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = url.strip_suffix('/').unwrap_or(url);
    let parsed = Url::parse(trimmed).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme is neither http nor https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("there is no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("it has a query or fragment"));
    }
    let segments: Vec<&str> = parsed
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    let tail = match segments.as_slice() {
        [.., "projects", p, "locations", l, "templates", t] => [*p, *l, *t],
        _ => {
            return Err(invalid(
                "the path does not end in projects/P/locations/L/templates/T",
            ));
        }
    };
    if tail.iter().any(|segment| segment.is_empty()) {
        return Err(invalid("the project, location or template is empty"));
    }
    if tail[2].contains(':') {
        return Err(invalid("the template name has a `:`; leave out the method"));
    }
    Ok(trimmed)
}

/// `Bearer <token>` from the environment variable `name`.
fn bearer(name: &str) -> Result<HeaderValue, ArmorError> {
    let invalid = |reason: &str| ArmorError::Token {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    let token = std::env::var(name).map_err(|error| invalid(&error.to_string()))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(invalid("is empty"));
    }
    let mut value = HeaderValue::try_from(format!("Bearer {token}"))
        .map_err(|_| invalid("holds bytes a header cannot carry"))?;
    value.set_sensitive(true);
    Ok(value)
}

fn transport_error(error: reqwest::Error) -> ArmorError {
    let error = error.without_url();
    let text = error_chain(&error);
    if error.is_connect() {
        ArmorError::Connect(text)
    } else {
        ArmorError::Transport(text)
    }
}

/// `error` and its sources, joined by `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The [`Verdict`] in an answer's body.
fn verdict(body: &[u8], accept_partial: bool) -> Result<Verdict, ArmorError> {
    let answer: SanitizeResponse =
        serde_json::from_slice(body).map_err(|error| ArmorError::Malformed(error.to_string()))?;
    let result = answer.sanitization_result;
    match result.invocation_result.as_deref() {
        None | Some("SUCCESS") => {}
        Some("PARTIAL") if accept_partial => {}
        Some(other @ ("PARTIAL" | "FAILURE")) => {
            return Err(ArmorError::Invocation(other.to_owned()));
        }
        Some(other) => {
            return Err(ArmorError::Malformed(format!(
                "invocationResult {other:?} is unknown"
            )));
        }
    }
    let overall = match result.filter_match_state.as_deref() {
        Some(MATCH_FOUND) => true,
        Some("NO_MATCH_FOUND") => false,
        Some(other) => {
            return Err(ArmorError::Malformed(format!(
                "filterMatchState is {other}"
            )));
        }
        None => {
            return Err(ArmorError::Malformed(
                "sanitizationResult has no filterMatchState".to_owned(),
            ));
        }
    };
    let filters: Vec<String> = result
        .filter_results
        .into_iter()
        .filter(|(_, filter)| filter.matched())
        .map(|(key, _)| key)
        .collect();
    Ok(Verdict {
        matched: overall || !filters.is_empty(),
        filters,
    })
}

const MATCH_FOUND: &str = "MATCH_FOUND";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SanitizeUserPrompt<'a> {
    user_prompt_data: DataItem<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SanitizeModelResponse<'a> {
    model_response_data: DataItem<'a>,
}

#[derive(Serialize)]
struct DataItem<'a> {
    text: &'a str,
}

/// `SanitizeUserPromptResponse` and `SanitizeModelResponseResponse`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SanitizeResponse {
    sanitization_result: SanitizationResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SanitizationResult {
    filter_match_state: Option<String>,
    #[serde(default)]
    filter_results: BTreeMap<String, FilterResult>,
    invocation_result: Option<String>,
}

/// `FilterResult`, a oneof: one of these is set.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterResult {
    rai_filter_result: Option<MatchState>,
    sdp_filter_result: Option<SdpFilterResult>,
    pi_and_jailbreak_filter_result: Option<MatchState>,
    malicious_uri_filter_result: Option<MatchState>,
    csam_filter_filter_result: Option<MatchState>,
    virus_scan_filter_result: Option<MatchState>,
    /// A kind of filter result newer than this client.
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

impl FilterResult {
    fn matched(&self) -> bool {
        let known = [
            &self.rai_filter_result,
            &self.pi_and_jailbreak_filter_result,
            &self.malicious_uri_filter_result,
            &self.csam_filter_filter_result,
            &self.virus_scan_filter_result,
        ];
        known.into_iter().flatten().any(MatchState::matched)
            || self
                .sdp_filter_result
                .as_ref()
                .is_some_and(SdpFilterResult::matched)
            || self.other.values().any(|result| {
                result.get("matchState").and_then(serde_json::Value::as_str) == Some(MATCH_FOUND)
            })
    }
}

/// The `matchState` every filter result (but SDP's) carries.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MatchState {
    match_state: Option<String>,
}

impl MatchState {
    fn matched(&self) -> bool {
        self.match_state.as_deref() == Some(MATCH_FOUND)
    }
}

/// `SdpFilterResult`, a oneof of an inspection or a de-identification result,
/// each with its own `matchState`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SdpFilterResult {
    inspect_result: Option<MatchState>,
    deidentify_result: Option<MatchState>,
}

impl SdpFilterResult {
    fn matched(&self) -> bool {
        [&self.inspect_result, &self.deidentify_result]
            .into_iter()
            .flatten()
            .any(MatchState::matched)
    }
}

#[cfg(test)]
mod tests;
