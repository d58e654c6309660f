//! What bad clients get — 400, 413, 415, a gRPC error status — and that good clients
//! on the same listeners do not notice.

use std::io::Write;
use std::time::Duration;

use flate2::Compression as Level;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use prost::Message as _;

use super::support::{gauge, kv, loopback, request, resource, start, within};
use crate::otlp::{OtlpConfig, OtlpError, OtlpServer, RpcStatus, serve};

/// Field 1, length-delimited, with a length far past the end: never valid protobuf.
const GARBAGE: &[u8] = b"\x0a\xff\xff\xff\xff\x0f";

fn valid() -> Vec<u8> {
    request(vec![resource(
        vec![kv("poolpilot.pool", "llama3"), kv("k8s.pod.name", "p-0")],
        vec![gauge("g", 1)],
    )])
    .encode_to_vec()
}

/// Deterministic noise (xorshift64), so a failure can be replayed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Level::default());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

async fn post(
    http: std::net::SocketAddr,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("http://{http}/v1/metrics"))
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    within("HTTP POST", req.send()).await.expect("response")
}

async fn status_body(response: reqwest::Response) -> RpcStatus {
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    RpcStatus::decode(response.bytes().await.expect("body")).expect("google.rpc.Status body")
}

#[tokio::test]
async fn undecodable_bodies_get_400_with_a_status() {
    let rx = start(loopback()).await;
    let response = post(rx.http, "application/x-protobuf", None, GARBAGE.to_vec()).await;
    assert_eq!(response.status(), 400);
    let status = status_body(response).await;
    assert_eq!(status.code, 3);
    assert!(status.message.contains("not an OTLP"), "{}", status.message);

    // Noise either fails to decode (400) or happens to be valid protobuf with nothing
    // placeable in it (200); never anything else.
    for seed in 1..=20 {
        let response = post(rx.http, "application/x-protobuf", None, noise(seed, 256)).await;
        assert!(
            [200, 400].contains(&response.status().as_u16()),
            "seed {seed}: {}",
            response.status()
        );
    }
    // Broken gzip is unreadable too.
    let response = post(
        rx.http,
        "application/x-protobuf",
        Some("gzip"),
        GARBAGE.to_vec(),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(status_body(response).await.message.starts_with("gzip"));
    assert!(
        rx.metrics().contains(
            r#"poolpilot_scraper_otlp_requests_total{transport="http",result="invalid"}"#
        )
    );
    rx.stop().await.expect("clean stop");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let rx = start(OtlpConfig {
        max_body_bytes: 1024,
        ..loopback()
    })
    .await;
    let response = post(rx.http, "application/x-protobuf", None, vec![0; 4096]).await;
    assert_eq!(response.status(), 413);
    assert_eq!(status_body(response).await.code, 8);

    // A small gzip body that inflates past the limit is refused as well.
    let bomb = gzip(&vec![0; 256 << 10]);
    assert!(bomb.len() < 1024);
    let response = post(rx.http, "application/x-protobuf", Some("gzip"), bomb).await;
    assert_eq!(response.status(), 413);

    // Under the limit, compressed or not, is fine.
    let response = post(rx.http, "application/x-protobuf", None, valid()).await;
    assert_eq!(response.status(), 200);
    let response = post(
        rx.http,
        "application/x-protobuf",
        Some("gzip"),
        gzip(&valid()),
    )
    .await;
    assert_eq!(response.status(), 200);
    rx.stop().await.expect("clean stop");
}

#[tokio::test]
async fn other_media_types_and_encodings_get_415() {
    let rx = start(loopback()).await;
    let response = post(rx.http, "application/json", None, b"{}".to_vec()).await;
    assert_eq!(response.status(), 415);
    assert!(status_body(response).await.message.contains("OTLP/JSON"));
    let response = post(rx.http, "text/plain", None, valid()).await;
    assert_eq!(response.status(), 415);
    let response = post(rx.http, "application/x-protobuf", Some("br"), valid()).await;
    assert_eq!(response.status(), 415);
    // Parameters on the media type are fine.
    let response = post(
        rx.http,
        "application/x-protobuf; charset=binary",
        None,
        valid(),
    )
    .await;
    assert_eq!(response.status(), 200);

    let client = reqwest::Client::new();
    let get = client
        .get(format!("http://{}/v1/metrics", rx.http))
        .send()
        .await
        .expect("GET");
    assert_eq!(get.status(), 405);
    let other = client
        .post(format!("http://{}/v1/traces", rx.http))
        .send()
        .await
        .expect("POST");
    assert_eq!(other.status(), 404);
    rx.stop().await.expect("clean stop");
}

/// A gRPC call whose message is garbage, sent by hand over HTTP/2; tonic answers with a
/// trailers-only error status, so `grpc-status` is a response header. Returns
/// `grpc-status N`, or what came back instead.
async fn grpc_garbage(grpc: std::net::SocketAddr) -> String {
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(GARBAGE.len() as u32).to_be_bytes());
    framed.extend_from_slice(GARBAGE);
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("h2c client");
    let response = client
        .post(format!(
            "http://{grpc}/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(framed)
        .send()
        .await
        .expect("h2 response");
    match response.headers().get("grpc-status") {
        Some(v) if response.status() == 200 => format!("grpc-status {}", v.to_str().unwrap_or("?")),
        _ => format!("http {} without grpc-status", response.status()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_refused_and_does_not_disturb_other_clients() {
    let mut rx = start(loopback()).await;
    let (http, grpc) = (rx.http, rx.grpc);
    let mut client = MetricsServiceClient::connect(format!("http://{grpc}"))
        .await
        .expect("connect");
    let good_pods = 6;
    let bad = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for seed in 0..good_pods {
            let response = post(http, "application/x-protobuf", None, GARBAGE.to_vec()).await;
            statuses.push(format!("http {}", response.status().as_u16()));
            let noise = vec![0xff; 64 + seed];
            let response = post(http, "application/x-protobuf", None, noise).await;
            statuses.push(format!("http {}", response.status().as_u16()));
            statuses.push(grpc_garbage(grpc).await);
        }
        statuses
    });
    // Good clients interleaved with the bad one, on both transports.
    for i in 0..good_pods {
        let body = request(vec![resource(
            vec![
                kv("poolpilot.pool", "llama3"),
                kv("k8s.pod.name", &format!("p-{i}")),
            ],
            vec![gauge("g", 1)],
        )]);
        if i % 2 == 0 {
            let response = post(http, "application/x-protobuf", None, body.encode_to_vec()).await;
            assert_eq!(response.status(), 200);
        } else {
            let response = client.export(body).await.expect("gRPC export");
            assert_eq!(response.into_inner().partial_success, None);
        }
    }
    let statuses = within("bad client", bad).await.expect("bad client task");
    // gRPC INTERNAL (13) is what tonic answers for a message prost cannot decode.
    assert!(
        statuses
            .chunks(3)
            .all(|c| c == ["http 400", "http 400", "grpc-status 13"]),
        "{statuses:?}"
    );
    let mut keys = Vec::new();
    for _ in 0..good_pods {
        let m = rx.next_sample("good client's sample").await;
        keys.push(String::from_utf8_lossy(m.key.as_deref().unwrap_or_default()).into_owned());
    }
    keys.sort();
    let expected: Vec<_> = (0..good_pods).map(|i| format!("llama3/p-{i}")).collect();
    assert_eq!(keys, expected);
    assert!(rx.sample_within(Duration::from_millis(200)).await.is_none());
    rx.stop().await.expect("clean stop");
}

#[tokio::test]
async fn grpc_over_the_limit_is_refused() {
    let mut rx = start(OtlpConfig {
        max_body_bytes: 1024,
        ..loopback()
    })
    .await;
    let mut client = MetricsServiceClient::connect(format!("http://{}", rx.grpc))
        .await
        .expect("connect");
    let big = request(vec![resource(
        vec![kv("poolpilot.pool", "llama3"), kv("k8s.pod.name", "p-0")],
        vec![gauge("g", 200)],
    )]);
    assert!(big.encoded_len() > 1024);
    let status = client.export(big).await.expect_err("too large");
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");
    assert!(rx.sample_within(Duration::from_millis(200)).await.is_none());
    rx.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_taken_port_is_an_error_naming_it() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = taken.local_addr().expect("addr");
    let deps = shared::Deps::new(
        std::sync::Arc::new(shared::bus::embedded::EmbeddedBus::new(Default::default())),
        Default::default(),
    );
    let cfg = OtlpConfig {
        http_listen: addr,
        ..loopback()
    };
    let Err(e) = OtlpServer::bind(cfg, &deps).await else {
        panic!("bound a taken port");
    };
    assert!(
        matches!(
            e,
            OtlpError::Bind {
                transport: "http",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
}

#[tokio::test]
async fn disabled_serve_opens_nothing_and_waits_for_shutdown() {
    let deps = shared::Deps::new(
        std::sync::Arc::new(shared::bus::embedded::EmbeddedBus::new(Default::default())),
        Default::default(),
    );
    // The default ports may be in use on this machine; disabled must not care.
    let result = within(
        "disabled serve",
        serve(OtlpConfig::default(), deps.clone(), async {}),
    )
    .await;
    assert!(result.is_ok());
    assert!(deps.health.not_ready().is_empty());
}
