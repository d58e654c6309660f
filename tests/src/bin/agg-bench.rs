//! What one aggregator core sustains on one thread, and its memory.
//!
//! `cargo run --release -p poolpilot-tests --bin agg-bench`
//!
//! Samples: `decode_batch` + `Pools::ingest` of one-pod messages (5 signals + 50 raw
//! series, as the scraper publishes them) from `--pods` pods, one tick per round.
//! Events: `RequestEvent::decode` + `Requests::ingest`. Memory: RSS after the rounds.

#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::time::{Duration, Instant, SystemTime};

use aggregator::{Pools, Requests};
use clap::Parser;
use shared::wire::{
    JsonEvent, PodSamples, RawKind, RawSample, RequestEvent, Signals, decode_batch, encode_batch,
};

#[derive(Parser)]
struct Args {
    /// Pods publishing samples.
    #[arg(long, default_value_t = 1000)]
    pods: usize,
    /// Raw series per pod.
    #[arg(long, default_value_t = 50)]
    series: usize,
    /// Scrape rounds (simulated seconds).
    #[arg(long, default_value_t = 60)]
    rounds: usize,
    /// Request events.
    #[arg(long, default_value_t = 500_000)]
    events: usize,
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let args = Args::parse();
    let start_time = SystemTime::now();
    let messages: Vec<Vec<u8>> = (0..args.pods)
        .map(|p| {
            encode_batch(&[PodSamples {
                pool: format!("pool-{}", p % 10),
                pod: format!("pod-{p}"),
                namespace: "bench".into(),
                endpoint: "10.0.0.1:8000".into(),
                engine: "vllm".into(),
                time: start_time,
                signals: Signals {
                    up: true,
                    queue_size: Some(3.0),
                    running_requests: Some(10.0),
                    kv_cache_utilization: Some(0.5),
                    lora: None,
                },
                raw: (0..args.series)
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
            }])
        })
        .collect();
    let mut pools = Pools::new(Duration::from_secs(2));
    let per_message = args.series + 4;
    let started = Instant::now();
    for round in 0..args.rounds {
        let now = start_time + Duration::from_secs(round as u64);
        for bytes in &messages {
            for mut pod in decode_batch(bytes).unwrap() {
                pod.time = now;
                pools.ingest(&pod);
            }
        }
        std::hint::black_box(pools.tick(now));
    }
    let secs = started.elapsed().as_secs_f64();
    let samples = (args.rounds * args.pods * per_message) as f64;
    println!(
        "samples: {:.0} samples/s ({:.0} messages/s) on one thread, {} pods x {} samples x {} rounds",
        samples / secs,
        (args.rounds * args.pods) as f64 / secs,
        args.pods,
        per_message,
        args.rounds
    );

    println!(
        "memory: RSS {:.1} MiB after the samples ({} pods x {} series, {} rounds)",
        rss_mib(),
        args.pods,
        args.series,
        args.rounds
    );

    let events: Vec<Vec<u8>> = (0..args.events)
        .map(|i| {
            RequestEvent {
                schema: 1,
                id: format!("req-{i}"),
                time: "2027-01-15T08:00:00Z".parse().unwrap(),
                pool: "bench".into(),
                model_name: format!("model-{}", i % 20),
                target_model_name: format!("model-{}-v{}", i % 20, i % 3),
                endpoint: "10.0.0.1:8000".into(),
                status: if i % 50 == 0 { 503 } else { 200 },
                error_code: String::new(),
                proxy_status: String::new(),
                duration_seconds: (i % 100) as f64 * 0.05,
                ttft_seconds: Some(0.1),
                input_tokens: 300,
                output_tokens: 60,
                request_bytes: 1500,
                response_bytes: 5000,
                criticality: "Standard".into(),
                guard: "allowed".into(),
            }
            .encode()
        })
        .collect();
    let mut requests = Requests::new(Duration::from_secs(600));
    let started = Instant::now();
    for (i, bytes) in events.iter().enumerate() {
        let e = RequestEvent::decode(bytes).unwrap();
        requests.ingest(start_time + Duration::from_millis(i as u64), &e);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "events: {:.0} events/s on one thread (decode + dedupe + 6 histograms), {} events",
        args.events as f64 / secs,
        args.events
    );
    drop(events);
    println!(
        "memory: RSS {:.1} MiB after the events ({} ids in the dedupe window; freed buffers are not returned to the OS)",
        rss_mib(),
        args.events
    );
}
