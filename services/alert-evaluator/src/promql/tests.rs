//! Engine tests.
//!
//! The promtool-verified cases (`testdata/promql/*.test.yaml`, expected values produced
//! and checked by `promtool test rules` 2.42) run through `unittest` (see its tests)
//! and, in CI, under both promtool and `poolpilot rules test`. The tests here cover
//! what promtool cannot express: error messages, NaN results, non-vector results and
//! storage behaviour.

use super::{EvalError, Labels, STALE_NAN, Storage, Value, instant, parse};
use crate::unittest::{Point, parse_series};

/// A window holding `series` (promtool's `series values` notation) at `interval_ms`.
fn storage_with(series: &[(&str, &str)], interval_ms: i64) -> Storage {
    let mut storage = Storage::new();
    for (selector, values) in series {
        let (labels, points) =
            parse_series(&format!("{selector} {values}")).expect("test series parse");
        let labels = Labels::from_pairs(labels);
        for (i, point) in points.into_iter().enumerate() {
            let value = match point {
                None => continue,
                Some(Point::Value(v)) => v,
                Some(Point::Stale) => STALE_NAN,
            };
            storage
                .append(&labels, i as i64 * interval_ms, value)
                .expect("test points in order");
        }
    }
    storage
}

fn eval(storage: &Storage, q: &str, t: i64) -> Result<Value, EvalError> {
    instant(storage, &parse(q).expect("test query parses"), t)
}

fn single_value(storage: &Storage, q: &str, t: i64) -> f64 {
    match eval(storage, q, t) {
        Ok(Value::Vector(v)) if v.len() == 1 => v[0].value,
        Ok(Value::Scalar(x)) => x,
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn errors_use_prometheus_wording() {
    let s = storage_with(
        &[
            (r#"a{job="x", i="1"}"#, "1"),
            (r#"a{job="x", i="2"}"#, "2"),
            (r#"b{job="x"}"#, "3"),
            (r#"c{job="x"}"#, "4"),
            (r#"d{job="y"}"#, "5"),
            (r#"e{job="y"}"#, "6"),
            (r#"f{job="y"}"#, "7"),
        ],
        60_000,
    );
    let err = |q: &str| eval(&s, q, 0).expect_err(q).to_string();
    assert_eq!(
        err("b + on(job) a"),
        "found duplicate series for the match group {job=\"x\"} on the right hand-side of the \
         operation: [{__name__=\"a\", i=\"2\", job=\"x\"}, {__name__=\"a\", i=\"1\", job=\"x\"}];\
         many-to-many matching not allowed: matching labels must be unique on one side"
    );
    assert_eq!(
        err("a + on(job) b"),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    assert_eq!(
        err("{__name__=~\"d|e\"} + on(job) group_left f"),
        "multiple matches for labels: grouping labels must ensure unique matches"
    );
    // The same with one metric on each side (also what promtool reports).
    assert_eq!(
        err("a / ignoring(i) b"),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    assert_eq!(
        err("count_over_time({job=\"x\"}[5m])"),
        "vector cannot contain metrics with the same labelset"
    );
    assert_eq!(
        err("-{__name__=~\"b|c\"}"),
        "vector cannot contain metrics with the same labelset"
    );
    assert_eq!(
        err("label_replace(a, \"1x\", \"\", \"i\", \".*\")"),
        "invalid destination label name in label_replace(): 1x"
    );
    assert_eq!(
        err("label_replace(a, \"x\", \"\", \"i\", \"(\")"),
        "invalid regular expression in label_replace(): ("
    );
    assert_eq!(err("topk(1e20, a)"), "Scalar value 1e+20 overflows int64");
    assert_eq!(err("count_values(\"1x\", a)"), "invalid label name \"1x\"");
    assert!(err("max_over_time(a[5m:])").contains("resolution step"));
}

#[test]
fn nan_results() {
    let s = storage_with(
        &[
            (r#"zero{}"#, "0"),
            (r#"h_bucket{le="+Inf"}"#, "10"),
            (r#"h2_bucket{le="1"}"#, "0"),
            (r#"h2_bucket{le="+Inf"}"#, "0"),
        ],
        60_000,
    );
    assert!(single_value(&s, "zero / 0", 0).is_nan());
    assert!(single_value(&s, "0 / 0", 0).is_nan());
    assert!(single_value(&s, "histogram_quantile(0.5, h_bucket)", 0).is_nan());
    assert!(single_value(&s, "histogram_quantile(0.5, h2_bucket)", 0).is_nan());
    assert!(single_value(&s, "histogram_quantile(NaN, h2_bucket)", 0).is_nan());
    assert!(single_value(&s, "scalar(nonexistent)", 0).is_nan());
    assert!(single_value(&s, "quantile(NaN, zero)", 0).is_nan());
}

#[test]
fn top_level_types() {
    let s = storage_with(&[(r#"m{a="1"}"#, "1 2 3")], 60_000);
    assert_eq!(eval(&s, "\"hi\"", 0), Ok(Value::String("hi".into())));
    let Ok(Value::Matrix(m)) = eval(&s, "m[2m]", 120_000) else {
        panic!("matrix expected")
    };
    assert_eq!(m[0].points, vec![(0, 1.0), (60_000, 2.0), (120_000, 3.0)]);
    let Ok(Value::Matrix(m)) = eval(&s, "m[2m:1m]", 120_000) else {
        panic!("matrix expected")
    };
    assert_eq!(m[0].points, vec![(0, 1.0), (60_000, 2.0), (120_000, 3.0)]);
}

#[test]
fn stale_markers_are_skipped_in_ranges() {
    let mut s = Storage::new();
    let l = Labels::from_pairs([("__name__", "c")]);
    for (t, v) in [(0, 1.0), (10_000, 2.0), (20_000, STALE_NAN), (30_000, 4.0)] {
        s.append(&l, t, v).expect("append");
    }
    assert_eq!(single_value(&s, "count_over_time(c[1m])", 30_000), 3.0);
    assert!(matches!(eval(&s, "c", 25_000), Ok(Value::Vector(v)) if v.is_empty()));
    assert_eq!(single_value(&s, "c", 30_000), 4.0);
}

#[test]
fn label_replace_collisions_are_errors() {
    let s = storage_with(&[(r#"a{i="1"}"#, "1"), (r#"a{i="2"}"#, "2")], 60_000);
    assert_eq!(
        eval(&s, r#"label_replace(a, "i", "", "i", ".*")"#, 0),
        Err(EvalError::DuplicateLabelset)
    );
}

#[test]
fn unsupported_features_fail_at_evaluation_too() {
    let s = storage_with(&[(r#"a{i="1"}"#, "1")], 60_000);
    for q in [
        r#"sort_by_label(a, "i")"#,
        r#"a{i="1" or i="2"}"#,
        "limitk(1, a)",
    ] {
        let expr = parse(q).expect("parses");
        let reason = super::unsupported(&expr).expect("reported by the check");
        match instant(&s, &expr, 0) {
            Err(EvalError::Unsupported(m)) => assert_eq!(m, reason, "{q}"),
            other => panic!("{q}: {other:?}"),
        }
    }
}

#[test]
fn storage_and_values_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Storage>();
    assert_send_sync::<Labels>();
    assert_send_sync::<Value>();
    assert_send_sync::<EvalError>();
}

#[test]
fn usage_example() -> Result<(), Box<dyn std::error::Error>> {
    let mut storage = Storage::new();
    let up = Labels::from_pairs([("__name__", "up"), ("job", "api")]);
    storage.append(&up, 0, 1.0)?;
    let expr = parse("up == 1")?;
    let Value::Vector(v) = instant(&storage, &expr, 60_000)? else {
        return Err("expected a vector".into());
    };
    assert_eq!(v[0].labels, up);
    assert_eq!(v[0].value, 1.0);
    Ok(())
}
