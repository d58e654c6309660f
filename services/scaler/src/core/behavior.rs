//! Stabilization windows, rate limits and the legacy normalization, ported from
//! kube-controller-manager's `pkg/controller/podautoscaler/horizontal.go`
//! (`stabilizeRecommendation*`, `convertDesiredReplicas*`, `calculateScale*Limit*`,
//! `getReplicasChangePerPeriod`, `storeScaleEvent`) and the behavior defaults of
//! `pkg/apis/autoscaling/v2/defaults.go`.
//!
//! Time is an argument (`now_ms`, unix milliseconds); the comparisons keep
//! upstream's strictness (`After` is `>`, `Before` is `<`).

use std::fmt;

use k8s_openapi::api::autoscaling::v2::{HPAScalingPolicy, HPAScalingRules};
use serde::{Deserialize, Serialize};

/// `scaleUpLimitFactor` and `scaleUpLimitMinimum`: without `behavior`, one step may
/// grow to at most `max(2 × current, 4)` replicas.
pub const SCALE_UP_LIMIT_FACTOR: f64 = 2.0;
/// See [`SCALE_UP_LIMIT_FACTOR`].
pub const SCALE_UP_LIMIT_MINIMUM: f64 = 4.0;
/// `--horizontal-pod-autoscaler-downscale-stabilization` default (5 minutes): the
/// legacy window and the default `behavior.scaleDown.stabilizationWindowSeconds`.
pub const DEFAULT_DOWNSCALE_STABILIZATION_SECONDS: i32 = 300;

/// One unstabilized recommendation, kept for the stabilization windows
/// (upstream's `timestampedRecommendation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Replicas the metrics asked for, before stabilization and limits.
    pub replicas: i32,
    /// When it was made, unix milliseconds.
    pub at_ms: i64,
}

/// One change of the replica count the caller made, kept for the rate limits
/// (upstream's `timestampedScaleEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleEvent {
    /// Size of the change, always positive (the list says the direction).
    pub change: i32,
    /// When it happened, unix milliseconds.
    pub at_ms: i64,
    /// Older than every policy period at the last store: the slot may be reused.
    pub outdated: bool,
}

/// `HPAScalingPolicy.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyKind {
    /// A number of pods per period.
    Pods,
    /// A percentage of the replicas at the start of the period.
    Percent,
}

/// One rate-limit policy (`HPAScalingPolicy`), e.g. `Pods 4/15s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Pods or Percent.
    pub kind: PolicyKind,
    /// How many pods, or which percentage.
    pub value: i32,
    /// The period the change is counted over.
    pub period_seconds: i32,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PolicyKind::Pods => "Pods",
            PolicyKind::Percent => "Percent",
        };
        write!(f, "{kind} {}/{}s", self.value, self.period_seconds)
    }
}

/// `HPAScalingRules.selectPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectPolicy {
    /// The policy allowing the largest change (the default).
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No change in this direction at all.
    Disabled,
}

/// One direction of `behavior` with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingRules {
    /// Recommendations younger than this many seconds bound the result.
    pub stabilization_window_seconds: i32,
    /// How the policies combine.
    pub select_policy: SelectPolicy,
    /// The rate limits.
    pub policies: Vec<Policy>,
}

/// `behavior` with both directions defaulted, as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behavior {
    /// Rules for growing.
    pub scale_up: ScalingRules,
    /// Rules for shrinking.
    pub scale_down: ScalingRules,
}

fn policy_from(p: &HPAScalingPolicy) -> Option<Policy> {
    let kind = match p.type_.as_str() {
        "Pods" => PolicyKind::Pods,
        "Percent" => PolicyKind::Percent,
        _ => return None,
    };
    Some(Policy {
        kind,
        value: p.value,
        period_seconds: p.period_seconds,
    })
}

fn select_from(s: Option<&str>) -> SelectPolicy {
    match s {
        Some("Min") => SelectPolicy::Min,
        Some("Disabled") => SelectPolicy::Disabled,
        _ => SelectPolicy::Max,
    }
}

/// `copyHPAScalingRules`: every field set in `from` replaces the default.
fn copy_rules(from: Option<&HPAScalingRules>, mut to: ScalingRules) -> ScalingRules {
    let Some(from) = from else { return to };
    if from.select_policy.is_some() {
        to.select_policy = select_from(from.select_policy.as_deref());
    }
    if let Some(window) = from.stabilization_window_seconds {
        to.stabilization_window_seconds = window;
    }
    if let Some(policies) = &from.policies {
        to.policies = policies.iter().filter_map(policy_from).collect();
    }
    to
}

/// `GenerateHPAScaleUpRules`: up 0 s window, `Pods 4/15s` and `Percent 100/15s`,
/// `Max`, overridden by whatever the spec sets.
pub fn generate_scale_up_rules(from: Option<&HPAScalingRules>) -> ScalingRules {
    let defaults = ScalingRules {
        stabilization_window_seconds: 0,
        select_policy: SelectPolicy::Max,
        policies: vec![
            Policy {
                kind: PolicyKind::Pods,
                value: 4,
                period_seconds: 15,
            },
            Policy {
                kind: PolicyKind::Percent,
                value: 100,
                period_seconds: 15,
            },
        ],
    };
    copy_rules(from, defaults)
}

/// `GenerateHPAScaleDownRules` plus the controller's
/// `maybeInitScaleDownStabilizationWindow`: down `Percent 100/15s`, `Max`, and the
/// controller's downscale window (default 300 s) when the spec sets none.
pub fn generate_scale_down_rules(
    from: Option<&HPAScalingRules>,
    default_window_seconds: i32,
) -> ScalingRules {
    let defaults = ScalingRules {
        stabilization_window_seconds: default_window_seconds,
        select_policy: SelectPolicy::Max,
        policies: vec![Policy {
            kind: PolicyKind::Percent,
            value: 100,
            period_seconds: 15,
        }],
    };
    copy_rules(from, defaults)
}

fn seconds_ms(seconds: i32) -> i64 {
    i64::from(seconds) * 1000
}

/// Records `rec`, reusing the slot of an expired one when there is one (upstream
/// keeps the list from growing that way). A recommendation identical to one already
/// recorded (same count, same instant) is not recorded twice: deciding twice from the
/// same observation at the same time must leave the state as it was.
fn record(recs: &mut Vec<Recommendation>, expired: Option<usize>, rec: Recommendation) {
    if recs.contains(&rec) {
        return;
    }
    match expired.and_then(|i| recs.get_mut(i)) {
        Some(slot) => *slot = rec,
        None => recs.push(rec),
    }
}

/// Legacy `stabilizeRecommendation` (no `behavior`): records the new
/// recommendation and returns the highest one not older than the window (a
/// recommendation exactly at the cutoff still counts).
pub fn stabilize_recommendation(
    recs: &mut Vec<Recommendation>,
    now_ms: i64,
    window_ms: i64,
    prenormalized: i32,
) -> i32 {
    let cutoff = now_ms - window_ms;
    let mut max_recommendation = prenormalized;
    let mut expired = None;
    for (i, rec) in recs.iter().enumerate() {
        if rec.at_ms < cutoff {
            expired = Some(i);
        } else if rec.replicas > max_recommendation {
            max_recommendation = rec.replicas;
        }
    }
    record(
        recs,
        expired,
        Recommendation {
            replicas: prenormalized,
            at_ms: now_ms,
        },
    );
    max_recommendation
}

/// `calculateScaleUpLimit`: `max(2 × current, 4)`.
pub fn calculate_scale_up_limit(current_replicas: i32) -> i32 {
    // `as` saturates, where Go's int32() conversion would be undefined.
    (SCALE_UP_LIMIT_FACTOR * f64::from(current_replicas)).max(SCALE_UP_LIMIT_MINIMUM) as i32
}

/// Legacy `convertDesiredReplicasWithRules`: clamp to `[min, min(max, scale-up
/// limit)]`; returns the count and the `ScalingLimited` condition reason.
pub fn convert_desired_replicas_with_rules(
    current_replicas: i32,
    desired_replicas: i32,
    min_replicas: i32,
    max_replicas: i32,
) -> (i32, &'static str) {
    let scale_up_limit = calculate_scale_up_limit(current_replicas);
    let (maximum_allowed, limiting) = if max_replicas > scale_up_limit {
        (scale_up_limit, "ScaleUpLimit")
    } else {
        (max_replicas, "TooManyReplicas")
    };
    if desired_replicas < min_replicas {
        (min_replicas, "TooFewReplicas")
    } else if desired_replicas > maximum_allowed {
        (maximum_allowed, limiting)
    } else {
        (desired_replicas, "DesiredWithinRange")
    }
}

/// `stabilizeRecommendationWithBehaviors`: records the new recommendation and
/// keeps the count between the lowest recommendation of the scale-up window and the
/// highest of the scale-down window (both windows exclusive at the cutoff). Returns
/// the stabilized count and the reason used when it differs from `desired`.
pub fn stabilize_recommendation_with_behaviors(
    recs: &mut Vec<Recommendation>,
    now_ms: i64,
    current_replicas: i32,
    desired_replicas: i32,
    up_window_seconds: i32,
    down_window_seconds: i32,
) -> (i32, &'static str) {
    let up_cutoff = now_ms - seconds_ms(up_window_seconds);
    let down_cutoff = now_ms - seconds_ms(down_window_seconds);
    let mut up_recommendation = desired_replicas;
    let mut down_recommendation = desired_replicas;
    let mut expired = None;
    for (i, rec) in recs.iter().enumerate() {
        if rec.at_ms > up_cutoff {
            up_recommendation = up_recommendation.min(rec.replicas);
        }
        if rec.at_ms > down_cutoff {
            down_recommendation = down_recommendation.max(rec.replicas);
        }
        if rec.at_ms < up_cutoff && rec.at_ms < down_cutoff {
            expired = Some(i);
        }
    }
    let mut recommendation = current_replicas;
    if recommendation < up_recommendation {
        recommendation = up_recommendation;
    }
    if recommendation > down_recommendation {
        recommendation = down_recommendation;
    }
    record(
        recs,
        expired,
        Recommendation {
            replicas: desired_replicas,
            at_ms: now_ms,
        },
    );
    let reason = if desired_replicas >= current_replicas {
        "ScaleUpStabilized"
    } else {
        "ScaleDownStabilized"
    };
    (recommendation, reason)
}

/// `getReplicasChangePerPeriod`: the replicas changed by events younger than the
/// period.
pub fn get_replicas_change_per_period(
    period_seconds: i32,
    events: &[ScaleEvent],
    now_ms: i64,
) -> i32 {
    let cutoff = now_ms - seconds_ms(period_seconds);
    events
        .iter()
        .filter(|e| e.at_ms > cutoff)
        .fold(0i32, |sum, e| sum.saturating_add(e.change))
}

/// The limit of one direction and the policy that set it.
fn policy_limit(
    current_replicas: i32,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    rules: &ScalingRules,
    now_ms: i64,
    up: bool,
) -> (i32, Option<Policy>) {
    // For growing, `Max` picks the highest proposal; for shrinking, the lowest.
    let pick_highest = match rules.select_policy {
        SelectPolicy::Disabled => return (current_replicas, None),
        SelectPolicy::Max => up,
        SelectPolicy::Min => !up,
    };
    let mut result = if pick_highest { i32::MIN } else { i32::MAX };
    let mut limiting = None;
    for policy in &rules.policies {
        let added = get_replicas_change_per_period(policy.period_seconds, up_events, now_ms);
        let deleted = get_replicas_change_per_period(policy.period_seconds, down_events, now_ms);
        let start = current_replicas
            .saturating_sub(added)
            .saturating_add(deleted);
        // Upstream's float expressions; `as` truncates towards zero like Go's int32().
        let proposed = match (policy.kind, up) {
            (PolicyKind::Pods, true) => start.saturating_add(policy.value),
            (PolicyKind::Pods, false) => start.saturating_sub(policy.value),
            // Rounded up, or a small percentage could never add a pod.
            (PolicyKind::Percent, true) => {
                (f64::from(start) * (1.0 + f64::from(policy.value) / 100.0)).ceil() as i32
            }
            (PolicyKind::Percent, false) => {
                (f64::from(start) * (1.0 - f64::from(policy.value) / 100.0)) as i32
            }
        };
        let better = if pick_highest {
            proposed > result
        } else {
            proposed < result
        };
        if better {
            result = proposed;
            limiting = Some(*policy);
        }
    }
    (result, limiting)
}

/// `calculateScaleUpLimitWithScalingRules`: the most replicas the policies allow now.
pub fn calculate_scale_up_limit_with_scaling_rules(
    current_replicas: i32,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    rules: &ScalingRules,
    now_ms: i64,
) -> i32 {
    policy_limit(
        current_replicas,
        up_events,
        down_events,
        rules,
        now_ms,
        true,
    )
    .0
}

/// `calculateScaleDownLimitWithBehaviors`: the fewest replicas the policies allow now.
pub fn calculate_scale_down_limit_with_behaviors(
    current_replicas: i32,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    rules: &ScalingRules,
    now_ms: i64,
) -> i32 {
    policy_limit(
        current_replicas,
        up_events,
        down_events,
        rules,
        now_ms,
        false,
    )
    .0
}

/// Input of [`convert_desired_replicas_with_behavior_rate`] (upstream's
/// `NormalizationArg` without the key).
#[derive(Debug, Clone, Copy)]
pub struct NormalizationArg<'a> {
    /// Rules for growing.
    pub scale_up: &'a ScalingRules,
    /// Rules for shrinking.
    pub scale_down: &'a ScalingRules,
    /// `spec.minReplicas` (default 1).
    pub min_replicas: i32,
    /// `spec.maxReplicas`.
    pub max_replicas: i32,
    /// The scale's `spec.replicas`.
    pub current_replicas: i32,
    /// The (stabilized) recommendation to limit.
    pub desired_replicas: i32,
}

/// What [`convert_desired_replicas_with_behavior_rate`] allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The replica count after bounds and rate limits.
    pub replicas: i32,
    /// The `ScalingLimited` reason: `DesiredWithinRange`, `ScaleUpLimit`,
    /// `ScaleDownLimit`, `TooManyReplicas` or `TooFewReplicas`.
    pub reason: &'static str,
    /// The policy behind a `ScaleUpLimit`/`ScaleDownLimit`.
    pub policy: Option<Policy>,
}

/// `convertDesiredReplicasWithBehaviorRate`: apply the rate limits of the recorded
/// scale events and `[min, max]`, never beyond the current count in the wrong
/// direction.
pub fn convert_desired_replicas_with_behavior_rate(
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    now_ms: i64,
    arg: &NormalizationArg<'_>,
) -> Limited {
    let current = arg.current_replicas;
    let desired = arg.desired_replicas;
    if desired > current {
        let (mut limit, policy) =
            policy_limit(current, up_events, down_events, arg.scale_up, now_ms, true);
        // Recent scale-ups may have used the whole budget already.
        limit = limit.max(current);
        let (maximum_allowed, reason, policy) = if arg.max_replicas > limit {
            (limit, "ScaleUpLimit", policy)
        } else {
            (arg.max_replicas, "TooManyReplicas", None)
        };
        if desired > maximum_allowed {
            return Limited {
                replicas: maximum_allowed,
                reason,
                policy,
            };
        }
    } else if desired < current {
        let (mut limit, policy) = policy_limit(
            current,
            up_events,
            down_events,
            arg.scale_down,
            now_ms,
            false,
        );
        limit = limit.min(current);
        let (minimum_allowed, reason, policy) = if arg.min_replicas < limit {
            (limit, "ScaleDownLimit", policy)
        } else {
            (arg.min_replicas, "TooFewReplicas", None)
        };
        if desired < minimum_allowed {
            return Limited {
                replicas: minimum_allowed,
                reason,
                policy,
            };
        }
    }
    Limited {
        replicas: desired,
        reason: "DesiredWithinRange",
        policy: None,
    }
}

/// `getLongestPolicyPeriod`.
pub fn get_longest_policy_period(rules: &ScalingRules) -> i32 {
    rules
        .policies
        .iter()
        .map(|p| p.period_seconds)
        .fold(0, i32::max)
}

/// `markScaleEventsOutdated`: events older than the longest period no longer count
/// for any policy, so their slots may be reused.
pub fn mark_scale_events_outdated(
    events: &mut [ScaleEvent],
    longest_period_seconds: i32,
    now_ms: i64,
) {
    let cutoff = now_ms - seconds_ms(longest_period_seconds);
    for event in events.iter_mut().filter(|e| e.at_ms < cutoff) {
        event.outdated = true;
    }
}

/// `storeScaleEvent`: remember a change the caller made. Without `behavior`
/// nothing is stored (the legacy path has no rate limits over periods).
pub fn store_scale_event(
    behavior: Option<&Behavior>,
    up_events: &mut Vec<ScaleEvent>,
    down_events: &mut Vec<ScaleEvent>,
    now_ms: i64,
    prev_replicas: i32,
    new_replicas: i32,
) {
    let Some(behavior) = behavior else { return };
    let (events, rules, change) = if new_replicas > prev_replicas {
        (up_events, &behavior.scale_up, new_replicas - prev_replicas)
    } else {
        (
            down_events,
            &behavior.scale_down,
            prev_replicas - new_replicas,
        )
    };
    mark_scale_events_outdated(events, get_longest_policy_period(rules), now_ms);
    let event = ScaleEvent {
        change,
        at_ms: now_ms,
        outdated: false,
    };
    match events.iter_mut().rev().find(|e| e.outdated) {
        Some(slot) => *slot = event,
        None => events.push(event),
    }
}
