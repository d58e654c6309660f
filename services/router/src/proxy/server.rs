//! The listener: HTTP/1.1 and h2c on one port, dispatch by method and path,
//! the proxied request flow, and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use hyper::http::uri::PathAndQuery;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use super::errors::{ApiError, ProxyBody, json_response};
use super::guarded::{self, Checked};
use super::pool::{self, Pool};
use super::record::Tracker;
use super::request::{self, ParsedBody};
use super::stream::{Meter, PassThrough};
use super::types::{ProxyConfig, ProxyError, RequestRecord, RouteDecision, RouteRequest, Router};
use super::upstream::{self, Forward};

const OBJECTIVE: HeaderName = HeaderName::from_static("x-gateway-inference-objective");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A running proxy, as returned by [`serve`].
#[derive(Debug)]
pub struct ProxyHandle {
    local_addr: SocketAddr,
    workers: Vec<oneshot::Receiver<()>>,
}

impl ProxyHandle {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits until every worker has stopped after the shutdown signal.
    pub async fn wait(self) -> Result<(), ProxyError> {
        for (i, done) in self.workers.into_iter().enumerate() {
            done.await.map_err(|_| ProxyError::Worker(i))?;
        }
        Ok(())
    }
}

struct State {
    config: ProxyConfig,
    router: Arc<dyn Router>,
    pool: Pool,
}

/// Binds `config.listen` once per worker thread (`SO_REUSEPORT`: the kernel
/// spreads connections over them) and serves until `shutdown` resolves; then
/// each worker stops accepting and lets open requests finish for at most
/// `config.timeout`.
///
/// Each worker runs its own single-threaded event loop with its own upstream
/// connection pool, as nginx's worker processes do: a request is read, routed,
/// forwarded and answered on one thread, with no hand-offs between threads.
pub async fn serve(
    config: ProxyConfig,
    router: Arc<dyn Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<ProxyHandle, ProxyError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut addr = vacant(config.listen)?;
    let mut workers = Vec::new();
    for i in 0..config.threads.max(1) {
        let (bound, done) = start_worker(i, addr, &config, &router, stop_rx.clone()).await?;
        addr = bound;
        workers.push(done);
    }
    tracing::info!(local_addr = %addr, threads = workers.len(), "proxy listening");
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    Ok(ProxyHandle {
        local_addr: addr,
        workers,
    })
}

/// Starts worker `i` on its own thread and event loop, listening on `addr`;
/// returns the bound address once it listens, and a receiver that resolves
/// when the worker has stopped.
async fn start_worker(
    i: usize,
    addr: SocketAddr,
    config: &ProxyConfig,
    router: &Arc<dyn Router>,
    mut stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, oneshot::Receiver<()>), ProxyError> {
    let (bound_tx, bound_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    let state = State {
        pool: Pool::new(config.connect_timeout),
        config: config.clone(),
        router: Arc::clone(router),
    };
    let start_err = |source| ProxyError::Start { worker: i, source };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(start_err)?;
    std::thread::Builder::new()
        .name(format!("proxy-{i}"))
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match listen(addr) {
                    Ok(listener) => listener,
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return;
                    }
                };
                let _ = bound_tx.send(listener.local_addr());
                let stopped = async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                };
                let sweeper = tokio::spawn(sweep(state.pool.clone()));
                accept_loop(listener, Arc::new(state), stopped).await;
                sweeper.abort();
            });
            drop(runtime);
            let _ = done_tx.send(());
        })
        .map_err(start_err)?;
    match bound_rx.await {
        Ok(Ok(bound)) => Ok((bound, done_rx)),
        Ok(Err(source)) => Err(ProxyError::Bind { addr, source }),
        Err(_) => Err(ProxyError::Worker(i)),
    }
}

/// Closes the worker's upstream connections that idled too long, every
/// quarter of [`pool::IDLE_TIMEOUT`].
async fn sweep(pool: Pool) {
    let mut every = tokio::time::interval(pool::IDLE_TIMEOUT / 4);
    loop {
        let now = every.tick().await;
        pool.sweep(now);
    }
}

/// `addr` with its port resolved, once no socket listens on it. The workers'
/// listeners share their port (`SO_REUSEPORT`), so they would also share it
/// with another process's: a second router on the same port must be refused
/// here, not sent half the connections.
fn vacant(addr: SocketAddr) -> Result<SocketAddr, ProxyError> {
    let bind_err = |source| ProxyError::Bind { addr, source };
    let probe = std::net::TcpListener::bind(addr).map_err(bind_err)?;
    probe.local_addr().map_err(bind_err)
}

/// A listener on `addr` that other workers may share (`SO_REUSEPORT`).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    conns.spawn(serve_conn(stream, remote, Arc::clone(&state), stop_rx.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    // Receivers only fail once every connection is gone, which is fine.
    let _ = stop_tx.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(state.config.timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!(open = conns.len(), "drain timed out, closing connections");
        conns.abort_all();
    }
    tracing::info!("proxy stopped");
}

async fn serve_conn(
    stream: TcpStream,
    remote: SocketAddr,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay failed");
    }
    // Formatted once per connection, not per request.
    let client: Arc<str> = remote.to_string().into();
    let service = service_fn(move |req| {
        let (state, client) = (Arc::clone(&state), Arc::clone(&client));
        async move { Ok::<_, Infallible>(handle(state, &client, req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = async { stop.wait_for(|stop| *stop).await.is_ok() } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}

async fn handle(state: Arc<State>, remote: &str, req: Request<Incoming>) -> Response<ProxyBody> {
    #[allow(
        clippy::disallowed_methods,
        reason = "the proxy is the I/O shell: it timestamps requests"
    )]
    let (started, now) = (Instant::now(), SystemTime::now());
    let start_unix_ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let id = header(REQUEST_ID).unwrap_or_else(|| new_request_id(start_unix_ms));
    let record = RequestRecord {
        id: id.clone(),
        start_unix_ms,
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        remote: remote.to_owned(),
        user_agent: header(USER_AGENT).unwrap_or_default(),
        ..RequestRecord::default()
    };
    let tracker = Tracker::new(Arc::clone(&state.router), started, record);
    let mut response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/v1/models") => models(&state, tracker),
        (&Method::POST, "/v1/completions" | "/v1/chat/completions" | "/v1/embeddings") => {
            proxy(&state, tracker, req).await
        }
        (method, path) => fail(tracker, ApiError::unknown_url(method.as_str(), path)),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// A process-unique id: start time and a counter, in hex.
fn new_request_id(start_unix_ms: i64) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{start_unix_ms:x}-{:x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The request's deadline passed while waiting for the upstream.
fn timed_out(details: &str) -> ApiError {
    ApiError::upstream(
        StatusCode::GATEWAY_TIMEOUT,
        "http_response_timeout",
        details,
    )
}

/// Records `err` and answers it.
fn fail(mut tracker: Tracker, err: ApiError) -> Response<ProxyBody> {
    let record = &mut tracker.record;
    record.status = err.status.as_u16();
    record.error_code = Some(err.code.to_owned());
    if err.proxy_status.is_some() {
        record.proxy_status.clone_from(&err.proxy_status);
    }
    err.into_response()
}

fn models(state: &State, mut tracker: Tracker) -> Response<ProxyBody> {
    let data: Vec<_> = state
        .router
        .models()
        .into_iter()
        .map(|id| json!({ "id": id, "object": "model", "owned_by": "poolpilot" }))
        .collect();
    let response = json_response(StatusCode::OK, &json!({ "object": "list", "data": data }));
    tracker.record.status = StatusCode::OK.as_u16();
    response
}

async fn proxy(state: &State, mut tracker: Tracker, req: Request<Incoming>) -> Response<ProxyBody> {
    let max = state.config.max_body_bytes;
    let deadline = tokio::time::Instant::from_std(tracker.started()) + state.config.timeout;
    let (mut parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return fail(tracker, request::too_large(max));
    }
    let raw = match tokio::time::timeout_at(deadline, request::read_body(body, max)).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(err)) => return fail(tracker, err),
        Err(_) => {
            let err = ApiError::invalid(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "Timed out reading the request body.".to_owned(),
            );
            return fail(tracker, err);
        }
    };
    tracker.record.request_bytes = raw.len() as u64;
    let parsed = match request::parse(raw) {
        Ok(parsed) => parsed,
        Err(err) => return fail(tracker, err),
    };
    tracker.record.model.clone_from(&parsed.model);
    let guard = state.config.guard.as_ref();
    let chain = match guarded::prompt(guard, &parts, &parsed, &mut tracker.record).await {
        Ok(chain) => chain,
        Err(err) => return fail(tracker, err),
    };
    let decision = state.router.route(&RouteRequest {
        path: parts.uri.path(),
        model: &parsed.model,
        objective: parts.headers.get(OBJECTIVE).and_then(|v| v.to_str().ok()),
        prompt: &parsed.prompt,
    });
    let (target_model, criticality, endpoints) = match decision {
        RouteDecision::Route {
            target_model,
            criticality,
            endpoints,
        } if !endpoints.is_empty() => (target_model, criticality, endpoints),
        RouteDecision::Route { .. } | RouteDecision::NoEndpoint => {
            let err = ApiError::no_endpoint(&parsed.model);
            return fail(tracker, err);
        }
        RouteDecision::Shed { retry_after_s } => {
            return fail(tracker, ApiError::shed(retry_after_s));
        }
        RouteDecision::UnknownModel => {
            let err = ApiError::model_not_found(&parsed.model);
            return fail(tracker, err);
        }
    };
    tracker.record.target_model.clone_from(&target_model);
    tracker.record.criticality = Some(criticality);
    let ParsedBody { raw, model, .. } = parsed;
    let mut headers = upstream::request_headers(std::mem::take(&mut parts.headers));
    if let Ok(id) = HeaderValue::from_str(&tracker.record.id) {
        headers.entry(REQUEST_ID).or_insert(id);
    }
    let forward = Forward {
        pool: &state.pool,
        router: &state.router,
        method: parts.method.clone(),
        path_and_query: parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
        headers,
        body: request::rewrite_model(&raw, &model, &target_model),
        endpoints: &endpoints,
    };
    let answer =
        match tokio::time::timeout_at(deadline, upstream::forward(forward, &mut tracker)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(err)) => return fail(tracker, err),
            Err(_) => return fail(tracker, timed_out("no response before the request timeout")),
        };
    let (mut head, body) = answer.response.into_parts();
    upstream::response_headers(&mut head.headers, &answer.endpoint);
    tracker.record.status = head.status.as_u16();
    let content_type = head
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let meter = Meter::new(content_type);
    let streamed = content_type.starts_with("text/event-stream");
    let sleep = Box::pin(tokio::time::sleep_until(deadline));
    let checked = if streamed || !head.status.is_success() {
        Checked::Upstream(body)
    } else {
        let check = guarded::whole(guard, chain, body, &mut tracker.record);
        match tokio::time::timeout_at(deadline, check).await {
            Ok(Ok(checked)) => checked,
            Ok(Err(err)) => return fail(tracker, err),
            Err(_) => {
                let err = timed_out("no whole response before the request timeout");
                return fail(tracker, err);
            }
        }
    };
    let held = answer.held;
    let body = match checked {
        Checked::Whole(bytes) => {
            head.headers.remove(CONTENT_LENGTH);
            let whole = http_body_util::Full::new(bytes);
            PassThrough::new(whole, sleep, meter, held, tracker, None).boxed()
        }
        Checked::Upstream(body) => {
            let sse = streamed.then(|| guarded::stream(guard, chain)).flatten();
            PassThrough::new(body, sleep, meter, held, tracker, sse).boxed()
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    response
}
