//! The replica calculator for External metrics, ported from kube-controller-manager's
//! `pkg/controller/podautoscaler/replica_calculator.go`.
//!
//! Everything works on milli-values (`i64`), as upstream does after
//! `Quantity.MilliValue()`, so ratios and rounding match the controller to the bit.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The `--horizontal-pod-autoscaler-tolerance` default, used for both directions
/// unless `behavior.scaleUp.tolerance` / `behavior.scaleDown.tolerance` say otherwise.
pub const DEFAULT_TOLERANCE: f64 = 0.1;

/// How far the usage ratio may stray from 1.0 before the replica count changes.
/// Upstream's `Tolerances`: one bound per direction (KEP-4951, Kubernetes 1.33+).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerances {
    /// Below `1 - scale_down` the metric asks for fewer replicas.
    pub scale_down: f64,
    /// Above `1 + scale_up` the metric asks for more replicas.
    pub scale_up: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            scale_down: DEFAULT_TOLERANCE,
            scale_up: DEFAULT_TOLERANCE,
        }
    }
}

impl Tolerances {
    /// Upstream's `Tolerances.isWithin`: both bounds inclusive, so a ratio of exactly
    /// `1.1` with the default tolerance changes nothing. (Since 1.33 the check is
    /// `(1-down) <= r && r <= (1+up)`, no longer `math.Abs(1-r) <= t`; the two differ
    /// at the upper bound, where `1 - 1.1` is `-0.10000000000000009` in `f64`.)
    pub fn is_within(self, usage_ratio: f64) -> bool {
        (1.0 - self.scale_down) <= usage_ratio && usage_ratio <= (1.0 + self.scale_up)
    }
}

/// Why a metric produced no replica count.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplicaError {
    /// A `Value` target multiplies by the number of ready pods; with no pods at all
    /// upstream fails rather than guessing.
    #[error("no pods returned by selector while calculating replica count")]
    NoPods,
}

/// What one metric asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proposal {
    /// The replica count this metric proposes.
    pub replicas: i32,
    /// The usage the HPA would report in its status: the total for a `Value`
    /// target, the per-pod average (rounded up) for an `AverageValue` target.
    pub usage_milli: i64,
    /// The usage ratio the tolerance test was applied to.
    pub ratio: f64,
}

/// `ceil(x)` as the controller converts it: values above `MaxInt32` saturate, as
/// upstream clamps explicitly (`as` saturates the rest; NaN becomes 0).
fn ceil_replicas(x: f64) -> i32 {
    if x > f64::from(i32::MAX) {
        i32::MAX
    } else {
        x.ceil() as i32
    }
}

/// Milli-values as the float the controller divides (`float64(usage)`).
fn f(milli: i64) -> f64 {
    milli as f64
}

/// Upstream's `getUsageRatioReplicaCount`: with replicas running, keep the count
/// inside the tolerance band, else `ceil(ratio × ready pods)`; from zero replicas,
/// `ceil(ratio)` without a tolerance test (scale-from-zero).
///
/// `ready_pods` is `None` when the target's selector matches no pods at all.
pub fn usage_ratio_replica_count(
    current_replicas: i32,
    usage_ratio: f64,
    tolerances: Tolerances,
    ready_pods: Option<i64>,
) -> Result<i32, ReplicaError> {
    if current_replicas == 0 {
        return Ok(ceil_replicas(usage_ratio));
    }
    if tolerances.is_within(usage_ratio) {
        return Ok(current_replicas);
    }
    let ready = ready_pods.ok_or(ReplicaError::NoPods)?;
    Ok(ceil_replicas(usage_ratio * f(ready)))
}

/// Upstream's sum over the series of an External metric for a `Value` target:
/// positive overflow caps at `MaxInt64`.
fn sum_capped(values: &[i64]) -> i64 {
    let mut usage: i64 = 0;
    for &value in values {
        if value > 0 && usage > i64::MAX - value {
            return i64::MAX;
        }
        usage = usage.wrapping_add(value);
    }
    usage
}

/// Upstream's sum for an `AverageValue` target: a sum that wraps negative is taken
/// as an overflow and pinned at `MaxInt64`.
fn sum_wrapping(values: &[i64]) -> i64 {
    let mut usage: i64 = 0;
    for &value in values {
        usage = usage.wrapping_add(value);
        if usage < 0 {
            return i64::MAX;
        }
    }
    usage
}

/// Upstream's `GetExternalMetricReplicas` (`target.type: Value`):
/// `ratio = usage / target`, then [`usage_ratio_replica_count`] with the current
/// (spec) replica count and the number of ready pods.
pub fn external_metric_replicas(
    current_replicas: i32,
    target_milli: i64,
    values_milli: &[i64],
    tolerances: Tolerances,
    ready_pods: Option<i64>,
) -> Result<Proposal, ReplicaError> {
    let usage = sum_capped(values_milli);
    let ratio = f(usage) / f(target_milli);
    let replicas = usage_ratio_replica_count(current_replicas, ratio, tolerances, ready_pods)?;
    Ok(Proposal {
        replicas,
        usage_milli: usage,
        ratio,
    })
}

/// Upstream's `GetExternalPerPodMetricReplicas` (`target.type: AverageValue`).
///
/// The controller passes the scale's `status.replicas`, not `spec.replicas`:
/// `ratio = usage / (target × statusReplicas)`; outside the tolerance band the
/// proposal is `ceil(usage / target)`, inside it is `statusReplicas` itself (so
/// during a rolling-update surge a metric at target proposes the surged count).
pub fn external_per_pod_metric_replicas(
    status_replicas: i32,
    target_per_pod_milli: i64,
    values_milli: &[i64],
    tolerances: Tolerances,
) -> Proposal {
    let usage = sum_wrapping(values_milli);
    let ratio = f(usage) / (f(target_per_pod_milli) * f64::from(status_replicas));
    let replicas = if tolerances.is_within(ratio) {
        status_replicas
    } else {
        ceil_replicas(f(usage) / f(target_per_pod_milli))
    };
    let per_pod = if f(usage) >= f(i64::MAX) {
        i64::MAX
    } else {
        // With zero status replicas this is +∞, and `as` saturates.
        (f(usage) / f64::from(status_replicas)).ceil() as i64
    };
    Proposal {
        replicas,
        usage_milli: per_pod,
        ratio,
    }
}

/// poolpilot's pool-average rule (DESIGN §1): an `inference_pool_average_*` sample
/// is already the mean over the ready pods, so the per-pod target is compared with
/// it directly — `ratio = average / target`, `desired = ceil(ready × ratio)` outside
/// the tolerance band. This is exactly the stock `Value` arithmetic
/// ([`external_metric_replicas`]) applied to the average.
pub fn pool_average_replicas(
    current_replicas: i32,
    target_per_pod_milli: i64,
    average_milli: i64,
    tolerances: Tolerances,
    ready_pods: Option<i64>,
) -> Result<Proposal, ReplicaError> {
    external_metric_replicas(
        current_replicas,
        target_per_pod_milli,
        &[average_milli],
        tolerances,
        ready_pods,
    )
}
