//! Table cases ported from kube-controller-manager's tests
//! (`pkg/controller/podautoscaler/replica_calculator_test.go` and
//! `horizontal_test.go`), same inputs, same expected outputs. Each case names its
//! upstream test function and case. Upstream reads `time.Now()`; here every case runs
//! at the fixed instant [`NOW`] and upstream's "N seconds ago" becomes `NOW - N s`.
//!
//! Controller-level upstream tests (fake clients) are ported to [`Scaler`] calls.
//! Where such a test uses a CPU `Resource` metric, the metric is replaced by an
//! External `Value` metric with the same usage ratio over the same ready pods, which
//! the controller turns into the same proposal (`ceil(ratio × ready pods)`).

use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscalerSpec};
use serde_json::{Value, json};

use crate::core::behavior::{
    Behavior, NormalizationArg, Recommendation, ScaleEvent,
    calculate_scale_down_limit_with_behaviors, calculate_scale_up_limit,
    calculate_scale_up_limit_with_scaling_rules, convert_desired_replicas_with_behavior_rate,
    convert_desired_replicas_with_rules, generate_scale_down_rules, generate_scale_up_rules,
    get_replicas_change_per_period, stabilize_recommendation,
    stabilize_recommendation_with_behaviors, store_scale_event,
};
use crate::core::replicas::{
    Tolerances, external_metric_replicas, external_per_pod_metric_replicas,
    usage_ratio_replica_count,
};
use crate::core::{Mode, Observation, Scaler, State};

/// The instant every case runs at (unix ms).
const NOW: i64 = 1_700_000_000_000;
const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;

fn tol(scale_down: f64, scale_up: f64) -> Tolerances {
    Tolerances {
        scale_down,
        scale_up,
    }
}

// ---------------------------------------------------------------------------
// replica_calculator_test.go
// ---------------------------------------------------------------------------

/// One `TestReplicaCalcExternalMetric` case.
struct ExternalCase {
    name: &'static str,
    current: i32,
    ready_pods: i64,
    target: i64,
    levels: &'static [i64],
    tolerances: Tolerances,
    replicas: i32,
    usage: i64,
}

/// `TestReplicaCalcExternalMetric` (GetExternalMetricReplicas, `Value` target).
#[test]
fn replica_calc_external_metric() {
    let default = Tolerances::default();
    let cases = [
        ExternalCase {
            // Readiness False, True, False: one ready pod.
            name: "scale down: ignores unready pods (would otherwise scale up)",
            current: 3,
            ready_pods: 1,
            target: 4400,
            levels: &[8600],
            tolerances: default,
            replicas: 2,
            usage: 8600,
        },
        ExternalCase {
            name: "scale down",
            current: 5,
            ready_pods: 5,
            target: 14334,
            levels: &[8600],
            tolerances: default,
            replicas: 3,
            usage: 8600,
        },
        ExternalCase {
            name: "within default tolerance",
            current: 3,
            ready_pods: 3,
            target: 8888,
            levels: &[8600],
            tolerances: default,
            replicas: 3,
            usage: 8600,
        },
        ExternalCase {
            name: "outside configurable 1% tolerance",
            current: 3,
            ready_pods: 3,
            target: 8800,
            levels: &[8900],
            tolerances: tol(0.1, 0.01),
            replicas: 4,
            usage: 8900,
        },
        ExternalCase {
            name: "usage overflow caps at MaxInt64",
            current: 3,
            ready_pods: 3,
            target: i64::MAX,
            levels: &[i64::MAX / 2 + 1, i64::MAX / 2 + 1],
            tolerances: default,
            replicas: 3,
            usage: i64::MAX,
        },
    ];
    for c in cases {
        let p = external_metric_replicas(
            c.current,
            c.target,
            c.levels,
            c.tolerances,
            Some(c.ready_pods),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(
            (p.replicas, p.usage_milli),
            (c.replicas, c.usage),
            "{}",
            c.name
        );
    }
}

/// `TestReplicaCalcExternalPerPodMetric` (GetExternalPerPodMetricReplicas,
/// `AverageValue` target; the test passes the pod count as `statusReplicas`).
#[test]
fn replica_calc_external_per_pod_metric() {
    // (case, status replicas, per-pod target, level, tolerances, replicas, usage)
    let cases: [(&str, i32, i64, i64, Tolerances, i32, i64); 6] = [
        (
            "replica count overflow saturates to MaxInt32",
            1,
            1,
            i64::MAX,
            Tolerances::default(),
            i32::MAX,
            i64::MAX,
        ),
        (
            "usage overflow with huge target leaves replicas unchanged",
            1,
            i64::MAX,
            i64::MAX,
            Tolerances::default(),
            1,
            i64::MAX,
        ),
        ("scale up", 3, 2150, 8600, Tolerances::default(), 4, 2867),
        ("scale down", 5, 2867, 8600, Tolerances::default(), 3, 1720),
        (
            "within default tolerance",
            3,
            2900,
            8600,
            Tolerances::default(),
            3,
            2867,
        ),
        (
            "outside configurable 1% tolerance",
            3,
            2800,
            8600,
            tol(0.1, 0.01),
            4,
            2867,
        ),
    ];
    for (name, status, target, level, t, replicas, usage) in cases {
        let p = external_per_pod_metric_replicas(status, target, &[level], t);
        assert_eq!((p.replicas, p.usage_milli), (replicas, usage), "{name}");
    }
}

/// `TestReplicaCalcResourceTolerance`: the tolerance cases. With every pod ready
/// and reporting, `GetResourceReplicas` is `isWithin(ratio) ? current :
/// ceil(ratio × ready)` with `ratio = utilization / target` — the same
/// [`usage_ratio_replica_count`] External metrics use. The ratio is the case's
/// expected (integer) utilization over its target of 100.
#[test]
fn replica_calc_resource_tolerance() {
    // (case, utilization %, tolerances, replicas); 3 ready pods each.
    let cases = [
        ("within default tolerance", 102, Tolerances::default(), 3),
        ("outside 0% tolerance", 101, tol(0.0, 0.0), 4),
        ("within 200% scale-up tolerance", 190, tol(0.1, 2.0), 3),
        (
            "outside 8% scale-up tolerance (superfluous scale-down tolerance)",
            109,
            tol(2.0, 0.08),
            4,
        ),
        ("within 36% scale-down tolerance", 65, tol(0.36, 0.1), 3),
        ("outside 34% scale-down tolerance", 65, tol(0.34, 0.1), 2),
    ];
    for (name, utilization, t, replicas) in cases {
        let ratio = f64::from(utilization) / 100.0;
        assert_eq!(
            usage_ratio_replica_count(3, ratio, t, Some(3)),
            Ok(replicas),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------
// horizontal_test.go: pure functions
// ---------------------------------------------------------------------------

/// Upstream's `generateScalingRules(pods, podsPeriod, percent, percentPeriod,
/// stabilizationWindow)`, as the API object.
fn gen_rules(
    pods: i32,
    pods_period: i32,
    percent: i32,
    percent_period: i32,
    window: i32,
) -> HPAScalingRules {
    let mut policies = Vec::new();
    if pods != 0 {
        policies.push(json!({"type": "Pods", "value": pods, "periodSeconds": pods_period}));
    }
    if percent != 0 {
        policies
            .push(json!({"type": "Percent", "value": percent, "periodSeconds": percent_period}));
    }
    let mut rules = json!({"stabilizationWindowSeconds": window, "selectPolicy": "Max"});
    if !policies.is_empty() {
        rules["policies"] = Value::Array(policies);
    }
    serde_json::from_value(rules).expect("scaling rules")
}

/// Upstream's `generateEventsUniformDistribution`: events spread over the last
/// `period_seconds`, each in the middle of its segment (whole seconds, as
/// `time.Duration(float)` truncates).
fn uniform_events(changes: &[i32], period_seconds: i32) -> Vec<ScaleEvent> {
    let period = f64::from(period_seconds);
    let segment = period / changes.len() as f64;
    changes
        .iter()
        .enumerate()
        .map(|(i, &change)| {
            let ago = (period - segment * (i as f64 + 1.0) + segment / 2.0) as i64;
            ScaleEvent {
                change,
                at_ms: NOW - ago * SECOND,
                outdated: false,
            }
        })
        .collect()
}

/// `TestConvertDesiredReplicasWithRules` (the legacy clamp).
#[test]
fn convert_desired_replicas_with_rules_cases() {
    // (annotation, current, desired, min, max, converted, condition)
    let cases = [
        (
            "prenormalized desired replicas within range",
            5,
            7,
            3,
            8,
            7,
            "DesiredWithinRange",
        ),
        (
            "prenormalized desired replicas < minReplicas",
            3,
            1,
            2,
            8,
            2,
            "TooFewReplicas",
        ),
        (
            "prenormalized desired zeroed replicas within range",
            1,
            0,
            0,
            10,
            0,
            "DesiredWithinRange",
        ),
        (
            "maxReplicas is the limit because maxReplicas < scaleUpLimit",
            20,
            1000,
            1,
            10,
            10,
            "TooManyReplicas",
        ),
        // Upstream expects `calculateScaleUpLimit(3)`; its test init() raises the
        // factor to 8 (24), the controller's factor 2 gives max(6, 4) = 6.
        (
            "scaleUpLimit is the limit because scaleUpLimit < maxReplicas",
            3,
            1000,
            1,
            2000,
            calculate_scale_up_limit(3),
            "ScaleUpLimit",
        ),
    ];
    for (name, current, desired, min, max, converted, condition) in cases {
        assert_eq!(
            convert_desired_replicas_with_rules(current, desired, min, max),
            (converted, condition),
            "{name}"
        );
    }
    assert_eq!(calculate_scale_up_limit(3), 6);
}

/// `TestCalculateScaleUpLimitWithScalingRules` and
/// `TestCalculateScaleDownLimitWithBehaviors` (selectPolicy Min).
#[test]
fn calculate_limits_with_min_select_policy() {
    let rules: HPAScalingRules = serde_json::from_value(json!({
        "stabilizationWindowSeconds": 300,
        "selectPolicy": "Min",
        "policies": [
            {"type": "Pods", "value": 2, "periodSeconds": 60},
            {"type": "Percent", "value": 50, "periodSeconds": 60},
        ],
    }))
    .expect("rules");
    let up = generate_scale_up_rules(Some(&rules));
    let down = generate_scale_down_rules(Some(&rules), 300);
    assert_eq!(
        calculate_scale_up_limit_with_scaling_rules(1, &[], &[], &up, NOW),
        2
    );
    assert_eq!(
        calculate_scale_down_limit_with_behaviors(5, &[], &[], &down, NOW),
        3
    );
}

/// Recommendations as (replicas, minutes before [`NOW`]).
fn recommendations(recs: &[(i32, i64)]) -> Vec<Recommendation> {
    recs.iter()
        .map(|&(replicas, ago)| Recommendation {
            replicas,
            at_ms: NOW - ago * MINUTE,
        })
        .collect()
}

/// `TestNormalizeDesiredReplicas` (legacy `stabilizeRecommendation`, 5-minute
/// window): (case, recommendations, prenormalized, stabilized, log length after).
#[test]
fn normalize_desired_replicas() {
    let cases = [
        ("empty log", recommendations(&[]), 5, 5, 1),
        ("stabilize", recommendations(&[(4, 2), (5, 1)]), 3, 5, 3),
        ("no stabilize", recommendations(&[(1, 2), (2, 1)]), 3, 3, 3),
        (
            "no stabilize - old recommendations",
            recommendations(&[(10, 10), (9, 9)]),
            3,
            3,
            2,
        ),
        (
            "stabilize - old recommendations",
            recommendations(&[(10, 10), (4, 1), (5, 2), (9, 9)]),
            3,
            5,
            4,
        ),
    ];
    for (name, mut log, prenormalized, stabilized, len) in cases {
        let got = stabilize_recommendation(&mut log, NOW, 5 * MINUTE, prenormalized);
        assert_eq!(got, stabilized, "{name}");
        assert_eq!(log.len(), len, "{name}");
    }
}

/// One `TestNormalizeDesiredReplicasWithBehavior` case.
struct StabilizeCase {
    name: &'static str,
    recs: &'static [(i32, i64)],
    current: i32,
    prenormalized: i32,
    expected: i32,
    expected_recs: Option<&'static [i32]>,
    up_window: i32,
    down_window: i32,
}

/// `TestNormalizeDesiredReplicasWithBehavior` (`stabilizeRecommendationWithBehaviors`;
/// upstream leaves unset windows at 0). Recommendations as (replicas, minutes ago).
#[test]
fn normalize_desired_replicas_with_behavior() {
    let cases = [
        StabilizeCase {
            name: "empty recommendations for scaling down",
            recs: &[],
            current: 100,
            prenormalized: 5,
            expected: 5,
            expected_recs: Some(&[5]),
            up_window: 0,
            down_window: 0,
        },
        StabilizeCase {
            name: "simple scale down stabilization",
            recs: &[(4, 2), (5, 1)],
            current: 100,
            prenormalized: 3,
            expected: 5,
            expected_recs: Some(&[4, 5, 3]),
            up_window: 0,
            down_window: 180,
        },
        StabilizeCase {
            name: "simple scale up stabilization",
            recs: &[(4, 2), (5, 1)],
            current: 1,
            prenormalized: 7,
            expected: 4,
            expected_recs: Some(&[4, 5, 7]),
            up_window: 300,
            down_window: 0,
        },
        StabilizeCase {
            name: "no scale down stabilization",
            recs: &[(1, 2), (2, 1)],
            current: 100,
            prenormalized: 3,
            expected: 3,
            expected_recs: Some(&[1, 2, 3]),
            up_window: 300,
            down_window: 0,
        },
        StabilizeCase {
            name: "no scale up stabilization",
            recs: &[(4, 2), (5, 1)],
            current: 1,
            prenormalized: 3,
            expected: 3,
            expected_recs: Some(&[4, 5, 3]),
            up_window: 0,
            down_window: 300,
        },
        StabilizeCase {
            name: "no scale down stabilization, reuse recommendation element",
            recs: &[(10, 10), (9, 9)],
            current: 100,
            prenormalized: 3,
            expected: 3,
            expected_recs: Some(&[10, 3]),
            up_window: 0,
            down_window: 0,
        },
        StabilizeCase {
            name: "no scale up stabilization, reuse recommendation element",
            recs: &[(10, 10), (9, 9)],
            current: 1,
            prenormalized: 100,
            expected: 100,
            expected_recs: Some(&[10, 100]),
            up_window: 0,
            down_window: 0,
        },
        StabilizeCase {
            name: "scale down stabilization, reuse one of obsolete recommendation element",
            recs: &[(10, 10), (4, 1), (5, 2), (9, 9)],
            current: 100,
            prenormalized: 3,
            expected: 5,
            expected_recs: Some(&[10, 4, 5, 3]),
            up_window: 0,
            down_window: 180,
        },
        StabilizeCase {
            name: "scale up stabilization, reuse one of obsolete recommendation element",
            recs: &[(10, 100), (6, 1), (5, 2), (9, 3)],
            current: 1,
            prenormalized: 100,
            expected: 5,
            expected_recs: Some(&[100, 6, 5, 9]),
            up_window: 300,
            down_window: 0,
        },
        StabilizeCase {
            name: "scale up and down stabilization, do not scale up when prenormalized rec goes down",
            recs: &[(2, 100), (3, 3)],
            current: 2,
            prenormalized: 1,
            expected: 2,
            expected_recs: None,
            up_window: 300,
            down_window: 300,
        },
        StabilizeCase {
            name: "scale up and down stabilization, do not scale down when prenormalized rec goes up",
            recs: &[(2, 100), (1, 3)],
            current: 2,
            prenormalized: 3,
            expected: 2,
            expected_recs: None,
            up_window: 300,
            down_window: 300,
        },
    ];
    for c in cases {
        let mut log = recommendations(c.recs);
        let (got, _) = stabilize_recommendation_with_behaviors(
            &mut log,
            NOW,
            c.current,
            c.prenormalized,
            c.up_window,
            c.down_window,
        );
        assert_eq!(got, c.expected, "{}", c.name);
        if let Some(expected) = c.expected_recs {
            let stored: Vec<i32> = log.iter().map(|r| r.replicas).collect();
            assert_eq!(stored, expected, "{}", c.name);
        }
    }
}

/// One `TestScalingWithRules` case.
struct RulesCase {
    name: &'static str,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    up: Option<HPAScalingRules>,
    down: Option<HPAScalingRules>,
    up_events: Vec<ScaleEvent>,
    down_events: Vec<ScaleEvent>,
    expected: i32,
    condition: &'static str,
}

fn rules_case(name: &'static str, current: i32, desired: i32, min: i32, max: i32) -> RulesCase {
    RulesCase {
        name,
        current,
        desired,
        min,
        max,
        up: None,
        down: None,
        up_events: Vec::new(),
        down_events: Vec::new(),
        expected: 0,
        condition: "",
    }
}

impl RulesCase {
    fn up(mut self, rules: HPAScalingRules) -> Self {
        self.up = Some(rules);
        self
    }
    fn down(mut self, rules: HPAScalingRules) -> Self {
        self.down = Some(rules);
        self
    }
    fn up_events(mut self, changes: &[i32], period: i32) -> Self {
        self.up_events = uniform_events(changes, period);
        self
    }
    fn down_events(mut self, changes: &[i32], period: i32) -> Self {
        self.down_events = uniform_events(changes, period);
        self
    }
    fn expect(mut self, expected: i32, condition: &'static str) -> Self {
        self.expected = expected;
        self.condition = condition;
        self
    }
}

/// `TestScalingWithRules` (`convertDesiredReplicasWithBehaviorRate` with the rules
/// defaulted by `GenerateHPAScale{Up,Down}Rules`).
#[test]
fn scaling_with_rules() {
    let g = gen_rules;
    let cases = vec![
        rules_case("prenormalized desired replicas within range", 5, 7, 3, 8)
            .expect(7, "DesiredWithinRange"),
        rules_case("prenormalized desired replicas < minReplicas", 3, 1, 2, 8)
            .expect(2, "TooFewReplicas"),
        rules_case("prenormalized desired replicas within range when minReplicas is 0", 1, 0, 0, 10)
            .expect(0, "DesiredWithinRange"),
        rules_case("maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10)
            .expect(10, "TooManyReplicas"),
        rules_case("desired replica count is more than the maximum replica count", 100, 1000, 100, 150)
            .expect(150, "TooManyReplicas"),
        rules_case("scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", 3, 1000, 1, 2000)
            .up(g(0, 0, 1, 60, 0))
            .expect(4, "ScaleUpLimit"),
        // Upstream marks this case `testThis: true`, which makes its loop skip it.
        rules_case("scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies", 1000, 3, 3, 2000)
            .down(g(20, 60, 0, 0, 0))
            .expect(980, "ScaleDownLimit"),
        rules_case("scaleUp with default behavior", 10, 50, 1, 1000).expect(20, "ScaleUpLimit"),
        rules_case("scaleUp with pods policy larger than percent policy", 10, 500, 1, 1000)
            .up(g(100, 60, 100, 60, 0))
            .expect(110, "ScaleUpLimit"),
        rules_case("scaleUp with percent policy larger than pods policy", 10, 500, 1, 1000)
            .up(g(2, 60, 100, 60, 0))
            .expect(20, "ScaleUpLimit"),
        rules_case("scaleUp with spec MaxReplicas limitation with large pod policy", 10, 50, 1, 1000)
            .up(g(100, 60, 0, 0, 0))
            .expect(50, "DesiredWithinRange"),
        rules_case("scaleUp with spec MaxReplicas limitation with large percent policy", 10, 50, 1, 1000)
            .up(g(10000, 60, 0, 0, 0))
            .expect(50, "DesiredWithinRange"),
        rules_case("scaleUp with pod policy limitation", 10, 50, 1, 1000)
            .up(g(30, 60, 0, 0, 0))
            .expect(40, "ScaleUpLimit"),
        rules_case("scaleUp with percent policy limitation", 10, 50, 1, 1000)
            .up(g(0, 0, 200, 60, 0))
            .expect(30, "ScaleUpLimit"),
        rules_case("scaleDown with percent policy larger than pod policy", 100, 2, 1, 1000)
            .down(g(20, 60, 1, 60, 300))
            .expect(80, "ScaleDownLimit"),
        rules_case("scaleDown with pod policy larger than percent policy", 100, 2, 1, 1000)
            .down(g(2, 60, 1, 60, 300))
            .expect(98, "ScaleDownLimit"),
        rules_case("scaleDown with spec MinReplicas=nil limitation with large pod policy", 10, 0, 1, 1000)
            .down(g(100, 60, 0, 0, 300))
            .expect(1, "TooFewReplicas"),
        rules_case("scaleDown with spec MinReplicas limitation with large pod policy", 10, 0, 1, 1000)
            .down(g(100, 60, 0, 0, 300))
            .expect(1, "TooFewReplicas"),
        rules_case("scaleDown with spec MinReplicas limitation with large percent policy", 10, 2, 5, 1000)
            .down(g(0, 0, 100, 60, 300))
            .expect(5, "TooFewReplicas"),
        rules_case("scaleDown with pod policy limitation", 10, 2, 1, 1000)
            .down(g(5, 60, 0, 0, 300))
            .expect(5, "ScaleDownLimit"),
        rules_case("scaleDown with percent policy limitation", 10, 5, 1, 1000)
            .down(g(0, 0, 50, 60, 300))
            .expect(5, "DesiredWithinRange"),
        rules_case("scaleUp with spec MaxReplicas limitation with large pod policy and events", 100, 500, 1, 200)
            .up_events(&[1, 5, 9], 120)
            .up(g(300, 60, 0, 0, 0))
            .expect(200, "TooManyReplicas"),
        rules_case("scaleUp with spec MaxReplicas limitation with large percent policy and events", 100, 500, 1, 200)
            .up_events(&[1, 5, 9], 120)
            .up(g(0, 0, 10000, 60, 0))
            .expect(200, "TooManyReplicas"),
        rules_case("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events", 100, 500, 1, 1000)
            .up_events(&[1, 5, 9], 120)
            .up(g(5, 120, 0, 0, 0))
            .expect(100, "ScaleUpLimit"),
        rules_case("scaleUp with pod policy and previous scale up events", 100, 500, 1, 1000)
            .up_events(&[1, 5, 9], 120)
            .up(g(150, 120, 0, 0, 0))
            .expect(235, "ScaleUpLimit"),
        rules_case("scaleUp with percent policy and previous scale up events", 100, 500, 1, 1000)
            .up_events(&[1, 5, 9], 120)
            .up(g(0, 0, 200, 120, 0))
            .expect(255, "ScaleUpLimit"),
        rules_case("scaleUp with percent policy and previous scale up and down events", 6, 24, 1, 1000)
            .up_events(&[4], 120)
            .down_events(&[2], 120)
            .up(g(0, 0, 300, 300, 0))
            .expect(16, "ScaleUpLimit"),
        rules_case("scaleDown with default policy and previous events", 10, 5, 1, 1000)
            .down_events(&[1, 5, 9], 120)
            .expect(5, "DesiredWithinRange"),
        rules_case("scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", 100, 0, 1, 1000)
            .down_events(&[1, 5, 9], 120)
            .down(g(115, 120, 0, 0, 300))
            .expect(1, "TooFewReplicas"),
        rules_case("scaleDown with spec MinReplicas limitation with large pod policy and previous events", 100, 0, 5, 1000)
            .down_events(&[1, 5, 9], 120)
            .down(g(130, 120, 0, 0, 300))
            .expect(5, "TooFewReplicas"),
        rules_case("scaleDown with spec MinReplicas limitation with large percent policy and previous events", 100, 2, 5, 1000)
            .down_events(&[1, 5, 9], 120)
            .down(g(0, 0, 100, 120, 300))
            .expect(5, "TooFewReplicas"),
        rules_case("scaleDown with pod policy limitation and previous events", 100, 2, 1, 1000)
            .down_events(&[1, 5, 9], 120)
            .down(g(5, 120, 0, 0, 300))
            .expect(100, "ScaleDownLimit"),
        rules_case("scaleDown with percent policy limitation and previous events", 100, 0, 1, 1000)
            .down_events(&[2, 4, 6], 120)
            .down(g(0, 0, 50, 120, 300))
            .expect(56, "ScaleDownLimit"),
        rules_case("scaleDown with percent policy and previous scale up and down events", 10, 1, 1, 1000)
            .up_events(&[2], 120)
            .down_events(&[4], 120)
            .down(g(0, 0, 50, 180, 0))
            .expect(6, "ScaleDownLimit"),
        rules_case("scaleDown with previous events preventing further scale down", 100, 0, 1, 1000)
            .down_events(&[10, 10, 10], 120)
            .down(g(0, 0, 10, 120, 300))
            .expect(100, "ScaleDownLimit"),
        rules_case("scaleDown with with previous events still allowing more scale down", 10, 5, 1, 1000)
            .down_events(&[10, 10, 10], 120)
            .down(g(0, 0, 1000, 120, 300))
            .expect(5, "DesiredWithinRange"),
        rules_case("check 'outdated' flag for events for one behavior for up", 100, 200, 1, 1000)
            .up_events(&[8, 12, 9, 11], 120)
            .up(g(1000, 60, 0, 0, 0))
            .expect(200, "DesiredWithinRange"),
        rules_case("check that events were not marked 'outdated' for two different policies in the behavior for up", 100, 200, 1, 1000)
            .up_events(&[8, 12, 9, 11], 120)
            .up(g(1000, 120, 100, 60, 0))
            .expect(200, "DesiredWithinRange"),
        rules_case("check that events were marked 'outdated' for two different policies in the behavior for up", 100, 200, 1, 1000)
            .up_events(&[8, 12, 9, 11], 120)
            .up(g(1000, 30, 100, 60, 0))
            .expect(200, "DesiredWithinRange"),
        rules_case("check 'outdated' flag for events for one behavior for down", 100, 5, 1, 1000)
            .down_events(&[8, 12, 9, 11], 120)
            .down(g(1000, 60, 0, 0, 300))
            .expect(5, "DesiredWithinRange"),
        rules_case("check that events were not marked 'outdated' for two different policies in the behavior for down", 100, 5, 1, 1000)
            .down_events(&[8, 12, 9, 11], 120)
            .down(g(1000, 120, 100, 60, 300))
            .expect(5, "DesiredWithinRange"),
        rules_case("check that events were marked 'outdated' for two different policies in the behavior for down", 100, 5, 1, 1000)
            .down_events(&[8, 12, 9, 11], 120)
            .down(g(1000, 30, 100, 60, 300))
            .expect(5, "DesiredWithinRange"),
    ];
    assert_eq!(cases.len(), 42);
    for c in cases {
        let up = generate_scale_up_rules(c.up.as_ref());
        let down = generate_scale_down_rules(c.down.as_ref(), 300);
        let arg = NormalizationArg {
            scale_up: &up,
            scale_down: &down,
            min_replicas: c.min,
            max_replicas: c.max,
            current_replicas: c.current,
            desired_replicas: c.desired,
        };
        let got =
            convert_desired_replicas_with_behavior_rate(&c.up_events, &c.down_events, NOW, &arg);
        assert_eq!(
            (got.replicas, got.reason),
            (c.expected, c.condition),
            "{}",
            c.name
        );
    }
}

/// One `TestStoreScaleEvents` case: previous events as (change, seconds ago), the
/// stored events after as (change, outdated).
struct StoreCase {
    name: &'static str,
    prev: &'static [(i32, i64)],
    new: &'static [(i32, bool)],
    rules: Option<HPAScalingRules>,
    expected_change: i32,
}

/// `TestStoreScaleEvents`: the change counted over 60 s before, and the events kept
/// after storing a change of 5, in both directions.
#[test]
fn store_scale_events() {
    let g = gen_rules;
    let cases = [
        StoreCase {
            name: "empty entries with default behavior",
            prev: &[],
            new: &[],
            rules: None,
            expected_change: 0,
        },
        StoreCase {
            name: "empty entries with two-policy-behavior",
            prev: &[],
            new: &[(5, false)],
            rules: Some(g(10, 60, 100, 60, 0)),
            expected_change: 0,
        },
        StoreCase {
            name: "one outdated entry to be kept untouched without behavior",
            prev: &[(7, 61)],
            new: &[(7, false)],
            rules: None,
            expected_change: 0,
        },
        StoreCase {
            name: "one outdated entry to be replaced with behavior",
            prev: &[(7, 61)],
            new: &[(5, false)],
            rules: Some(g(10, 60, 100, 60, 0)),
            expected_change: 0,
        },
        StoreCase {
            name: "one actual entry to be not touched with behavior",
            prev: &[(7, 58)],
            new: &[(7, false), (5, false)],
            rules: Some(g(10, 60, 100, 60, 0)),
            expected_change: 7,
        },
        StoreCase {
            name: "two entries, one of them to be replaced",
            prev: &[(7, 61), (6, 59)],
            new: &[(5, false), (6, false)],
            rules: Some(g(10, 60, 0, 0, 0)),
            expected_change: 6,
        },
        StoreCase {
            name: "replace one entry, use policies with different periods",
            prev: &[(8, 29), (6, 59), (7, 61), (9, 61)],
            new: &[(8, false), (6, false), (7, true), (5, false)],
            rules: Some(g(10, 60, 100, 30, 0)),
            expected_change: 14,
        },
        StoreCase {
            name: "two entries, both actual",
            prev: &[(7, 58), (6, 59)],
            new: &[(7, false), (6, false), (5, false)],
            rules: Some(g(10, 120, 100, 30, 0)),
            expected_change: 13,
        },
    ];
    for c in cases {
        let prev: Vec<ScaleEvent> = c
            .prev
            .iter()
            .map(|&(change, ago)| ScaleEvent {
                change,
                at_ms: NOW - ago * SECOND,
                outdated: false,
            })
            .collect();
        for up in [true, false] {
            let behavior = c.rules.as_ref().map(|r| Behavior {
                scale_up: generate_scale_up_rules(up.then_some(r)),
                scale_down: generate_scale_down_rules((!up).then_some(r), 300),
            });
            let (mut ups, mut downs) = (prev.clone(), prev.clone());
            let events = if up { &ups } else { &downs };
            assert_eq!(
                get_replicas_change_per_period(60, events, NOW),
                c.expected_change,
                "{} (up: {up})",
                c.name
            );
            let new_replicas = if up { 15 } else { 5 };
            store_scale_event(
                behavior.as_ref(),
                &mut ups,
                &mut downs,
                NOW,
                10,
                new_replicas,
            );
            let stored = if up { &ups } else { &downs };
            let got: Vec<(i32, bool)> = stored.iter().map(|e| (e.change, e.outdated)).collect();
            assert_eq!(got, c.new, "{} (up: {up})", c.name);
        }
    }
}

// ---------------------------------------------------------------------------
// horizontal_test.go: controller tests (fake clients) as Scaler calls
// ---------------------------------------------------------------------------

/// A spec like upstream's test HPA: `qps`-style External metrics, optional behavior.
fn spec(
    min: i32,
    max: i32,
    metrics: Value,
    behavior: Option<Value>,
) -> HorizontalPodAutoscalerSpec {
    let mut s = json!({
        "scaleTargetRef": {"apiVersion": "v1", "kind": "ReplicationController", "name": "test-rc"},
        "minReplicas": min,
        "maxReplicas": max,
        "metrics": metrics,
    });
    if let Some(b) = behavior {
        s["behavior"] = b;
    }
    serde_json::from_value(s).expect("spec")
}

/// An External metric named `name` with a target of `target_type` and `quantity`.
fn external(name: &str, target_type: &str, quantity: &str) -> Value {
    let field = if target_type == "Value" {
        "value"
    } else {
        "averageValue"
    };
    json!({
        "type": "External",
        "external": {
            "metric": {"name": name, "selector": {}},
            "target": {"type": target_type, field: quantity},
        },
    })
}

/// Scale `spec`/`status` replicas, all pods ready, and the metric values.
fn obs(replicas: i32, metrics: &[(&str, f64)]) -> Observation {
    Observation {
        spec_replicas: replicas,
        status_replicas: replicas,
        ready_pods: replicas,
        metrics: metrics.iter().map(|&(n, v)| (n.to_owned(), v)).collect(),
    }
}

/// A stock scaler; `history` restores an empty but started history (upstream's
/// `recommendations: []timestampedRecommendation{}`), otherwise the scaler starts
/// fresh (upstream's `nil`, which records the current count first).
fn stock(spec: HorizontalPodAutoscalerSpec, history: bool) -> Scaler {
    let mut s = Scaler::new(spec, Mode::Stock).expect("valid spec");
    if history {
        s.restore(State {
            initialized: true,
            ..State::default()
        });
    }
    s
}

/// One controller-level case.
struct ControllerCase {
    name: &'static str,
    spec: HorizontalPodAutoscalerSpec,
    history: bool,
    obs: Observation,
    desired: i32,
    limited_by: Option<&'static str>,
}

#[test]
fn controller_cases_with_external_metrics() {
    let qps = |t: &str, q: &str| json!([external("qps", t, q)]);
    // The CPU metric of the upstream test as an External metric with the same ratio.
    let cpu_and_qps = |cpu_target: &str, qps_target: &str| {
        json!([
            external("cpu_equivalent", "Value", cpu_target),
            external("qps", "Value", qps_target)
        ])
    };
    let cases = [
        // TestScaleUpCMExternal: 8600m against 6666m on 3 ready pods.
        ControllerCase {
            name: "TestScaleUpCMExternal",
            spec: spec(2, 6, qps("Value", "6666m"), None),
            history: false,
            obs: obs(3, &[("qps", 8.6)]),
            desired: 4,
            limited_by: None,
        },
        ControllerCase {
            name: "TestScaleUpPerPodCMExternal",
            spec: spec(2, 6, qps("AverageValue", "2222m"), None),
            history: false,
            obs: obs(3, &[("qps", 8.6)]),
            desired: 4,
            limited_by: None,
        },
        ControllerCase {
            name: "TestScaleDownCMExternal",
            spec: spec(2, 6, qps("Value", "14400m"), None),
            history: true,
            obs: obs(5, &[("qps", 8.6)]),
            desired: 3,
            limited_by: None,
        },
        ControllerCase {
            name: "TestScaleDownPerPodCMExternal",
            spec: spec(2, 6, qps("AverageValue", "3000m"), None),
            history: true,
            obs: obs(5, &[("qps", 8.6)]),
            desired: 3,
            limited_by: None,
        },
        ControllerCase {
            name: "TestToleranceCMExternal",
            spec: spec(2, 6, qps("Value", "8666m"), None),
            history: false,
            obs: obs(4, &[("qps", 8.6)]),
            desired: 4,
            limited_by: None,
        },
        ControllerCase {
            name: "TestTolerancePerPodCMExternal",
            spec: spec(2, 6, qps("AverageValue", "2200m"), None),
            history: false,
            obs: obs(4, &[("qps", 8.6)]),
            desired: 4,
            limited_by: None,
        },
        // CPU 30% target, 300/400/500m of 1000m each: utilization 40 → ratio 40/30.
        ControllerCase {
            name: "TestScaleUpOneMetricEmpty (the External metric returns an error)",
            spec: spec(2, 6, cpu_and_qps("30", "100m"), None),
            history: false,
            obs: obs(3, &[("cpu_equivalent", 40.0)]),
            desired: 4,
            limited_by: None,
        },
        // TestScaleUpOneMetricInvalid: the second metric cannot be computed at all
        // (upstream: an unknown source type; here: a value that is not a number).
        ControllerCase {
            name: "TestScaleUpOneMetricInvalid",
            spec: spec(2, 6, cpu_and_qps("30", "100m"), None),
            history: false,
            obs: obs(3, &[("cpu_equivalent", 40.0), ("qps", f64::NAN)]),
            desired: 4,
            limited_by: None,
        },
        // CPU 50% target, 100/300/500/250/250m of 1000m each: utilization 28 → 0.56
        // → 3 replicas, but one metric is missing: no scale-down on partial data.
        ControllerCase {
            name: "TestNoScaleDownOneMetricEmpty",
            spec: spec(2, 6, cpu_and_qps("50", "1000m"), None),
            history: true,
            obs: obs(5, &[("cpu_equivalent", 28.0)]),
            desired: 5,
            limited_by: Some("FailedGetExternalMetric"),
        },
        ControllerCase {
            name: "TestNoScaleDownOneMetricInvalid",
            spec: spec(2, 6, cpu_and_qps("50", "1000m"), None),
            history: true,
            obs: obs(5, &[("cpu_equivalent", 28.0), ("qps", f64::INFINITY)]),
            desired: 5,
            limited_by: Some("FailedGetExternalMetric"),
        },
        // Upstream's only metric there has an unknown source type: every metric is
        // invalid, so nothing changes. Here both metrics are missing.
        ControllerCase {
            name: "TestScaleUpBothMetricsEmpty",
            spec: spec(2, 6, cpu_and_qps("90", "100m"), None),
            history: false,
            obs: obs(3, &[]),
            desired: 3,
            limited_by: Some("FailedGetExternalMetric"),
        },
        // Fresh controller: the current count is the first recommendation.
        ControllerCase {
            name: "TestScaleDownStabilizeInitialSize",
            spec: spec(
                2,
                6,
                json!([external("cpu_equivalent", "Value", "50")]),
                None,
            ),
            history: false,
            obs: obs(5, &[("cpu_equivalent", 28.0)]),
            desired: 5,
            limited_by: Some("ScaleDownStabilized"),
        },
        ControllerCase {
            name: "TestZeroReplicas",
            spec: spec(3, 5, qps("Value", "90"), None),
            history: false,
            obs: obs(0, &[]),
            desired: 0,
            limited_by: Some("ScalingDisabled"),
        },
        ControllerCase {
            name: "TestTooFewReplicas",
            spec: spec(3, 5, qps("Value", "90"), None),
            history: false,
            obs: obs(2, &[]),
            desired: 3,
            limited_by: Some("TooFewReplicas"),
        },
        ControllerCase {
            name: "TestTooManyReplicas",
            spec: spec(3, 5, qps("Value", "90"), None),
            history: false,
            obs: obs(10, &[]),
            desired: 5,
            limited_by: Some("TooManyReplicas"),
        },
        ControllerCase {
            name: "TestScaleUpRCImmediately",
            spec: spec(2, 6, qps("Value", "90"), None),
            history: false,
            obs: obs(1, &[("qps", 0.0)]),
            desired: 2,
            limited_by: Some("TooFewReplicas"),
        },
        ControllerCase {
            name: "TestScaleDownRCImmediately",
            spec: spec(2, 5, qps("Value", "50"), None),
            history: false,
            obs: obs(6, &[("qps", 100.0)]),
            desired: 5,
            limited_by: Some("TooManyReplicas"),
        },
        // CPU 10% target, 100/200/300m of 100m each: utilization 200 → ratio 20 → 60.
        ControllerCase {
            name: "TestUpscaleCap",
            spec: spec(
                1,
                100,
                json!([external("cpu_equivalent", "Value", "10")]),
                Some(json!({"scaleUp": gen_value(0, 0, 700, 60, 0)})),
            ),
            history: false,
            obs: obs(3, &[("cpu_equivalent", 200.0)]),
            desired: 24,
            limited_by: Some("ScaleUpLimit"),
        },
        ControllerCase {
            name: "TestUpscaleCapGreaterThanMaxReplicas",
            spec: spec(
                1,
                20,
                json!([external("cpu_equivalent", "Value", "10")]),
                Some(json!({"scaleUp": gen_value(0, 0, 700, 60, 0)})),
            ),
            history: false,
            obs: obs(3, &[("cpu_equivalent", 200.0)]),
            desired: 20,
            limited_by: Some("TooManyReplicas"),
        },
    ];
    for c in cases {
        let mut scaler = stock(c.spec, c.history);
        let d = scaler.recommend(NOW, &c.obs);
        assert_eq!(d.desired, c.desired, "{}: {d:?}", c.name);
        assert_eq!(d.limited_by.as_deref(), c.limited_by, "{}: {d:?}", c.name);
    }
}

/// [`gen_rules`] as JSON, for specs.
fn gen_value(pods: i32, pods_period: i32, percent: i32, percent_period: i32, window: i32) -> Value {
    serde_json::to_value(gen_rules(
        pods,
        pods_period,
        percent,
        percent_period,
        window,
    ))
    .expect("rules to JSON")
}
