//! The evaluator: walks the parsed expression at one instant and dispatches
//! to selectors, functions, aggregations and binary operators.
//!
//! Subqueries are evaluated as a sequence of instant evaluations at the
//! step-aligned times Prometheus uses, which yields the same points as its
//! range evaluation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Expr, Offset, SubqueryExpr};

use super::hashing::{FxHashMap, FxHashSet};
use super::labels::Labels;
use super::selectors::{self, RangeArg};
use super::storage::Storage;
use super::value::{Sample, Series, Value};
use super::{aggregate, binary, check, functions};

/// How far back an instant selector looks for a point (Prometheus's default
/// `--query.lookback-delta`, 5m). The window is closed: `[t - 5m, t]`.
pub const LOOKBACK_MS: i64 = 300_000;

/// An evaluation failure, worded as Prometheus words it where it has one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// Two elements of a result vector have the same labels.
    #[error("vector cannot contain metrics with the same labelset")]
    DuplicateLabelset,
    /// The "one" side of a vector match has two series for one match group.
    #[error(
        "found duplicate series for the match group {group} on the {side} hand-side of the \
         operation: [{first}, {second}];many-to-many matching not allowed: matching labels must \
         be unique on one side"
    )]
    DuplicateMatchSeries {
        group: Labels,
        side: &'static str,
        first: Labels,
        second: Labels,
    },
    /// One-to-one matching found several left-hand series for one match group.
    #[error(
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    )]
    ManyToOneNotExplicit,
    /// Many-to-one matching produced the same output series twice.
    #[error("multiple matches for labels: grouping labels must ensure unique matches")]
    GroupingNotUnique,
    /// A bad argument value (regex, label name, `topk` parameter, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// Something this engine does not implement; see [`check::unsupported`].
    #[error("{0}")]
    Unsupported(String),
    /// An operand of an unexpected type (the parser normally rules this out).
    #[error("expected {expected}, got {got}")]
    WrongType {
        expected: &'static str,
        got: &'static str,
    },
}

/// Evaluates `expr` at `t_ms` as an instant query (as a rule evaluation does).
pub fn instant(storage: &Storage, expr: &Expr, t_ms: i64) -> Result<Value, EvalError> {
    Evaluator {
        storage,
        query_t: t_ms,
    }
    .eval(expr, t_ms)
}

/// Evaluation state shared by the whole expression tree.
pub(crate) struct Evaluator<'s> {
    pub(crate) storage: &'s Storage,
    /// The query's own time: what `start()` and `end()` resolve to.
    query_t: i64,
}

impl<'s> Evaluator<'s> {
    /// Evaluates `expr` at time `t`.
    pub(crate) fn eval(&self, expr: &Expr, t: i64) -> Result<Value, EvalError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => negate(self.eval(&u.expr, t)?),
            Expr::Binary(b) => binary::eval(self, b, t),
            Expr::Aggregate(a) => aggregate::eval(self, a, t),
            Expr::Call(c) => functions::call(self, c, t),
            Expr::VectorSelector(vs) => Ok(Value::Vector(selectors::instant_vector(self, vs, t)?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                Ok(Value::Matrix(self.eval_range(expr, t)?.into_series()))
            }
            Expr::Extension(_) => Err(EvalError::Unsupported(
                check::unsupported(expr).unwrap_or_else(|| "extension expressions".into()),
            )),
        }
    }

    /// Evaluates an expression that must yield an instant vector.
    pub(crate) fn eval_vector(&self, expr: &Expr, t: i64) -> Result<Vec<Sample>, EvalError> {
        match self.eval(expr, t)? {
            Value::Vector(v) => Ok(v),
            other => Err(wrong_type("vector", &other)),
        }
    }

    /// Evaluates an expression that must yield a scalar.
    pub(crate) fn eval_scalar(&self, expr: &Expr, t: i64) -> Result<f64, EvalError> {
        match self.eval(expr, t)? {
            Value::Scalar(v) => Ok(v),
            other => Err(wrong_type("scalar", &other)),
        }
    }

    /// Evaluates an expression that must yield a string.
    pub(crate) fn eval_string(&self, expr: &Expr, t: i64) -> Result<String, EvalError> {
        match self.eval(expr, t)? {
            Value::String(s) => Ok(s),
            other => Err(wrong_type("string", &other)),
        }
    }

    /// Evaluates a range-vector expression (range selector or subquery,
    /// possibly parenthesized) without copying stored points.
    pub(crate) fn eval_range(&self, expr: &Expr, t: i64) -> Result<RangeArg<'s>, EvalError> {
        match expr {
            Expr::Paren(p) => self.eval_range(&p.expr, t),
            Expr::MatrixSelector(ms) => selectors::range_vector(self, ms, t),
            Expr::Subquery(sq) => self.subquery(sq, t),
            other => Err(EvalError::WrongType {
                expected: "matrix",
                got: expr_type_name(other),
            }),
        }
    }

    /// The reference time of a selector or subquery: its `@` time (or `t`)
    /// minus its offset.
    pub(crate) fn ref_time(&self, at: Option<&AtModifier>, offset: Option<&Offset>, t: i64) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Start | AtModifier::End) => self.query_t,
            Some(AtModifier::At(st)) => system_time_ms(*st),
        };
        let off = match offset {
            None => 0,
            Some(Offset::Pos(d)) => duration_ms(*d),
            Some(Offset::Neg(d)) => -duration_ms(*d),
        };
        base - off
    }

    /// Runs the inner expression at every step-aligned time in
    /// `[end - range, end]` and collects the results into series.
    fn subquery(&self, sq: &SubqueryExpr, t: i64) -> Result<RangeArg<'s>, EvalError> {
        let Some(step) = sq.step.map(duration_ms).filter(|&s| s > 0) else {
            return Err(EvalError::Unsupported(check::NO_STEP_SUBQUERY.into()));
        };
        let end = self.ref_time(sq.at.as_ref(), sq.offset.as_ref(), t);
        let range = duration_ms(sq.range);
        // Same alignment arithmetic as Prometheus (Go's truncating division).
        let mut start = step * ((end - range) / step);
        if start < end - range {
            start += step;
        }
        let mut series: Vec<Series> = Vec::new();
        let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
        let mut ts = start;
        while ts <= end {
            for s in self.eval_vector(&sq.expr, ts)? {
                let i = *index.entry(s.labels.clone()).or_insert_with(|| {
                    series.push(Series {
                        labels: s.labels,
                        points: Vec::new(),
                    });
                    series.len() - 1
                });
                series[i].points.push((ts, s.value));
            }
            ts += step;
        }
        Ok(RangeArg::from_series(series, end, range))
    }
}

/// Unary minus: negates values and drops the metric name.
fn negate(v: Value) -> Result<Value, EvalError> {
    match v {
        Value::Scalar(x) => Ok(Value::Scalar(-x)),
        Value::Vector(mut v) => {
            for s in &mut v {
                s.labels = s.labels.without_name();
                s.value = -s.value;
            }
            check_unique(&v)?;
            Ok(Value::Vector(v))
        }
        other => Err(wrong_type("scalar or vector", &other)),
    }
}

/// Fails with Prometheus's error if two samples share a label set.
pub(crate) fn check_unique(v: &[Sample]) -> Result<(), EvalError> {
    let unique = match v {
        [] | [_] => true,
        [a, b] => a.labels != b.labels,
        _ => {
            let mut seen: FxHashSet<&Labels> = FxHashSet::default();
            seen.reserve(v.len());
            v.iter().all(|s| seen.insert(&s.labels))
        }
    };
    if unique {
        Ok(())
    } else {
        Err(EvalError::DuplicateLabelset)
    }
}

pub(crate) fn wrong_type(expected: &'static str, got: &Value) -> EvalError {
    EvalError::WrongType {
        expected,
        got: got.type_name(),
    }
}

/// The PromQL type name of what `e` evaluates to.
fn expr_type_name(e: &Expr) -> &'static str {
    use promql_parser::parser::value::ValueType;
    match e.value_type() {
        ValueType::Vector => "vector",
        ValueType::Scalar => "scalar",
        ValueType::Matrix => "matrix",
        ValueType::String => "string",
    }
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn system_time_ms(st: SystemTime) -> i64 {
    match st.duration_since(UNIX_EPOCH) {
        Ok(d) => duration_ms(d),
        Err(e) => -duration_ms(e.duration()),
    }
}
