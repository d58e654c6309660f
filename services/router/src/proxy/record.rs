//! Guards that keep the [`Router`] bookkeeping exact whatever path a request
//! takes (success, error, timeout, client gone): [`InFlight`] pairs `started`
//! with `finished`, [`Tracker`] reports `completed` once, on drop.

use std::sync::Arc;
use std::time::Instant;

use super::types::{RequestRecord, Router};

/// Status recorded when the client went away before the response ended.
pub(crate) const CLIENT_CLOSED: u16 = 499;

/// One upstream attempt in flight: `started` on creation, `finished` on drop.
pub(crate) struct InFlight {
    router: Arc<dyn Router>,
    endpoint: String,
}

impl InFlight {
    pub fn start(router: &Arc<dyn Router>, endpoint: &str) -> Self {
        router.started(endpoint);
        Self {
            router: Arc::clone(router),
            endpoint: endpoint.to_owned(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.router.finished(&self.endpoint);
    }
}

/// The record of one request, reported to the router when dropped.
///
/// The status starts as [`CLIENT_CLOSED`]: a request whose handler or
/// response body is dropped before a status is set was abandoned by the client.
pub(crate) struct Tracker {
    router: Arc<dyn Router>,
    started: Instant,
    pub record: RequestRecord,
    /// The request's span (OpenTelemetry HTTP and GenAI attribute names), closed
    /// with the record; disabled unless spans are exported.
    span: tracing::Span,
}

impl Tracker {
    pub fn new(router: Arc<dyn Router>, started: Instant, record: RequestRecord) -> Self {
        let span = if shared::telemetry::traces_enabled() {
            tracing::info_span!(
                "request",
                otel.name = format!("{} {}", record.method, record.path),
                otel.kind = "server",
                otel.status_code = tracing::field::Empty,
                http.request.method = record.method,
                url.path = record.path,
                client.address = record.remote,
                request.id = record.id,
                http.response.status_code = tracing::field::Empty,
                gen_ai.request.model = tracing::field::Empty,
                gen_ai.response.model = tracing::field::Empty,
                gen_ai.usage.input_tokens = tracing::field::Empty,
                gen_ai.usage.output_tokens = tracing::field::Empty,
                server.address = tracing::field::Empty,
                error.type = tracing::field::Empty,
                proxy_status = tracing::field::Empty,
            )
        } else {
            tracing::Span::none()
        };
        Self {
            router,
            started,
            span,
            record: RequestRecord {
                status: CLIENT_CLOSED,
                ..record
            },
        }
    }

    /// When the request started.
    pub fn started(&self) -> Instant {
        self.started
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let mut record = std::mem::take(&mut self.record);
        record.duration_seconds = self.started.elapsed().as_secs_f64();
        if record.status == CLIENT_CLOSED && record.error_code.is_none() {
            record.error_code = Some("client_closed_request".to_owned());
        }
        close(&self.span, &record);
        self.router.completed(record);
    }
}

/// Records how the request ended on its span.
fn close(span: &tracing::Span, r: &RequestRecord) {
    if span.is_disabled() {
        return;
    }
    span.record("http.response.status_code", i64::from(r.status));
    span.record("gen_ai.request.model", r.model.as_str());
    span.record("gen_ai.response.model", r.target_model.as_str());
    if let Some(endpoint) = &r.endpoint {
        span.record("server.address", endpoint.as_str());
    }
    if let Some(tokens) = r.input_tokens {
        span.record("gen_ai.usage.input_tokens", tokens as i64);
    }
    if let Some(tokens) = r.output_tokens {
        span.record("gen_ai.usage.output_tokens", tokens as i64);
    }
    if let Some(code) = &r.error_code {
        span.record("error.type", code.as_str());
    }
    if let Some(status) = &r.proxy_status {
        span.record("proxy_status", status.as_str());
    }
    if r.status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
}
