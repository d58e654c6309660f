//! `kill -9` of a real `poolpilot aggregator` process over Kafka: after the restart
//! `inference_model_request_total` continues where it was, never going backwards.

use std::time::Duration;

use bytes::Bytes;
use poolpilot_tests::{Process, eventually, free_port, http_get, infra, kafka_shared, unique};
use shared::bus::Bus;
use shared::bus::kafka::KafkaBus;
use shared::bus::{KafkaConfig, TopicSpec};
use shared::wire::{JsonEvent, RequestEvent, Topic, Topics};

fn event(id: &str) -> RequestEvent {
    RequestEvent {
        schema: 1,
        id: id.into(),
        time: "2027-01-15T08:00:00Z".parse().unwrap(),
        pool: "llama3".into(),
        model_name: "llama3".into(),
        target_model_name: "llama3".into(),
        endpoint: "10.0.0.7:8000".into(),
        status: 200,
        error_code: String::new(),
        proxy_status: String::new(),
        duration_seconds: 0.8,
        ttft_seconds: Some(0.1),
        input_tokens: 10,
        output_tokens: 10,
        request_bytes: 100,
        response_bytes: 100,
        criticality: "Standard".into(),
        guard: "allowed".into(),
    }
}

async fn total(addr: std::net::SocketAddr) -> Option<u64> {
    let page = http_get(addr, "/metrics").await.ok()?.body;
    let line = page
        .lines()
        .find(|l| l.starts_with("inference_model_request_total{"))?;
    line.rsplit(' ').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_survive_kill_9() {
    let _broker = kafka_shared().await;
    let dir = std::env::temp_dir().join(unique("restart"));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("{}.", unique("it"));
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = dir.join("poolpilot.yaml");
    std::fs::write(
        &config,
        format!(
            "bus:\n  kind: kafka\n  topic_prefix: {prefix}\n  kafka:\n    brokers: {}\nadmin:\n  listen: {addr}\naggregator:\n  tick: 100ms\n  freshness: 2s\n  state_path: {}\n",
            infra().kafka_brokers,
            dir.join("state").display()
        ),
    )
    .unwrap();
    let start = || Process::poolpilot("aggregator", &config);
    let bus = KafkaBus::new(&KafkaConfig {
        brokers: infra().kafka_brokers.clone(),
        ..Default::default()
    })
    .unwrap();
    let topic = Topics::new(prefix.clone()).name(Topic::Requests);
    bus.ensure_topics(&[TopicSpec {
        name: topic.clone(),
        partitions: 4,
    }])
    .await
    .unwrap();
    let publish = |id: String| {
        let (bus, topic) = (&bus, topic.clone());
        async move {
            bus.publish(&topic, b"llama3", Bytes::from(event(&id).encode()))
                .await
                .unwrap()
        }
    };

    let mut first = start();
    for i in 0..5 {
        publish(format!("before-{i}")).await;
    }
    eventually(
        Duration::from_secs(60),
        "5 requests counted",
        || async move { total(addr).await.filter(|n| *n == 5) },
    )
    .await;

    // kill -9: no shutdown path runs.
    first.kill_9();
    let _second = start();
    let restored = eventually(
        Duration::from_secs(60),
        "the restarted aggregator",
        || async move { total(addr).await },
    )
    .await;
    assert!(
        restored >= 5,
        "the counter went backwards after kill -9: {restored}"
    );
    for i in 0..3 {
        publish(format!("after-{i}")).await;
    }
    publish("before-0".into()).await; // a redelivery of an event counted before the crash
    eventually(
        Duration::from_secs(60),
        "8 requests counted",
        || async move { total(addr).await.filter(|n| *n == 8) },
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}
