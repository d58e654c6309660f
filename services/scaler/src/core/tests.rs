//! Our own tests of the scaler core: quantities, validation and metric keys, the
//! behavior defaults, stabilization across a restart, level-triggering, and the
//! pool-average rule against the stock formula on the seed's HPA.

mod upstream;

use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscalerSpec, MetricIdentifier};
use serde_json::{Value, json};

use super::behavior::{Policy, PolicyKind, ScalingRules, SelectPolicy};
use super::quantity::{approximate_f64, milli_value, sample_milli};
use super::{
    Decision, Formula, Mode, Observation, Options, Scaler, State, metric_key,
    ratio_target_problems, stock_would, validate,
};

const T0: i64 = 1_700_000_000_000;
const SECOND: i64 = 1000;

/// The seed's `hpa.yaml` spec, written here as the equivalent JSON (the crate has no
/// YAML parser), with the placeholders filled: `INFERENCE_POOL_NAME` = `llama3`,
/// `CLUSTER_NAME` = `dev`, `INFERENCE_POOL_NAMESPACE` = `default`, and the given
/// `MIN_REPLICAS`, `MAX_REPLICAS` and `TARGET_VALUE`.
fn seed_spec(min: i32, max: i32, target: &str) -> HorizontalPodAutoscalerSpec {
    serde_json::from_value(json!({
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama3"},
        "minReplicas": min,
        "maxReplicas": max,
        "metrics": [{
            "type": "External",
            "external": {
                "metric": {
                    "name": "prometheus.googleapis.com|inference_pool_average_kv_cache_utilization|gauge",
                    "selector": {"matchLabels": {
                        "metric.labels.name": "llama3",
                        "resource.labels.cluster": "dev",
                        "resource.labels.namespace": "default",
                    }},
                },
                "target": {"type": "AverageValue", "averageValue": target},
            },
        }],
    }))
    .expect("seed spec")
}

const KV: &str = "inference_pool_average_kv_cache_utilization";

/// `spec_replicas` = `status_replicas` = `ready_pods` = `replicas`, KV at `kv`.
fn kv_obs(replicas: i32, kv: f64) -> Observation {
    Observation {
        spec_replicas: replicas,
        status_replicas: replicas,
        ready_pods: replicas,
        metrics: [(KV.to_owned(), kv)].into_iter().collect(),
    }
}

/// A pool-average spec on the KV metric with `behavior` (JSON) and target 0.5.
fn kv_spec(min: i32, max: i32, behavior: Option<Value>) -> HorizontalPodAutoscalerSpec {
    let mut spec = serde_json::to_value(seed_spec(min, max, "0.5")).expect("to JSON");
    if let Some(b) = behavior {
        spec["behavior"] = b;
    }
    serde_json::from_value(spec).expect("spec")
}

#[test]
fn quantities_read_like_milli_value() {
    let cases = [
        ("0.7", 700),
        ("700m", 700),
        ("0.70", 700),
        (".5", 500),
        ("1.", 1000),
        ("+2", 2000),
        ("-1.5", -1500),
        ("1k", 1_000_000),
        ("1Ki", 1_024_000),
        ("1e3", 1_000_000),
        ("5E-1", 500),
        ("0.0001", 1), // rounded up to a whole milli-unit
        ("100n", 1),
        ("1E", i64::MAX), // 10^21 milli-units saturate
    ];
    for (q, milli) in cases {
        assert_eq!(milli_value(q), Ok(milli), "{q}");
    }
    for bad in ["", "m", "1.2.3", "1 ", "1x", "1e", "--1", "0.7%"] {
        assert!(milli_value(bad).is_err(), "{bad:?}");
    }
    assert_eq!(approximate_f64("50m"), Ok(0.05));
    assert_eq!(approximate_f64("1Ki"), Ok(1024.0));
}

#[test]
fn samples_become_exact_milli_values() {
    assert_eq!(sample_milli(0.07), Some(70)); // 0.07 × 1000 is 70.00000000000001 in f64
    assert_eq!(sample_milli(0.86), Some(860));
    assert_eq!(sample_milli(8.6), Some(8600));
    assert_eq!(sample_milli(0.0004), Some(1));
    assert_eq!(sample_milli(-0.0004), Some(0));
    assert_eq!(sample_milli(f64::NAN), None);
    assert_eq!(sample_milli(f64::INFINITY), None);
}

fn identifier(v: Value) -> MetricIdentifier {
    serde_json::from_value(v).expect("identifier")
}

#[test]
fn metric_keys_map_google_names_and_pick_the_pool() {
    let seed = seed_spec(1, 10, "0.5");
    let metrics = seed.metrics.as_deref().unwrap_or_default();
    let id = &metrics
        .first()
        .and_then(|m| m.external.as_ref())
        .expect("external")
        .metric;
    assert_eq!(
        metric_key(id),
        Ok((KV.to_owned(), Some("llama3".to_owned())))
    );

    let plain = identifier(json!({"name": KV, "selector": {"matchLabels": {"name": "pool-a"}}}));
    assert_eq!(
        metric_key(&plain),
        Ok((KV.to_owned(), Some("pool-a".to_owned())))
    );
    let no_selector = identifier(json!({"name": "queue_depth"}));
    assert_eq!(
        metric_key(&no_selector),
        Ok(("queue_depth".to_owned(), None))
    );

    let bad = [
        (
            json!({"name": "prometheus.googleapis.com|kv"}),
            "metric.name",
        ),
        (
            json!({"name": "custom.googleapis.com|kv|gauge"}),
            "metric.name",
        ),
        (json!({"name": "kv-cache"}), "metric.name"),
        (json!({"name": ""}), "metric.name"),
        (
            json!({"name": "kv", "selector": {"matchLabels": {"metric.labels.model": "x"}}}),
            "metric.selector.matchLabels[metric.labels.model]",
        ),
        (
            json!({"name": "kv", "selector": {"matchLabels": {"name": "a", "metric.labels.name": "b"}}}),
            "metric.selector.matchLabels[name]",
        ),
        (
            json!({"name": "kv", "selector": {"matchExpressions": [{"key": "name", "operator": "Exists"}]}}),
            "metric.selector.matchExpressions",
        ),
    ];
    for (id, path) in bad {
        let err = metric_key(&identifier(id.clone())).expect_err("invalid identifier");
        assert_eq!(
            err.errors.first().map(|e| e.path.as_str()),
            Some(path),
            "{id}"
        );
    }
}

#[test]
fn validation_reports_every_problem_with_its_path() {
    let spec: HorizontalPodAutoscalerSpec = serde_json::from_value(json!({
        "scaleTargetRef": {"kind": "", "name": ""},
        "minReplicas": 0,
        "maxReplicas": -1,
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
            {"type": "External", "external": {"metric": {"name": "kv"}, "target": {"type": "Utilization", "averageUtilization": 80}}},
            {"type": "External", "external": {"metric": {"name": "kv2"}, "target": {"type": "Value"}}},
            {"type": "External", "external": {"metric": {"name": "kv3"}, "target": {"type": "AverageValue", "averageValue": "0"}}},
            {"type": "External", "external": {"metric": {"name": "kv4"}, "target": {"type": "Value", "value": "-1"}}},
            {"type": "External", "external": {"metric": {"name": "kv5"}, "target": {"type": "Value", "value": "1", "averageValue": "1"}}},
            {"type": "External", "external": {"metric": {"name": "kv6"}, "target": {"type": "Value", "value": "one"}}},
        ],
        "behavior": {
            "scaleUp": {
                "stabilizationWindowSeconds": 3601,
                "selectPolicy": "Fastest",
                "policies": [{"type": "Replicas", "value": 0, "periodSeconds": 0}],
                "tolerance": "-0.1",
            },
            "scaleDown": {
                "stabilizationWindowSeconds": -1,
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 1801}],
            },
        },
    }))
    .expect("spec");
    let err = validate(&spec, &Options::default()).expect_err("invalid spec");
    let paths: Vec<&str> = err.errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.scaleTargetRef.kind",
            "spec.scaleTargetRef.name",
            "spec.minReplicas",
            "spec.maxReplicas",
            "spec.maxReplicas",
            "spec.metrics[0].type",
            "spec.metrics[1].external.target.type",
            "spec.metrics[1].external.target.averageUtilization",
            "spec.metrics[2].external.target.value",
            "spec.metrics[3].external.target.averageValue",
            "spec.metrics[4].external.target.value",
            "spec.metrics[5].external.target.value",
            "spec.metrics[6].external.target.value",
            "spec.behavior.scaleUp.stabilizationWindowSeconds",
            "spec.behavior.scaleUp.selectPolicy",
            "spec.behavior.scaleUp.policies[0].type",
            "spec.behavior.scaleUp.policies[0].value",
            "spec.behavior.scaleUp.policies[0].periodSeconds",
            "spec.behavior.scaleUp.tolerance",
            "spec.behavior.scaleDown.stabilizationWindowSeconds",
            "spec.behavior.scaleDown.policies[0].periodSeconds",
        ],
        "{err}"
    );
    let resource = err
        .errors
        .get(5)
        .map(|e| e.message.as_str())
        .unwrap_or_default();
    assert!(resource.contains("\"Resource\""), "{resource}");
    assert!(
        err.to_string()
            .starts_with("spec.scaleTargetRef.kind: Required value; ")
    );

    let swapped = json!({
        "scaleTargetRef": {"kind": "Deployment", "name": "x"},
        "minReplicas": 5,
        "maxReplicas": 3,
        "metrics": [],
        "behavior": {"scaleDown": {"policies": []}},
    });
    let spec: HorizontalPodAutoscalerSpec = serde_json::from_value(swapped).expect("spec");
    let err = validate(&spec, &Options::default()).expect_err("invalid spec");
    let messages: Vec<String> = err.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "spec.maxReplicas: 3: must be greater than or equal to minReplicas (5)",
            "spec.metrics: Required value: at least one External metric (the API default, CPU at 80%, is a Resource metric)",
            "spec.behavior.scaleDown.policies: Required value: must specify at least one Policy",
        ]
    );
}

#[test]
fn duplicate_metric_names_are_rejected() {
    let mut spec = serde_json::to_value(seed_spec(1, 3, "0.5")).expect("to JSON");
    let metric = spec["metrics"][0].clone();
    spec["metrics"] = json!([metric.clone(), metric]);
    let spec: HorizontalPodAutoscalerSpec = serde_json::from_value(spec).expect("spec");
    let err = validate(&spec, &Options::default()).expect_err("duplicate");
    assert_eq!(err.errors.len(), 1);
    assert_eq!(
        err.errors.first().map(|e| e.path.as_str()),
        Some("spec.metrics[1].external.metric.name")
    );
}

#[test]
fn ratio_targets_above_one_get_a_hint() {
    let problems = ratio_target_problems(&seed_spec(1, 10, "70"));
    assert_eq!(problems.len(), 1);
    let p = problems.first().expect("one problem");
    assert_eq!(p.path, "spec.metrics[0].external.target.averageValue");
    assert!(p.message.ends_with("did you mean 0.70?"), "{}", p.message);
    assert!(ratio_target_problems(&seed_spec(1, 10, "0.70")).is_empty());
    let far = ratio_target_problems(&seed_spec(1, 10, "250"));
    assert!(far.iter().all(|p| p.message.ends_with("between 0 and 1?")));

    // poolpilot's own mode treats it as a config error; the stock HPA accepts it.
    let err = Scaler::new(seed_spec(1, 10, "70"), Mode::PoolAverage).expect_err("hint");
    assert_eq!(err.errors, problems);
    assert!(Scaler::new(seed_spec(1, 10, "70"), Mode::Stock).is_ok());
    // With TARGET_VALUE 70, the stock HPA shrinks a busy pool to one replica.
    let stock = stock_would(&seed_spec(1, 10, "70"), &kv_obs(4, 0.8)).expect("stock");
    assert_eq!(stock.desired, 1);
}

#[test]
fn seed_spec_pool_average_versus_stock() {
    // DESIGN §1: 4 replicas at 0.8 with target 0.5.
    let spec = seed_spec(1, 10, "0.5");
    let observation = kv_obs(4, 0.8);

    let stock = stock_would(&spec, &observation).expect("stock");
    assert_eq!((stock.raw_desired, stock.desired), (2, 2));
    let m = stock.metrics.first().expect("one metric");
    assert_eq!(m.formula, Formula::AverageValue);
    assert_eq!(m.ratio, Some(0.4)); // 0.8 / (0.5 × 4)
    assert_eq!(stock.reason, "kv 0.8 < 0.5 × 4 pods → 2; scale down 4 → 2");

    let mut pool = Scaler::new(spec, Mode::PoolAverage).expect("pool average");
    let d = pool.recommend(T0, &observation);
    let m = d.metrics.first().expect("one metric");
    assert_eq!(m.formula, Formula::PoolAverage);
    assert_eq!(m.ratio, Some(1.6)); // 0.8 / 0.5
    assert_eq!((d.raw_desired, d.desired), (7, 7)); // ceil(4 × 1.6)
    assert_eq!(d.reason, "kv 0.8 > target 0.5 → 7; scale up 4 → 7");

    // Within the tolerance band the metric proposes no change (inclusive at 1.1:
    // 0.55 / 0.5), while the 7 just recommended holds the pool for the window.
    let d = pool.recommend(T0 + SECOND, &kv_obs(7, 0.55));
    assert_eq!((d.raw_desired, d.desired), (7, 7));
    let d = pool.recommend(T0 + 2 * SECOND, &kv_obs(7, 0.3)); // ceil(7 × 0.6) = 5
    assert_eq!((d.raw_desired, d.desired), (5, 7));
    assert_eq!(d.limited_by.as_deref(), Some("ScaleDownStabilized"));
    // A fresh stock HPA on the same spec holds for the start-up window instead.
    let mut fresh = Scaler::new(seed_spec(1, 10, "0.5"), Mode::Stock).expect("stock");
    let d = fresh.recommend(T0, &observation);
    assert_eq!((d.raw_desired, d.desired), (2, 4));
    assert_eq!(d.limited_by.as_deref(), Some("ScaleDownStabilized"));
}

#[test]
fn default_behaviors() {
    let validated =
        validate(&kv_spec(1, 100, Some(json!({}))), &Options::default()).expect("valid");
    let behavior = validated.behavior.expect("behavior: {} is a behavior");
    let pods = |value, period_seconds| Policy {
        kind: PolicyKind::Pods,
        value,
        period_seconds,
    };
    let percent = |value, period_seconds| Policy {
        kind: PolicyKind::Percent,
        value,
        period_seconds,
    };
    assert_eq!(
        behavior.scale_up,
        ScalingRules {
            stabilization_window_seconds: 0,
            select_policy: SelectPolicy::Max,
            policies: vec![pods(4, 15), percent(100, 15)],
        }
    );
    assert_eq!(
        behavior.scale_down,
        ScalingRules {
            stabilization_window_seconds: 300,
            select_policy: SelectPolicy::Max,
            policies: vec![percent(100, 15)],
        }
    );
    // Without `behavior` the controller takes the legacy path, not these defaults.
    let legacy = validate(&seed_spec(1, 10, "0.5"), &Options::default()).expect("valid");
    assert_eq!(legacy.behavior, None);
    assert_eq!(legacy.min_replicas, 1);
    let no_min: HorizontalPodAutoscalerSpec = serde_json::from_value({
        let mut s = serde_json::to_value(seed_spec(1, 10, "0.5")).expect("to JSON");
        s.as_object_mut().map(|o| o.remove("minReplicas"));
        s
    })
    .expect("spec");
    assert_eq!(
        validate(&no_min, &Options::default()).map(|v| v.min_replicas),
        Ok(1)
    );
}

#[test]
fn default_scale_up_rate_limits_over_recorded_events() {
    let mut scaler = Scaler::new(kv_spec(1, 100, Some(json!({}))), Mode::PoolAverage).expect("ok");
    // 2 pods at 12.5× the target want 25: Pods 4/15s allows 6, Percent 100/15s 4.
    let d = scaler.recommend(T0, &kv_obs(2, 6.25));
    assert_eq!((d.raw_desired, d.desired), (25, 6));
    assert_eq!(d.limited_by.as_deref(), Some("ScaleUpLimit"));
    assert_eq!(d.limiting_policy.as_deref(), Some("Pods 4/15s"));
    assert_eq!(
        d.reason,
        "kv 6.25 > target 0.5 → 25; scale up 2 → 6 (ScaleUpLimit: Pods 4/15s)"
    );
    scaler.record_scale(T0, 2, 6);

    // Within the period the 4 added pods count: the period started at 2 pods.
    let d = scaler.recommend(T0 + 5 * SECOND, &kv_obs(6, 2.0));
    assert_eq!((d.raw_desired, d.desired), (24, 6));
    assert_eq!(d.limiting_policy.as_deref(), Some("Pods 4/15s"));
    // 15 s later the event has left the period: Percent 100/15s doubles.
    let d = scaler.recommend(T0 + 15 * SECOND, &kv_obs(6, 2.0));
    assert_eq!((d.raw_desired, d.desired), (24, 12));
    assert_eq!(d.limiting_policy.as_deref(), Some("Percent 100/15s"));
}

#[test]
fn disabled_directions_hold_the_count() {
    let behavior = json!({
        "scaleUp": {"selectPolicy": "Disabled"},
        "scaleDown": {"selectPolicy": "Disabled", "stabilizationWindowSeconds": 0},
    });
    let mut scaler = Scaler::new(kv_spec(1, 10, Some(behavior)), Mode::PoolAverage).expect("ok");
    let up = scaler.recommend(T0, &kv_obs(4, 1.0));
    assert_eq!((up.raw_desired, up.desired), (8, 4));
    assert_eq!(up.limited_by.as_deref(), Some("ScaleUpLimit"));
    assert_eq!(up.limiting_policy.as_deref(), Some("selectPolicy Disabled"));
    let down = scaler.recommend(T0 + SECOND, &kv_obs(4, 0.1));
    assert_eq!((down.raw_desired, down.desired), (1, 4));
    assert_eq!(down.limited_by.as_deref(), Some("ScaleDownLimit"));
    assert_eq!(
        down.limiting_policy.as_deref(),
        Some("selectPolicy Disabled")
    );
}

/// Scale up at t0, then low load: no scale-down within 300 s of the higher
/// recommendation, also across a restart that restores the state. `released_ms`
/// is when (after t0) the t0 recommendation leaves the window.
fn assert_no_early_scale_down(behavior: Option<Value>, released_ms: i64) {
    let spec = kv_spec(1, 10, behavior);
    let mut scaler = Scaler::new(spec.clone(), Mode::PoolAverage).expect("ok");
    let d = scaler.recommend(T0, &kv_obs(4, 1.0)); // ceil(4 × 2) = 8
    assert_eq!(d.desired, 8, "{d:?}");
    scaler.record_scale(T0, 4, 8);

    let d = scaler.recommend(T0 + 60 * SECOND, &kv_obs(8, 0.1)); // ceil(8 × 0.2) = 2
    assert_eq!((d.raw_desired, d.stabilized, d.desired), (2, 8, 8));
    assert_eq!(d.limited_by.as_deref(), Some("ScaleDownStabilized"));

    // Restart: the new process restores the persisted state.
    let saved = serde_json::to_string(&scaler.state()).expect("state to JSON");
    let mut restarted = Scaler::new(spec.clone(), Mode::PoolAverage).expect("ok");
    restarted.restore(serde_json::from_str::<State>(&saved).expect("state from JSON"));
    let d = restarted.recommend(T0 + 120 * SECOND, &kv_obs(8, 0.1));
    assert_eq!(d.desired, 8);
    let d = restarted.recommend(T0 + released_ms - 1, &kv_obs(8, 0.1));
    assert_eq!(d.desired, 8, "the window still holds the t0 recommendation");
    let d = restarted.recommend(T0 + released_ms, &kv_obs(8, 0.1));
    assert_eq!(d.desired, 2, "{d:?}");

    // A restart that loses the state starts from the current count instead.
    let mut amnesiac = Scaler::new(spec, Mode::PoolAverage).expect("ok");
    let d = amnesiac.recommend(T0 + 120 * SECOND, &kv_obs(8, 0.1));
    assert_eq!(d.desired, 8);
}

#[test]
fn no_scale_down_within_the_window_with_default_behavior() {
    // `stabilizeRecommendationWithBehaviors` counts recommendations strictly after
    // the cutoff: the t0 one is out at exactly t0 + 300 s.
    assert_no_early_scale_down(Some(json!({})), 300 * SECOND);
}

#[test]
fn no_scale_down_within_the_window_on_the_legacy_path() {
    // Legacy `stabilizeRecommendation` also counts one exactly at the cutoff: the
    // t0 recommendation still holds at t0 + 300 s and is out 1 ms later.
    assert_no_early_scale_down(None, 300 * SECOND + 1);
}

#[test]
fn recommend_is_level_triggered() {
    for behavior in [None, Some(json!({}))] {
        let mut scaler = Scaler::new(kv_spec(1, 10, behavior), Mode::PoolAverage).expect("ok");
        scaler.recommend(T0, &kv_obs(4, 1.0));
        scaler.record_scale(T0, 4, 8);
        let observation = kv_obs(8, 0.1);
        let first = scaler.recommend(T0 + 400 * SECOND, &observation);
        let state = scaler.state();
        let again = scaler.recommend(T0 + 400 * SECOND, &observation);
        assert_eq!(first, again);
        assert_eq!(scaler.state(), state);
    }
}

#[test]
fn missing_and_broken_metrics() {
    let mut scaler = Scaler::new(seed_spec(1, 10, "0.5"), Mode::PoolAverage).expect("ok");
    let mut observation = kv_obs(4, 0.8);
    observation.metrics.clear();
    let d = scaler.recommend(T0, &observation);
    assert_eq!(
        (d.desired, d.limited_by.as_deref()),
        (4, Some("FailedGetExternalMetric"))
    );
    let m = d.metrics.first().expect("one metric");
    assert_eq!(
        m.invalid.as_deref(),
        Some(format!("no value for {KV}").as_str())
    );
    assert_eq!(
        d.reason,
        format!("1 of 1 metrics invalid ({KV}); stay at 4")
    );

    // A Value-style formula over an empty pod list fails as upstream does.
    let empty = Observation {
        spec_replicas: 2,
        status_replicas: 0,
        ready_pods: 0,
        metrics: [(KV.to_owned(), 0.9)].into_iter().collect(),
    };
    let d = scaler.recommend(T0, &empty);
    let m = d.metrics.first().expect("one metric");
    assert_eq!(
        m.invalid.as_deref(),
        Some("no pods returned by selector while calculating replica count")
    );
    assert_eq!(d.desired, 2);
}

#[test]
fn zero_replicas_disable_scaling() {
    let mut scaler = Scaler::new(seed_spec(1, 10, "0.5"), Mode::PoolAverage).expect("ok");
    let d = scaler.recommend(T0, &kv_obs(0, 0.9));
    assert_eq!((d.current, d.desired), (0, 0));
    assert_eq!(d.limited_by.as_deref(), Some("ScalingDisabled"));
}

#[test]
fn configured_tolerance_applies_per_direction() {
    let behavior = json!({"scaleUp": {"tolerance": "0.05"}});
    let mut scaler = Scaler::new(kv_spec(1, 10, Some(behavior)), Mode::PoolAverage).expect("ok");
    assert_eq!(scaler.spec().tolerances.scale_up, 0.05);
    assert_eq!(scaler.spec().tolerances.scale_down, 0.1);
    // 0.54 / 0.5 = 1.08: outside 5% up, inside the default 10%.
    let d = scaler.recommend(T0, &kv_obs(10, 0.54));
    assert_eq!((d.raw_desired, d.desired), (11, 10)); // ceil(10 × 1.08), then maxReplicas
    assert_eq!(d.limited_by.as_deref(), Some("TooManyReplicas"));
    let d = scaler.recommend(T0, &kv_obs(5, 0.54));
    assert_eq!(d.desired, 6);
    let mut default = Scaler::new(kv_spec(1, 10, Some(json!({}))), Mode::PoolAverage).expect("ok");
    assert_eq!(default.recommend(T0, &kv_obs(5, 0.54)).desired, 5);
}

#[test]
fn average_value_divides_by_status_replicas() {
    // Upstream passes status.replicas: in a surge (spec 4, status 5) a metric at
    // target proposes the surged count, and the HPA keeps it.
    let spec = seed_spec(1, 10, "0.5");
    let surge = Observation {
        spec_replicas: 4,
        status_replicas: 5,
        ready_pods: 4,
        metrics: [(KV.to_owned(), 2.5)].into_iter().collect(),
    };
    let d = stock_would(&spec, &surge).expect("stock");
    assert_eq!(d.metrics.first().and_then(|m| m.ratio), Some(1.0));
    assert_eq!(d.desired, 5);
}

#[test]
fn record_scale_keeps_nothing_without_behavior() {
    let mut scaler = Scaler::new(seed_spec(1, 10, "0.5"), Mode::Stock).expect("ok");
    scaler.record_scale(T0, 2, 4);
    scaler.record_scale(T0, 4, 3);
    assert!(scaler.state().scale_up_events.is_empty());
    assert!(scaler.state().scale_down_events.is_empty());
    let mut with = Scaler::new(kv_spec(1, 10, Some(json!({}))), Mode::Stock).expect("ok");
    with.record_scale(T0, 2, 4);
    with.record_scale(T0, 4, 3);
    with.record_scale(T0, 3, 3);
    assert_eq!(with.state().scale_up_events.len(), 1);
    assert_eq!(with.state().scale_down_events.len(), 1);
}

#[test]
fn decisions_and_state_round_trip_through_json() {
    let mut scaler = Scaler::new(kv_spec(1, 10, Some(json!({}))), Mode::PoolAverage).expect("ok");
    let d = scaler.recommend(T0, &kv_obs(2, 1.0));
    scaler.record_scale(T0, 2, d.desired);
    let json = serde_json::to_string(&d).expect("decision to JSON");
    assert_eq!(
        serde_json::from_str::<Decision>(&json).expect("decision"),
        d
    );
    let state = scaler.state();
    let json = serde_json::to_string(&state).expect("state to JSON");
    assert_eq!(serde_json::from_str::<State>(&json).expect("state"), state);
    // Older or hand-written states may omit fields.
    assert_eq!(
        serde_json::from_str::<State>("{}").expect("empty"),
        State::default()
    );
}
