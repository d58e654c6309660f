//! `run` end to end against a tiny axum server on 127.0.0.1:0 that streams SSE with
//! delays, refuses with 429 or hangs.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::*;

/// How the in-test server answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Streams three text chunks, usage and [DONE], 15 ms apart, lines split.
    Stream,
    /// Every second request gets 429.
    HalfRefused,
    /// Answers after 30 s.
    Hang,
}

/// What the server saw, for the tests to check.
#[derive(Default)]
struct Seen {
    hits: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    bodies: Mutex<Vec<Value>>,
}

struct Server {
    url: String,
    seen: Arc<Seen>,
}

async fn serve(mode: Mode) -> Server {
    let seen = Arc::new(Seen::default());
    let app = axum::Router::new()
        .route("/v1/completions", axum::routing::post(handle))
        .route("/v1/chat/completions", axum::routing::post(handle))
        .with_state((mode, Arc::clone(&seen)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        url: format!("http://{addr}"),
        seen,
    }
}

/// Decrements the in-flight count when the response body is done or dropped.
struct InFlight(Arc<Seen>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(
    State((mode, seen)): State<(Mode, Arc<Seen>)>,
    Json(body): Json<Value>,
) -> Response {
    let n = seen.hits.fetch_add(1, Ordering::SeqCst);
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let guard = InFlight(Arc::clone(&seen));
    let chat = body.get("messages").is_some();
    let stream = body["stream"] == json!(true);
    seen.bodies.lock().expect("lock").push(body);
    match mode {
        Mode::HalfRefused if n % 2 == 1 => return StatusCode::TOO_MANY_REQUESTS.into_response(),
        Mode::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
        _ => {}
    }
    let piece = |t: &str| {
        if chat {
            format!("{{\"choices\":[{{\"delta\":{{\"content\":\"{t}\"}}}}]}}")
        } else {
            format!("{{\"choices\":[{{\"text\":\"{t}\"}}]}}")
        }
    };
    let usage = "{\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}";
    if !stream {
        tokio::time::sleep(ms(20)).await;
        drop(guard);
        let choice = if chat {
            json!({"message": {"content": "abc"}})
        } else {
            json!({"text": "abc"})
        };
        let usage = json!({"prompt_tokens": 7, "completion_tokens": 3});
        return Json(json!({"choices": [choice], "usage": usage})).into_response();
    }
    let all = format!(
        "data: {}\n\ndata: {}\n\ndata: {}\n\ndata: {usage}\n\ndata: [DONE]\n\n",
        piece("a"),
        piece("b"),
        piece("c")
    );
    // 37-byte pieces cut lines anywhere, so the client must reassemble them.
    let pieces: Vec<Bytes> = all
        .as_bytes()
        .chunks(37)
        .map(Bytes::copy_from_slice)
        .collect();
    // The in-flight guard goes before the last piece: the client cannot send its next
    // request before the server has counted this one out.
    let state = (pieces.into_iter(), Some(guard));
    let chunks = futures::stream::unfold(state, |(mut it, mut guard)| async move {
        let next = it.next()?;
        tokio::time::sleep(ms(15)).await;
        if it.len() == 0 {
            guard.take();
        }
        Some((Ok::<_, Infallible>(next), (it, guard)))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(chunks))
        .expect("response")
}

fn run_args(server: &str, extra: &str) -> LoadArgs {
    let timeout = if extra.contains("--timeout") {
        ""
    } else {
        "--timeout 5s"
    };
    args(&format!(
        "--url {server} --rate 400 --input-tokens fixed:4 --output-tokens fixed:3 {timeout} {extra}"
    ))
}

#[tokio::test]
async fn streams_are_measured() {
    let server = serve(Mode::Stream).await;
    let flags = run_args(&server.url, "--requests 6 --model a --model b");
    let r = run(flags, false).await.expect("run");
    let counts = (r.requests_sent, r.requests_completed, r.requests_failed);
    assert_eq!(counts, (6, 6, 0), "{r:#?}");
    assert!(r.errors.is_empty());
    assert_eq!((r.input_tokens_total, r.output_tokens_total), (42, 18));
    assert_eq!((r.ttft_seconds.count, r.itl_seconds.count), (6, 12));
    assert!(r.ttft_seconds.p50 > 0.0, "{r:#?}");
    assert!(r.ttft_seconds.max < r.e2e_seconds.p50, "{r:#?}");
    assert!((r.ntpot_seconds.p50 - r.e2e_seconds.p50 / 3.0).abs() < 1e-9);
    assert!(r.requests_per_second > 0.0 && r.output_tokens_per_second > 0.0);
    let bodies = server.seen.bodies.lock().expect("lock");
    let models: Vec<&str> = bodies.iter().filter_map(|b| b["model"].as_str()).collect();
    assert_eq!(models.iter().filter(|m| **m == "a").count(), 3);
    assert!(bodies.iter().all(|b| b["max_tokens"] == json!(3)
        && b["ignore_eos"] == json!(true)
        && b["stream_options"]["include_usage"] == json!(true)
        && b["prompt"].as_str().is_some_and(|p| p.len() == 16)));
}

#[tokio::test]
async fn chat_streams_and_plain_json() {
    let server = serve(Mode::Stream).await;
    let flags = run_args(&server.url, "--requests 3 --api chat");
    let r = run(flags, false).await.expect("run");
    assert_eq!(
        (r.requests_completed, r.itl_seconds.count),
        (3, 6),
        "{r:#?}"
    );
    assert!(r.ttft_seconds.max < r.e2e_seconds.p50);
    let flags = run_args(&server.url, "--requests 3 --no-stream");
    let r = run(flags, false).await.expect("run");
    assert_eq!(
        (r.requests_completed, r.output_tokens_total),
        (3, 9),
        "{r:#?}"
    );
    assert_eq!(r.ttft_seconds, r.e2e_seconds);
    assert_eq!(r.itl_seconds.count, 0);
    let bodies = server.seen.bodies.lock().expect("lock");
    assert!(
        bodies[..3]
            .iter()
            .all(|b| b["messages"][0]["role"] == json!("user"))
    );
    assert!(
        bodies[3..]
            .iter()
            .all(|b| b.get("stream_options").is_none())
    );
}

#[tokio::test]
async fn refusals_are_counted_and_the_run_goes_on() {
    let server = serve(Mode::HalfRefused).await;
    let r = run(run_args(&server.url, "--requests 6"), false)
        .await
        .expect("run");
    assert_eq!((r.requests_sent, r.requests_completed), (6, 3), "{r:#?}");
    assert_eq!(r.errors, BTreeMap::from([("429".into(), 3)]));
    assert_eq!(server.seen.hits.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_errors() {
    let server = serve(Mode::Hang).await;
    let flags = run_args(&server.url, "--requests 2 --timeout 50ms");
    let r = run(flags, false).await.expect("run");
    assert_eq!(r.errors, BTreeMap::from([("timeout".into(), 2)]), "{r:#?}");
    assert!(r.duration_seconds < 5.0);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr: SocketAddr = closed.local_addr().expect("addr");
    drop(closed);
    let flags = run_args(&format!("http://{addr}"), "--requests 3");
    let r = run(flags, false).await.expect("run");
    assert_eq!(r.errors, BTreeMap::from([("connect".into(), 3)]), "{r:#?}");
    assert_eq!(r.requests_completed, 0);
    assert_eq!(r.ttft_seconds, Summary::default());
}

#[tokio::test]
async fn concurrency_caps_what_is_in_flight() {
    let server = serve(Mode::Stream).await;
    let a = LoadArgs {
        url: server.url.clone(),
        concurrency: Some(2),
        requests: Some(6),
        input_tokens: Dist::Fixed(4),
        ..LoadArgs::default()
    };
    let r = run(a, false).await.expect("run");
    assert_eq!(r.requests_completed, 6, "{r:#?}");
    assert_eq!(server.seen.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_closed_loop_stops_at_its_duration() {
    let server = serve(Mode::Stream).await;
    let a = LoadArgs {
        url: server.url.clone(),
        concurrency: Some(3),
        duration: Some(ms(300)),
        input_tokens: Dist::Fixed(4),
        ..LoadArgs::default()
    };
    let r = run(a, false).await.expect("run");
    // Each request takes about 90 ms: three slots fill about three times over.
    assert!((3..=15).contains(&r.requests_sent), "{r:#?}");
    assert_eq!(r.requests_completed, r.requests_sent);
    assert!(r.duration_seconds < 1.0, "{r:#?}");
}

#[tokio::test]
async fn bad_flags_send_nothing() {
    let server = serve(Mode::Stream).await;
    let err = run(run_args(&server.url, "--requests 0"), false)
        .await
        .expect_err("invalid");
    assert!(err.to_string().contains("--requests (0)"), "{err}");
    assert_eq!(server.seen.hits.load(Ordering::SeqCst), 0);
}
