//! Rate-like range functions: `rate`, `increase`, `delta` (Prometheus's
//! `extrapolatedRate`), `irate`, `idelta`, `deriv`, `predict_linear`,
//! `changes` and `resets`.

use promql_parser::parser::Expr;

use super::eval::{EvalError, Evaluator};
use super::functions::arg;
use super::gomath::kahan_inc;
use super::selectors::{Points, RangeArg, map_range};
use super::value::Sample;

/// Evaluates `name` if it is one of this file's functions.
pub(crate) fn call(
    ev: &Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    t: i64,
) -> Result<Option<Vec<Sample>>, EvalError> {
    let (counter, per_second) = match name {
        "rate" => (true, true),
        "increase" => (true, false),
        "delta" => (false, false),
        "irate" | "idelta" => {
            let is_rate = name == "irate";
            let r = ev.eval_range(arg(args, 0)?, t)?;
            return map_range(&r, false, |p| instant_value(p, is_rate)).map(Some);
        }
        "deriv" => {
            let r = ev.eval_range(arg(args, 0)?, t)?;
            return map_range(&r, false, |p| {
                let (t0, _) = p.first()?;
                (p.len() >= 2).then(|| linear_regression(p, t0).0)
            })
            .map(Some);
        }
        "predict_linear" => {
            let duration = ev.eval_scalar(arg(args, 1)?, t)?;
            let r = ev.eval_range(arg(args, 0)?, t)?;
            return map_range(&r, false, |p| {
                (p.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(p, t);
                    slope * duration + intercept
                })
            })
            .map(Some);
        }
        "changes" | "resets" => {
            let resets = name == "resets";
            let r = ev.eval_range(arg(args, 0)?, t)?;
            return map_range(&r, false, |p| Some(count_changes(p, resets))).map(Some);
        }
        _ => return Ok(None),
    };
    let r = ev.eval_range(arg(args, 0)?, t)?;
    map_range(&r, false, |p| extrapolated_rate(p, &r, counter, per_second)).map(Some)
}

/// Prometheus's `extrapolatedRate`: the increase over the window (with
/// counter-reset correction for counters), extrapolated towards the window
/// edges when the first/last points are close to them, and per second for
/// `rate`.
fn extrapolated_rate(
    p: &Points<'_>,
    r: &RangeArg<'_>,
    counter: bool,
    per_second: bool,
) -> Option<f64> {
    let n = p.len();
    if n < 2 {
        return None;
    }
    let (t0, v0) = p.first()?;
    let (tn, vn) = p.last()?;
    let mut result = vn - v0;
    if counter {
        p.add_resets(&mut result);
    }
    let mut to_start = (t0 - r.start) as f64 / 1000.0;
    let to_end = (r.end - tn) as f64 / 1000.0;
    let sampled = (tn - t0) as f64 / 1000.0;
    let avg_step = sampled / (n - 1) as f64;
    if counter && result > 0.0 && v0 >= 0.0 {
        // Counters cannot go below zero: do not extrapolate past the point
        // where the counter would have been zero.
        let to_zero = sampled * (v0 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_step * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_step / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_step / 2.0
    };
    let mut factor = interval / sampled;
    if per_second {
        factor /= go_seconds(r.range);
    }
    Some(result * factor)
}

/// Go's `time.Duration.Seconds()` for a millisecond duration.
fn go_seconds(ms: i64) -> f64 {
    (ms / 1000) as f64 + ((ms % 1000) * 1_000_000) as f64 / 1e9
}

/// `irate` / `idelta`: from the last two points.
fn instant_value(p: &Points<'_>, is_rate: bool) -> Option<f64> {
    let ((t1, v1), (t2, v2)) = p.last_two()?;
    let mut result = if is_rate && v2 < v1 { v2 } else { v2 - v1 };
    let interval = t2 - t1;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares fit of value over time (seconds relative to
/// `intercept_t`), with Kahan summation; returns (slope, intercept).
fn linear_regression(p: &Points<'_>, intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = p.first().map_or(f64::NAN, |(_, v)| v);
    let mut const_y = true;
    for (i, (t, v)) in p.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_t) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sum_x, sum_y, sum_xy, sum_x2) = (sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2);
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// `changes` (value differs from the previous, NaN to NaN is no change) or
/// `resets` (value lower than the previous).
fn count_changes(p: &Points<'_>, resets: bool) -> f64 {
    let mut values = p.values();
    let Some(mut prev) = values.next() else {
        return 0.0;
    };
    let mut count = 0usize;
    for v in values {
        let hit = if resets {
            v < prev
        } else {
            v != prev && !(v.is_nan() && prev.is_nan())
        };
        count += usize::from(hit);
        prev = v;
    }
    count as f64
}
