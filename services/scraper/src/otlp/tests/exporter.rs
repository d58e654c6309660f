//! The real `opentelemetry-otlp` exporter, over gRPC and HTTP/protobuf, plain and
//! gzipped, into the receiver and out on `samples.v1`. Also hand-built requests for
//! what the SDK never sends: resources without a pod, and a bus that is down.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_otlp::{
    Compression, MetricExporter, Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, metric, number_data_point,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::metrics::periodic_reader_with_async_runtime::PeriodicReader;
use opentelemetry_sdk::runtime;
use prost::Message as _;
use shared::bus::Message;
use shared::wire::{RawKind, decode_batch};

use super::support::{
    DownBus, Running, gauge, histogram, kv, loopback, request, resource, start, start_on, within,
};
use crate::otlp::RpcStatus;

/// What the SDK records in every test: a gauge, a monotonic counter, a histogram.
fn record(provider: &SdkMeterProvider) {
    let meter = provider.meter("poolpilot-test");
    // Named as a canonical signal, so the wire decoder picks it up as one.
    let kv_cache = meter.f64_gauge("kv_cache_utilization").build();
    kv_cache.record(0.42, &[]);
    let requests = meter.u64_counter("requests").build();
    requests.add(7, &[KeyValue::new("model", "m")]);
    let latency = meter
        .f64_histogram("latency_seconds")
        .with_boundaries(vec![0.1, 1.0])
        .build();
    for v in [0.05, 0.5, 2.0] {
        latency.record(v, &[]);
    }
}

/// A provider over `exporter` on the tokio-driven periodic reader (the thread-driven
/// one cannot drive the async reqwest client), flushed once; the caller shuts it down.
async fn export_once(exporter: MetricExporter) -> SdkMeterProvider {
    let reader = PeriodicReader::builder(exporter, runtime::Tokio)
        .with_interval(Duration::from_secs(3600))
        .build();
    let provider = SdkMeterProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_attributes([
                    KeyValue::new("poolpilot.pool", "llama3"),
                    KeyValue::new("k8s.pod.name", "p-0"),
                ])
                .build(),
        )
        .with_reader(reader)
        .build();
    record(&provider);
    let p = provider.clone();
    // force_flush blocks its thread until the export is answered.
    within(
        "force_flush",
        tokio::task::spawn_blocking(move || p.force_flush()),
    )
    .await
    .expect("flush task")
    .expect("export accepted");
    provider
}

async fn shut_down(provider: SdkMeterProvider) {
    within(
        "provider shutdown",
        tokio::task::spawn_blocking(move || provider.shutdown()),
    )
    .await
    .expect("shutdown task")
    .expect("provider shutdown");
}

fn find<'a>(request: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
    request.resource_metrics[0]
        .scope_metrics
        .iter()
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

/// The message holds the pod, decodes on the wire, and keeps all three kinds.
fn check_sample(message: &Message) {
    assert_eq!(message.key.as_deref(), Some(&b"llama3/p-0"[..]));

    let pods = decode_batch(&message.payload).expect("decode_batch");
    assert_eq!(pods.len(), 1);
    assert_eq!(
        (pods[0].pool.as_str(), pods[0].pod.as_str()),
        ("llama3", "p-0")
    );
    assert_eq!(pods[0].signals.kv_cache_utilization, Some(0.42));
    let requests = pods[0]
        .raw
        .iter()
        .find(|r| r.name == "requests")
        .expect("counter forwarded raw");
    assert_eq!(requests.kind, RawKind::Counter);
    assert_eq!(requests.value, 7.0);
    assert_eq!(requests.labels, [("model".to_owned(), "m".to_owned())]);

    let raw = ExportMetricsServiceRequest::decode(&message.payload[..]).expect("protobuf");
    assert_eq!(raw.resource_metrics.len(), 1);
    match &find(&raw, "kv_cache_utilization").data {
        Some(metric::Data::Gauge(g)) => {
            assert_eq!(g.data_points.len(), 1);
            assert_eq!(
                g.data_points[0].value,
                Some(number_data_point::Value::AsDouble(0.42))
            );
        }
        other => panic!("gauge expected, got {other:?}"),
    }
    match &find(&raw, "requests").data {
        Some(metric::Data::Sum(s)) => {
            assert!(s.is_monotonic);
            assert_eq!(
                s.aggregation_temporality,
                AggregationTemporality::Cumulative as i32
            );
            assert_eq!(
                s.data_points[0].value,
                Some(number_data_point::Value::AsInt(7))
            );
        }
        other => panic!("sum expected, got {other:?}"),
    }
    match &find(&raw, "latency_seconds").data {
        Some(metric::Data::Histogram(h)) => {
            assert_eq!(
                h.aggregation_temporality,
                AggregationTemporality::Cumulative as i32
            );
            let p = &h.data_points[0];
            assert_eq!(p.count, 3);
            assert!((p.sum.expect("sum") - 2.55).abs() < 1e-9);
            assert_eq!(p.explicit_bounds, [0.1, 1.0]);
            assert_eq!(p.bucket_counts, [1, 1, 1]);
            assert_eq!((p.min, p.max), (Some(0.05), Some(2.0)));
        }
        other => panic!("histogram expected, got {other:?}"),
    }
}

fn assert_counted(rx: &Running, line: &str) {
    let text = rx.metrics();
    assert!(text.contains(line), "`{line}` missing in:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_exporter_reaches_the_samples_topic() {
    let mut rx = start(loopback()).await;
    for compression in [None, Some(Compression::Gzip)] {
        let mut builder = MetricExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", rx.grpc));
        if let Some(c) = compression {
            builder = builder.with_compression(c);
        }
        let provider = export_once(builder.build().expect("gRPC exporter")).await;
        let message = rx.next_sample("gRPC export").await;
        check_sample(&message);
        shut_down(provider).await;
        // Shutdown exports once more, cumulative, so the same values again.
        check_sample(&rx.next_sample("gRPC export at shutdown").await);
    }
    assert_counted(
        &rx,
        r#"poolpilot_scraper_otlp_requests_total{transport="grpc",result="ok"} 4"#,
    );
    assert_counted(
        &rx,
        r#"poolpilot_scraper_otlp_data_points_total{result="accepted"} 12"#,
    );
    rx.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_exporter_reaches_the_samples_topic() {
    let mut rx = start(loopback()).await;
    for compression in [None, Some(Compression::Gzip)] {
        let mut builder = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("http://{}/v1/metrics", rx.http));
        if let Some(c) = compression {
            builder = builder.with_compression(c);
        }
        let provider = export_once(builder.build().expect("HTTP exporter")).await;
        check_sample(&rx.next_sample("HTTP export").await);
        shut_down(provider).await;
        check_sample(&rx.next_sample("HTTP export at shutdown").await);
    }
    assert_counted(
        &rx,
        r#"poolpilot_scraper_otlp_requests_total{transport="http",result="ok"} 4"#,
    );
    rx.stop().await.expect("clean stop");
}

/// One placeable resource (3 points) and one without a pod (4 points).
fn half_placeable() -> ExportMetricsServiceRequest {
    request(vec![
        resource(
            vec![kv("poolpilot.pool", "llama3"), kv("k8s.pod.name", "p-1")],
            vec![gauge("g", 2), histogram("h", 1)],
        ),
        resource(
            vec![kv("service.name", "orphan")],
            vec![gauge("g", 3), histogram("h", 1)],
        ),
    ])
}

fn check_partial(response: &ExportMetricsServiceResponse) {
    let partial = response.partial_success.as_ref().expect("partial_success");
    assert_eq!(partial.rejected_data_points, 4);
    assert!(
        partial
            .error_message
            .contains("resource_metrics[1]: no pod"),
        "{}",
        partial.error_message
    );
}

#[tokio::test]
async fn grpc_resource_without_pod_is_a_partial_success() {
    let mut rx = start(loopback()).await;
    let mut client = MetricsServiceClient::connect(format!("http://{}", rx.grpc))
        .await
        .expect("connect");
    let response = within("gRPC export", client.export(half_placeable()))
        .await
        .expect("export ok")
        .into_inner();
    check_partial(&response);
    let message = rx.next_sample("the placeable resource").await;
    assert_eq!(message.key.as_deref(), Some(&b"llama3/p-1"[..]));
    assert!(rx.sample_within(Duration::from_millis(200)).await.is_none());
    assert_counted(
        &rx,
        r#"poolpilot_scraper_otlp_requests_total{transport="grpc",result="partial"} 1"#,
    );
    assert_counted(
        &rx,
        r#"poolpilot_scraper_otlp_data_points_total{result="rejected"} 4"#,
    );
    assert_counted(
        &rx,
        r#"poolpilot_scraper_otlp_data_points_total{result="accepted"} 3"#,
    );

    // A request with nothing to refuse answers without partial_success, as the spec says.
    let mut full = half_placeable();
    full.resource_metrics.truncate(1);
    let response = client.export(full).await.expect("export ok").into_inner();
    assert_eq!(response.partial_success, None);
    rx.stop().await.expect("clean stop");
}

#[tokio::test]
async fn http_resource_without_pod_is_a_partial_success() {
    let mut rx = start(loopback()).await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/metrics", rx.http))
        .header("content-type", "application/x-protobuf")
        .body(half_placeable().encode_to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let body = response.bytes().await.expect("body");
    check_partial(&ExportMetricsServiceResponse::decode(body).expect("response protobuf"));
    let message = rx.next_sample("the placeable resource").await;
    assert_eq!(message.key.as_deref(), Some(&b"llama3/p-1"[..]));
    rx.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_bus_that_is_down_is_retryable_on_both_transports() {
    let rx = start_on(std::sync::Arc::new(DownBus), loopback()).await;
    let mut client = MetricsServiceClient::connect(format!("http://{}", rx.grpc))
        .await
        .expect("connect");
    let status = client.export(half_placeable()).await.expect_err("refused");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("broker down"), "{status:?}");

    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/metrics", rx.http))
        .header("content-type", "application/x-protobuf")
        .body(half_placeable().encode_to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let status = RpcStatus::decode(response.bytes().await.expect("body")).expect("Status body");
    assert_eq!(status.code, 14);
    assert_counted(
        &rx,
        r#"poolpilot_scraper_otlp_requests_total{transport="grpc",result="unavailable"} 1"#,
    );
    assert_counted(
        &rx,
        r#"poolpilot_scraper_otlp_requests_total{transport="http",result="unavailable"} 1"#,
    );
    rx.stop().await.expect("clean stop");
}
