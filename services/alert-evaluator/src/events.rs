//! What the alert-evaluator logs and counts: alert state changes, failed rules, the
//! window's size, how long evaluations take.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use shared::telemetry::MetricsRegistry;
use shared::wire::{AlertState, AlertTransition};

use crate::rules::RuleError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToState {
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupRule {
    rule_group: String,
    rule: String,
}

/// The alert-evaluator's own metrics.
#[derive(Clone)]
pub struct EvaluatorMetrics {
    transitions: Family<ToState, Counter>,
    failures: Family<GroupRule, Counter>,
    duration: Histogram,
    series: Gauge,
    points: Gauge,
    rejected: Counter,
    firing: Gauge,
}

impl EvaluatorMetrics {
    /// Registers `poolpilot_alert_evaluator_*`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        let m = Self {
            transitions: Family::default(),
            failures: Family::default(),
            duration: Histogram::new([
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
            ]),
            series: Gauge::default(),
            points: Gauge::default(),
            rejected: Counter::default(),
            firing: Gauge::default(),
        };
        registry.register(
            "poolpilot_alert_evaluator_transitions",
            "Alert state changes, by the state moved to",
            m.transitions.clone(),
        );
        registry.register(
            "poolpilot_alert_evaluator_rule_evaluation_failures",
            "Rule evaluations that failed",
            m.failures.clone(),
        );
        registry.register(
            "poolpilot_alert_evaluator_evaluation_duration_seconds",
            "Time to evaluate the groups due at one tick",
            m.duration.clone(),
        );
        registry.register(
            "poolpilot_alert_evaluator_window_series",
            "Series in the in-memory window",
            m.series.clone(),
        );
        registry.register(
            "poolpilot_alert_evaluator_window_points",
            "Points in the in-memory window",
            m.points.clone(),
        );
        registry.register(
            "poolpilot_alert_evaluator_points_rejected",
            "Points the window refused: older than the series' last point",
            m.rejected.clone(),
        );
        registry.register(
            "poolpilot_alert_evaluator_firing_alerts",
            "Alerts firing now",
            m.firing.clone(),
        );
        m
    }

    /// The window after a step.
    pub fn window(&self, series: usize, points: usize, firing: usize) {
        self.series.set(series as i64);
        self.points.set(points as i64);
        self.firing.set(firing as i64);
    }

    /// One tick's evaluation time and refused points.
    pub fn evaluated(&self, seconds: f64, rejected: usize) {
        self.duration.observe(seconds);
        self.rejected.inc_by(rejected as u64);
    }
}

/// An alert moved from one state to another.
pub struct AlertStateChanged<'a>(pub &'a AlertTransition);

impl AlertStateChanged<'_> {
    /// Logs the change and counts it.
    pub fn emit(&self, m: &EvaluatorMetrics) {
        let t = self.0;
        let to = state_name(t.to);
        m.transitions.get_or_create(&ToState { to }).inc();
        let labels = t
            .labels
            .iter()
            .filter(|(k, _)| *k != "alertname")
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(",");
        let sentence = match t.to {
            AlertState::Pending => "Alert pending.",
            AlertState::Firing => "Alert firing.",
            AlertState::Resolved => "Alert resolved.",
            AlertState::Inactive => "Alert no longer pending.",
        };
        tracing::info!(alertname = %t.alertname, labels = %labels, from = state_name(t.from), to, value = t.value, "{sentence}");
    }
}

/// A rule produced nothing this time.
pub struct RuleEvaluationFailed<'a> {
    /// The group.
    pub group: &'a str,
    /// The rule's name.
    pub rule: &'a str,
    /// Why.
    pub error: &'a RuleError,
}

impl RuleEvaluationFailed<'_> {
    /// Logs and counts.
    pub fn emit(&self, m: &EvaluatorMetrics) {
        m.failures
            .get_or_create(&GroupRule {
                rule_group: self.group.to_owned(),
                rule: self.rule.to_owned(),
            })
            .inc();
        tracing::warn!(group = self.group, rule = self.rule, error = %self.error, "Rule evaluation failed.");
    }
}

fn state_name(s: AlertState) -> &'static str {
    match s {
        AlertState::Inactive => "inactive",
        AlertState::Pending => "pending",
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
    }
}
