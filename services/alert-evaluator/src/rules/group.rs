//! A rule group: its rules evaluated in order at one time, each rule's output appended
//! to the window before the next rule runs (so later rules see earlier recordings),
//! and stale markers for the series a rule returned last time but not this time
//! (Prometheus's `rules/group.go`).

use std::path::Path;
use std::time::Duration;

use super::alerting::{Alert, AlertingRule, Change};
use super::file::{GroupSpec, RuleSpec, template_name};
use super::recording::RecordingRule;
use super::{Context, RuleError};
use crate::promql::{self, FxHashSet, Labels, STALE_NAN, Storage};
use crate::template::Template;

/// One rule of a group.
pub enum Rule {
    /// `alert:`.
    Alerting(AlertingRule),
    /// `record:`.
    Recording(RecordingRule),
}

impl Rule {
    /// The alert or record name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.name,
            Rule::Recording(r) => &r.name,
        }
    }
}

/// A group, ready to evaluate.
pub struct Group {
    /// The group's name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// How often it is evaluated.
    pub interval: Duration,
    /// The per-rule limit (0: none).
    pub limit: usize,
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// Each rule's series of the last evaluation, for stale markers.
    previous: Vec<FxHashSet<Labels>>,
}

/// What one evaluation of a group did.
#[derive(Debug, Default)]
pub struct GroupEval {
    /// Alert state changes, with the rule's name.
    pub changes: Vec<Change>,
    /// Alerts due for sending to Alertmanager (Prometheus's `sendAlerts`).
    pub due: Vec<Alert>,
    /// Rules that failed, with why.
    pub errors: Vec<(String, RuleError)>,
    /// Points the window refused (out of order or duplicate).
    pub rejected: usize,
}

impl Group {
    /// Builds a group from a checked spec (so an error here means the checks missed
    /// something; it is reported, not hidden).
    pub fn build(
        file: &Path,
        spec: &GroupSpec,
        default_interval: Duration,
    ) -> Result<Self, String> {
        let rules: Vec<Rule> = spec
            .rules
            .iter()
            .map(build_rule)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: spec.name.clone(),
            file: file.display().to_string(),
            interval: spec.interval.unwrap_or(default_interval),
            limit: spec.limit,
            previous: vec![FxHashSet::default(); rules.len()],
            rules,
        })
    }

    /// Evaluates every rule at `now`, appending results to `storage`.
    pub fn eval(&mut self, storage: &mut Storage, now: i64, ctx: &Context) -> GroupEval {
        let mut out = GroupEval::default();
        let interval_ms = self.interval.as_millis() as i64;
        for (rule, previous) in self.rules.iter_mut().zip(&mut self.previous) {
            let result = match rule {
                Rule::Alerting(r) => {
                    r.eval(storage, now, self.limit, ctx)
                        .map(|(samples, changes)| {
                            out.changes.extend(changes);
                            out.due.extend(r.due(now, ctx.resend_delay_ms, interval_ms));
                            samples
                        })
                }
                Rule::Recording(r) => r.eval(storage, now, self.limit),
            };
            let samples = match result {
                Ok(s) => s,
                Err(e) => {
                    out.errors.push((rule.name().to_owned(), e));
                    continue;
                }
            };
            let mut current = FxHashSet::default();
            current.reserve(samples.len());
            for s in samples {
                if storage.append(&s.labels, now, s.value).is_err() {
                    out.rejected += 1;
                }
                current.insert(s.labels);
            }
            for gone in previous.difference(&current) {
                if storage.append(gone, now, STALE_NAN).is_err() {
                    out.rejected += 1;
                }
            }
            *previous = current;
        }
        out
    }

    /// The group's alerting rules.
    pub fn alerting(&self) -> impl Iterator<Item = &AlertingRule> {
        self.rules.iter().filter_map(|r| match r {
            Rule::Alerting(a) => Some(a),
            Rule::Recording(_) => None,
        })
    }

    /// The group's alerting rules, to restore.
    pub fn alerting_mut(&mut self) -> impl Iterator<Item = &mut AlertingRule> {
        self.rules.iter_mut().filter_map(|r| match r {
            Rule::Alerting(a) => Some(a),
            Rule::Recording(_) => None,
        })
    }
}

fn build_rule(spec: &RuleSpec) -> Result<Rule, String> {
    let expr = promql::parse(&spec.expr)
        .map_err(|e| format!("{}: could not parse expression: {e}", spec.name()))?;
    let ms = |d: Duration| d.as_millis() as i64;
    let Some(name) = &spec.alert else {
        return Ok(Rule::Recording(RecordingRule::new(
            spec.record.clone().unwrap_or_default(),
            expr,
            spec.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )));
    };
    let parse = |map: &std::collections::BTreeMap<String, String>| {
        map.iter()
            .map(|(k, v)| {
                Template::parse(&template_name(spec), v)
                    .map(|t| (k.clone(), t))
                    .map_err(|e| format!("{name}: {k}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Rule::Alerting(AlertingRule::new(
        name.clone(),
        spec.expr.clone(),
        expr,
        ms(spec.hold),
        ms(spec.keep_firing_for),
        parse(&spec.labels)?,
        parse(&spec.annotations)?,
    )))
}
