//! What the scaler logs and counts: decisions, PATCH latency, missing metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use shared::telemetry::MetricsRegistry;
use shared::wire::ScaleDecision;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Direction {
    pool: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolMetric {
    pool: String,
    metric: String,
}

/// The scaler's metrics.
#[derive(Clone)]
pub struct ScalerMetrics {
    desired: Family<PoolLabel, Gauge>,
    decisions: Family<Direction, Counter>,
    latency: Histogram,
    missing: Family<PoolMetric, Gauge>,
}

impl ScalerMetrics {
    /// Registers `poolpilot_scaler_*`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        let m = Self {
            desired: Family::default(),
            decisions: Family::default(),
            latency: Histogram::new([0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0]),
            missing: Family::default(),
        };
        registry.register(
            "poolpilot_scaler_desired_replicas",
            "Replicas the last decision asked for, by pool",
            m.desired.clone(),
        );
        registry.register(
            "poolpilot_scaler_decisions",
            "Decisions that changed (or, dry-run, would change) replicas, by pool and direction",
            m.decisions.clone(),
        );
        registry.register(
            "poolpilot_scaler_decision_latency_seconds",
            "From the aggregates' sample time to the accepted PATCH",
            m.latency.clone(),
        );
        registry.register(
            "poolpilot_scaler_metric_missing",
            "1 while a spec's metric has no fresh value (no scale-down meanwhile)",
            m.missing.clone(),
        );
        m
    }

    /// A decision's desired replicas.
    pub fn desired(&self, pool: &str, replicas: i32) {
        self.desired
            .get_or_create(&PoolLabel { pool: pool.into() })
            .set(replicas.into());
    }

    /// Whether `metric` of `pool` is missing now; true when that changed.
    pub fn missing(&self, pool: &str, metric: &str, missing: bool) -> bool {
        let g = self.missing.get_or_create(&PoolMetric {
            pool: pool.into(),
            metric: metric.into(),
        });
        g.set(missing.into()) != i64::from(missing)
    }
}

/// A decision that changes replicas.
pub struct ReplicasDecided<'a> {
    /// The decision as published.
    pub decision: &'a ScaleDecision,
    /// Seconds from the aggregates' sample time to the accepted PATCH.
    pub latency: Option<f64>,
    /// Dry-run: decided, not patched.
    pub dry_run: bool,
}

impl ReplicasDecided<'_> {
    /// Logs and counts.
    pub fn emit(&self, m: &ScalerMetrics) {
        let d = self.decision;
        let direction = if d.desired_replicas > d.current_replicas {
            "up"
        } else {
            "down"
        };
        m.decisions
            .get_or_create(&Direction {
                pool: d.pool.clone(),
                direction,
            })
            .inc();
        if let Some(s) = self.latency {
            m.latency.observe(s);
        }
        let sentence = match (&d.error, self.dry_run, direction) {
            (Some(_), _, _) => "Scale PATCH failed.",
            (None, true, _) => "Would scale (dry run).",
            (None, false, "up") => "Scaled up.",
            (None, false, _) => "Scaled down.",
        };
        if let Some(error) = &d.error {
            tracing::warn!(pool = %d.pool, from = d.current_replicas, to = d.desired_replicas, reason = %d.reason, error = %error, "{sentence}");
        } else {
            tracing::info!(pool = %d.pool, from = d.current_replicas, to = d.desired_replicas, reason = %d.reason, "{sentence}");
        }
    }
}
