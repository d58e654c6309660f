//! Static check of what this engine can evaluate, so that rule files using
//! anything else fail when loaded rather than at evaluation time.

use promql_parser::parser::token::{T_LIMIT_RATIO, T_LIMITK};
use promql_parser::parser::{Expr, VectorSelector};

/// Subqueries need an explicit step: Prometheus fills in the global
/// evaluation interval, which this engine does not know.
pub(crate) const NO_STEP_SUBQUERY: &str = "subqueries without an explicit resolution step \
     (expr[range:step]) are not supported: the default step depends on the Prometheus \
     evaluation interval";
/// `{a="x" or b="y"}` is a Prometheus 3 extension.
pub(crate) const OR_MATCHERS: &str =
    "\"or\" inside label matchers is not supported (it is not part of Prometheus 2.42)";
/// `fill(...)` vector-matching modifiers are a Prometheus 3 extension.
pub(crate) const FILL_MODIFIERS: &str =
    "fill modifiers in vector matching are not supported (they are not part of Prometheus 2.42)";

/// The functions this engine evaluates (all of Prometheus 2.42's, except
/// `holt_winters`, which the parser does not know).
const SUPPORTED_FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "deg",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_sum",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_replace",
    "label_join",
    "ln",
    "log10",
    "log2",
    "last_over_time",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// The sentence reported for an unsupported function.
pub(crate) fn unsupported_function(name: &str) -> String {
    format!("function \"{name}\" is not supported (it is not part of Prometheus 2.42)")
}

/// The sentence reported for an unsupported aggregation operator.
pub(crate) fn unsupported_aggregation(op: &impl std::fmt::Display) -> String {
    format!("aggregation \"{op}\" is not supported (it is not part of Prometheus 2.42)")
}

/// What this engine cannot evaluate in `expr`, as a user-facing sentence;
/// `None` when everything is supported.
pub fn unsupported(expr: &Expr) -> Option<String> {
    match expr {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => None,
        Expr::VectorSelector(vs) => selector(vs),
        Expr::MatrixSelector(ms) => selector(&ms.vs),
        Expr::Paren(p) => unsupported(&p.expr),
        Expr::Unary(u) => unsupported(&u.expr),
        Expr::Subquery(sq) => {
            if sq.step.is_none_or(|s| s.is_zero()) {
                return Some(NO_STEP_SUBQUERY.into());
            }
            unsupported(&sq.expr)
        }
        Expr::Binary(b) => {
            if b.modifier
                .as_ref()
                .is_some_and(|m| m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return Some(FILL_MODIFIERS.into());
            }
            unsupported(&b.lhs).or_else(|| unsupported(&b.rhs))
        }
        Expr::Aggregate(a) => {
            if matches!(a.op.id(), T_LIMITK | T_LIMIT_RATIO) {
                return Some(unsupported_aggregation(&a.op));
            }
            a.param
                .as_deref()
                .and_then(unsupported)
                .or_else(|| unsupported(&a.expr))
        }
        Expr::Call(c) => {
            if !SUPPORTED_FUNCTIONS.contains(&c.func.name) {
                return Some(unsupported_function(c.func.name));
            }
            c.args.args.iter().find_map(|a| unsupported(a))
        }
        Expr::Extension(e) => Some(format!(
            "extension expression \"{}\" is not supported",
            e.expr.name()
        )),
    }
}

fn selector(vs: &VectorSelector) -> Option<String> {
    (!vs.matchers.or_matchers.is_empty()).then(|| OR_MATCHERS.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(q: &str) -> Option<String> {
        unsupported(&super::super::parse(q).expect("test query parses"))
    }

    #[test]
    fn reports_unsupported_features() {
        assert_eq!(check("sum by (a) (rate(x[5m])) > 1"), None);
        assert_eq!(check("max_over_time(x[10m:1m])"), None);
        assert!(check("max_over_time(x[10m:])").is_some_and(|m| m.contains("resolution step")));
        assert!(check("sort_by_label(x, \"a\")").is_some_and(|m| m.contains("sort_by_label")));
        assert!(check("limitk(2, x)").is_some_and(|m| m.contains("limitk")));
        assert!(check("x{a=\"1\" or b=\"2\"}").is_some_and(|m| m.contains("\"or\"")));
        assert!(
            check("1 + abs(mad_over_time(x[5m]))").is_some_and(|m| m.contains("mad_over_time"))
        );
    }
}
