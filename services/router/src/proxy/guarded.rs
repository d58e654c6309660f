//! The guard in the request flow: the prompt is checked before an endpoint is
//! picked (a refused prompt costs no model server anything); a whole response is
//! checked before it is sent; a streamed one is wrapped in an [`SseGuard`].

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::http::request::Parts;

use super::errors::ApiError;
use super::request::ParsedBody;
use super::types::{LoggedPrompt, RequestRecord};
use crate::guard::{Action, Guard, GuardEvent, Outcome, RequestView, SseGuard, response_text};

/// Largest whole response the guard reads before sending it.
const MAX_CHECKED_RESPONSE: usize = 64 << 20;

/// The chain that takes this request, after its prompt passed; `Err` when the
/// prompt is refused.
pub(crate) async fn prompt(
    guard: Option<&Arc<Guard>>,
    parts: &Parts,
    parsed: &ParsedBody,
    record: &mut RequestRecord,
) -> Result<Option<usize>, ApiError> {
    let Some(guard) = guard else {
        return Ok(None);
    };
    let view = RequestView {
        path: parts.uri.path(),
        method: parts.method.as_str(),
        headers: &parts.headers,
        model: Some(&parsed.model),
    };
    let Some(chain) = guard.select(&view) else {
        return Ok(None);
    };
    record.prompt_log = guard
        .loggable(chain, &parsed.prompt)
        .map(|redacted| LoggedPrompt {
            redacted,
            length: parsed.prompt.len(),
            hash: format!("{:016x}", shared::hash::fnv1a(parsed.prompt.as_bytes())),
        });
    if !guard.checks(chain, GuardEvent::Prompt) {
        return Ok(Some(chain));
    }
    let outcome = timed_check(guard, chain, GuardEvent::Prompt, &parsed.prompt).await;
    record.guard = Some(outcome.label());
    if outcome.refused() {
        return Err(refusal(guard, chain, &outcome));
    }
    Ok(Some(chain))
}

/// A streamed response's guard, when chain `chain` checks responses.
pub(crate) fn stream(guard: Option<&Arc<Guard>>, chain: Option<usize>) -> Option<SseGuard> {
    let (guard, chain) = (guard?, chain?);
    guard
        .checks(chain, GuardEvent::Response)
        .then(|| SseGuard::new(guard.stream(chain)))
}

/// A response body after [`whole`].
pub(crate) enum Checked {
    /// Not checked: send the upstream body as it comes.
    Upstream(Incoming),
    /// Read and checked: send these bytes.
    Whole(Bytes),
}

/// Reads and checks a whole response when chain `chain` checks responses; `Err`
/// when it is refused or unreadable.
pub(crate) async fn whole(
    guard: Option<&Arc<Guard>>,
    chain: Option<usize>,
    body: Incoming,
    record: &mut RequestRecord,
) -> Result<Checked, ApiError> {
    let (Some(guard), Some(chain)) = (guard, chain) else {
        return Ok(Checked::Upstream(body));
    };
    if !guard.checks(chain, GuardEvent::Response) {
        return Ok(Checked::Upstream(body));
    }
    let bytes = Limited::new(body, MAX_CHECKED_RESPONSE)
        .collect()
        .await
        .map_err(|e| {
            ApiError::upstream(
                StatusCode::BAD_GATEWAY,
                "http_protocol_error",
                &format!("reading the response to check it: {e}"),
            )
        })?
        .to_bytes();
    let outcome = timed_check(guard, chain, GuardEvent::Response, &response_text(&bytes)).await;
    note(record, &outcome);
    if outcome.refused() {
        return Err(refusal(guard, chain, &outcome));
    }
    Ok(Checked::Whole(bytes))
}

/// One check, timed and counted.
async fn timed_check(guard: &Guard, chain: usize, event: GuardEvent, text: &str) -> Outcome {
    #[allow(
        clippy::disallowed_methods,
        reason = "the proxy shell times the guard's check"
    )]
    let started = std::time::Instant::now();
    let outcome = guard.check(chain, event, text).await;
    guard.record(chain, event, &outcome, started.elapsed().as_secs_f64());
    outcome
}

/// Records a response outcome unless the prompt's says more.
pub(crate) fn note(record: &mut RequestRecord, outcome: &Outcome) {
    if outcome.action != Action::Allow || record.guard.is_none() {
        record.guard = Some(outcome.label());
    }
}

fn refusal(guard: &Guard, chain: usize, outcome: &Outcome) -> ApiError {
    let (status, code, message) = guard.refusal(chain, outcome);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    let kind = if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request_error"
    };
    ApiError::new(status, kind, code, message)
}
