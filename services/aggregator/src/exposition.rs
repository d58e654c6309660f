//! The aggregates on `/metrics`, in the endpoint picker's names, so a stock
//! Prometheus, prometheus-adapter or KEDA reads them as they read the picker's. Pool
//! gauges: each tick sets what is current and removes what is no longer. (Per-model
//! counters and histograms: `shared::models::ModelsCollector`.)

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use shared::telemetry::MetricsRegistry;
use shared::wire::{Aggregates, RawSample};

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
