use std::time::{Duration, UNIX_EPOCH};

use super::*;

fn pod(name: &str) -> PodSamples {
    PodSamples {
        pool: "llama3".into(),
        pod: name.into(),
        namespace: "models".into(),
        endpoint: "10.0.0.7:8000".into(),
        engine: "vllm".into(),
        time: UNIX_EPOCH + Duration::from_nanos(1_764_300_000_123_456_789),
        signals: Signals {
            up: true,
            queue_size: Some(3.0),
            running_requests: Some(17.0),
            kv_cache_utilization: Some(0.42),
            lora: Some(LoraInfo {
                running: vec!["sql-lora".into(), "chat-lora".into()],
                waiting: vec![],
                max: 4,
            }),
        },
        raw: vec![
            RawSample {
                name: "vllm:prompt_tokens_total".into(),
                labels: vec![
                    ("model_name".into(), "llama3".into()),
                    ("engine".into(), "0".into()),
                ],
                kind: RawKind::Counter,
                value: 1234.0,
            },
            RawSample {
                name: "DCGM_FI_DEV_GPU_UTIL".into(),
                labels: vec![("gpu".into(), "0".into()), ("UUID".into(), "GPU-1".into())],
                kind: RawKind::Gauge,
                value: 87.0,
            },
            RawSample {
                name: "DCGM_FI_DEV_GPU_UTIL".into(),
                labels: vec![("gpu".into(), "1".into()), ("UUID".into(), "GPU-2".into())],
                kind: RawKind::Gauge,
                value: 12.0,
            },
        ],
    }
}

#[test]
fn a_batch_round_trips() {
    let batch = vec![pod("a"), pod("b")];
    let decoded = decode_batch(&encode_batch(&batch)).unwrap();
    assert_eq!(decoded, batch);
}

#[test]
fn absent_signals_stay_absent_and_down_stays_down() {
    let mut p = pod("a");
    p.signals = Signals::default();
    p.raw.clear();
    let decoded = decode_batch(&encode_batch(std::slice::from_ref(&p))).unwrap();
    assert_eq!(decoded[0].signals, Signals::default());
    assert!(!decoded[0].signals.up);
}

#[test]
fn raw_series_of_one_family_share_one_metric() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use prost::Message;
    let req = ExportMetricsServiceRequest::decode(&encode_batch(&[pod("a")])[..]).unwrap();
    let names: Vec<_> = req.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "up",
            "queue_size",
            "running_requests",
            "kv_cache_utilization",
            "lora_requests_info",
            "vllm:prompt_tokens_total",
            "DCGM_FI_DEV_GPU_UTIL"
        ]
    );
}

#[test]
fn garbage_is_a_protobuf_error() {
    let err = decode_batch(b"\xff\xff\xff not protobuf").unwrap_err();
    assert!(matches!(err, DecodeError::Protobuf(_)), "{err}");
}

#[test]
fn a_resource_without_pool_is_refused() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
    use prost::Message;
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics::default()],
    };
    let err = decode_batch(&req.encode_to_vec()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "OTLP resource without the `poolpilot.pool` attribute"
    );
}

#[test]
fn key_is_pool_slash_pod() {
    assert_eq!(pod("p-1").key(), "llama3/p-1");
}

fn request_event() -> RequestEvent {
    RequestEvent {
        schema: 1,
        id: "req-1".into(),
        time: "2026-11-28T04:00:00.250Z".parse().unwrap(),
        pool: "llama3".into(),
        model_name: "llama3".into(),
        target_model_name: "llama3-sql".into(),
        endpoint: "10.0.0.7:8000".into(),
        status: 200,
        error_code: String::new(),
        proxy_status: String::new(),
        duration_seconds: 1.5,
        ttft_seconds: Some(0.2),
        input_tokens: 100,
        output_tokens: 50,
        request_bytes: 700,
        response_bytes: 2000,
        criticality: "Standard".into(),
        guard: "allowed".into(),
    }
}

#[test]
fn json_events_round_trip() {
    let e = request_event();
    assert_eq!(RequestEvent::decode(&e.encode()).unwrap(), e);

    let a = AlertTransition {
        schema: 1,
        fingerprint: "a1b2".into(),
        alertname: "HighKVCache".into(),
        labels: [("name".to_owned(), "llama3".to_owned())].into(),
        annotations: Default::default(),
        from: AlertState::Pending,
        to: AlertState::Firing,
        value: 0.93,
        active_at: Some("2026-11-28T03:55:00Z".parse().unwrap()),
        time: "2026-11-28T04:00:00Z".parse().unwrap(),
    };
    assert_eq!(AlertTransition::decode(&a.encode()).unwrap(), a);
    assert!(
        String::from_utf8(a.encode())
            .unwrap()
            .contains(r#""to":"firing""#)
    );

    let d = ScaleDecision {
        schema: 1,
        time: "2026-11-28T04:00:00Z".parse().unwrap(),
        namespace: "models".into(),
        target: ScaleTargetRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "llama3".into(),
        },
        pool: "llama3".into(),
        current_replicas: 2,
        raw_desired: 4,
        stabilized_desired: 4,
        desired_replicas: 4,
        metrics: vec![MetricInput {
            metric: "inference_pool_average_kv_cache_utilization".into(),
            value: 0.9,
            target: 0.5,
            target_type: "AverageValue".into(),
            desired: 4,
        }],
        reason: "kv 0.90 > target 0.50".into(),
        patched: true,
        error: None,
    };
    assert_eq!(ScaleDecision::decode(&d.encode()).unwrap(), d);
}

#[test]
fn another_schema_is_refused() {
    let mut e = request_event();
    e.schema = 2;
    let err = RequestEvent::decode(&e.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "request event with schema 2; this build reads schema 1"
    );
}

#[test]
fn unknown_fields_are_refused() {
    let err = RequestEvent::decode(br#"{"schema":1,"bogus":true}"#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("not a JSON request event: unknown field `bogus`"),
        "{err}"
    );
}

#[test]
fn topics_carry_the_prefix() {
    let t = Topics::new("team-a.");
    assert_eq!(t.name(Topic::Samples), "team-a.samples.v1");
    assert_eq!(
        Topics::default().name(Topic::Decisions),
        "poolpilot.decisions.v1"
    );
}

#[test]
fn aggregates_round_trip() {
    let a = Aggregates {
        pool: "llama3".into(),
        time: UNIX_EPOCH + Duration::from_millis(1_764_300_000_250),
        series: vec![
            RawSample {
                name: "inference_pool_average_kv_cache_utilization".into(),
                labels: vec![("name".into(), "llama3".into())],
                kind: RawKind::Gauge,
                value: 0.42,
            },
            RawSample {
                name: "inference_pool_per_pod_queue_size".into(),
                labels: vec![
                    ("name".into(), "llama3".into()),
                    ("model_server_pod".into(), "p-0".into()),
                ],
                kind: RawKind::Gauge,
                value: 3.0,
            },
        ],
    };
    assert_eq!(
        decode_aggregates(&encode_aggregates(std::slice::from_ref(&a))).unwrap(),
        vec![a]
    );
}
