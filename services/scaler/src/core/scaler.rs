//! The [`Scaler`]: one HPA's decisions over time — kube-controller-manager's
//! `reconcileAutoscaler` for External metrics, minus the I/O. It keeps the recorded
//! recommendations (stabilization) and scale events (rate limits) and nothing else;
//! time comes in as `now_ms`, unix milliseconds, and must not go backwards.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec;
use serde::{Deserialize, Serialize};

use super::behavior::{
    NormalizationArg, Recommendation, ScaleEvent, SelectPolicy,
    convert_desired_replicas_with_behavior_rate, convert_desired_replicas_with_rules,
    stabilize_recommendation, stabilize_recommendation_with_behaviors, store_scale_event,
};
use super::quantity::sample_milli;
use super::replicas::{
    external_metric_replicas, external_per_pod_metric_replicas, pool_average_replicas,
};
use super::spec::{
    ExternalMetric, Options, POOL_AVERAGE_PREFIX, SpecError, TargetKind, Validated,
    ratio_target_problems, validate,
};

/// Which arithmetic the scaler applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Exactly what the HorizontalPodAutoscaler controller would do.
    Stock,
    /// Stock, except that `inference_pool_average_*` metrics with an `AverageValue`
    /// target are read as the per-pod average they are (DESIGN §1):
    /// `desired = ceil(ready × average / target)`.
    #[default]
    PoolAverage,
}

/// One reading of the pool, as the aggregator publishes it (External metrics only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The `/scale` subresource's `spec.replicas`: the controller's "current".
    pub spec_replicas: i32,
    /// The `/scale` subresource's `status.replicas`: what an `AverageValue` target
    /// divides by (upstream passes this, not `spec.replicas`).
    pub status_replicas: i32,
    /// Ready pods in the pool: what a `Value` target (and the pool-average rule)
    /// multiplies by.
    pub ready_pods: i32,
    /// Metric value by plain metric name ([`metric_key`](super::metric_key)); a
    /// missing name is a missing metric.
    pub metrics: BTreeMap<String, f64>,
}

/// The formula a metric went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Formula {
    /// `GetExternalMetricReplicas`: `ceil(ready × value / target)`.
    Value,
    /// `GetExternalPerPodMetricReplicas`: `ceil(value / target)`, tolerance on
    /// `value / (target × status.replicas)`.
    AverageValue,
    /// The pool-average rule: `ceil(ready × average / target)`.
    PoolAverage,
}

/// A metric's target as a number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Value or AverageValue.
    pub kind: TargetKind,
    /// The target's `MilliValue()` / 1000.
    pub value: f64,
}

/// What one metric contributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDecision {
    /// Plain metric name.
    pub name: String,
    /// The pool its selector picks.
    pub pool: Option<String>,
    /// The observed value, if there was one.
    pub value: Option<f64>,
    /// What it is compared with.
    pub target: Target,
    /// Which arithmetic applied.
    pub formula: Formula,
    /// The usage ratio the tolerance test saw (finite values only).
    pub ratio: Option<f64>,
    /// Replicas this metric asks for; `None` when the metric is invalid.
    pub proposed: Option<i32>,
    /// Why the metric gave no proposal.
    pub invalid: Option<String>,
}

/// One decision, with everything needed to explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// `spec.replicas` of the target when deciding.
    pub current: i32,
    /// The replica count to have; equal to `current` means "do nothing".
    pub desired: i32,
    /// Each metric's contribution, in spec order.
    pub metrics: Vec<MetricDecision>,
    /// The highest metric proposal, before stabilization, bounds and rate limits.
    pub raw_desired: i32,
    /// After the stabilization window.
    pub stabilized: i32,
    /// The HPA condition reason of whatever moved `desired` away from
    /// `raw_desired` (`ScaleUpLimit`, `ScaleDownLimit`, `TooManyReplicas`,
    /// `TooFewReplicas`, `ScaleUpStabilized`, `ScaleDownStabilized`,
    /// `ScalingDisabled`, `FailedGetExternalMetric`); `None` when nothing did.
    pub limited_by: Option<String>,
    /// The rate-limit policy behind a `ScaleUpLimit`/`ScaleDownLimit`, e.g.
    /// `Pods 4/15s` (`max(2×current, 4)` on the legacy path).
    pub limiting_policy: Option<String>,
    /// One sentence for logs and the `decisions` topic.
    pub reason: String,
}

/// The history a restart must not lose (persist it, then [`Scaler::restore`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Whether the history has started. A fresh scaler first records the current
    /// replica count as a recommendation (upstream's `recordInitialRecommendation`),
    /// so it cannot scale down within the window of starting.
    #[serde(default)]
    pub initialized: bool,
    /// Unstabilized recommendations, for the stabilization windows.
    #[serde(default)]
    pub recommendations: Vec<Recommendation>,
    /// Recorded scale-ups, for the rate limits.
    #[serde(default)]
    pub scale_up_events: Vec<ScaleEvent>,
    /// Recorded scale-downs, for the rate limits.
    #[serde(default)]
    pub scale_down_events: Vec<ScaleEvent>,
}

/// One HPA's decision core.
#[derive(Debug, Clone)]
pub struct Scaler {
    spec: Validated,
    mode: Mode,
    state: State,
}

impl Scaler {
    /// A scaler with the controller's default flags (tolerance 0.1, downscale
    /// stabilization 300 s).
    pub fn new(spec: HorizontalPodAutoscalerSpec, mode: Mode) -> Result<Self, SpecError> {
        Self::with_options(spec, mode, Options::default())
    }

    /// A scaler with explicit controller flags. In [`Mode::PoolAverage`] a target
    /// above 1 on a `*_utilization` metric is an error too
    /// ([`ratio_target_problems`]); the stock HPA accepts it.
    pub fn with_options(
        spec: HorizontalPodAutoscalerSpec,
        mode: Mode,
        options: Options,
    ) -> Result<Self, SpecError> {
        let problems = match mode {
            Mode::PoolAverage => ratio_target_problems(&spec),
            Mode::Stock => Vec::new(),
        };
        match validate(&spec, &options) {
            Ok(validated) if problems.is_empty() => Ok(Self {
                spec: validated,
                mode,
                state: State::default(),
            }),
            Ok(_) => Err(problems.into()),
            Err(mut e) => {
                e.errors.extend(problems);
                Err(e)
            }
        }
    }

    /// The spec as the scaler applies it, defaults filled in.
    pub fn spec(&self) -> &Validated {
        &self.spec
    }

    /// The arithmetic in use.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Decides from the current observation at `now_ms` and records the
    /// recommendation for stabilization. Level-triggered: deciding again from the
    /// same observation at the same instant returns the same decision and leaves the
    /// state as it was.
    pub fn recommend(&mut self, now_ms: i64, obs: &Observation) -> Decision {
        let current = obs.spec_replicas;
        if !self.state.initialized {
            self.state.initialized = true;
            self.state.recommendations = vec![Recommendation {
                replicas: current,
                at_ms: now_ms,
            }];
        }
        let (min, max) = (self.spec.min_replicas, self.spec.max_replicas);
        if current == 0 {
            return fixed(
                current,
                0,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero".to_owned(),
            );
        }
        if current > max {
            let why =
                format!("{current} replicas are above maxReplicas; scale down {current} → {max}");
            return fixed(current, max, "TooManyReplicas", why);
        }
        if current < min {
            let why =
                format!("{current} replicas are below minReplicas; scale up {current} → {min}");
            return fixed(current, min, "TooFewReplicas", why);
        }

        let metrics: Vec<MetricDecision> = self
            .spec
            .metrics
            .iter()
            .map(|m| self.metric_decision(m, obs))
            .collect();
        // computeReplicasForMetrics: the highest valid proposal wins.
        let mut replicas = 0;
        let mut driver = None;
        for (i, m) in metrics.iter().enumerate() {
            if let Some(p) = m.proposed
                && (replicas == 0 || p > replicas)
            {
                replicas = p;
                driver = Some(i);
            }
        }
        let invalid = metrics.iter().filter(|m| m.proposed.is_none()).count();
        // No decision on partial data that would shrink the pool, nor on no data.
        if invalid >= metrics.len() || (invalid > 0 && replicas < current) {
            let raw = if driver.is_some() { replicas } else { current };
            let missing: Vec<&str> = metrics
                .iter()
                .filter(|m| m.proposed.is_none())
                .map(|m| m.name.as_str())
                .collect();
            let reason = format!(
                "{invalid} of {} metrics invalid ({}); stay at {current}",
                metrics.len(),
                missing.join(", ")
            );
            return Decision {
                current,
                desired: current,
                metrics,
                raw_desired: raw,
                stabilized: current,
                limited_by: Some("FailedGetExternalMetric".to_owned()),
                limiting_policy: None,
                reason,
            };
        }
        let raw = replicas.max(0);
        let state = &mut self.state;
        let (stabilized, desired, limited_by, limiting_policy) = match &self.spec.behavior {
            None => {
                let window_ms = i64::from(self.spec.downscale_stabilization_seconds) * 1000;
                let stabilized =
                    stabilize_recommendation(&mut state.recommendations, now_ms, window_ms, raw);
                let (desired, reason) =
                    convert_desired_replicas_with_rules(current, stabilized, min, max);
                if desired != stabilized {
                    let policy = (reason == "ScaleUpLimit").then(|| "max(2×current, 4)".to_owned());
                    (stabilized, desired, Some(reason), policy)
                } else if stabilized != raw {
                    (stabilized, desired, Some("ScaleDownStabilized"), None)
                } else {
                    (stabilized, desired, None, None)
                }
            }
            Some(behavior) => {
                let (stabilized, stabilized_reason) = stabilize_recommendation_with_behaviors(
                    &mut state.recommendations,
                    now_ms,
                    current,
                    raw,
                    behavior.scale_up.stabilization_window_seconds,
                    behavior.scale_down.stabilization_window_seconds,
                );
                let arg = NormalizationArg {
                    scale_up: &behavior.scale_up,
                    scale_down: &behavior.scale_down,
                    min_replicas: min,
                    max_replicas: max,
                    current_replicas: current,
                    desired_replicas: stabilized,
                };
                let limited = convert_desired_replicas_with_behavior_rate(
                    &state.scale_up_events,
                    &state.scale_down_events,
                    now_ms,
                    &arg,
                );
                if limited.replicas != stabilized {
                    let rules = if stabilized > current {
                        &behavior.scale_up
                    } else {
                        &behavior.scale_down
                    };
                    let rate_limited = matches!(limited.reason, "ScaleUpLimit" | "ScaleDownLimit");
                    let policy = match (limited.policy, rules.select_policy) {
                        (Some(p), _) => Some(p.to_string()),
                        (None, SelectPolicy::Disabled) if rate_limited => {
                            Some("selectPolicy Disabled".to_owned())
                        }
                        (None, _) => None,
                    };
                    (stabilized, limited.replicas, Some(limited.reason), policy)
                } else if stabilized != raw {
                    (stabilized, limited.replicas, Some(stabilized_reason), None)
                } else {
                    (stabilized, limited.replicas, None, None)
                }
            }
        };
        let reason = explain(
            current,
            desired,
            obs,
            driver.and_then(|i| metrics.get(i)),
            limited_by,
            limiting_policy.as_deref(),
        );
        Decision {
            current,
            desired,
            metrics,
            raw_desired: raw,
            stabilized,
            limited_by: limited_by.map(str::to_owned),
            limiting_policy,
            reason,
        }
    }

    /// The caller changed the replica count from `from` to `to` (after a successful
    /// PATCH): count it against the rate-limit periods (upstream's
    /// `storeScaleEvent`; nothing is kept when the spec has no `behavior`).
    pub fn record_scale(&mut self, now_ms: i64, from: i32, to: i32) {
        if from == to {
            return;
        }
        store_scale_event(
            self.spec.behavior.as_ref(),
            &mut self.state.scale_up_events,
            &mut self.state.scale_down_events,
            now_ms,
            from,
            to,
        );
    }

    /// The history to persist.
    pub fn state(&self) -> State {
        self.state.clone()
    }

    /// Takes over a persisted history (after a restart).
    pub fn restore(&mut self, state: State) {
        self.state = state;
        if !self.state.recommendations.is_empty() {
            self.state.initialized = true;
        }
    }

    fn metric_decision(&self, m: &ExternalMetric, obs: &Observation) -> MetricDecision {
        let formula = match m.kind {
            TargetKind::AverageValue
                if self.mode == Mode::PoolAverage && m.name.starts_with(POOL_AVERAGE_PREFIX) =>
            {
                Formula::PoolAverage
            }
            TargetKind::AverageValue => Formula::AverageValue,
            TargetKind::Value => Formula::Value,
        };
        let value = obs.metrics.get(&m.name).copied();
        let mut decision = MetricDecision {
            name: m.name.clone(),
            pool: m.pool.clone(),
            value,
            target: Target {
                kind: m.kind,
                value: milli_f64(m.target_milli),
            },
            formula,
            ratio: None,
            proposed: None,
            invalid: None,
        };
        let Some(value) = value else {
            decision.invalid = Some(format!("no value for {}", m.name));
            return decision;
        };
        let Some(milli) = sample_milli(value) else {
            decision.invalid = Some(format!("{value} is not a finite number"));
            return decision;
        };
        // An empty pod list is an error for the formulas that count ready pods.
        let pods_exist = obs.status_replicas > 0 || obs.ready_pods > 0;
        let ready = pods_exist.then_some(i64::from(obs.ready_pods.max(0)));
        let tolerances = self.spec.tolerances;
        let proposal = match formula {
            Formula::Value => external_metric_replicas(
                obs.spec_replicas,
                m.target_milli,
                &[milli],
                tolerances,
                ready,
            ),
            Formula::AverageValue => Ok(external_per_pod_metric_replicas(
                obs.status_replicas,
                m.target_milli,
                &[milli],
                tolerances,
            )),
            Formula::PoolAverage => {
                pool_average_replicas(obs.spec_replicas, m.target_milli, milli, tolerances, ready)
            }
        };
        match proposal {
            Ok(p) => {
                decision.ratio = p.ratio.is_finite().then_some(p.ratio);
                decision.proposed = Some(p.replicas);
            }
            Err(e) => decision.invalid = Some(e.to_string()),
        }
        decision
    }
}

/// What the stock HPA would decide with this spec and observation, as one that has
/// been running without recent recommendations or scale events (so neither the
/// start-up recommendation nor the windows hide the arithmetic) — for `check`.
pub fn stock_would(
    spec: &HorizontalPodAutoscalerSpec,
    obs: &Observation,
) -> Result<Decision, SpecError> {
    let mut scaler = Scaler::new(spec.clone(), Mode::Stock)?;
    scaler.restore(State {
        initialized: true,
        ..State::default()
    });
    Ok(scaler.recommend(0, obs))
}

/// Decisions made before any metric is read (disabled, outside `[min, max]`).
fn fixed(current: i32, desired: i32, limited_by: &str, reason: String) -> Decision {
    Decision {
        current,
        desired,
        metrics: Vec::new(),
        raw_desired: desired,
        stabilized: desired,
        limited_by: Some(limited_by.to_owned()),
        limiting_policy: None,
        reason,
    }
}

fn milli_f64(milli: i64) -> f64 {
    milli as f64 / 1000.0
}

/// A short name for messages: `inference_pool_average_kv_cache_utilization` → `kv`.
fn short_name(name: &str) -> &str {
    match name.strip_prefix(POOL_AVERAGE_PREFIX) {
        Some("kv_cache_utilization") => "kv",
        Some("queue_size") => "queue",
        Some("running_requests") => "running",
        Some(rest) => rest,
        None => name,
    }
}

/// One sentence: the deciding metric, then what happens and what limited it, e.g.
/// `kv 0.86 > target 0.7 → 5; scale up 4 → 5`.
fn explain(
    current: i32,
    desired: i32,
    obs: &Observation,
    driver: Option<&MetricDecision>,
    limited_by: Option<&str>,
    policy: Option<&str>,
) -> String {
    let mut out = String::new();
    if let Some(m) = driver {
        let op = match m.ratio {
            Some(r) if r > 1.0 => ">",
            Some(r) if r < 1.0 => "<",
            _ => "=",
        };
        let value = m.value.map_or_else(|| "?".to_owned(), |v| v.to_string());
        let target = m.target.value;
        let proposed = m.proposed.unwrap_or(current);
        let lhs = format!("{} {value}", short_name(&m.name));
        out = match m.formula {
            Formula::AverageValue => format!(
                "{lhs} {op} {target} × {} pods → {proposed}; ",
                obs.status_replicas
            ),
            Formula::Value | Formula::PoolAverage => {
                format!("{lhs} {op} target {target} → {proposed}; ")
            }
        };
    }
    out.push_str(&match desired.cmp(&current) {
        std::cmp::Ordering::Greater => format!("scale up {current} → {desired}"),
        std::cmp::Ordering::Less => format!("scale down {current} → {desired}"),
        std::cmp::Ordering::Equal => format!("stay at {current}"),
    });
    match (limited_by, policy) {
        (Some(l), Some(p)) => out.push_str(&format!(" ({l}: {p})")),
        (Some(l), None) => out.push_str(&format!(" ({l})")),
        _ => {}
    }
    out
}
