//! A PromQL evaluation engine that agrees with Prometheus 2.42 for instant
//! queries (the kind rule evaluation runs) over an in-memory float storage.
//! Parsing is done by the `promql-parser` crate.
//!
//! ```ignore
//! // (`ignore`: the crate path differs once embedded; `tests::usage_example`
//! // runs the same code.)
//! use crate::promql::{instant, parse, Labels, Storage, Value};
//!
//! let mut storage = Storage::new();
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "api")]);
//! storage.append(&up, 0, 1.0)?;
//! let expr = parse("up == 1")?;
//! if let Value::Vector(v) = instant(&storage, &expr, 60_000)? {
//!     assert_eq!(v[0].labels, up);
//! }
//! ```
//!
//! # Layout
//!
//! - `labels`: [`Labels`], immutable sorted label sets (`__name__` kept apart).
//! - `storage`: [`Storage`], series by label set and by metric name.
//! - `chunks`: a series' points in fixed-size chunks; time-window views.
//! - `value`: [`Value`], [`Sample`], [`Series`].
//! - `eval`: [`instant`], [`EvalError`], the expression walker, subqueries.
//! - `selectors`: instant and range selectors, range-vector plumbing.
//! - `functions`: call dispatch and element-wise/vector functions.
//! - `rate`, `over_time`, `histogram`, `label_fns`, `date_fns`: function groups.
//! - `aggregate`: aggregation operators.
//! - `binary`: binary operators and vector matching.
//! - `check`: [`unsupported`], the load-time feature check.
//! - `gomath`, `golibm`: Go `math`/`strconv` behaviour the results depend on.
//! - `hashing`: a fast hasher for internal maps.
//! - `tests`: what promtool cannot check (errors, NaN, matrices, storage); the
//!   promtool-verified cases are `testdata/promql/*.test.yaml`, run by `unittest`.
//!
//! # Fidelity
//!
//! Results are meant to be bit-identical to Prometheus 2.42 (promtool): Go's
//! `Exp`/`Log`/`Pow`/`Atan2`/`Max`/`Min` are ported (`golibm`, `gomath`).
//! Known differences: trigonometric/hyperbolic functions use Rust's libm
//! (may differ in the last bit); regex classes `\d`, `\w`, `\s`, `\b` are
//! Unicode-aware in Rust but ASCII-only in Go (only matters for non-ASCII
//! label values); native histograms do not exist here.

mod aggregate;
mod binary;
mod check;
mod chunks;
mod date_fns;
mod eval;
mod functions;
mod golibm;
mod gomath;
mod hashing;
mod histogram;
mod label_fns;
mod labels;
mod over_time;
mod rate;
mod selectors;
mod storage;
mod value;

#[cfg(test)]
mod tests;

pub use check::unsupported;
pub use eval::{EvalError, LOOKBACK_MS, instant};
pub(crate) use hashing::{FxHashMap, FxHashSet};
pub use labels::Labels;
pub(crate) use labels::{is_valid_label_name, label_set_string};
pub use promql_parser::parser::Expr;
pub use storage::{AppendError, STALE_NAN, Storage, is_stale};
pub use value::{Sample, Series, Value};

/// Parses a PromQL expression (wraps `promql_parser::parser::parse`).
pub fn parse(expr: &str) -> Result<promql_parser::parser::Expr, String> {
    promql_parser::parser::parse(expr)
}
