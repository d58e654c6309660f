//! Function calls: dispatch by name, plus the element-wise and vector
//! functions (math, clamping, rounding, `scalar`, `vector`, `sort`,
//! `absent`, `timestamp`). Range-vector functions live in [`super::rate`] and
//! [`super::over_time`].

use promql_parser::parser::{Call, Expr};

use super::eval::{EvalError, Evaluator, check_unique};
use super::labels::Labels;
use super::value::{Sample, Value};
use super::{check, date_fns, golibm, gomath, histogram, label_fns, over_time, rate, selectors};

/// Evaluates a function call.
pub(crate) fn call(ev: &Evaluator<'_>, c: &Call, t: i64) -> Result<Value, EvalError> {
    let args: Vec<&Expr> = c.args.args.iter().map(|a| unparen(a)).collect();
    let name = c.func.name;
    if let Some(v) = rate::call(ev, name, &args, t)? {
        return Ok(Value::Vector(v));
    }
    if let Some(v) = over_time::call(ev, name, &args, t)? {
        return Ok(Value::Vector(v));
    }
    if let Some(f) = math_fn(name) {
        return map_values(ev, arg(&args, 0)?, t, f);
    }
    let v = match name {
        "time" => return Ok(Value::Scalar(t as f64 / 1000.0)),
        "pi" => return Ok(Value::Scalar(std::f64::consts::PI)),
        "scalar" => {
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            return Ok(Value::Scalar(match v.as_slice() {
                [s] => s.value,
                _ => f64::NAN,
            }));
        }
        "vector" => vec![Sample {
            labels: Labels::empty(),
            value: ev.eval_scalar(arg(&args, 0)?, t)?,
        }],
        "clamp" => {
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            let lo = ev.eval_scalar(arg(&args, 1)?, t)?;
            let hi = ev.eval_scalar(arg(&args, 2)?, t)?;
            if hi < lo {
                Vec::new()
            } else {
                map_samples(v, |x| gomath::max(lo, gomath::min(hi, x)))
            }
        }
        "clamp_max" => {
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            let hi = ev.eval_scalar(arg(&args, 1)?, t)?;
            map_samples(v, |x| gomath::min(hi, x))
        }
        "clamp_min" => {
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            let lo = ev.eval_scalar(arg(&args, 1)?, t)?;
            map_samples(v, |x| gomath::max(lo, x))
        }
        "round" => {
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            let to_nearest = match args.get(1) {
                Some(e) => ev.eval_scalar(e, t)?,
                None => 1.0,
            };
            // Inverted as Prometheus does ("fewer floating point accuracy issues").
            let inv = 1.0 / to_nearest;
            map_samples(v, |x| (x * inv + 0.5).floor() / inv)
        }
        "timestamp" => timestamp(ev, arg(&args, 0)?, t)?,
        "sort" | "sort_desc" => {
            let mut v = ev.eval_vector(arg(&args, 0)?, t)?;
            sort(&mut v, name == "sort_desc");
            return Ok(Value::Vector(v));
        }
        "absent" => {
            let v = ev.eval_vector(arg(&args, 0)?, t)?;
            if v.is_empty() {
                vec![Sample {
                    labels: absent_labels(arg(&args, 0)?),
                    value: 1.0,
                }]
            } else {
                Vec::new()
            }
        }
        "histogram_quantile" => histogram::histogram_quantile(ev, &args, t)?,
        // Native-histogram functions: this storage holds floats only, and
        // Prometheus 2.42 skips float samples in them, so the result is empty.
        "histogram_count" | "histogram_sum" | "histogram_fraction" => {
            for a in &args {
                ev.eval(a, t)?;
            }
            Vec::new()
        }
        "label_replace" => label_fns::label_replace(ev, &args, t)?,
        "label_join" => label_fns::label_join(ev, &args, t)?,
        _ => match date_fns::call(ev, name, &args, t)? {
            Some(v) => v,
            None => {
                return Err(EvalError::Unsupported(check::unsupported_function(name)));
            }
        },
    };
    check_unique(&v)?;
    Ok(Value::Vector(v))
}

/// The `i`th argument (the parser checks arity, so this only fails on ASTs
/// built by hand).
pub(crate) fn arg<'e>(args: &[&'e Expr], i: usize) -> Result<&'e Expr, EvalError> {
    args.get(i).copied().ok_or(EvalError::WrongType {
        expected: "another argument",
        got: "none",
    })
}

/// Strips parentheses, as Prometheus does for function arguments.
pub(crate) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// Element-wise math functions that drop the metric name.
fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => golibm::exp,
        "sqrt" => f64::sqrt,
        "ln" => golibm::ln,
        "log2" => gomath::log2,
        "log10" => gomath::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

fn map_values(ev: &Evaluator<'_>, e: &Expr, t: i64, f: fn(f64) -> f64) -> Result<Value, EvalError> {
    let v = map_samples(ev.eval_vector(e, t)?, f);
    check_unique(&v)?;
    Ok(Value::Vector(v))
}

/// Applies `f` to each value and drops the metric name.
pub(crate) fn map_samples(mut v: Vec<Sample>, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    for s in &mut v {
        s.labels = s.labels.without_name();
        s.value = f(s.value);
    }
    v
}

/// `timestamp()`: the sample's own timestamp for a plain selector argument,
/// otherwise the evaluation time (what Prometheus's range evaluation stamps).
fn timestamp(ev: &Evaluator<'_>, e: &Expr, t: i64) -> Result<Vec<Sample>, EvalError> {
    if let Expr::VectorSelector(vs) = e {
        let mut out = Vec::new();
        selectors::for_each_instant(ev, vs, t, |labels, pt, _| {
            out.push(Sample {
                labels: labels.without_name(),
                value: pt as f64 / 1000.0,
            });
        })?;
        return Ok(out);
    }
    Ok(map_samples(ev.eval_vector(e, t)?, |_| t as f64 / 1000.0))
}

/// `sort` (ascending) and `sort_desc`; NaN goes last in both.
fn sort(v: &mut [Sample], desc: bool) {
    v.sort_by(|a, b| match (a.value.is_nan(), b.value.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => {
            let o = a.value.total_cmp(&b.value);
            if desc { o.reverse() } else { o }
        }
    });
}

/// The labels `absent`/`absent_over_time` report: those set by equality
/// matchers in a selector argument, except labels matched more than once.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let vs = match e {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == super::labels::METRIC_NAME {
            continue;
        }
        if m.op == promql_parser::label::MatchOp::Equal && !seen.contains(&m.name.as_str()) {
            pairs.retain(|(n, _)| *n != m.name);
            pairs.push((&m.name, &m.value));
            seen.push(&m.name);
        } else {
            pairs.retain(|(n, _)| *n != m.name);
        }
    }
    Labels::from_pairs(pairs)
}
