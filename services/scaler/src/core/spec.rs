//! What the scaler accepts of an autoscaling/v2 `HorizontalPodAutoscalerSpec`:
//! validation (every problem at once, each with its field path), the metric keys the
//! shell looks values up by, and the "did you mean 0.70?" check for ratio metrics.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::autoscaling::v2::{
    HPAScalingRules, HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec, MetricTarget,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::behavior::{
    Behavior, DEFAULT_DOWNSCALE_STABILIZATION_SECONDS, generate_scale_down_rules,
    generate_scale_up_rules,
};
use super::quantity::{approximate_f64, milli_value};
use super::replicas::{DEFAULT_TOLERANCE, Tolerances};

/// `HPAScalingPolicy.periodSeconds` upper bound (upstream validation).
const MAX_PERIOD_SECONDS: i32 = 1800;
/// `stabilizationWindowSeconds` upper bound (upstream validation).
const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;
/// The Google Cloud Managed Service for Prometheus prefix of the seed's metric name.
const GMP_PREFIX: &str = "prometheus.googleapis.com";
/// Metric name prefix of the pool gauges the pool-average rule applies to.
pub const POOL_AVERAGE_PREFIX: &str = "inference_pool_average_";

/// One problem in a spec, at its place (`spec.maxReplicas: must be …`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    /// Field path as `kubectl` prints it, e.g. `spec.metrics[0].external.target.value`.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl FieldError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Every problem found in a spec (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub struct SpecError {
    /// The problems, in field order.
    pub errors: Vec<FieldError>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<Vec<FieldError>> for SpecError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self { errors }
    }
}

/// `MetricTarget.type` of an External metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetKind {
    /// The metric's total is compared with the target (`GetExternalMetricReplicas`).
    Value,
    /// The metric's total is divided by the target per pod
    /// (`GetExternalPerPodMetricReplicas`).
    AverageValue,
}

/// One validated External metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalMetric {
    /// `metric.name` as written in the spec (for messages).
    pub spec_name: String,
    /// The plain Prometheus name: the key of [`Observation::metrics`](super::Observation).
    pub name: String,
    /// The pool the selector picks, if it picks one.
    pub pool: Option<String>,
    /// Value or AverageValue.
    pub kind: TargetKind,
    /// `MilliValue()` of the target.
    pub target_milli: i64,
}

/// The controller flags that complete a spec (kube-controller-manager's
/// `--horizontal-pod-autoscaler-*`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// `--horizontal-pod-autoscaler-tolerance` (0.1).
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` in seconds (300): the
    /// legacy window and the default `behavior.scaleDown.stabilizationWindowSeconds`.
    pub downscale_stabilization_seconds: i32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tolerance: DEFAULT_TOLERANCE,
            downscale_stabilization_seconds: DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
        }
    }
}

/// A spec the scaler can act on, with every default applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validated {
    /// `spec.minReplicas`, default 1.
    pub min_replicas: i32,
    /// `spec.maxReplicas`.
    pub max_replicas: i32,
    /// The External metrics, in spec order.
    pub metrics: Vec<ExternalMetric>,
    /// `None` when the spec has no `behavior`: the controller then takes the legacy
    /// path (`normalizeDesiredReplicas`), not the defaulted behavior.
    pub behavior: Option<Behavior>,
    /// Per-direction tolerances (`behavior.scale{Up,Down}.tolerance` or the flag).
    pub tolerances: Tolerances,
    /// The legacy downscale stabilization window, seconds.
    pub downscale_stabilization_seconds: i32,
}

/// Checks a spec and applies the defaults; returns every problem at once.
pub fn validate(
    spec: &HorizontalPodAutoscalerSpec,
    options: &Options,
) -> Result<Validated, SpecError> {
    let mut errors = Vec::new();
    let target = &spec.scale_target_ref;
    if target.kind.is_empty() {
        errors.push(FieldError::new(
            "spec.scaleTargetRef.kind",
            "Required value",
        ));
    }
    if target.name.is_empty() {
        errors.push(FieldError::new(
            "spec.scaleTargetRef.name",
            "Required value",
        ));
    }
    let min_replicas = spec.min_replicas.unwrap_or(1);
    if min_replicas < 1 {
        errors.push(FieldError::new(
            "spec.minReplicas",
            format!("{min_replicas}: must be greater than or equal to 1 (scale to zero, HPAScaleToZero, is not supported)"),
        ));
    }
    if spec.max_replicas < 1 {
        errors.push(FieldError::new(
            "spec.maxReplicas",
            format!("{}: must be greater than or equal to 1", spec.max_replicas),
        ));
    }
    if spec.max_replicas < min_replicas {
        errors.push(FieldError::new(
            "spec.maxReplicas",
            format!(
                "{}: must be greater than or equal to minReplicas ({min_replicas})",
                spec.max_replicas
            ),
        ));
    }
    let metrics = validate_metrics(spec.metrics.as_deref().unwrap_or(&[]), &mut errors);
    let mut tolerances = Tolerances {
        scale_down: options.tolerance,
        scale_up: options.tolerance,
    };
    let behavior = spec.behavior.as_ref().map(|b| {
        let up = b.scale_up.as_ref();
        let down = b.scale_down.as_ref();
        if let Some(t) = validate_rules(up, "spec.behavior.scaleUp", &mut errors) {
            tolerances.scale_up = t;
        }
        if let Some(t) = validate_rules(down, "spec.behavior.scaleDown", &mut errors) {
            tolerances.scale_down = t;
        }
        Behavior {
            scale_up: generate_scale_up_rules(up),
            scale_down: generate_scale_down_rules(down, options.downscale_stabilization_seconds),
        }
    });
    if errors.is_empty() {
        Ok(Validated {
            min_replicas,
            max_replicas: spec.max_replicas,
            metrics,
            behavior,
            tolerances,
            downscale_stabilization_seconds: options.downscale_stabilization_seconds,
        })
    } else {
        Err(errors.into())
    }
}

fn validate_metrics(specs: &[MetricSpec], errors: &mut Vec<FieldError>) -> Vec<ExternalMetric> {
    if specs.is_empty() {
        errors.push(FieldError::new(
            "spec.metrics",
            "Required value: at least one External metric (the API default, CPU at 80%, is a Resource metric)",
        ));
    }
    let mut metrics: Vec<ExternalMetric> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, m) in specs.iter().enumerate() {
        let path = format!("spec.metrics[{i}]");
        if m.type_ != "External" {
            errors.push(FieldError::new(
                format!("{path}.type"),
                format!(
                    "Unsupported value: {:?}: only External metrics are supported",
                    m.type_
                ),
            ));
            continue;
        }
        let Some(external) = &m.external else {
            errors.push(FieldError::new(
                format!("{path}.external"),
                "Required value",
            ));
            continue;
        };
        let path = format!("{path}.external");
        let key = metric_key_at(&external.metric, &format!("{path}.metric"), errors);
        let target = validate_target(&external.target, &format!("{path}.target"), errors);
        if let (Some((name, pool)), Some((kind, target_milli))) = (key, target) {
            if let Some(first) = seen.insert(name.clone(), i) {
                errors.push(FieldError::new(
                    format!("{path}.metric.name"),
                    format!(
                        "{name:?} repeats spec.metrics[{first}]: one value per metric name per pool"
                    ),
                ));
            }
            metrics.push(ExternalMetric {
                spec_name: external.metric.name.clone(),
                name,
                pool,
                kind,
                target_milli,
            });
        }
    }
    metrics
}

fn validate_target(
    target: &MetricTarget,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<(TargetKind, i64)> {
    let before = errors.len();
    let kind = match target.type_.as_str() {
        "Value" => Some(TargetKind::Value),
        "AverageValue" => Some(TargetKind::AverageValue),
        "" => {
            errors.push(FieldError::new(format!("{path}.type"), "Required value"));
            None
        }
        other => {
            errors.push(FieldError::new(
                format!("{path}.type"),
                format!(
                    "Unsupported value: {other:?}: External metrics take Value or AverageValue"
                ),
            ));
            None
        }
    };
    if target.average_utilization.is_some() {
        errors.push(FieldError::new(
            format!("{path}.averageUtilization"),
            "Forbidden: External metrics have no utilization",
        ));
    }
    if target.value.is_some() && target.average_value.is_some() {
        errors.push(FieldError::new(
            format!("{path}.value"),
            "Forbidden: may not set both a target value for metric and a per-pod target",
        ));
    }
    let (field, quantity) = match kind {
        Some(TargetKind::Value) => ("value", target.value.as_ref()),
        Some(TargetKind::AverageValue) => ("averageValue", target.average_value.as_ref()),
        None => return None,
    };
    let milli = match quantity {
        None => {
            errors.push(FieldError::new(
                format!("{path}.{field}"),
                format!("Required value: target type {} needs {field}", target.type_),
            ));
            None
        }
        Some(q) => match milli_value(&q.0) {
            Err(e) => {
                errors.push(FieldError::new(format!("{path}.{field}"), e.to_string()));
                None
            }
            Ok(m) if m <= 0 => {
                errors.push(FieldError::new(
                    format!("{path}.{field}"),
                    format!("{:?}: must be positive", q.0),
                ));
                None
            }
            Ok(m) => Some(m),
        },
    };
    if errors.len() > before {
        return None;
    }
    kind.zip(milli)
}

/// Checks one direction of `behavior`; returns its tolerance when set.
fn validate_rules(
    rules: Option<&HPAScalingRules>,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<f64> {
    let rules = rules?;
    if let Some(w) = rules.stabilization_window_seconds
        && !(0..=MAX_STABILIZATION_WINDOW_SECONDS).contains(&w)
    {
        errors.push(FieldError::new(
            format!("{path}.stabilizationWindowSeconds"),
            format!("{w}: must be greater than or equal to zero and less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
        ));
    }
    if let Some(s) = &rules.select_policy
        && !matches!(s.as_str(), "Max" | "Min" | "Disabled")
    {
        errors.push(FieldError::new(
            format!("{path}.selectPolicy"),
            format!("Unsupported value: {s:?}: supported values: \"Disabled\", \"Max\", \"Min\""),
        ));
    }
    if let Some(policies) = &rules.policies {
        if policies.is_empty() {
            errors.push(FieldError::new(
                format!("{path}.policies"),
                "Required value: must specify at least one Policy",
            ));
        }
        for (i, p) in policies.iter().enumerate() {
            let at = format!("{path}.policies[{i}]");
            if !matches!(p.type_.as_str(), "Pods" | "Percent") {
                errors.push(FieldError::new(
                    format!("{at}.type"),
                    format!(
                        "Unsupported value: {:?}: supported values: \"Percent\", \"Pods\"",
                        p.type_
                    ),
                ));
            }
            if p.value <= 0 {
                errors.push(FieldError::new(
                    format!("{at}.value"),
                    format!("{}: must be greater than zero", p.value),
                ));
            }
            if p.period_seconds <= 0 || p.period_seconds > MAX_PERIOD_SECONDS {
                errors.push(FieldError::new(
                    format!("{at}.periodSeconds"),
                    format!(
                        "{}: must be greater than zero and less than or equal to {MAX_PERIOD_SECONDS}",
                        p.period_seconds
                    ),
                ));
            }
        }
    }
    let q = rules.tolerance.as_ref()?;
    match approximate_f64(&q.0) {
        Ok(t) if t >= 0.0 => Some(t),
        Ok(_) => {
            errors.push(FieldError::new(
                format!("{path}.tolerance"),
                format!("{:?}: must be greater than or equal to zero", q.0),
            ));
            None
        }
        Err(e) => {
            errors.push(FieldError::new(format!("{path}.tolerance"), e.to_string()));
            None
        }
    }
}

/// The plain Prometheus name of an External metric: the Google Cloud form
/// `prometheus.googleapis.com|<name>|<kind>` (as in the seed) maps to `<name>`;
/// a plain Prometheus name stays as it is.
pub fn plain_metric_name(name: &str) -> Result<String, String> {
    let plain = if name.contains('|') {
        let parts: Vec<&str> = name.split('|').collect();
        match parts.as_slice() {
            [
                GMP_PREFIX,
                metric,
                "gauge" | "counter" | "histogram" | "summary" | "unknown",
            ] => *metric,
            _ => {
                return Err(format!(
                    "{name:?}: expected a Prometheus name or \"{GMP_PREFIX}|<name>|<kind>\""
                ));
            }
        }
    } else {
        name
    };
    let mut chars = plain.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if valid {
        Ok(plain.to_owned())
    } else {
        Err(format!("{name:?}: not a Prometheus metric name"))
    }
}

/// The plain metric name and the pool an External metric identifier selects.
///
/// The pool comes from `matchLabels` `metric.labels.name` (the Google Cloud form, as
/// in the seed) or `name`; `resource.labels.*` (Google Cloud monitored-resource
/// labels, meaningless here) are ignored; anything else is an error.
pub fn metric_key(id: &MetricIdentifier) -> Result<(String, Option<String>), SpecError> {
    let mut errors = Vec::new();
    match metric_key_at(id, "metric", &mut errors) {
        Some(key) if errors.is_empty() => Ok(key),
        _ => Err(errors.into()),
    }
}

fn metric_key_at(
    id: &MetricIdentifier,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<(String, Option<String>)> {
    let before = errors.len();
    let name = if id.name.is_empty() {
        errors.push(FieldError::new(format!("{path}.name"), "Required value"));
        None
    } else {
        plain_metric_name(&id.name)
            .map_err(|e| errors.push(FieldError::new(format!("{path}.name"), e)))
            .ok()
    };
    let mut pool: Option<String> = None;
    if let Some(selector) = &id.selector {
        if selector
            .match_expressions
            .as_ref()
            .is_some_and(|e| !e.is_empty())
        {
            errors.push(FieldError::new(
                format!("{path}.selector.matchExpressions"),
                "Unsupported: select the pool with matchLabels",
            ));
        }
        for (key, value) in selector.match_labels.iter().flatten() {
            let at = format!("{path}.selector.matchLabels[{key}]");
            match key.as_str() {
                "metric.labels.name" | "name" => match &pool {
                    Some(p) if p != value => errors.push(FieldError::new(
                        at,
                        format!("{value:?} contradicts pool {p:?}"),
                    )),
                    _ => pool = Some(value.clone()),
                },
                k if k.starts_with("resource.labels.") => {}
                _ => errors.push(FieldError::new(
                    at,
                    "Unsupported label: only the pool (`name` or `metric.labels.name`) selects",
                )),
            }
        }
    }
    if errors.len() > before {
        return None;
    }
    name.map(|n| (n, pool))
}

/// Targets above 1 on `*_utilization` metrics, which are 0–1 ratios and can never
/// reach them (the seed says "between 0 and 100"): each with a "did you mean" hint.
/// Specs that fail validation yield no hints.
pub fn ratio_target_problems(spec: &HorizontalPodAutoscalerSpec) -> Vec<FieldError> {
    let mut problems = Vec::new();
    for (i, m) in spec.metrics.iter().flatten().enumerate() {
        let Some(external) = &m.external else {
            continue;
        };
        let Ok(name) = plain_metric_name(&external.metric.name) else {
            continue;
        };
        if !name.ends_with("_utilization") {
            continue;
        }
        let target = &external.target;
        let fields = [
            ("value", &target.value),
            ("averageValue", &target.average_value),
        ];
        for (field, quantity) in fields {
            let Some(q) = quantity else { continue };
            let Ok(value) = approximate_f64(&q.0) else {
                continue;
            };
            if value <= 1.0 {
                continue;
            }
            let hint = if value <= 100.0 {
                format!("did you mean {:.2}?", value / 100.0)
            } else {
                "did you mean a value between 0 and 1?".to_owned()
            };
            problems.push(FieldError::new(
                format!("spec.metrics[{i}].external.target.{field}"),
                format!(
                    "{:?} is above 1, but {name} is a 0–1 ratio and never gets there; {hint}",
                    q.0
                ),
            ));
        }
    }
    problems
}
