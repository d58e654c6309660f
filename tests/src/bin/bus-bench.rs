//! Samples/s and produce→consume latency through the embedded bus and Kafka.
//!
//! `cargo run --release -p poolpilot-tests --bin bus-bench -- [--kafka BROKERS]`
//!
//! Throughput: `--messages` scrapes of one pod (5 signals + `--series` raw series
//! each) published with up to `--in-flight` outstanding, read by one consumer; the
//! clock runs from the first publish to the last message read. Latency: one message
//! every `1/--rate` s for `--seconds`, each carrying its send time; the consumer
//! records now − send time.
#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use clap::Parser;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use poolpilot_tests::unique;
use shared::bus::embedded::EmbeddedBus;
use shared::bus::kafka::KafkaBus;
use shared::bus::{Bus, BusError, EmbeddedConfig, KafkaConfig, StartFrom, Subscribe, TopicSpec};
use shared::wire::{PodSamples, RawKind, RawSample, Signals, decode_batch, encode_batch};

#[derive(Parser)]
struct Args {
    /// Kafka brokers; without it only the embedded bus is measured
    /// (`$POOLPILOT_KAFKA_BROKERS` is used when set).
    #[arg(long, env = "POOLPILOT_KAFKA_BROKERS")]
    kafka: Option<String>,
    /// Messages (pod scrapes) in the throughput run.
    #[arg(long, default_value_t = 50_000)]
    messages: u64,
    /// Raw series per message.
    #[arg(long, default_value_t = 50)]
    series: usize,
    /// Publishes outstanding at once.
    #[arg(long, default_value_t = 5_000)]
    in_flight: usize,
    /// Messages per second in the latency run.
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Length of the latency run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn scrape(pod: u64, series: usize, time: SystemTime) -> PodSamples {
    PodSamples {
        pool: "bench".into(),
        pod: format!("pod-{}", pod % 1000),
        namespace: "bench".into(),
        endpoint: "127.0.0.1:8000".into(),
        engine: "vllm".into(),
        time,
        signals: Signals {
            up: true,
            queue_size: Some(2.0),
            running_requests: Some(10.0),
            kv_cache_utilization: Some(0.5),
            lora: None,
        },
        raw: (0..series)
            .map(|s| RawSample {
                name: format!("vllm:series_{}", s / 10),
                labels: vec![
                    ("model_name".into(), "llama3".into()),
                    ("le".into(), s.to_string()),
                ],
                kind: RawKind::Counter,
                value: s as f64,
            })
            .collect(),
    }
}

async fn throughput(bus: Arc<dyn Bus>, args: &Args) -> (f64, f64) {
    let topic = unique("bench");
    bus.ensure_topics(&[TopicSpec {
        name: topic.clone(),
        partitions: 4,
    }])
    .await
    .unwrap();
    let mut sub = bus
        .subscribe(Subscribe::new(unique("g"), [topic.clone()]).start(StartFrom::Earliest))
        .unwrap();
    let payloads: Vec<(String, Bytes)> = (0..1000)
        .map(|p| {
            let s = scrape(p, args.series, SystemTime::now());
            (s.key(), Bytes::from(encode_batch(&[s])))
        })
        .collect();
    let n = args.messages;
    let start = Instant::now();
    let producer = {
        let (bus, topic, in_flight) = (bus.clone(), topic.clone(), args.in_flight);
        tokio::spawn(async move {
            let mut pending = FuturesUnordered::new();
            for i in 0..n {
                let (k, p) = &payloads[(i % 1000) as usize];
                if pending.len() >= in_flight {
                    let done: Option<Result<(), BusError>> = pending.next().await;
                    done.unwrap().unwrap();
                }
                pending.push(bus.publish(&topic, k.as_bytes(), p.clone()));
            }
            while let Some(r) = pending.next().await {
                r.unwrap();
            }
        })
    };
    for _ in 0..n {
        let m = sub.next().await.unwrap();
        std::hint::black_box(&m.payload);
    }
    let secs = start.elapsed().as_secs_f64();
    producer.await.unwrap();
    let per_msg = (args.series + 4) as f64;
    (n as f64 / secs, n as f64 * per_msg / secs)
}

async fn latency(bus: Arc<dyn Bus>, args: &Args) -> (f64, f64, usize) {
    let topic = unique("lat");
    bus.ensure_topics(&[TopicSpec {
        name: topic.clone(),
        partitions: 4,
    }])
    .await
    .unwrap();
    // A new topic: from the earliest offset is everything the producer sends.
    let mut sub = bus
        .subscribe(Subscribe::new(unique("g"), [topic.clone()]).start(StartFrom::Earliest))
        .unwrap();
    // Let the group settle (Kafka assigns partitions on the first polls).
    let warmup = Instant::now();
    while sub.assignment().is_empty() && warmup.elapsed() < Duration::from_secs(30) {
        let _ = tokio::time::timeout(Duration::from_millis(100), sub.next()).await;
    }
    let total = args.rate * args.seconds;
    let producer = {
        let (bus, topic, rate, series) = (bus.clone(), topic.clone(), args.rate, args.series);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
            let mut pending = FuturesUnordered::new();
            for i in 0..total {
                tick.tick().await;
                let s = scrape(i, series, SystemTime::now());
                let (key, payload) = (s.key(), Bytes::from(encode_batch(&[s])));
                let (bus, topic) = (bus.clone(), topic.clone());
                pending.push(
                    async move { bus.publish(&topic, key.as_bytes(), payload).await.unwrap() },
                );
                // Poll the new publish now, not at the next tick.
                while let Some(Some(())) = pending.next().now_or_never() {}
            }
            while pending.next().await.is_some() {}
        })
    };
    let mut lat = Vec::with_capacity(total as usize);
    let deadline = Instant::now() + Duration::from_secs(args.seconds + 30);
    while (lat.len() as u64) < total && Instant::now() < deadline {
        let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(5), sub.next()).await else {
            break;
        };
        let sent = decode_batch(&m.payload).unwrap()[0].time;
        lat.push(
            SystemTime::now()
                .duration_since(sent)
                .unwrap_or_default()
                .as_secs_f64(),
        );
    }
    producer.await.unwrap();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (q(0.5), q(0.99), lat.len())
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut buses: Vec<(&str, Arc<dyn Bus>)> = vec![(
        "embedded",
        Arc::new(EmbeddedBus::new(EmbeddedConfig {
            capacity: 8192,
            partitions: 4,
        })),
    )];
    if let Some(brokers) = &args.kafka {
        let config = KafkaConfig {
            brokers: brokers.clone(),
            ..Default::default()
        };
        buses.push(("kafka", Arc::new(KafkaBus::new(&config).unwrap())));
    }
    println!(
        "{} messages of {} samples (5 signals + {} raw series, {} bytes each); latency at {}/s for {}s",
        args.messages,
        args.series + 4,
        args.series,
        encode_batch(&[scrape(0, args.series, SystemTime::now())]).len(),
        args.rate,
        args.seconds
    );
    println!(
        "{:<10} {:>12} {:>14} {:>12} {:>12} {:>10}",
        "bus", "messages/s", "samples/s", "p50 ms", "p99 ms", "received"
    );
    for (name, bus) in buses {
        let (mps, sps) = throughput(bus.clone(), &args).await;
        let (p50, p99, got) = latency(bus, &args).await;
        println!(
            "{name:<10} {mps:>12.0} {sps:>14.0} {:>12.3} {:>12.3} {got:>10}",
            p50 * 1e3,
            p99 * 1e3
        );
    }
}
