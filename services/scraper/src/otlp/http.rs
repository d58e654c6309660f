//! OTLP/HTTP: `POST /v1/metrics` with `application/x-protobuf` bodies, optionally
//! gzip-compressed, answered as the spec says: 200 with an
//! `ExportMetricsServiceResponse`, 400/413/415 with a `google.rpc.Status` for what we
//! cannot read, 503 when the bus is down (retryable).

use std::future::Future;
use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use tokio::net::TcpListener;

use super::events::Transport;
use super::ingest::Ingest;

const PROTOBUF: &str = "application/x-protobuf";

/// `google.rpc.Status`, the body the spec asks for on failures. Declared here because
/// no crate in our tree ships it with prost 0.14 derives.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    /// A `google.rpc.Code`.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// What went wrong, for a person.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// Why a request was not accepted; each maps to the status the spec gives it.
enum Failure {
    /// Not protobuf, or an encoding we cannot undo: 415.
    Unsupported(String),
    /// More than `max_body_bytes`, before or after gunzip: 413.
    TooLarge(String),
    /// Not an `ExportMetricsServiceRequest`, or broken gzip: 400.
    Invalid(String),
    /// The bus refused it: 503, retryable.
    Unavailable(String),
}

impl Failure {
    fn status(&self) -> (StatusCode, i32, &str) {
        // Codes from google/rpc/code.proto.
        match self {
            Failure::Unsupported(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, 3, m),
            Failure::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, 8, m),
            Failure::Invalid(m) => (StatusCode::BAD_REQUEST, 3, m),
            Failure::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, 14, m),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, code, message) = self.status();
        let body = RpcStatus {
            code,
            message: message.to_owned(),
        }
        .encode_to_vec();
        let mut response = (status, [(header::CONTENT_TYPE, PROTOBUF)], body).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // The spec lets a 503 say when to come back; a bus hiccup is short.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

struct HttpState {
    ingest: Arc<Ingest>,
    max_body: usize,
}

/// Serves OTLP/HTTP on `listener` until `shutdown`, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    ingest: Arc<Ingest>,
    max_body: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = Arc::new(HttpState { ingest, max_body });
    let app = Router::new()
        .route("/v1/metrics", post(export))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn export(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    match handle(&state, request).await {
        Ok(body) => (StatusCode::OK, [(header::CONTENT_TYPE, PROTOBUF)], body).into_response(),
        Err(failure) => {
            if let Failure::Unsupported(m) | Failure::TooLarge(m) | Failure::Invalid(m) = &failure {
                state.ingest.invalid(Transport::Http, m);
            }
            failure.into_response()
        }
    }
}

async fn handle(state: &HttpState, request: Request) -> Result<Vec<u8>, Failure> {
    let gzip = check_headers(request.headers())?;
    let body = Bytes::from_request(request, &()).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::TooLarge(format!("body over {} bytes", state.max_body))
        } else {
            Failure::Invalid(format!("body: {}", r.body_text()))
        }
    })?;
    let body = match gzip {
        true => Bytes::from(gunzip(&body, state.max_body)?),
        false => body,
    };
    let request = ExportMetricsServiceRequest::decode(body)
        .map_err(|e| Failure::Invalid(format!("not an OTLP ExportMetricsServiceRequest: {e}")))?;
    match state.ingest.export(Transport::Http, request).await {
        Ok(response) => Ok(response.encode_to_vec()),
        Err(e) => Err(Failure::Unavailable(format!("samples not published: {e}"))),
    }
}

/// Checks the media type and returns whether the body is gzip-compressed.
fn check_headers(headers: &HeaderMap) -> Result<bool, Failure> {
    let text = |name| {
        headers
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    };
    let media = text(header::CONTENT_TYPE).unwrap_or_default();
    let essence = media.split(';').next().unwrap_or_default().trim();
    if essence != PROTOBUF && essence != "application/protobuf" {
        let hint = if essence == "application/json" {
            "OTLP/JSON is not supported here"
        } else {
            "unsupported content type"
        };
        return Err(Failure::Unsupported(format!(
            "{hint} (`{media}`); send {PROTOBUF}"
        )));
    }
    match text(header::CONTENT_ENCODING).as_deref() {
        None | Some("" | "identity") => Ok(false),
        Some("gzip" | "x-gzip") => Ok(true),
        Some(other) => Err(Failure::Unsupported(format!(
            "content encoding `{other}` is not supported; send gzip or none"
        ))),
    }
}

/// Undoes gzip, reading at most one byte past `max` so a small bomb cannot fill memory.
fn gunzip(body: &[u8], max: usize) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| Failure::Invalid(format!("gzip: {e}")))?;
    if out.len() > max {
        return Err(Failure::TooLarge(format!(
            "body over {max} bytes once gunzipped"
        )));
    }
    Ok(out)
}
