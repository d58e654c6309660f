//! One simulated pod over HTTP: the OpenAI endpoints, `/health`, `/metrics`,
//! `/dcgm/metrics`. The [`Engine`] decides; this shell reads the clock, wakes the
//! engine when its step ends or a request arrives, and routes each token to the
//! response that waits for it. A client that goes away aborts its request, freeing
//! its KV blocks, as vLLM does.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ServerSpec;
use crate::engine::{Engine, Output, Submit};
use crate::metrics::{self, PodLabels};
use crate::openai::{Api, ApiError, ChatRequest, CompletionRequest, Head, StreamOptions, text_of};
use crate::tokens;

/// Completion length when the client sets none: 16 for completions (vLLM's
/// default); for chat, where vLLM would run to end-of-sequence, a simulated natural
/// stop after this many tokens.
const DEFAULT_COMPLETION_TOKENS: u32 = 16;
const DEFAULT_CHAT_TOKENS: u32 = 256;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One simulated model server.
pub struct Pod {
    /// `pool-index`.
    pub name: String,
    /// The pool it serves (the DCGM page's namespace).
    pub pool: String,
    engine: Mutex<Engine>,
    epoch: Instant,
    wake: Notify,
    streams: Mutex<HashMap<u64, mpsc::UnboundedSender<Output>>>,
    next_id: AtomicU64,
}

impl Pod {
    /// A pod with an idle engine.
    pub fn new(name: String, pool: String, spec: ServerSpec, speed: f64) -> Arc<Self> {
        Arc::new(Self {
            name,
            pool,
            engine: Mutex::new(Engine::new(spec, speed)),
            epoch: Instant::now(),
            wake: Notify::new(),
            streams: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        })
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Requests running and waiting, and KV use: what `/metrics` reports, for callers
    /// that hold the pod (the scaler's local target, tests).
    pub fn load(&self) -> (usize, usize, f64) {
        let e = lock(&self.engine);
        (e.running(), e.waiting(), e.kv_usage())
    }

    fn dispatch(&self, outputs: Vec<Output>) {
        if outputs.is_empty() {
            return;
        }
        let mut streams = lock(&self.streams);
        for o in outputs {
            let id = match o {
                Output::Token { id, .. } | Output::Finished { id, .. } => id,
            };
            let finished = matches!(o, Output::Finished { .. });
            if let Some(tx) = streams.get(&id) {
                let _ = tx.send(o);
            }
            if finished {
                streams.remove(&id);
            }
        }
    }

    fn submit(&self, req: Submit) -> Result<mpsc::UnboundedReceiver<Output>, ApiError> {
        let id = req.id;
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.streams).insert(id, tx);
        let now = self.now();
        let (outputs, result) = {
            let mut e = lock(&self.engine);
            let outputs = e.advance(now);
            (outputs, e.submit(now, req))
        };
        self.dispatch(outputs);
        self.wake.notify_one();
        result.map(|()| rx).map_err(|refused| {
            lock(&self.streams).remove(&id);
            ApiError::bad_request(refused.to_string())
        })
    }

    fn abort(&self, id: u64) {
        lock(&self.engine).abort(id);
        lock(&self.streams).remove(&id);
        self.wake.notify_one();
    }
}

/// Runs `pod`'s engine until `stop`: sleeps until the step under way ends, or until
/// a request arrives.
pub async fn drive(pod: Arc<Pod>, stop: CancellationToken) {
    loop {
        let arrived = pod.wake.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        let next = lock(&pod.engine).next_wakeup();
        let step_done = async {
            match next {
                Some(t) => tokio::time::sleep_until(pod.epoch + t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = step_done => {}
            () = arrived => {}
            () = stop.cancelled() => return,
        }
        let outputs = lock(&pod.engine).advance(pod.now());
        pod.dispatch(outputs);
    }
}

/// The pod's routes.
pub fn router(pod: Arc<Pod>) -> Router {
    Router::new()
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/health", get(|| async {}))
        .route("/metrics", get(vllm_metrics))
        .route("/dcgm/metrics", get(dcgm_metrics))
        .with_state(pod)
}

/// A parsed request, ready for the engine.
struct Job {
    api: Api,
    model: String,
    prompt: String,
    max_tokens: u32,
    stops: bool,
    stream: bool,
    include_usage: bool,
}

fn check_model(spec: &ServerSpec, model: Option<String>) -> Result<String, ApiError> {
    let model = model.unwrap_or_else(|| spec.model.clone());
    if model == spec.model || spec.lora_adapters.contains(&model) {
        Ok(model)
    } else {
        Err(ApiError::unknown_model(&model))
    }
}

fn limit(requested: Option<u32>, default: u32) -> Result<(u32, bool), ApiError> {
    match requested {
        Some(0) => Err(ApiError::bad_request(
            "max_tokens must be at least 1, got 0.",
        )),
        Some(n) => Ok((n, false)),
        None => Ok((default, true)),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

impl Job {
    /// The job for a parsed request: the model checked, the limit defaulted.
    #[allow(clippy::too_many_arguments)] // one call per API, each field named there
    fn new(
        api: Api,
        pod: &Pod,
        model: Option<String>,
        prompt: String,
        max_tokens: Option<u32>,
        default_tokens: u32,
        stream: bool,
        stream_options: Option<StreamOptions>,
    ) -> Result<Self, ApiError> {
        let (max_tokens, stops) = limit(max_tokens, default_tokens)?;
        Ok(Job {
            api,
            model: check_model(lock(&pod.engine).spec(), model)?,
            prompt,
            max_tokens,
            stops,
            stream,
            include_usage: stream_options.is_some_and(|o| o.include_usage),
        })
    }
}

fn completion_job(pod: &Pod, body: &Bytes) -> Result<Job, ApiError> {
    let req: CompletionRequest = parse(body)?;
    let prompt = text_of(&req.prompt)
        .ok_or_else(|| ApiError::bad_request("prompt must be a string or a list of strings"))?;
    let (model, limit, stream, options) =
        (req.model, req.max_tokens, req.stream, req.stream_options);
    Job::new(
        Api::Completions,
        pod,
        model,
        prompt,
        limit,
        DEFAULT_COMPLETION_TOKENS,
        stream,
        options,
    )
}

fn chat_job(pod: &Pod, body: &Bytes) -> Result<Job, ApiError> {
    let req: ChatRequest = parse(body)?;
    if req.messages.is_empty() {
        return Err(ApiError::bad_request("messages must not be empty"));
    }
    let mut prompt = String::new();
    for m in &req.messages {
        let content = text_of(&m.content).ok_or_else(|| {
            ApiError::bad_request("message content must be a string or a list of text parts")
        })?;
        prompt.push_str(&format!("<|{}|>{content}\n", m.role));
    }
    let limit = req.max_completion_tokens.or(req.max_tokens);
    Job::new(
        Api::Chat,
        pod,
        req.model,
        prompt,
        limit,
        DEFAULT_CHAT_TOKENS,
        req.stream,
        req.stream_options,
    )
}

async fn completions(State(pod): State<Arc<Pod>>, body: Bytes) -> Response {
    match completion_job(&pod, &body) {
        Ok(job) => serve(pod, job).await,
        Err(e) => e.into_response(),
    }
}

async fn chat(State(pod): State<Arc<Pod>>, body: Bytes) -> Response {
    match chat_job(&pod, &body) {
        Ok(job) => serve(pod, job).await,
        Err(e) => e.into_response(),
    }
}

/// Aborts the request in the engine unless it finished: dropped with the response
/// when the client goes away.
struct AbortOnDrop {
    pod: Arc<Pod>,
    id: u64,
    done: bool,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if !self.done {
            self.pod.abort(self.id);
        }
    }
}

#[allow(clippy::disallowed_methods)] // the shell stamps `created` with the wall clock
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

async fn serve(pod: Arc<Pod>, job: Job) -> Response {
    let id = pod.next_id.fetch_add(1, Ordering::Relaxed);
    let block_size = lock(&pod.engine).spec().block_size;
    let submit = Submit {
        id,
        model: job.model.clone(),
        prompt_tokens: tokens::count(&job.prompt),
        max_tokens: job.max_tokens,
        block_hashes: tokens::block_hashes(&job.prompt, block_size),
        stops: job.stops,
    };
    let mut rx = match pod.submit(submit) {
        Ok(rx) => rx,
        Err(e) => return e.into_response(),
    };
    let prefix = if job.api == Api::Chat {
        "chatcmpl"
    } else {
        "cmpl"
    };
    let head = Head {
        api: job.api,
        id: format!("{prefix}-{}-{id}", pod.name),
        created: unix_now() as u64,
        model: job.model,
        echo: lock(&pod.engine).spec().echo.then_some(job.prompt),
    };
    let finish = if job.stops { "stop" } else { "length" };
    let mut guard = AbortOnDrop {
        pod,
        id,
        done: false,
    };
    if job.stream {
        return sse(head, finish, job.include_usage, guard, rx);
    }
    let mut text = String::new();
    while let Some(o) = rx.recv().await {
        match o {
            Output::Token { index, .. } => text.push_str(head.piece(index)),
            Output::Finished {
                prompt_tokens,
                completion_tokens,
                ..
            } => {
                guard.done = true;
                return axum::Json(head.response(&text, finish, prompt_tokens, completion_tokens))
                    .into_response();
            }
        }
    }
    ApiError {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        kind: "ServiceUnavailableError",
        message: "the server is shutting down".into(),
    }
    .into_response()
}

struct Sse {
    head: Head,
    finish: &'static str,
    include_usage: bool,
    guard: AbortOnDrop,
    rx: mpsc::UnboundedReceiver<Output>,
    pending: VecDeque<Bytes>,
    first: bool,
    ended: bool,
}

fn event(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn sse(
    head: Head,
    finish: &'static str,
    include_usage: bool,
    guard: AbortOnDrop,
    rx: mpsc::UnboundedReceiver<Output>,
) -> Response {
    let state = Sse {
        head,
        finish,
        include_usage,
        guard,
        rx,
        pending: VecDeque::new(),
        first: true,
        ended: false,
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(b) = s.pending.pop_front() {
                return Some((Ok::<_, Infallible>(b), s));
            }
            if s.ended {
                return None;
            }
            match s.rx.recv().await {
                Some(Output::Token { index, .. }) => {
                    let chunk = s.head.chunk(s.head.piece(index), s.first, None);
                    s.first = false;
                    s.pending.push_back(event(&chunk));
                }
                Some(Output::Finished {
                    prompt_tokens,
                    completion_tokens,
                    ..
                }) => {
                    s.guard.done = true;
                    s.ended = true;
                    s.pending
                        .push_back(event(&s.head.chunk("", false, Some(s.finish))));
                    if s.include_usage {
                        s.pending.push_back(event(
                            &s.head.usage_chunk(prompt_tokens, completion_tokens),
                        ));
                    }
                    s.pending.push_back(Bytes::from_static(b"data: [DONE]\n\n"));
                }
                None => s.ended = true,
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn models(State(pod): State<Arc<Pod>>) -> impl IntoResponse {
    let e = lock(&pod.engine);
    let spec = e.spec();
    let created = unix_now() as u64;
    let card = |id: &str, parent: Option<&str>| {
        json!({ "id": id, "object": "model", "created": created, "owned_by": "vllm",
                "root": parent.unwrap_or(id), "parent": parent, "max_model_len": spec.max_model_len })
    };
    let data: Vec<Value> = std::iter::once(card(&spec.model, None))
        .chain(
            spec.lora_adapters
                .iter()
                .map(|a| card(a, Some(&spec.model))),
        )
        .collect();
    axum::Json(json!({ "object": "list", "data": data }))
}

fn page(pod: &Pod, render: fn(&Engine, &PodLabels<'_>) -> String) -> Response {
    let labels = PodLabels {
        pod: &pod.name,
        namespace: &pod.pool,
        now_unix: unix_now(),
    };
    let text = {
        let e = lock(&pod.engine);
        render(&e, &labels)
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn vllm_metrics(State(pod): State<Arc<Pod>>) -> Response {
    let outputs = lock(&pod.engine).advance(pod.now());
    pod.dispatch(outputs);
    page(&pod, metrics::vllm)
}

async fn dcgm_metrics(State(pod): State<Arc<Pod>>) -> Response {
    page(&pod, metrics::dcgm)
}
