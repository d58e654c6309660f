//! The rule unit-test file that `promtool test rules` reads (Prometheus 2.42,
//! `cmd/promtool/unittest.go`), as serde structs, read the way promtool reads it:
//!
//! * strictly: an unknown field or a repeated key is an error (`yaml.UnmarshalStrict`);
//! * any field may be null or empty, which means its zero value (`eval_time:` is 0s,
//!   `exp_labels:` is no labels, `value:` is 0);
//! * string fields take any scalar as its text (`exp_labels: {code: 500}` is `"500"`);
//! * `value` must be a YAML number: `1`, `2.5`, `1e21`, `0x2`, `010` (octal), `1_000`, `.inf`,
//!   `-.inf`, `.nan`; quoted numbers and Go spellings such as `Inf` are rejected;
//! * durations use Prometheus's syntax ([`Duration`]).
//!
//! Defaults are promtool 2.42's: an `evaluation_interval` of 0 (or none) means 1m, but a
//! test group's `interval` has **no** default: left out it is 0s, and every input point then
//! lands at t=0 (Prometheus 2.49 made it default to `evaluation_interval`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::duration::Duration;
use super::series::{self, Labels, Point, SeriesError};

/// A whole test file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTestFile {
    /// Rule files (globs allowed), relative to the test file's folder.
    #[serde(default, deserialize_with = "yaml::strings")]
    pub rule_files: Vec<String>,
    /// How often rules are evaluated; zero means the default, see [`Self::eval_interval`].
    #[serde(default)]
    pub evaluation_interval: Duration,
    /// Rule group names in the order they are evaluated at each step.
    #[serde(default, deserialize_with = "yaml::strings")]
    pub group_eval_order: Vec<String>,
    /// The test groups.
    #[serde(default, deserialize_with = "yaml::seq")]
    pub tests: Vec<TestGroup>,
}

/// One entry of `tests`: input series and the checks run against them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    /// Spacing of the input points. Zero when left out: see [`Self::load_interval`].
    #[serde(default)]
    pub interval: Duration,
    /// The input series.
    #[serde(default, deserialize_with = "yaml::seq")]
    pub input_series: Vec<InputSeries>,
    /// Alert checks.
    #[serde(default, deserialize_with = "yaml::seq")]
    pub alert_rule_test: Vec<AlertTestCase>,
    /// PromQL checks.
    #[serde(default, deserialize_with = "yaml::seq")]
    pub promql_expr_test: Vec<PromqlTestCase>,
    /// External labels, for `$externalLabels` in templates.
    #[serde(default, deserialize_with = "yaml::string_map")]
    pub external_labels: BTreeMap<String, String>,
    /// External URL, for `$externalURL` in templates.
    #[serde(default, deserialize_with = "yaml::string")]
    pub external_url: String,
    /// A name, printed with failures.
    #[serde(default, deserialize_with = "yaml::string")]
    pub name: String,
}

/// One input series: its label set and its values in the expanding notation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    /// `name{label="value", ...}`.
    #[serde(default, deserialize_with = "yaml::string")]
    pub series: String,
    /// `1+1x3 _ stale ...`.
    #[serde(default, deserialize_with = "yaml::string")]
    pub values: String,
}

/// An alert check: the firing alerts of one alert name at one time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTestCase {
    /// Checked against the last evaluation at or before this time.
    #[serde(default)]
    pub eval_time: Duration,
    /// Required (promtool fails the group when it is empty).
    #[serde(default, deserialize_with = "yaml::string")]
    pub alertname: String,
    /// The firing alerts expected; empty for none.
    #[serde(default, deserialize_with = "yaml::seq")]
    pub exp_alerts: Vec<ExpAlert>,
}

/// One expected firing alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpAlert {
    /// Labels without `alertname` (promtool adds it).
    #[serde(default, deserialize_with = "yaml::string_map")]
    pub exp_labels: BTreeMap<String, String>,
    /// Annotations, expanded.
    #[serde(default, deserialize_with = "yaml::string_map")]
    pub exp_annotations: BTreeMap<String, String>,
}

/// A PromQL check: an instant query and the samples expected from it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromqlTestCase {
    /// The expression.
    #[serde(default, deserialize_with = "yaml::string")]
    pub expr: String,
    /// When to evaluate it.
    #[serde(default)]
    pub eval_time: Duration,
    /// The expected samples, in any order; empty for none.
    #[serde(default, deserialize_with = "yaml::seq")]
    pub exp_samples: Vec<ExpSample>,
}

/// One expected sample.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpSample {
    /// The series in metric syntax (`name{a="b"}`, `{a="b"}`, or empty for no labels).
    #[serde(default, deserialize_with = "yaml::string")]
    pub labels: String,
    /// The value. NaN never equals a result in promtool 2.42 (it compares with `==`).
    #[serde(default, deserialize_with = "yaml::float")]
    pub value: f64,
}

/// A test file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The YAML does not fit the format.
    #[error("{context}: {message}")]
    Yaml {
        /// The file, or `<input>`.
        context: String,
        /// serde-saphyr's message, with line and column.
        message: String,
    },
    /// `group_eval_order` names a group twice (promtool's wording).
    #[error("group name repeated in evaluation order: {0}")]
    RepeatedGroup(String),
    /// An `alert_rule_test` without `alertname` (promtool's wording).
    #[error("an item under alert_rule_test misses required attribute alertname at eval_time {eval_time}{}", in_group(.group))]
    MissingAlertname {
        /// The test's eval_time.
        eval_time: Duration,
        /// The test group's name, if any.
        group: String,
    },
}

fn in_group(group: &str) -> String {
    if group.is_empty() {
        String::new()
    } else {
        format!(" (in TestGroup {group})")
    }
}

/// promtool's default evaluation interval.
pub const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_millis(60_000);

impl UnitTestFile {
    /// Parses a test file's text. `context` names it in errors (a path, or `<input>`).
    pub fn from_yaml(text: &str, context: &str) -> Result<Self, FormatError> {
        let mut options = serde_saphyr::Options::default();
        // yaml.v2 reads `010` as octal and passes `.inf`/`.nan` to float fields.
        options.legacy_octal_numbers = true;
        options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::PassThrough;
        options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
        // An empty document is an empty file for yaml.v2.
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Ok(UnitTestFile::default());
        }
        serde_saphyr::from_str_with_options::<UnitTestFile>(text, options).map_err(|e| {
            FormatError::Yaml {
                context: context.to_string(),
                message: e.to_string(),
            }
        })
    }

    /// Reads and parses a test file.
    pub fn load(path: &Path) -> Result<Self, FormatError> {
        let text = std::fs::read_to_string(path).map_err(|source| FormatError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// The evaluation interval in force: `evaluation_interval`, or 1m when it is zero.
    pub fn eval_interval(&self) -> Duration {
        if self.evaluation_interval.is_zero() {
            DEFAULT_EVALUATION_INTERVAL
        } else {
            self.evaluation_interval
        }
    }

    /// The number of test cases: every `alert_rule_test` and `promql_expr_test` entry.
    pub fn case_count(&self) -> usize {
        self.tests
            .iter()
            .map(|t| t.alert_rule_test.len() + t.promql_expr_test.len())
            .sum()
    }

    /// `group_eval_order` as a position per group name. Groups not listed get position 0
    /// in promtool too (which sorts with an unstable sort, so list every group that matters).
    pub fn group_positions(&self) -> Result<BTreeMap<String, usize>, FormatError> {
        let mut order = BTreeMap::new();
        for (i, name) in self.group_eval_order.iter().enumerate() {
            if order.insert(name.clone(), i).is_some() {
                return Err(FormatError::RepeatedGroup(name.clone()));
            }
        }
        Ok(order)
    }

    /// The checks promtool makes before running a group: every alert test names an alert.
    pub fn validate(&self) -> Result<(), FormatError> {
        self.group_positions()?;
        for group in &self.tests {
            if let Some(t) = group
                .alert_rule_test
                .iter()
                .find(|t| t.alertname.is_empty())
            {
                return Err(FormatError::MissingAlertname {
                    eval_time: t.eval_time,
                    group: group.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// The rule files, relative ones joined to `base_dir` (the test file's folder) and
    /// file-name globs (`*`, `?`, `[...]`) expanded in sorted order. A pattern that matches
    /// nothing is left out, as promtool does (it prints a warning).
    pub fn rule_file_paths(&self, base_dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for rf in self.rule_files.iter().filter(|rf| !rf.is_empty()) {
            let path = base_dir.join(rf);
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.contains(['*', '?', '[']) {
                if path.exists() {
                    out.push(path);
                }
                continue;
            }
            let dir = path.parent().unwrap_or(base_dir);
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut matched: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_str().is_some_and(|n| glob_match(name, n)))
                .map(|e| e.path())
                .collect();
            matched.sort();
            out.extend(matched);
        }
        out
    }
}

/// `filepath.Match` for one path component: `*`, `?`, `[a-z]`, `[^a]`, `\` escapes.
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| glob_at(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && glob_at(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|&c| c == ']').map(|i| i + 1) else {
                return false;
            };
            let Some(&c) = n.first() else {
                return false;
            };
            let class = &p[1..close];
            let (negate, class) = match class.first() {
                Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && glob_at(&p[close + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && glob_at(&p[2..], &n[1..]),
        Some(&c) => n.first() == Some(&c) && glob_at(&p[1..], &n[1..]),
    }
}

/// One input series as promtool loads it: labels and the timestamped points.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSeries {
    /// Sorted labels, `__name__` included.
    pub labels: Labels,
    /// `(milliseconds since 0, point)`, omitted points left out.
    pub samples: Vec<(u64, Point)>,
}

impl TestGroup {
    /// The spacing of input points as promtool 2.42 uses it: `interval` as written, **0s
    /// when left out** (every point at t=0; the first one per timestamp wins in storage).
    pub fn load_interval(&self) -> Duration {
        self.interval
    }

    /// Loads the input series exactly as promtool 2.42 does: it writes a `load` command,
    /// one line `"<series> <values>"` per input series, and reads it back line by line,
    /// trimmed. So a line that is empty or starts with `#` (a `values` block scalar ending
    /// in a newline, say) silently ends the input there; a series whose labels repeat an
    /// earlier one replaces it. Errors are the parser's, as promtool prints them.
    pub fn load_series(&self) -> Result<Vec<LoadedSeries>, SeriesError> {
        let mut text = String::new();
        for s in &self.input_series {
            text.push_str(&s.series);
            text.push(' ');
            text.push_str(&s.values);
            text.push('\n');
        }
        let step = self.load_interval().as_millis();
        let mut loaded: Vec<LoadedSeries> = Vec::new();
        for line in text.split('\n').map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                break;
            }
            let (labels, points) = series::parse_series(line)?;
            let samples = points
                .into_iter()
                .enumerate()
                .filter_map(|(i, p)| p.map(|p| ((i as u64).saturating_mul(step), p)))
                .collect();
            let entry = LoadedSeries { labels, samples };
            match loaded.iter_mut().find(|l| l.labels == entry.labels) {
                Some(existing) => *existing = entry,
                None => loaded.push(entry),
            }
        }
        Ok(loaded)
    }

    /// The time of the last check of this group (promtool evaluates rules up to it).
    pub fn max_eval_time(&self) -> Duration {
        let alerts = self.alert_rule_test.iter().map(|t| t.eval_time);
        let exprs = self.promql_expr_test.iter().map(|t| t.eval_time);
        alerts.chain(exprs).max().unwrap_or(Duration::ZERO)
    }
}

impl ExpSample {
    /// The expected labels, parsed as promtool parses them (`parser.ParseMetric`).
    pub fn parsed_labels(&self) -> Result<Labels, SeriesError> {
        series::parse_metric(&self.labels)
    }
}

/// Deserializers with yaml.v2's leniency: null is the zero value, scalars read as text.
mod yaml {
    use super::*;

    /// Any scalar as its text; null as "".
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
    }

    /// A sequence of scalars; null (for the list or an element) as empty.
    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let items = Option::<Vec<Option<String>>>::deserialize(d)?.unwrap_or_default();
        Ok(items.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// A sequence; null as empty.
    pub fn seq<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }

    /// A map of scalars; null (for the map or a value) as empty.
    pub fn string_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, String>, D::Error> {
        let map = Option::<BTreeMap<String, Option<String>>>::deserialize(d)?.unwrap_or_default();
        Ok(map
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }

    /// A YAML number (int, float, `.inf`, `.nan`); null as 0; strings and booleans rejected.
    pub fn float<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        struct FloatVisitor;
        impl<'de> Visitor<'de> for FloatVisitor {
            type Value = f64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML number (use .inf, -.inf or .nan for the special values)")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
                Ok(0.0)
            }
            fn visit_none<E: de::Error>(self) -> Result<f64, E> {
                Ok(0.0)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
                Err(E::custom(format!(
                    "cannot unmarshal !!str `{v}` into float64"
                )))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<f64, E> {
                Err(E::custom(format!(
                    "cannot unmarshal !!bool `{v}` into float64"
                )))
            }
        }
        d.deserialize_any(FloatVisitor)
    }
}
