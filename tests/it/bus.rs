//! The bus contract, run against the embedded bus and a real Kafka broker alike.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::future::try_join_all;
use poolpilot_tests::{eventually, infra, kafka_exclusive, kafka_shared, unique};
use shared::bus::embedded::EmbeddedBus;
use shared::bus::kafka::KafkaBus;
use shared::bus::typed::{BusMetrics, Typed};
use shared::bus::{Bus, EmbeddedConfig, KafkaConfig, Message, Subscribe, Subscription, TopicSpec};
use shared::telemetry::MetricsRegistry;
use shared::wire::{PodSamples, Signals, decode_batch, encode_batch};

const MESSAGES: u64 = 10_000;
const KEYS: u64 = 50;
const WAIT: Duration = Duration::from_secs(90);

fn embedded() -> Arc<dyn Bus> {
    Arc::new(EmbeddedBus::new(EmbeddedConfig {
        capacity: 20_000,
        partitions: 4,
    }))
}

fn kafka_config() -> KafkaConfig {
    KafkaConfig {
        brokers: infra().kafka_brokers.clone(),
        publish_timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

fn kafka() -> Arc<dyn Bus> {
    Arc::new(KafkaBus::new(&kafka_config()).unwrap())
}

/// Sample `n` of pod `n % KEYS`: the queue size carries `n`, so order can be checked.
fn sample(n: u64) -> (String, Bytes) {
    let pod = PodSamples {
        pool: "pool".into(),
        pod: format!("pod-{}", n % KEYS),
        namespace: "ns".into(),
        endpoint: "127.0.0.1:1".into(),
        engine: "vllm".into(),
        time: SystemTime::now(),
        signals: Signals {
            up: true,
            queue_size: Some(n as f64),
            ..Default::default()
        },
        raw: Vec::new(),
    };
    (pod.key(), Bytes::from(encode_batch(&[pod])))
}

fn number(m: &Message) -> u64 {
    decode_batch(&m.payload).unwrap()[0]
        .signals
        .queue_size
        .unwrap() as u64
}

async fn topic(bus: &dyn Bus, partitions: i32) -> String {
    let name = unique("it");
    bus.ensure_topics(&[TopicSpec {
        name: name.clone(),
        partitions,
    }])
    .await
    .unwrap();
    name
}

async fn publish_range(bus: &dyn Bus, topic: &str, range: std::ops::Range<u64>) {
    let items: Vec<_> = range.map(sample).collect();
    for chunk in items.chunks(1000) {
        try_join_all(
            chunk
                .iter()
                .map(|(k, p)| bus.publish(topic, k.as_bytes(), p.clone())),
        )
        .await
        .unwrap();
    }
}

/// Reads until `want` distinct numbers arrived, checking per-key order on the way.
async fn read_all(sub: &mut dyn Subscription, want: usize) -> Vec<Message> {
    let mut seen = BTreeSet::new();
    let mut last_per_key: HashMap<Bytes, u64> = HashMap::new();
    let mut out = Vec::new();
    let start = Instant::now();
    while seen.len() < want {
        let m = tokio::time::timeout(WAIT.saturating_sub(start.elapsed()), sub.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {want} messages arrived", seen.len()))
            .unwrap();
        let n = number(&m);
        let key = m.key.clone().unwrap();
        if let Some(prev) = last_per_key.insert(key, n) {
            assert!(prev < n, "key order broken: {prev} then {n}");
        }
        seen.insert(n);
        out.push(m);
    }
    out
}

async fn two_groups_each_receive_everything(bus: Arc<dyn Bus>) {
    let topic = topic(&*bus, 4).await;
    let mut a = bus
        .subscribe(Subscribe::new(unique("ga"), [topic.clone()]))
        .unwrap();
    let mut b = bus
        .subscribe(Subscribe::new(unique("gb"), [topic.clone()]))
        .unwrap();
    publish_range(&*bus, &topic, 0..MESSAGES).await;
    let (ra, rb) = tokio::join!(
        read_all(&mut *a, MESSAGES as usize),
        read_all(&mut *b, MESSAGES as usize)
    );
    assert_eq!(ra.len() as u64, MESSAGES, "group a got duplicates");
    assert_eq!(rb.len() as u64, MESSAGES, "group b got duplicates");
    let partitions: BTreeSet<_> = ra.iter().map(|m| m.partition).collect();
    assert_eq!(
        partitions.len(),
        4,
        "50 keys should spread over all 4 partitions"
    );
}

/// A member consuming in the background, reporting what it got and what it owns.
struct Member {
    got: tokio::sync::mpsc::UnboundedReceiver<Message>,
    owned: Arc<std::sync::Mutex<Vec<(String, i32)>>>,
    stop: tokio_util::sync::CancellationToken,
}

fn member(mut sub: Box<dyn Subscription>) -> Member {
    let (tx, got) = tokio::sync::mpsc::unbounded_channel();
    let owned = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let (o, s) = (owned.clone(), stop.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                () = s.cancelled() => break,
                m = sub.next() => { let _ = tx.send(m.unwrap()); }
                _ = tick.tick() => { *o.lock().unwrap() = sub.assignment(); }
            }
        }
        sub.close().await.unwrap();
    });
    Member { got, owned, stop }
}

async fn one_group_splits_the_partitions(bus: Arc<dyn Bus>) {
    let topic = topic(&*bus, 4).await;
    let group = unique("split");
    let mut m1 = member(
        bus.subscribe(Subscribe::new(group.clone(), [topic.clone()]))
            .unwrap(),
    );
    let mut m2 = member(
        bus.subscribe(Subscribe::new(group.clone(), [topic.clone()]))
            .unwrap(),
    );
    eventually(WAIT, "both members to own partitions", || {
        let (a, b) = (
            m1.owned.lock().unwrap().clone(),
            m2.owned.lock().unwrap().clone(),
        );
        async move { (!a.is_empty() && !b.is_empty() && a.len() + b.len() == 4).then_some(()) }
    })
    .await;
    publish_range(&*bus, &topic, 0..MESSAGES).await;
    let mut seen = BTreeSet::new();
    let (mut p1, mut p2) = (BTreeSet::new(), BTreeSet::new());
    let start = Instant::now();
    while (seen.len() as u64) < MESSAGES {
        assert!(
            start.elapsed() < WAIT,
            "only {} messages arrived",
            seen.len()
        );
        tokio::select! {
            Some(m) = m1.got.recv() => { p1.insert(m.partition); seen.insert(number(&m)); }
            Some(m) = m2.got.recv() => { p2.insert(m.partition); seen.insert(number(&m)); }
        }
    }
    assert!(
        !p1.is_empty() && !p2.is_empty(),
        "both members must get messages: {p1:?} {p2:?}"
    );
    assert!(
        p1.is_disjoint(&p2),
        "a partition went to both members: {p1:?} {p2:?}"
    );
    m1.stop.cancel();
    m2.stop.cancel();
}

async fn a_restarted_consumer_resumes_from_its_commit(bus: Arc<dyn Bus>) {
    let topic = topic(&*bus, 4).await;
    let group = unique("resume");
    publish_range(&*bus, &topic, 0..1000).await;
    let mut first = bus
        .subscribe(Subscribe::new(group.clone(), [topic.clone()]))
        .unwrap();
    let mut done = BTreeSet::new();
    for _ in 0..400 {
        let m = first.next().await.unwrap();
        first.commit(&m).unwrap();
        done.insert(number(&m));
    }
    first.close().await.unwrap();
    let mut second = bus.subscribe(Subscribe::new(group, [topic])).unwrap();
    // Not `read_all`: if the group rebalances while the second consumer reads (the
    // first member's leave can land after the second joined), it rewinds to the last
    // commit and sees again what it read but had not committed — at-least-once, legal,
    // and out of per-key order. What must hold is below.
    let mut rest = BTreeSet::new();
    let start = Instant::now();
    while rest.len() < 600 {
        let m = tokio::time::timeout(WAIT.saturating_sub(start.elapsed()), second.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of 600 messages arrived", rest.len()))
            .unwrap();
        rest.insert(number(&m));
    }
    assert!(
        done.is_disjoint(&rest),
        "committed messages were delivered again"
    );
    assert_eq!(done.len() + rest.len(), 1000, "messages were lost");
}

async fn a_bad_message_is_reported_and_skipped(bus: Arc<dyn Bus>) {
    let topic = topic(&*bus, 1).await;
    let (k0, p0) = sample(0);
    let (k1, p1) = sample(1);
    bus.publish(&topic, k0.as_bytes(), p0).await.unwrap();
    bus.publish(
        &topic,
        b"junk",
        Bytes::from_static(b"\x0a\xff\xffnot protobuf"),
    )
    .await
    .unwrap();
    bus.publish(&topic, k1.as_bytes(), p1).await.unwrap();
    let registry = MetricsRegistry::default();
    let sub = bus
        .subscribe(Subscribe::new(unique("bad"), [topic.clone()]))
        .unwrap();
    let mut typed = Typed::<Vec<PodSamples>>::new(sub, BusMetrics::register(&registry));
    let (_, first) = typed.next().await.unwrap();
    let (m, second) = typed.next().await.unwrap();
    assert_eq!(first[0].signals.queue_size, Some(0.0));
    assert_eq!(second[0].signals.queue_size, Some(1.0));
    assert_eq!(m.offset, 2);
    let skipped = typed.last_skipped().unwrap();
    assert!(
        skipped.starts_with(&format!("{topic}/0@1: not an OTLP")),
        "{skipped}"
    );
    let metrics = registry.encode();
    assert!(
        metrics.contains(&format!(
            "poolpilot_bus_messages_skipped_total{{topic=\"{topic}\"}} 1"
        )),
        "{metrics}"
    );
    typed.close().await.unwrap();
}

#[tokio::test]
async fn embedded_two_groups_each_receive_everything() {
    two_groups_each_receive_everything(embedded()).await;
}

#[tokio::test]
async fn embedded_one_group_splits_the_partitions() {
    one_group_splits_the_partitions(embedded()).await;
}

#[tokio::test]
async fn embedded_a_restarted_consumer_resumes_from_its_commit() {
    a_restarted_consumer_resumes_from_its_commit(embedded()).await;
}

#[tokio::test]
async fn embedded_a_bad_message_is_reported_and_skipped() {
    a_bad_message_is_reported_and_skipped(embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_two_groups_each_receive_everything() {
    let _broker = kafka_shared().await;
    two_groups_each_receive_everything(kafka()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_one_group_splits_the_partitions() {
    let _broker = kafka_shared().await;
    one_group_splits_the_partitions(kafka()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_a_restarted_consumer_resumes_from_its_commit() {
    let _broker = kafka_shared().await;
    a_restarted_consumer_resumes_from_its_commit(kafka()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_a_bad_message_is_reported_and_skipped() {
    let _broker = kafka_shared().await;
    a_bad_message_is_reported_and_skipped(kafka()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_nothing_listening_is_a_clear_error_within_the_timeout() {
    let bus = KafkaBus::new(&KafkaConfig {
        brokers: "127.0.0.1:1".into(),
        publish_timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    let start = Instant::now();
    let err = bus
        .publish("nowhere", b"k", Bytes::from_static(b"v"))
        .await
        .unwrap_err();
    // Generous bound: this checks "no hang", not speed.
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        err.to_string().starts_with("topic nowhere: publish:"),
        "{err}"
    );
}

/// Restarts the broker even when the test fails half-way.
struct BrokerBack;

impl Drop for BrokerBack {
    fn drop(&mut self) {
        infra().script("kafka-start");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_a_broker_that_goes_down_and_comes_back() {
    let _broker = kafka_exclusive().await;
    let bus = KafkaBus::new(&KafkaConfig {
        publish_timeout: Duration::from_secs(3),
        ..kafka_config()
    })
    .unwrap();
    let topic = topic(&bus, 1).await;
    let (k, p) = sample(7);
    bus.publish(&topic, k.as_bytes(), p.clone()).await.unwrap();

    let back = BrokerBack;
    infra().script("kafka-stop");
    let start = Instant::now();
    let err = bus
        .publish(&topic, k.as_bytes(), p.clone())
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "a publish to a dead broker hung for {:?}",
        start.elapsed()
    );
    assert!(
        err.to_string()
            .starts_with(&format!("topic {topic}: publish:")),
        "{err}"
    );
    drop(back);

    eventually(
        WAIT,
        "a publish to succeed after the broker came back",
        || {
            let (bus, topic, k, p) = (&bus, &topic, &k, p.clone());
            async move { bus.publish(topic, k.as_bytes(), p).await.ok() }
        },
    )
    .await;
    let mut sub = bus
        .subscribe(Subscribe::new(unique("back"), [topic.clone()]))
        .unwrap();
    let first = tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(number(&first), 7);
    sub.close().await.unwrap();
}
