//! `label_replace` and `label_join`.

use promql_parser::parser::Expr;
use regex::Regex;

use super::eval::{EvalError, Evaluator};
use super::functions::arg;
use super::labels::is_valid_label_name;
use super::value::Sample;

/// `label_replace(v, dst, replacement, src, regex)`: where the anchored
/// regex matches `src`'s value, sets `dst` to the expanded replacement
/// (deleting it when that is empty); other samples pass unchanged.
pub(crate) fn label_replace(
    ev: &Evaluator<'_>,
    args: &[&Expr],
    t: i64,
) -> Result<Vec<Sample>, EvalError> {
    let mut v = ev.eval_vector(arg(args, 0)?, t)?;
    let dst = ev.eval_string(arg(args, 1)?, t)?;
    let repl = ev.eval_string(arg(args, 2)?, t)?;
    let src = ev.eval_string(arg(args, 3)?, t)?;
    let pattern = ev.eval_string(arg(args, 4)?, t)?;
    let re = Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
        EvalError::InvalidArgument(format!(
            "invalid regular expression in label_replace(): {pattern}"
        ))
    })?;
    if !is_valid_label_name(&dst) {
        return Err(EvalError::InvalidArgument(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    for s in &mut v {
        let value = s.labels.get(&src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            let mut res = String::new();
            caps.expand(&repl, &mut res);
            s.labels = s.labels.builder().set(&dst, &res).build();
        }
    }
    Ok(v)
}

/// `label_join(v, dst, separator, src...)`: sets `dst` to the source labels'
/// values joined by the separator (deleting it when that is empty).
pub(crate) fn label_join(
    ev: &Evaluator<'_>,
    args: &[&Expr],
    t: i64,
) -> Result<Vec<Sample>, EvalError> {
    let mut v = ev.eval_vector(arg(args, 0)?, t)?;
    let dst = ev.eval_string(arg(args, 1)?, t)?;
    let sep = ev.eval_string(arg(args, 2)?, t)?;
    let mut srcs = Vec::with_capacity(args.len().saturating_sub(3));
    for a in args.iter().skip(3) {
        let src = ev.eval_string(a, t)?;
        if !is_valid_label_name(&src) {
            return Err(EvalError::InvalidArgument(format!(
                "invalid source label name in label_join(): {src}"
            )));
        }
        srcs.push(src);
    }
    if !is_valid_label_name(&dst) {
        return Err(EvalError::InvalidArgument(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    for s in &mut v {
        let joined = srcs
            .iter()
            .map(|n| s.labels.get(n).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(&sep);
        s.labels = s.labels.builder().set(&dst, &joined).build();
    }
    Ok(v)
}
