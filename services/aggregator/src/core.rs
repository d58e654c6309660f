//! The pool gauges of DESIGN §5 from the latest canonical signals per pod. Pure: it
//! is fed samples and asked for aggregates at a time it is given.
//!
//! As the endpoint picker computes them: a pod counts only while its latest signals
//! are younger than the freshness limit and it is up; averages are over the fresh
//! pods that report the signal; `ready_pods` counts fresh pods. A redelivered or
//! out-of-order sample (older than what we hold) changes nothing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use shared::wire::{Aggregates, PodSamples, RawKind, RawSample, Signals};

/// How long a pod nobody hears from is remembered (for `ready_pods` to fall to 0
/// and the pool to keep reporting), before it is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
struct Pod {
    time: SystemTime,
    signals: Signals,
    gpu: Option<(SystemTime, f64)>,
}

/// The latest signals of every pod, by pool.
#[derive(Debug)]
pub struct Pools {
    freshness: Duration,
    pods: BTreeMap<String, BTreeMap<String, Pod>>,
}

impl Pools {
    /// Pools whose pods count while younger than `freshness`.
    pub fn new(freshness: Duration) -> Self {
        Self {
            freshness,
            pods: BTreeMap::new(),
        }
    }

    /// Takes one pod's sample. DCGM messages (engine `dcgm`) carry GPU series only.
    pub fn ingest(&mut self, sample: &PodSamples) {
        let pod = self
            .pods
            .entry(sample.pool.clone())
            .or_default()
            .entry(sample.pod.clone())
            .or_insert_with(|| Pod {
                time: std::time::UNIX_EPOCH,
                signals: Signals::default(),
                gpu: None,
            });
        if sample.engine == "dcgm" {
            let util: Vec<f64> = sample
                .raw
                .iter()
                .filter(|r| r.name == "DCGM_FI_DEV_GPU_UTIL")
                .map(|r| r.value)
                .collect();
            if !util.is_empty() && pod.gpu.is_none_or(|(t, _)| sample.time >= t) {
                pod.gpu = Some((sample.time, util.iter().sum::<f64>() / util.len() as f64));
            }
        } else if sample.time >= pod.time {
            pod.time = sample.time;
            pod.signals = sample.signals.clone();
        }
    }

    /// Every pool's series at `now`; pods silent for five minutes are forgotten.
    pub fn tick(&mut self, now: SystemTime) -> Vec<Aggregates> {
        let fresh =
            |t: SystemTime| now.duration_since(t).unwrap_or(Duration::ZERO) <= self.freshness;
        for pods in self.pods.values_mut() {
            pods.retain(|_, p| {
                now.duration_since(p.time).unwrap_or(Duration::ZERO) <= FORGET_AFTER
            });
        }
        self.pods.retain(|_, pods| !pods.is_empty());
        self.pods
            .iter()
            .map(|(pool, pods)| {
                let live: Vec<(&String, &Pod)> = pods
                    .iter()
                    .filter(|(_, p)| p.signals.up && fresh(p.time))
                    .collect();
                let name = || vec![("name".to_owned(), pool.clone())];
                let gauge = |metric: &str, value: f64| RawSample {
                    name: metric.to_owned(),
                    labels: name(),
                    kind: RawKind::Gauge,
                    value,
                };
                let mean = |f: fn(&Signals) -> Option<f64>| {
                    let v: Vec<f64> = live.iter().filter_map(|(_, p)| f(&p.signals)).collect();
                    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
                };
                let mut series = vec![gauge("inference_pool_ready_pods", live.len() as f64)];
                for (metric, value) in [
                    (
                        "inference_pool_average_kv_cache_utilization",
                        mean(|s| s.kv_cache_utilization),
                    ),
                    ("inference_pool_average_queue_size", mean(|s| s.queue_size)),
                    (
                        "inference_pool_average_running_requests",
                        mean(|s| s.running_requests),
                    ),
                ] {
                    if let Some(v) = value {
                        series.push(gauge(metric, v));
                    }
                }
                let gpus: Vec<f64> = pods
                    .values()
                    .filter_map(|p| p.gpu.filter(|(t, _)| fresh(*t)).map(|(_, u)| u))
                    .collect();
                if !gpus.is_empty() {
                    series.push(gauge(
                        "poolpilot_pool_average_gpu_utilization",
                        gpus.iter().sum::<f64>() / gpus.len() as f64,
                    ));
                }
                for (pod, p) in &live {
                    if let Some(q) = p.signals.queue_size {
                        let mut labels = name();
                        labels.push(("model_server_pod".to_owned(), (*pod).clone()));
                        series.push(RawSample {
                            name: "inference_pool_per_pod_queue_size".to_owned(),
                            labels,
                            kind: RawKind::Gauge,
                            value: q,
                        });
                    }
                }
                Aggregates {
                    pool: pool.clone(),
                    time: now,
                    series,
                }
            })
            .collect()
    }
}
