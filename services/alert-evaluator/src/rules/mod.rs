//! Rule files: loading and checking them (`file.rs`), and evaluating their groups as
//! Prometheus's rule manager does (`group.rs`, `alerting.rs`, `recording.rs`).
//!
//! **Invariant:** nothing here reads the clock or touches the bus: every evaluation
//! takes its time as an argument and returns what happened.
//!
//! # Layout
//! - `file.rs`: the YAML shape and its checks, placed at file:line:column.
//! - `group.rs`: a group's rules in order, its results appended to the window, stale
//!   markers for series that stopped.
//! - `alerting.rs`: alert states, `ALERTS`, what is due for sending.
//! - `recording.rs`: recorded series.

mod alerting;
mod file;
mod group;
mod recording;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use alerting::{Alert, AlertingRule, Change, RESOLVED_RETENTION_MS, State};
pub use file::{GroupSpec, RuleFile, RuleSpec};
pub use group::{Group, GroupEval, Rule};
pub use recording::RecordingRule;

use crate::promql::{self, Labels, Sample, Storage, Value};
use shared::config::ConfigError;

/// What an evaluation needs besides the window.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// `external_labels`, for `$externalLabels` and for sent alerts.
    pub external_labels: &'a BTreeMap<String, String>,
    /// `external_url`, for `$externalURL` and generator URLs.
    pub external_url: &'a str,
    /// How long before a firing alert is sent again.
    pub resend_delay_ms: i64,
}

/// Why a rule produced nothing this time.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// PromQL evaluation failed.
    #[error(transparent)]
    Eval(#[from] promql::EvalError),
    /// The expression is neither a vector nor a scalar.
    #[error("rule result is not a vector or scalar")]
    NotVector,
    /// Two results got the same labels once the rule's labels were applied.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlert,
    /// Two recorded series got the same labels.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateSeries,
    /// The group's `limit` was exceeded.
    #[error("exceeded limit of {limit} with {found} {what}")]
    Limit {
        /// The limit.
        limit: usize,
        /// How many there were.
        found: usize,
        /// `alerts` or `series`.
        what: &'static str,
    },
}

/// Rule files that could not be loaded: every problem, each with file:line:column.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct LoadError(pub Vec<String>);

/// Loads and checks `paths`; groups without an `interval` get `default_interval`.
pub fn load(paths: &[PathBuf], default_interval: Duration) -> Result<Vec<Group>, LoadError> {
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match read(path) {
            Ok(file) => {
                for g in &file.groups {
                    match Group::build(path, g, default_interval) {
                        Ok(g) => groups.push(g),
                        Err(e) => errors.push(format!("{}: {e}", path.display())),
                    }
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(LoadError(errors))
    }
}

/// Reads and checks one rule file.
pub fn read(path: &Path) -> Result<RuleFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(shared::config::parse_literal::<RuleFile>(&path.display().to_string(), &text)?.into_inner())
}

/// The expression's result as a vector: a scalar becomes one sample without labels,
/// as Prometheus's `EngineQueryFunc` does.
fn query(storage: &Storage, expr: &promql::Expr, now: i64) -> Result<Vec<Sample>, RuleError> {
    match promql::instant(storage, expr, now)? {
        Value::Vector(v) => Ok(v),
        Value::Scalar(value) => Ok(vec![Sample {
            labels: Labels::from_pairs(std::iter::empty::<(String, String)>()),
            value,
        }]),
        Value::String(_) | Value::Matrix(_) => Err(RuleError::NotVector),
    }
}

/// `poolpilot rules check`: promtool's report for each file, and whether all passed.
pub fn check_files(paths: &[PathBuf]) -> (String, bool) {
    use std::fmt::Write;
    let mut out = String::new();
    let mut ok = true;
    for path in paths {
        let _ = writeln!(out, "Checking {}", path.display());
        match read(path) {
            Ok(file) => {
                let n: usize = file.groups.iter().map(|g| g.rules.len()).sum();
                let _ = writeln!(out, "  SUCCESS: {n} rules found\n");
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "  FAILED:");
                let _ = writeln!(out, "{e}\n");
            }
        }
    }
    (out, ok)
}
