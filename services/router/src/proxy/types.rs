//! The boundary between the proxy and the routing module.

use std::net::SocketAddr;
use std::time::Duration;

pub use crate::pick::Criticality;

/// What the router sees of one client request.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    /// Request path, e.g. `/v1/chat/completions`.
    pub path: &'a str,
    /// The `model` field of the body.
    pub model: &'a str,
    /// Header `x-gateway-inference-objective`.
    pub objective: Option<&'a str>,
    /// The prompt text, or chat messages' contents joined with `"\n"`.
    pub prompt: &'a str,
}

/// The router's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    /// Forward to `endpoints` (`host:port`, best first) as `target_model`.
    Route {
        target_model: String,
        criticality: Criticality,
        endpoints: Vec<String>,
    },
    /// Refuse with 429 and `Retry-After`.
    Shed { retry_after_s: u32 },
    /// No endpoint can serve the model now: 503.
    NoEndpoint,
    /// The model is not served: 404.
    UnknownModel,
}

/// What happened to one request, reported once when it ends (for metrics,
/// events, access logs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestRecord {
    pub id: String,
    pub start_unix_ms: i64,
    pub method: String,
    pub path: String,
    /// Status sent to the client; 499 when the client went away first.
    pub status: u16,
    pub model: String,
    pub target_model: String,
    pub criticality: Option<Criticality>,
    /// The endpoint of the last upstream attempt.
    pub endpoint: Option<String>,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub ttft_seconds: Option<f64>,
    pub duration_seconds: f64,
    /// Upstream error code, or ours.
    pub error_code: Option<String>,
    /// RFC 9209 `Proxy-Status` value, e.g.
    /// `poolpilot; error=connection_refused; details="…"`.
    pub proxy_status: Option<String>,
    pub retried: bool,
    pub remote: String,
    pub user_agent: String,
    /// The guard's verdict (`allowed`, `blocked:card_number`, …); `None` when no
    /// chain matched or there is no guard.
    pub guard: Option<String>,
    /// The prompt for the access log, redacted (only with `log_prompts`).
    pub prompt_log: Option<LoggedPrompt>,
}

/// A prompt as the access log may show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoggedPrompt {
    /// Everything the chain's filters find, replaced by `[REDACTED:<filter>]`.
    pub redacted: String,
    /// Bytes of the original.
    pub length: usize,
    /// FNV-1a 64 of the original, hex: equal prompts can be told apart without
    /// being shown.
    pub hash: String,
}

/// The routing module, as the proxy uses it.
pub trait Router: Send + Sync + 'static {
    /// Decides where one request goes.
    fn route(&self, req: &RouteRequest<'_>) -> RouteDecision;
    /// In-flight +1: an upstream request to `endpoint` is being sent.
    fn started(&self, endpoint: &str);
    /// In-flight −1: paired with every [`Router::started`].
    fn finished(&self, endpoint: &str);
    /// Called exactly once per request, also for errors the proxy produces.
    fn completed(&self, record: RequestRecord);
    /// Model ids listed by `GET /v1/models`.
    fn models(&self) -> Vec<String>;
}

/// Settings of the proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub listen: SocketAddr,
    /// Worker threads, each with its own listener and event loop (at least 1).
    pub threads: usize,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// Limit for a whole request, streaming included.
    pub timeout: Duration,
    /// Limit for opening one upstream connection.
    pub connect_timeout: Duration,
    /// Prompt and response checks, when configured.
    pub guard: Option<std::sync::Arc<crate::guard::Guard>>,
}

/// Errors of [`crate::proxy::serve`].
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start proxy worker {worker}: {source}")]
    Start {
        worker: usize,
        source: std::io::Error,
    },
    #[error("proxy worker thread {0} failed")]
    Worker(usize),
}
