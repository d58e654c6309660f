//! The `<aggregation>_over_time` family and `absent_over_time`.

use promql_parser::parser::Expr;

use super::eval::{EvalError, Evaluator};
use super::functions::{absent_labels, arg};
use super::gomath::kahan_inc;
use super::histogram::quantile;
use super::selectors::{Points, map_range};
use super::value::Sample;

/// Evaluates `name` if it is one of this file's functions.
pub(crate) fn call(
    ev: &Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    t: i64,
) -> Result<Option<Vec<Sample>>, EvalError> {
    let f: fn(&Points<'_>) -> f64 = match name {
        "avg_over_time" => avg,
        "count_over_time" => |p| p.len() as f64,
        "max_over_time" => |p| {
            p.values()
                .fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m })
        },
        "min_over_time" => |p| {
            p.values()
                .fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m })
        },
        "sum_over_time" => |p| {
            let (sum, c) = p.values().fold((0.0, 0.0), |(s, c), v| kahan_inc(v, s, c));
            if sum.is_infinite() { sum } else { sum + c }
        },
        "stddev_over_time" => |p| variance(p).sqrt(),
        "stdvar_over_time" => variance,
        "present_over_time" => |_| 1.0,
        "last_over_time" => {
            // Acts like an offset: keeps the metric name.
            let r = ev.eval_range(arg(args, 0)?, t)?;
            return map_range(&r, true, |p| p.last().map(|(_, v)| v)).map(Some);
        }
        "quantile_over_time" => {
            let q = ev.eval_scalar(arg(args, 0)?, t)?;
            let r = ev.eval_range(arg(args, 1)?, t)?;
            let mut buf = Vec::new();
            return map_range(&r, false, |p| {
                buf.clear();
                buf.extend(p.values());
                Some(quantile(q, &mut buf))
            })
            .map(Some);
        }
        "absent_over_time" => {
            let e = arg(args, 0)?;
            let r = ev.eval_range(e, t)?;
            return Ok(Some(if r.series.is_empty() {
                vec![Sample {
                    labels: absent_labels(e),
                    value: 1.0,
                }]
            } else {
                Vec::new()
            }));
        }
        _ => return Ok(None),
    };
    let r = ev.eval_range(arg(args, 0)?, t)?;
    map_range(&r, false, |p| Some(f(p))).map(Some)
}

/// Incremental mean with Kahan summation and Prometheus's handling of
/// infinities.
fn avg(p: &Points<'_>) -> f64 {
    let (mut mean, mut count, mut c) = (0.0_f64, 0.0, 0.0);
    for v in p.values() {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() { mean } else { mean + c }
}

/// Population variance (Welford with Kahan summation).
fn variance(p: &Points<'_>) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for v in p.values() {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}
