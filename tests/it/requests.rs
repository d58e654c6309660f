//! Per-model request metrics: events on `requests.v1` in, the endpoint picker's
//! `inference_model_*` counters and histograms out on `/metrics`; bad and repeated
//! events counted apart, the stream going on.

use std::time::Duration;

use bytes::Bytes;
use poolpilot::{Config, Part, start};
use poolpilot_tests::{eventually, http_get};
use shared::config::validate;
use shared::wire::{JsonEvent, RequestEvent, Topic};

fn event(id: &str, duration: f64) -> RequestEvent {
    RequestEvent {
        schema: 1,
        id: id.into(),
        time: "2027-01-15T08:00:00Z".parse().unwrap(),
        pool: "llama3".into(),
        model_name: "llama3".into(),
        target_model_name: "llama3-sql".into(),
        endpoint: "10.0.0.7:8000".into(),
        status: 200,
        error_code: String::new(),
        proxy_status: String::new(),
        duration_seconds: duration,
        ttft_seconds: Some(0.2),
        input_tokens: 300,
        output_tokens: 60,
        request_bytes: 1500,
        response_bytes: 5000,
        criticality: "Standard".into(),
        guard: "allowed".into(),
    }
}

#[tokio::test]
async fn request_events_become_the_pickers_model_metrics() {
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.aggregator.tick = Duration::from_millis(50);
    config.aggregator.slos = vec![aggregator::Slo {
        name: "latency".into(),
        objective: 99.0,
        kind: aggregator::SloKind::Latency,
        latency_threshold: Duration::from_secs(2),
        models: vec![],
    }];
    let topic = config.bus.topics().name(Topic::Requests);
    let aggregates_topic = config.bus.topics().name(Topic::Aggregates);
    let running = start(&[Part::Aggregator], validate(config).unwrap())
        .await
        .unwrap();
    let sub = running
        .deps
        .bus
        .subscribe(shared::bus::Subscribe::new(
            "it-aggregates",
            [aggregates_topic],
        ))
        .unwrap();
    let mut aggregates = shared::bus::typed::Typed::<Vec<shared::wire::Aggregates>>::new(
        sub,
        running.deps.bus_metrics.clone(),
    );
    let bus = running.deps.bus.clone();
    let publish = |body: Vec<u8>| {
        let (bus, topic) = (bus.clone(), topic.clone());
        async move {
            bus.publish(&topic, b"llama3/llama3", Bytes::from(body))
                .await
                .unwrap()
        }
    };
    publish(event("r1", 1.2).encode()).await;
    publish(event("r2", 0.7).encode()).await;
    publish(event("r1", 1.2).encode()).await; // redelivered
    publish(event("r3", -4.0).encode()).await; // a negative duration
    let mut future = event("r4", 1.0);
    future.schema = 2;
    publish(future.encode()).await; // an unknown schema
    publish(b"{not json".to_vec()).await; // not even JSON
    publish(event("r5", 3.0).encode()).await; // the stream goes on

    let addr = running.admin_addr;
    let labels = r#"model_name="llama3",target_model_name="llama3-sql""#;
    let page = eventually(
        Duration::from_secs(10),
        "three requests on /metrics",
        || async move {
            let page = http_get(addr, "/metrics").await.ok()?.body;
            page.contains(&format!("inference_model_request_total{{{labels}}} 3"))
                .then_some(page)
        },
    )
    .await;
    assert!(
        page.contains(&format!(
            "inference_model_request_duration_seconds_bucket{{le=\"1.0\",{labels}}} 1"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "inference_model_request_duration_seconds_bucket{{le=\"+Inf\",{labels}}} 3"
        )),
        "{page}"
    );
    assert!(page.contains(&format!(
        "inference_model_request_duration_seconds_count{{{labels}}} 3"
    )));
    assert!(page.contains(&format!(
        "inference_model_normalized_time_per_output_token_seconds_count{{{labels}}} 3"
    )));
    assert!(page.contains("# TYPE inference_model_input_tokens histogram"));
    assert!(
        page.contains("poolpilot_aggregator_duplicate_events_total 1"),
        "{page}"
    );
    assert!(
        page.contains("poolpilot_aggregator_invalid_messages_total{reason=\"bad_duration\"} 1"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "poolpilot_bus_messages_skipped_total{{topic=\"{topic}\"}} 2"
        )),
        "{page}"
    );
    assert!(
        page.contains("poolpilot_aggregator_invalid_messages_total{reason=\"schema\"} 1"),
        "{page}"
    );
    assert!(
        page.contains("poolpilot_aggregator_invalid_messages_total{reason=\"decode\"} 1"),
        "{page}"
    );
    // The same counters travel on aggregates.v1, in a message of no pool.
    let total = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (_, batch) = aggregates.recv().await.unwrap();
            let found = batch
                .iter()
                .filter(|a| a.pool.is_empty())
                .flat_map(|a| &a.series)
                .find(|s| s.name == "inference_model_request_total")
                .map(|s| s.value);
            if found == Some(3.0) {
                return found;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(total, Some(3.0));
    running.shutdown().await.unwrap();
}
