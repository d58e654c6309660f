//! Sample → scale PATCH latency (DESIGN §8: p99 ≤ 1 s through Kafka at a 250 ms scrape
//! interval, no stabilization): a simulated server scraped every 250 ms, the
//! aggregator and the scaler over Kafka, a Deployment on the real kube-apiserver.
//! Each round steps the load up (held completions fill the KV cache), and measures
//! from the scrape time of the first sample whose KV cache crosses the target's
//! tolerance to the moment the Deployment's replicas are seen changed; then the load
//! stops and the pool scales back down before the next round.
//!
//! `cargo run --release -p poolpilot-tests --bin scale-bench -- [--rounds 10]
//! [--aggregator-delay-ms D] [--scaler-delay-ms D]` (needs `dev/infra up` and its
//! `env`). The delays set the parts' tick phases: run a few to see the spread.
#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::time::{Duration, SystemTime};

use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use poolpilot::{Config, Part, start};
use poolpilot_tests::{hold_completions, infra, namespace_with_deployment, sim_fleet, unique};
use shared::bus::typed::Typed;
use shared::bus::{BusKind, StartFrom, Subscribe};
use shared::config::validate;
use shared::wire::{PodSamples, Topic};

#[derive(Parser)]
struct Args {
    /// Load steps to measure.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Start the aggregator this long after the scraper (its tick phase).
    #[arg(long, default_value_t = 0)]
    aggregator_delay_ms: u64,
    /// Start the scaler this long after the aggregator (its tick phase).
    #[arg(long, default_value_t = 0)]
    scaler_delay_ms: u64,
}

const TARGET: f64 = 0.5;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let client = scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap();
    let target = namespace_with_deployment(&client).await;
    let ns = target.namespace.clone();
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);

    let fleet = sim_fleet(1).await;
    let pod = fleet.pods()[0].clone();
    let pool = unique("pool");
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.bus.kind = BusKind::Kafka;
    config.bus.kafka.brokers = infra().kafka_brokers.clone();
    config.bus.topic_prefix = format!("{}.", unique("bench"));
    config.scraper.interval = Duration::from_millis(250);
    config.scraper.timeout = Duration::from_millis(250);
    config.scraper.pools = vec![poolpilot::local::scrape_pool(&pool, "sim", &fleet.pods())];
    config.aggregator.tick = Duration::from_millis(250);
    config.scaler.kubeconfig = Some(infra().kubeconfig.clone());
    config.scaler.interval = Duration::from_millis(250);
    config.scaler.pools = vec![serde_json::from_value(serde_json::json!({
        "pool": pool,
        "namespace": ns,
        "hpa": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "llama3" },
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [{ "type": "External", "external": {
                "metric": { "name": "inference_pool_average_kv_cache_utilization",
                            "selector": { "matchLabels": { "name": pool } } },
                "target": { "type": "AverageValue", "averageValue": TARGET.to_string() } } }],
            "behavior": {
                "scaleUp": { "stabilizationWindowSeconds": 0,
                             "policies": [{ "type": "Pods", "value": 4, "periodSeconds": 1 }] },
                "scaleDown": { "stabilizationWindowSeconds": 0,
                               "policies": [{ "type": "Percent", "value": 100, "periodSeconds": 1 }] }
            }
        }
    }))
    .unwrap()];
    let topics = config.bus.topics();
    // The parts tick every 250 ms each; their phases against each other decide where
    // in 0..250 ms a sample waits at each hop, so they are started apart on purpose.
    let config = validate(config).unwrap();
    let running = start(&[Part::Scraper], config.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(args.aggregator_delay_ms)).await;
    let aggregator = start(&[Part::Aggregator], config.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(args.scaler_delay_ms)).await;
    let scaler = start(&[Part::Scaler], config).await.unwrap();
    let sub = running
        .deps
        .bus
        .subscribe(
            Subscribe::new(unique("g"), [topics.name(Topic::Samples)]).start(StartFrom::Latest),
        )
        .unwrap();
    let mut samples = Typed::<Vec<PodSamples>>::new(sub, running.deps.bus_metrics.clone());
    let replicas = || {
        let deployments = deployments.clone();
        async move {
            deployments
                .get("llama3")
                .await
                .ok()
                .and_then(|d| d.spec?.replicas)
                .unwrap_or(0)
        }
    };
    let wait_replicas = |want: i32| async move {
        let deadline = SystemTime::now() + Duration::from_secs(60);
        loop {
            if replicas().await == want {
                return SystemTime::now();
            }
            assert!(SystemTime::now() < deadline, "replicas never became {want}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };

    let mut latencies = Vec::new();
    for round in 0..args.rounds {
        wait_replicas(1).await;
        // Let the pool idle, so the step starts from a low sample.
        tokio::time::sleep(Duration::from_secs(2)).await;
        while samples_pending(&mut samples).await {}
        let held = hold_completions(&pod.url(), 80, 1600, 4000).await;
        // The scrape time of the first sample past the tolerance band (ratio > 1.1).
        let crossed = loop {
            let (_, batch) = samples.next().await.unwrap();
            if let Some(p) = batch
                .iter()
                .find(|p| p.signals.kv_cache_utilization.unwrap_or(0.0) > TARGET * 1.1)
            {
                break p.time;
            }
        };
        let patched = {
            let deadline = SystemTime::now() + Duration::from_secs(60);
            loop {
                if replicas().await > 1 {
                    break SystemTime::now();
                }
                assert!(SystemTime::now() < deadline, "no scale-up");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let latency = patched.duration_since(crossed).unwrap_or_default();
        println!("round {round}: sample → PATCH {latency:?}");
        latencies.push(latency);
        drop(held);
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "sample → PATCH over {} steps: p50 {:?}, p99 {:?}, max {:?} (scrape 250 ms, aggregator tick 250 ms +{} ms, scaler tick 250 ms +{} ms, Kafka)",
        latencies.len(),
        pct(0.5),
        pct(0.99),
        latencies[latencies.len() - 1],
        args.aggregator_delay_ms,
        args.scaler_delay_ms,
    );
    scaler.shutdown().await.unwrap();
    aggregator.shutdown().await.unwrap();
    running.shutdown().await.unwrap();
    fleet.shutdown().await;
}

/// Drains what is already queued (true while something was), so the next read is a
/// sample taken after the load step.
async fn samples_pending(samples: &mut Typed<Vec<PodSamples>>) -> bool {
    tokio::time::timeout(Duration::from_millis(50), samples.next())
        .await
        .is_ok()
}
