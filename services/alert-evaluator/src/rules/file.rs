//! A Prometheus rule file as the user writes it (`groups:` of alerting and recording
//! rules, Prometheus's `rulefmt`), and its checks: every problem `promtool check rules`
//! would report, placed at file:line:column.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, index, join};

use crate::{promql, template};

/// A rule file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The groups, evaluated independently.
    pub groups: Vec<GroupSpec>,
}

/// A group: rules evaluated in order at one interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Unique within the file.
    pub name: String,
    /// How often; the evaluator's `interval` when absent.
    #[serde(default, with = "optional_duration")]
    pub interval: Option<Duration>,
    /// At most this many alerts or series per rule; 0 for no limit.
    #[serde(default)]
    pub limit: usize,
    /// The rules, in evaluation order.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}

/// An alerting rule (`alert`) or a recording rule (`record`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The recorded series' name.
    #[serde(default)]
    pub record: Option<String>,
    /// The alert's name.
    #[serde(default)]
    pub alert: Option<String>,
    /// The PromQL expression.
    #[serde(default)]
    pub expr: String,
    /// How long the expression must hold before the alert fires.
    #[serde(default, rename = "for", with = "duration")]
    pub hold: Duration,
    /// How long a firing alert keeps firing after the expression stops holding.
    #[serde(default, with = "duration")]
    pub keep_firing_for: Duration,
    /// Labels added to the result (templates for alerts).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the alert (templates).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl RuleSpec {
    /// The alert or record name.
    pub fn name(&self) -> &str {
        self.alert
            .as_deref()
            .or(self.record.as_deref())
            .unwrap_or("")
    }
}

impl Validate for RuleFile {
    fn validate(&self, path: &str, problems: &mut Problems) {
        let mut names = HashSet::new();
        for (i, g) in self.groups.iter().enumerate() {
            let at = index(&join(path, "groups"), i);
            if g.name.is_empty() {
                problems.push(join(&at, "name"), "group name must not be empty");
            } else if !names.insert(&g.name) {
                problems.push(
                    join(&at, "name"),
                    format!("group name \"{}\" is repeated in the same file", g.name),
                );
            }
            if g.interval.is_some_and(|i| i.is_zero()) {
                problems.push(join(&at, "interval"), "must be above 0");
            }
            for (j, r) in g.rules.iter().enumerate() {
                r.validate(&index(&join(&at, "rules"), j), problems);
            }
        }
    }
}

impl Validate for RuleSpec {
    fn validate(&self, path: &str, problems: &mut Problems) {
        match (&self.record, &self.alert) {
            (Some(_), Some(_)) => {
                problems.push(path, "only one of 'record' and 'alert' must be set");
            }
            (None, None) => problems.push(path, "one of 'record' or 'alert' must be set"),
            (Some(record), None) => {
                if !is_metric_name(record) {
                    problems.push(
                        join(path, "record"),
                        format!("invalid recording rule name: {record}"),
                    );
                }
                for (field, set) in [
                    ("annotations", !self.annotations.is_empty()),
                    ("for", !self.hold.is_zero()),
                    ("keep_firing_for", !self.keep_firing_for.is_zero()),
                ] {
                    if set {
                        problems.push(
                            join(path, field),
                            format!("invalid field '{field}' in recording rule"),
                        );
                    }
                }
            }
            (None, Some(alert)) => {
                if alert.is_empty() {
                    problems.push(join(path, "alert"), "alert name must not be empty");
                }
            }
        }
        if self.expr.trim().is_empty() {
            problems.push(join(path, "expr"), "field 'expr' must be set in rule");
        } else {
            match promql::parse(&self.expr) {
                Err(e) => problems.push(
                    join(path, "expr"),
                    format!("could not parse expression: {}", e.trim()),
                ),
                Ok(expr) => {
                    if let Some(why) = promql::unsupported(&expr) {
                        problems.push(join(path, "expr"), why);
                    }
                }
            }
        }
        for (name, value) in &self.labels {
            let at = join(&join(path, "labels"), name);
            if !promql::is_valid_label_name(name) || name == "__name__" {
                problems.push(&at, format!("invalid label name: {name}"));
            }
            if self.alert.is_some()
                && let Err(e) = template::Template::parse(&template_name(self), value)
            {
                problems.push(&at, format!("label {name}: {e}"));
            }
        }
        for (name, value) in &self.annotations {
            let at = join(&join(path, "annotations"), name);
            if !promql::is_valid_label_name(name) {
                problems.push(&at, format!("invalid annotation name: {name}"));
            }
            if let Err(e) = template::Template::parse(&template_name(self), value) {
                problems.push(&at, format!("annotation {name}: {e}"));
            }
        }
    }
}

/// The name Prometheus gives a rule's templates (`__alert_<name>`).
pub fn template_name(rule: &RuleSpec) -> String {
    format!("__alert_{}", rule.name())
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `Option<Duration>` written as a Prometheus duration.
mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| shared::config::duration::parse(&s).map_err(serde::de::Error::custom))
            .transpose()
    }

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&shared::config::duration::format(*d)),
            None => s.serialize_none(),
        }
    }
}
