//! End-to-end tests: a real proxy between a hyper client and a fake upstream.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::*;

type TestBody = BoxBody<Bytes, Infallible>;
type Handler = dyn Fn(&Seen) -> Response<TestBody> + Send + Sync;

const JSON_BODY: &str = r#"{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":"hi there"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
const SSE_EVENTS: [&str; 5] = [
    "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3}}\n\n",
    "data: [DONE]\n\n",
];

/// What the fake upstream received.
#[derive(Debug, Clone)]
struct Seen {
    headers: HeaderMap,
    body: Bytes,
}

struct Upstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    async fn start(handler: impl Fn(&Seen) -> Response<TestBody> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (handler, log) = (Arc::clone(&handler), Arc::clone(&log));
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (handler, log) = (Arc::clone(&handler), Arc::clone(&log));
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let seen = Seen {
                            headers: parts.headers,
                            body,
                        };
                        let response = handler(&seen);
                        log.lock().unwrap().push(seen);
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc),
                );
            }
        });
        Self { addr, seen }
    }

    fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn full(body: impl Into<Bytes>) -> TestBody {
    Full::new(body.into()).boxed()
}

fn json_upstream(_: &Seen) -> Response<TestBody> {
    Response::builder()
        .header("content-type", "application/json")
        .header("x-upstream", "yes")
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .header("keep-alive", "timeout=5")
        .body(full(JSON_BODY))
        .unwrap()
}

fn sse_upstream(_: &Seen) -> Response<TestBody> {
    let events = futures::stream::iter(SSE_EVENTS).then(|event| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<_, Infallible>(Frame::data(Bytes::from_static(event.as_bytes())))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(BodyExt::boxed(StreamBody::new(events)))
        .unwrap()
}

fn status_upstream(status: u16) -> impl Fn(&Seen) -> Response<TestBody> {
    move |_| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(full(
                r#"{"error":{"message":"busy","type":"server_error","code":"overloaded"}}"#,
            ))
            .unwrap()
    }
}

/// Sends `()` when dropped.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// An SSE upstream that sends one event, then hangs; signals when its body is dropped.
fn hanging_upstream() -> (impl Fn(&Seen) -> Response<TestBody>, oneshot::Receiver<()>) {
    let (tx, rx) = oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let handler = move |_: &Seen| {
        let signal = DropSignal(tx.lock().unwrap().take());
        let first = futures::stream::iter([Ok(Frame::data(Bytes::from_static(
            SSE_EVENTS[0].as_bytes(),
        )))]);
        let body = first.chain(futures::stream::pending()).map(move |frame| {
            let _keep = &signal;
            frame
        });
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(BodyExt::boxed(StreamBody::new(body)))
            .unwrap()
    };
    (handler, rx)
}

type Decide = dyn Fn(&RouteRequest<'_>) -> RouteDecision + Send + Sync;

/// A router with a fixed decision function that counts everything.
struct TestRouter {
    decide: Box<Decide>,
    started: AtomicUsize,
    finished: AtomicUsize,
    records: Mutex<Vec<RequestRecord>>,
    routed: Mutex<Vec<(String, Option<String>, String)>>,
    /// The threads requests were routed on.
    threads: Mutex<std::collections::BTreeSet<String>>,
}

impl TestRouter {
    fn new(
        decide: impl Fn(&RouteRequest<'_>) -> RouteDecision + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            decide: Box::new(decide),
            started: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            records: Mutex::new(Vec::new()),
            routed: Mutex::new(Vec::new()),
            threads: Mutex::default(),
        })
    }

    /// Routes every model to `endpoints`, as `target`.
    fn to(endpoints: Vec<String>, target: &'static str) -> Arc<Self> {
        Self::new(move |_| RouteDecision::Route {
            target_model: target.to_owned(),
            criticality: Criticality::Standard,
            endpoints: endpoints.clone(),
        })
    }

    /// Waits for the `n`th record (1-based) and returns it.
    async fn record(&self, n: usize) -> RequestRecord {
        for _ in 0..500 {
            if let Some(r) = self.records.lock().unwrap().get(n - 1) {
                return r.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no record #{n}");
    }

    fn in_flight(&self) -> (usize, usize) {
        (
            self.started.load(Ordering::SeqCst),
            self.finished.load(Ordering::SeqCst),
        )
    }
}

impl Router for TestRouter {
    fn route(&self, req: &RouteRequest<'_>) -> RouteDecision {
        let thread = std::thread::current().name().unwrap_or_default().to_owned();
        self.threads.lock().unwrap().insert(thread);
        self.routed.lock().unwrap().push((
            req.model.to_owned(),
            req.objective.map(str::to_owned),
            req.prompt.to_owned(),
        ));
        (self.decide)(req)
    }
    fn started(&self, _: &str) {
        self.started.fetch_add(1, Ordering::SeqCst);
    }
    fn finished(&self, _: &str) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
    fn completed(&self, record: RequestRecord) {
        self.records.lock().unwrap().push(record);
    }
    fn models(&self) -> Vec<String> {
        vec!["m1".to_owned(), "m2".to_owned()]
    }
}

/// The tests' proxy: two workers, 1 KiB bodies, connects within 1 s.
fn config(listen: SocketAddr, timeout: Duration) -> ProxyConfig {
    ProxyConfig {
        listen,
        threads: 2,
        max_body_bytes: 1024,
        timeout,
        connect_timeout: Duration::from_secs(1),
        guard: None,
    }
}

/// Why a proxy cannot start on `listen`.
async fn start_error(listen: SocketAddr) -> ProxyError {
    let config = config(listen, Duration::from_secs(1));
    serve(
        config,
        TestRouter::to(Vec::new(), "m1"),
        std::future::pending(),
    )
    .await
    .unwrap_err()
}

struct Proxy {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<ProxyHandle>,
}

impl Proxy {
    async fn start(router: Arc<TestRouter>, timeout: Duration) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let config = config("127.0.0.1:0".parse().unwrap(), timeout);
        let handle = serve(config, router, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        Self {
            addr: handle.local_addr(),
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(5), handle.wait())
            .await
            .unwrap()
            .unwrap();
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

fn http1() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    send_with(&http1(), method, url, headers, body).await
}

async fn send_with(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let resp = client.request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "{:?}", reply.body);
    let v = reply.json();
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].is_string() && v["error"]["type"].is_string());
}

const SECS_5: Duration = Duration::from_secs(5);

#[tokio::test]
async fn json_pass_through_rewrites_model_and_filters_headers() {
    let up = Upstream::start(json_upstream).await;
    let router = TestRouter::to(vec![up.endpoint()], "m-target");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let body = r#"{"prompt":  "hello", "model" : "m","max_tokens":5}"#;
    let headers = [
        ("content-type", "application/json"),
        ("authorization", "Bearer k"),
        ("connection", "x-hop-req"),
        ("x-hop-req", "1"),
        ("te", "trailers"),
        ("x-gateway-inference-objective", "chat"),
        ("user-agent", "tester"),
    ];
    let direct = send(
        "POST",
        &format!("http://{}/v1/completions", up.addr),
        &[],
        body,
    )
    .await;
    let reply = send("POST", &proxy.url("/v1/completions"), &headers, body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, direct.body);
    assert_eq!(
        reply.headers["x-gateway-destination-endpoint-served"],
        up.endpoint().as_str()
    );
    assert_eq!(reply.headers["x-upstream"], "yes");
    for hop in ["x-hop", "keep-alive"] {
        assert!(!reply.headers.contains_key(hop), "{hop} leaked to client");
    }

    let seen = &up.seen()[1];
    assert_eq!(
        &seen.body[..],
        br#"{"prompt":  "hello", "model" : "m-target","max_tokens":5}"#
    );
    assert_eq!(
        seen.headers["x-gateway-destination-endpoint"],
        up.endpoint().as_str()
    );
    assert_eq!(seen.headers["authorization"], "Bearer k");
    assert_eq!(
        seen.headers["content-length"],
        seen.body.len().to_string().as_str()
    );
    assert_eq!(seen.headers["host"], up.endpoint().as_str());
    for hop in ["x-hop-req", "te"] {
        assert!(!seen.headers.contains_key(hop), "{hop} leaked upstream");
    }
    assert_eq!(
        router.routed.lock().unwrap()[0],
        ("m".to_owned(), Some("chat".to_owned()), "hello".to_owned())
    );

    let r = router.record(1).await;
    assert_eq!(
        (r.status, r.method.as_str(), r.path.as_str()),
        (200, "POST", "/v1/completions")
    );
    assert_eq!(
        (r.model.as_str(), r.target_model.as_str()),
        ("m", "m-target")
    );
    assert_eq!(r.endpoint, Some(up.endpoint()));
    assert_eq!((r.input_tokens, r.output_tokens), (Some(3), Some(2)));
    assert_eq!(r.request_bytes, body.len() as u64);
    assert_eq!(r.response_bytes, JSON_BODY.len() as u64);
    assert_eq!(r.criticality, Some(Criticality::Standard));
    assert_eq!(r.user_agent, "tester");
    assert!(r.ttft_seconds.is_some() && !r.retried && r.proxy_status.is_none());
    assert_eq!(router.in_flight(), (1, 1));
    proxy.shutdown().await;
}

#[tokio::test]
async fn same_model_is_forwarded_byte_for_byte() {
    let up = Upstream::start(json_upstream).await;
    let router = TestRouter::to(vec![up.endpoint()], "m");
    let proxy = Proxy::start(router, SECS_5).await;
    let body = "{ \"model\":\"m\",\n \"messages\":[{\"role\":\"user\",\"content\":\"\\u00e9\"}] }";
    let reply = send("POST", &proxy.url("/v1/chat/completions"), &[], body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(&up.seen()[0].body[..], body.as_bytes());
}

#[tokio::test]
async fn sse_pass_through_counts_tokens() {
    let up = Upstream::start(sse_upstream).await;
    let router = TestRouter::to(vec![up.endpoint()], "m");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}"#;
    let direct = send(
        "POST",
        &format!("http://{}/v1/chat/completions", up.addr),
        &[],
        body,
    )
    .await;
    let reply = send("POST", &proxy.url("/v1/chat/completions"), &[], body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "text/event-stream");
    assert_eq!(reply.body, direct.body);
    assert_eq!(reply.body, SSE_EVENTS.concat().as_bytes());
    let r = router.record(1).await;
    assert_eq!((r.input_tokens, r.output_tokens), (Some(4), Some(3)));
    assert_eq!(router.routed.lock().unwrap()[0].2, "a\nb");
    assert_eq!(router.in_flight(), (1, 1));
}

#[tokio::test]
async fn h2c_request_works() {
    let up = Upstream::start(sse_upstream).await;
    let router = TestRouter::to(vec![up.endpoint()], "m");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let reply = send_with(
        &client,
        "POST",
        &proxy.url("/v1/completions"),
        &[],
        r#"{"model":"m"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, SSE_EVENTS.concat().as_bytes());
    assert_eq!(router.record(1).await.status, 200);
    assert_eq!(router.in_flight(), (1, 1));
}

#[tokio::test]
async fn errors_are_openai_style_and_recorded() {
    let router = TestRouter::new(|req| match req.model {
        "nope" => RouteDecision::UnknownModel,
        "busy" => RouteDecision::Shed { retry_after_s: 7 },
        _ => RouteDecision::NoEndpoint,
    });
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let post = |path: &str, body: String| {
        let url = proxy.url(path);
        async move { send("POST", &url, &[], &body).await }
    };
    let big = format!(r#"{{"model":"m","prompt":"{}"}}"#, "x".repeat(2000));
    assert_error(
        &post("/v1/completions", big).await,
        413,
        "request_too_large",
    );
    assert_error(
        &post("/v1/completions", "not json".into()).await,
        400,
        "invalid_json",
    );
    assert_error(
        &post("/v1/completions", r#"{"prompt":"x"}"#.into()).await,
        400,
        "missing_model",
    );
    assert_error(&post("/v1/other", "{}".into()).await, 404, "unknown_url");
    assert_error(
        &send("GET", &proxy.url("/v1/completions"), &[], "").await,
        404,
        "unknown_url",
    );
    assert_error(
        &post("/v1/completions", r#"{"model":"nope"}"#.into()).await,
        404,
        "model_not_found",
    );
    let shed = post("/v1/embeddings", r#"{"model":"busy","input":"x"}"#.into()).await;
    assert_error(&shed, 429, "rate_limit_exceeded");
    assert_eq!(shed.headers["retry-after"], "7");
    assert_error(
        &post("/v1/completions", r#"{"model":"m"}"#.into()).await,
        503,
        "no_endpoint",
    );

    router.record(8).await;
    let records = router.records.lock().unwrap().clone();
    let got: Vec<(u16, Option<&str>)> = records
        .iter()
        .map(|r| (r.status, r.error_code.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (413, Some("request_too_large")),
            (400, Some("invalid_json")),
            (400, Some("missing_model")),
            (404, Some("unknown_url")),
            (404, Some("unknown_url")),
            (404, Some("model_not_found")),
            (429, Some("rate_limit_exceeded")),
            (503, Some("no_endpoint")),
        ]
    );
    assert_eq!(router.in_flight(), (0, 0));
}

#[tokio::test]
async fn lists_models() {
    let router = TestRouter::new(|_| RouteDecision::NoEndpoint);
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let reply = send("GET", &proxy.url("/v1/models"), &[], "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"object":"list","data":[
            {"id":"m1","object":"model","owned_by":"poolpilot"},
            {"id":"m2","object":"model","owned_by":"poolpilot"}]})
    );
    assert_eq!(router.record(1).await.status, 200);
}

/// An address where nothing listens.
async fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().to_string()
}

#[tokio::test]
async fn connection_refused_is_retried_on_second_endpoint() {
    let up = Upstream::start(json_upstream).await;
    let dead = dead_endpoint().await;
    let router = TestRouter::to(vec![dead, up.endpoint()], "m");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let reply = send(
        "POST",
        &proxy.url("/v1/completions"),
        &[],
        r#"{"model":"m"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, JSON_BODY.as_bytes());
    let r = router.record(1).await;
    assert!(r.retried);
    assert_eq!(r.endpoint, Some(up.endpoint()));
    let proxy_status = r.proxy_status.unwrap_or_default();
    assert!(
        proxy_status.starts_with("poolpilot; error=connection_refused; details="),
        "{proxy_status}"
    );
    assert_eq!(router.in_flight(), (2, 2));
}

#[tokio::test]
async fn all_endpoints_refused_gives_502() {
    let router = TestRouter::to(vec![dead_endpoint().await, dead_endpoint().await], "m");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let reply = send(
        "POST",
        &proxy.url("/v1/completions"),
        &[],
        r#"{"model":"m"}"#,
    )
    .await;
    assert_error(&reply, 502, "connection_refused");
    assert!(
        reply.headers["proxy-status"]
            .to_str()
            .unwrap()
            .starts_with("poolpilot; error=connection_refused")
    );
    let r = router.record(1).await;
    assert_eq!((r.status, r.retried), (502, true));
    assert_eq!(router.in_flight(), (2, 2));
}

#[tokio::test]
async fn upstream_5xx_is_retried_then_passed_through() {
    let bad = Upstream::start(status_upstream(503)).await;
    let good = Upstream::start(json_upstream).await;
    let router = TestRouter::to(vec![bad.endpoint(), good.endpoint()], "m");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let reply = send(
        "POST",
        &proxy.url("/v1/completions"),
        &[],
        r#"{"model":"m"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let r = router.record(1).await;
    assert!(r.retried);
    assert_eq!(
        r.proxy_status.as_deref(),
        Some("poolpilot; error=destination_unavailable; received-status=503")
    );
    assert_eq!(router.in_flight(), (2, 2));

    // A single endpoint: its 5xx reaches the client unchanged.
    let router = TestRouter::to(vec![bad.endpoint()], "m");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let reply = send(
        "POST",
        &proxy.url("/v1/completions"),
        &[],
        r#"{"model":"m"}"#,
    )
    .await;
    assert_error(&reply, 503, "overloaded");
    let r = router.record(1).await;
    assert_eq!(
        (r.status, r.retried, r.error_code.as_deref()),
        (503, false, Some("overloaded"))
    );
}

#[tokio::test]
async fn client_disconnect_cancels_upstream() {
    let (handler, upstream_dropped) = hanging_upstream();
    let up = Upstream::start(handler).await;
    let router = TestRouter::to(vec![up.endpoint()], "m");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;

    let stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let req = Request::post("/v1/completions")
        .header("host", "proxy")
        .body(Full::new(Bytes::from_static(
            br#"{"model":"m","stream":true}"#,
        )))
        .unwrap();
    let mut resp = sender.send_request(req).await.unwrap();
    // The first event arrives while the upstream is still streaming: no buffering.
    let first = resp.body_mut().frame().await.unwrap().unwrap();
    assert_eq!(first.data_ref().unwrap(), SSE_EVENTS[0].as_bytes());
    drop((resp, sender));
    conn.abort();

    tokio::time::timeout(SECS_5, upstream_dropped)
        .await
        .expect("upstream body not dropped")
        .unwrap();
    let r = router.record(1).await;
    assert_eq!(r.status, 499);
    assert_eq!(r.response_bytes, SSE_EVENTS[0].len() as u64);
    assert_eq!(r.output_tokens, Some(1));
    assert_eq!(router.in_flight(), (1, 1));
}

#[tokio::test]
async fn timeout_before_headers_is_504_and_mid_stream_ends_stream() {
    let (handler, _dropped) = hanging_upstream();
    let stuck = Upstream::start(handler).await;
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_ep = silent.local_addr().unwrap().to_string();

    // Accepts but never answers: no response head before the deadline.
    let router = TestRouter::to(vec![silent_ep], "m");
    let proxy = Proxy::start(Arc::clone(&router), Duration::from_millis(300)).await;
    let reply = send(
        "POST",
        &proxy.url("/v1/completions"),
        &[],
        r#"{"model":"m"}"#,
    )
    .await;
    assert_error(&reply, 504, "http_response_timeout");
    assert_eq!(router.record(1).await.status, 504);
    assert_eq!(router.in_flight(), (1, 1));

    // Mid-stream: the client gets the first event, then the stream is cut.
    let router = TestRouter::to(vec![stuck.endpoint()], "m");
    let proxy = Proxy::start(Arc::clone(&router), Duration::from_millis(300)).await;
    let req = Request::post(proxy.url("/v1/completions"))
        .body(Full::new(Bytes::from_static(br#"{"model":"m"}"#)))
        .unwrap();
    let resp = http1().request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.into_body().collect().await.is_err());
    let r = router.record(1).await;
    assert_eq!((r.status, r.error_code.as_deref()), (200, Some("timeout")));
    assert_eq!(router.in_flight(), (1, 1));
    drop(silent);
}

#[tokio::test]
async fn shutdown_lets_open_streams_finish() {
    let up = Upstream::start(sse_upstream).await;
    let router = TestRouter::to(vec![up.endpoint()], "m");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    let req = Request::post(proxy.url("/v1/completions"))
        .body(Full::new(Bytes::from_static(br#"{"model":"m"}"#)))
        .unwrap();
    let resp = http1().request(req).await.unwrap();
    let addr = proxy.addr;
    let stopping = tokio::spawn(proxy.shutdown());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, SSE_EVENTS.concat().as_bytes());
    stopping.await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn connections_are_spread_over_the_workers() {
    let up = Upstream::start(json_upstream).await;
    let router = TestRouter::to(vec![up.endpoint()], "m1");
    let proxy = Proxy::start(Arc::clone(&router), SECS_5).await;
    // A connection of its own per request: the kernel picks a listener for each.
    for _ in 0..64 {
        let reply = send(
            "POST",
            &proxy.url("/v1/completions"),
            &[],
            r#"{"model":"m1"}"#,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let threads = router.threads.lock().unwrap().clone();
    assert_eq!(
        threads.into_iter().collect::<Vec<_>>(),
        ["proxy-0", "proxy-1"]
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_port_held_by_another_socket_is_a_bind_error() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = start_error(held.local_addr().unwrap()).await;
    assert!(matches!(err, ProxyError::Bind { .. }), "{err}");
}

#[tokio::test]
async fn a_second_router_on_a_listening_port_is_refused() {
    let router = TestRouter::to(Vec::new(), "m1");
    let first = Proxy::start(Arc::clone(&router), SECS_5).await;
    let err = start_error(first.addr).await;
    assert!(matches!(err, ProxyError::Bind { .. }), "{err}");
    first.shutdown().await;
}
