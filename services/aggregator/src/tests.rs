//! The pool gauges with explicit times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shared::wire::{Aggregates, PodSamples, RawKind, RawSample, Signals};

use crate::core::Pools;

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + ms)
}

fn sample(pod: &str, time: SystemTime, kv: f64, queue: f64, running: f64) -> PodSamples {
    PodSamples {
        pool: "llama3".into(),
        pod: pod.into(),
        namespace: "models".into(),
        endpoint: String::new(),
        engine: "vllm".into(),
        time,
        signals: Signals {
            up: true,
            queue_size: Some(queue),
            running_requests: Some(running),
            kv_cache_utilization: Some(kv),
            lora: None,
        },
        raw: Vec::new(),
    }
}

fn value(a: &[Aggregates], name: &str, pod: Option<&str>) -> Option<f64> {
    a.iter()
        .flat_map(|a| &a.series)
        .find(|s| {
            s.name == name
                && pod.is_none_or(|p| {
                    s.labels
                        .iter()
                        .any(|(k, v)| k == "model_server_pod" && v == p)
                })
        })
        .map(|s| s.value)
}

#[test]
fn averages_are_over_fresh_pods_only() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(0), 0.2, 2.0, 10.0));
    pools.ingest(&sample("b", at(500), 0.6, 4.0, 20.0));
    let now = pools.tick(at(1000));
    assert_eq!(value(&now, "inference_pool_ready_pods", None), Some(2.0));
    assert_eq!(
        value(&now, "inference_pool_average_kv_cache_utilization", None),
        Some(0.4)
    );
    assert_eq!(
        value(&now, "inference_pool_average_queue_size", None),
        Some(3.0)
    );
    assert_eq!(
        value(&now, "inference_pool_average_running_requests", None),
        Some(15.0)
    );
    assert_eq!(
        value(&now, "inference_pool_per_pod_queue_size", Some("b")),
        Some(4.0)
    );
    assert!(
        now[0]
            .series
            .iter()
            .all(|s| s.labels[0] == ("name".to_owned(), "llama3".to_owned()))
    );

    // `a` stops reporting: after 2 s it no longer counts.
    pools.ingest(&sample("b", at(2100), 0.8, 6.0, 30.0));
    let later = pools.tick(at(2500));
    assert_eq!(value(&later, "inference_pool_ready_pods", None), Some(1.0));
    assert_eq!(
        value(&later, "inference_pool_average_kv_cache_utilization", None),
        Some(0.8)
    );
    assert_eq!(
        value(&later, "inference_pool_per_pod_queue_size", Some("a")),
        None
    );

    // Nobody fresh: ready_pods 0 and no averages, rather than stale ones.
    let silent = pools.tick(at(10_000));
    assert_eq!(value(&silent, "inference_pool_ready_pods", None), Some(0.0));
    assert_eq!(
        value(&silent, "inference_pool_average_kv_cache_utilization", None),
        None
    );
}

#[test]
fn a_pod_that_is_down_drops_out_at_once() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(0), 0.2, 2.0, 10.0));
    pools.ingest(&sample("b", at(0), 0.6, 4.0, 20.0));
    let mut down = sample("b", at(100), 0.0, 0.0, 0.0);
    down.signals = Signals::default();
    pools.ingest(&down);
    let now = pools.tick(at(200));
    assert_eq!(value(&now, "inference_pool_ready_pods", None), Some(1.0));
    assert_eq!(
        value(&now, "inference_pool_average_kv_cache_utilization", None),
        Some(0.2)
    );
}

#[test]
fn an_older_sample_changes_nothing() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(1000), 0.5, 1.0, 1.0));
    pools.ingest(&sample("a", at(900), 0.9, 9.0, 9.0)); // redelivered, out of order
    let now = pools.tick(at(1100));
    assert_eq!(
        value(&now, "inference_pool_average_kv_cache_utilization", None),
        Some(0.5)
    );
}

#[test]
fn gpu_utilisation_averages_dcgm_series() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(0), 0.1, 0.0, 1.0));
    let gpu = |value| RawSample {
        name: "DCGM_FI_DEV_GPU_UTIL".into(),
        labels: vec![],
        kind: RawKind::Gauge,
        value,
    };
    let dcgm = PodSamples {
        engine: "dcgm".into(),
        raw: vec![gpu(80.0), gpu(60.0)],
        signals: Signals {
            up: true,
            ..Default::default()
        },
        ..sample("a", at(100), 0.0, 0.0, 0.0)
    };
    pools.ingest(&dcgm);
    let now = pools.tick(at(200));
    assert_eq!(
        value(&now, "poolpilot_pool_average_gpu_utilization", None),
        Some(70.0)
    );
    assert_eq!(
        value(&now, "inference_pool_average_kv_cache_utilization", None),
        Some(0.1),
        "a DCGM message leaves the signals alone"
    );
}

#[test]
fn silent_pods_are_forgotten_after_five_minutes() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(0), 0.1, 0.0, 1.0));
    assert_eq!(pools.tick(at(299_000)).len(), 1);
    assert!(pools.tick(at(301_000)).is_empty());
}
