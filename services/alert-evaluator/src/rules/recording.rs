//! A recording rule: the expression's result stored under a new name
//! (Prometheus's `rules/recording.go`).

use std::collections::HashSet;

use super::{RuleError, query};
use crate::promql::{self, Labels, Sample, Storage};

/// A recording rule, parsed.
pub struct RecordingRule {
    /// The `record` name.
    pub name: String,
    expr: promql::Expr,
    labels: Vec<(String, String)>,
}

impl RecordingRule {
    /// A rule from its parts.
    pub fn new(name: String, expr: promql::Expr, labels: Vec<(String, String)>) -> Self {
        Self { name, expr, labels }
    }

    /// The series to record at `now`: the result renamed, with the rule's labels set
    /// (an empty value removes the label).
    pub fn eval(
        &self,
        storage: &Storage,
        now: i64,
        limit: usize,
    ) -> Result<Vec<Sample>, RuleError> {
        let result = query(storage, &self.expr, now)?;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(result.len());
        for sample in result {
            let labels = Labels::from_pairs(
                sample
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "__name__")
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .chain(self.labels.iter().cloned())
                    .chain([("__name__".to_owned(), self.name.clone())]),
            );
            if !seen.insert(labels.clone()) {
                return Err(RuleError::DuplicateSeries);
            }
            out.push(Sample {
                labels,
                value: sample.value,
            });
        }
        if limit > 0 && out.len() > limit {
            return Err(RuleError::Limit {
                limit,
                found: out.len(),
                what: "series",
            });
        }
        Ok(out)
    }
}
