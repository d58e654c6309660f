//! The aggregates on `/metrics`, in the endpoint picker's names, so a stock
//! Prometheus, prometheus-adapter or KEDA reads them as they read the picker's. Pool
//! gauges: each tick sets what is current and removes what is no longer. Per-model
//! counters and histograms: encoded on each scrape from the core's last snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use shared::telemetry::MetricsRegistry;
use shared::wire::{Aggregates, RawSample};

use crate::requests::{ModelKey, ModelStats, histograms};

type Labels = Vec<(String, String)>;
type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;

const NAMES: [(&str, &str); 16] = [
    ("slo:sli_error:ratio_rate5m", "SLO error ratio over 5m"),
    ("slo:sli_error:ratio_rate30m", "SLO error ratio over 30m"),
    ("slo:sli_error:ratio_rate1h", "SLO error ratio over 1h"),
    ("slo:sli_error:ratio_rate2h", "SLO error ratio over 2h"),
    ("slo:sli_error:ratio_rate6h", "SLO error ratio over 6h"),
    ("slo:sli_error:ratio_rate1d", "SLO error ratio over 1d"),
    ("slo:sli_error:ratio_rate3d", "SLO error ratio over 3d"),
    ("slo:objective:ratio", "SLO objective (0-1)"),
    ("slo:error_budget:ratio", "SLO error budget: 1 - objective"),
    (
        "slo:period_error_budget_remaining:ratio",
        "Share of the 30-day error budget left",
    ),
    (
        "inference_pool_average_kv_cache_utilization",
        "Average KV-cache use of the pool's fresh pods (0-1)",
    ),
    (
        "inference_pool_average_queue_size",
        "Average waiting requests of the pool's fresh pods",
    ),
    (
        "inference_pool_average_running_requests",
        "Average running requests of the pool's fresh pods",
    ),
    (
        "inference_pool_ready_pods",
        "Pods whose signals are fresh and up",
    ),
    (
        "inference_pool_per_pod_queue_size",
        "Waiting requests per fresh pod",
    ),
    (
        "poolpilot_pool_average_gpu_utilization",
        "Average DCGM GPU utilisation of the pool's pods (%)",
    ),
];

/// The families behind `/metrics` and what each tick last set.
pub struct Exposition {
    families: BTreeMap<&'static str, Gauges>,
    current: BTreeSet<(String, Labels)>,
}

impl Exposition {
    /// Registers the families.
    pub fn register(registry: &MetricsRegistry) -> Self {
        let families = NAMES
            .iter()
            .map(|(name, help)| {
                let family = Gauges::default();
                registry.register(name, help, family.clone());
                (*name, family)
            })
            .collect();
        Self {
            families,
            current: BTreeSet::new(),
        }
    }

    /// Sets every series of `pools` and `more`; removes those this tick did not
    /// produce.
    pub fn update(&mut self, pools: &[Aggregates], more: &[RawSample]) {
        let mut now = BTreeSet::new();
        for s in pools.iter().flat_map(|a| &a.series).chain(more) {
            if let Some(family) = self.families.get(s.name.as_str()) {
                family.get_or_create(&s.labels).set(s.value);
                now.insert((s.name.clone(), s.labels.clone()));
            }
        }
        for (name, labels) in self.current.difference(&now) {
            if let Some(family) = self.families.get(name.as_str()) {
                family.remove(labels);
            }
        }
        self.current = now;
    }
}

/// `inference_model_*` encoded from the last snapshot of the core's stats.
#[derive(Debug, Default, Clone)]
pub struct ModelsCollector {
    snapshot: Arc<Mutex<BTreeMap<ModelKey, ModelStats>>>,
}

impl ModelsCollector {
    /// Registers it and returns a handle to update it.
    pub fn register(registry: &MetricsRegistry) -> Self {
        let c = Self::default();
        registry.register_collector(Box::new(c.clone()));
        c
    }

    /// Replaces what the next scrape shows.
    pub fn update(&self, models: &BTreeMap<ModelKey, ModelStats>) {
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = models.clone();
    }
}

impl Collector for ModelsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let models = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let labels = |k: &ModelKey| {
            vec![
                ("model_name", k.model_name.clone()),
                ("target_model_name", k.target_model_name.clone()),
            ]
        };
        let mut total = encoder.encode_descriptor(
            "inference_model_request",
            "Requests for each model and target model",
            None,
            MetricType::Counter,
        )?;
        for (k, m) in models.iter() {
            total
                .encode_family(&labels(k))?
                .encode_counter::<NoLabelSet, _, u64>(&m.total, None)?;
        }
        let mut errors = encoder.encode_descriptor(
            "inference_model_request_error",
            "Request errors for each model, target model and error code",
            None,
            MetricType::Counter,
        )?;
        for (k, m) in models.iter() {
            for (code, n) in &m.errors {
                let mut l = labels(k);
                l.push(("error_code", code.clone()));
                errors
                    .encode_family(&l)?
                    .encode_counter::<NoLabelSet, _, u64>(n, None)?;
            }
        }
        // One descriptor per histogram name, then every model pair under it.
        let Some(first) = models.values().next() else {
            return Ok(());
        };
        for (i, (name, help, _)) in histograms(first).into_iter().enumerate() {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            for (k, m) in models.iter() {
                let h = histograms(m)[i].2;
                let buckets: Vec<(f64, u64)> = h.buckets().collect();
                family
                    .encode_family(&labels(k))?
                    .encode_histogram::<NoLabelSet>(h.sum, h.count, &buckets, None)?;
            }
        }
        Ok(())
    }
}
