//! A stand-in for Model Armor on 127.0.0.1, answering in its shape.
//!
//! The template name picks the answer: `match`, `clean`, `slow` (answers after
//! [`SLOW`]), `garbled` (not JSON), `partial`, `failure` (invocation results),
//! `broken` (HTTP 500). The stand-in answers HTTP 400 to a request whose
//! method, path or body is not what Model Armor takes, and records the rest.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use router::guard::ArmorConfig;
use serde_json::{Value, json};

/// The path up to the template name.
pub const PREFIX: &str = "/v1/projects/p/locations/l/templates/";

/// How long the `slow` template takes to answer.
pub const SLOW: Duration = Duration::from_secs(10);

/// A request the stand-in accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// The template name.
    pub template: String,
    /// `sanitizeUserPrompt` or `sanitizeModelResponse`.
    pub method: String,
    /// The text sent.
    pub text: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// A running stand-in.
pub struct StandIn {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// What it has accepted, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl StandIn {
    /// Starts a stand-in on an ephemeral port of 127.0.0.1.
    pub async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(answer).with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, seen }
    }

    /// A config for `template` on this stand-in.
    pub fn config(&self, template: &str) -> ArmorConfig {
        ArmorConfig {
            url: format!("{}{PREFIX}{template}", self.base),
            bearer_token_env: None,
            accept_partial: false,
        }
    }

    /// What it has accepted so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    State(seen): State<Arc<Mutex<Vec<Seen>>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match check(&method, &uri, &headers, &body) {
        Ok(request) => request,
        Err(reason) => {
            return (StatusCode::BAD_REQUEST, format!("stand-in: {reason}")).into_response();
        }
    };
    let template = request.template.clone();
    seen.lock().unwrap().push(request);
    let result = match template.as_str() {
        "match" => json!({
            "filterMatchState": "MATCH_FOUND",
            "filterResults": {
                "csam": {"csamFilterFilterResult": {"executionState": "EXECUTION_SUCCESS", "matchState": "NO_MATCH_FOUND"}},
                "malicious_uris": {"maliciousUriFilterResult": {"executionState": "EXECUTION_SUCCESS", "matchState": "NO_MATCH_FOUND"}},
                "rai": {"raiFilterResult": {"executionState": "EXECUTION_SUCCESS", "matchState": "NO_MATCH_FOUND"}},
                "pi_and_jailbreak": {"piAndJailbreakFilterResult": {
                    "executionState": "EXECUTION_SUCCESS", "matchState": "MATCH_FOUND", "confidenceLevel": "HIGH"}},
                "sdp": {"sdpFilterResult": {"inspectResult": {
                    "executionState": "EXECUTION_SUCCESS", "matchState": "MATCH_FOUND",
                    "findings": [{"infoType": "US_SOCIAL_SECURITY_NUMBER", "likelihood": "LIKELY"}]}}}
            },
            "invocationResult": "SUCCESS",
            "sanitizationMetadata": {}
        }),
        "clean" | "slow" => {
            if template == "slow" {
                tokio::time::sleep(SLOW).await;
            }
            clean("SUCCESS")
        }
        "partial" => clean("PARTIAL"),
        "failure" => json!({
            "filterMatchState": "FILTER_MATCH_STATE_UNSPECIFIED",
            "invocationResult": "FAILURE",
            "sanitizationMetadata": {"errorCode": "500", "errorMessage": "all filters skipped"}
        }),
        "garbled" => {
            return (
                StatusCode::OK,
                "{\"sanitizationResult\": {\"filterMatchState\": ",
            )
                .into_response();
        }
        "broken" => return (StatusCode::INTERNAL_SERVER_ERROR, "x".repeat(1000)).into_response(),
        other => {
            return (
                StatusCode::NOT_FOUND,
                format!("stand-in: no template {other}"),
            )
                .into_response();
        }
    };
    axum::Json(json!({"sanitizationResult": result})).into_response()
}

fn clean(invocation: &str) -> Value {
    json!({
        "filterMatchState": "NO_MATCH_FOUND",
        "filterResults": {
            "rai": {"raiFilterResult": {"executionState": "EXECUTION_SUCCESS", "matchState": "NO_MATCH_FOUND"}}
        },
        "invocationResult": invocation,
        "sanitizationMetadata": {}
    })
}

/// The request, if it is one Model Armor would take.
fn check(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<Seen, String> {
    if method != Method::POST {
        return Err(format!("method {method}, not POST"));
    }
    if uri.query().is_some() {
        return Err("a query string".to_owned());
    }
    let rest = uri
        .path()
        .strip_prefix(PREFIX)
        .ok_or_else(|| format!("path {} is not under {PREFIX}", uri.path()))?;
    let (template, rpc) = rest
        .split_once(':')
        .ok_or_else(|| format!("path {} has no :method suffix", uri.path()))?;
    let field = match rpc {
        "sanitizeUserPrompt" => "userPromptData",
        "sanitizeModelResponse" => "modelResponseData",
        other => return Err(format!("method suffix :{other}")),
    };
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    if content_type != Some("application/json") {
        return Err(format!("content-type {content_type:?}"));
    }
    let body: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let object = body.as_object().ok_or("body is not an object")?;
    if object.len() != 1 {
        return Err(format!("body has fields other than {field}: {body}"));
    }
    let item = object
        .get(field)
        .and_then(Value::as_object)
        .ok_or_else(|| format!("body has no {field} object for :{rpc}: {body}"))?;
    let text = match (item.len(), item.get("text").and_then(Value::as_str)) {
        (1, Some(text)) => text.to_owned(),
        _ => return Err(format!("{field} is not {{\"text\": string}}: {body}")),
    };
    Ok(Seen {
        template: template.to_owned(),
        method: rpc.to_owned(),
        text,
        authorization: headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("<not ascii>").to_owned()),
    })
}
