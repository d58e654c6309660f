//! OTLP traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, `poolpilot up` exports one
//! span per routed request, with OpenTelemetry's HTTP and GenAI attribute names, to
//! a real OTLP/gRPC receiver (tonic, the protocol's generated server).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use poolpilot_tests::{binary, eventually, free_port, repo_root, unique};

const WAIT: Duration = Duration::from_secs(60);

/// Every span received.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Spans {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.0.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute(span: &Span, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone()?.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_routed_request_is_a_span_at_the_otlp_receiver() {
    let spans = Spans::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(spans.clone()))
            .serve_with_incoming(incoming),
    );

    let dir = std::env::temp_dir().join(unique("traces"));
    std::fs::create_dir_all(&dir).unwrap();
    let router = format!("127.0.0.1:{}", free_port());
    let config = dir.join("poolpilot.yaml");
    std::fs::write(
        &config,
        format!(
            "admin:\n  listen: 127.0.0.1:{}\nsimulator:\n  servers: 1\nrouter:\n  listen: {router}\n  access_log_sample_rate: 0\n",
            free_port()
        ),
    )
    .unwrap();
    let _up = poolpilot_tests::Process::spawn(
        std::process::Command::new(binary())
            .args(["up", "--config"])
            .arg(&config)
            .current_dir(repo_root())
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}"))
            .env("OTEL_BSP_SCHEDULE_DELAY", "200"),
    );
    let client = reqwest::Client::new();
    let model = simulator::Config::default().server.model;
    let send = |id: String| {
        client
            .post(format!("http://{router}/v1/completions"))
            .header("x-request-id", id)
            .json(&serde_json::json!({ "model": model, "prompt": "trace me", "max_tokens": 3 }))
            .send()
    };
    eventually(WAIT, "the router to know the fleet", || async {
        let r = send(unique("warm-up")).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let id = unique("traced");
    assert_eq!(send(id.clone()).await.unwrap().status(), 200);
    let span = eventually(WAIT, "the request's span at the receiver", || {
        let (spans, id) = (spans.clone(), id.clone());
        async move {
            let spans = spans.0.lock().unwrap();
            spans
                .iter()
                .find(|s| attribute(s, "request.id") == Some(Value::StringValue(id.clone())))
                .cloned()
        }
    })
    .await;
    assert_eq!(span.name, "POST /v1/completions");
    assert_eq!(span.kind, 2, "SPAN_KIND_SERVER");
    assert_eq!(
        attribute(&span, "http.response.status_code"),
        Some(Value::IntValue(200))
    );
    assert_eq!(
        attribute(&span, "gen_ai.request.model"),
        Some(Value::StringValue(model))
    );
    assert_eq!(
        attribute(&span, "gen_ai.usage.output_tokens"),
        Some(Value::IntValue(3))
    );
    assert!(attribute(&span, "server.address").is_some(), "{span:?}");
    assert!(span.end_time_unix_nano > span.start_time_unix_nano);
    let _ = std::fs::remove_dir_all(&dir);
}
