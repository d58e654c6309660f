//! Configuration (`detectors:` in a guard template), its validation and errors.

use serde::{Deserialize, Serialize};

use super::custom;
use super::finding::{Confidence, Filter};
use super::urls::normalize_domain;

/// Which filters run, and their settings (what the user writes in YAML under a guard template).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorsConfig {
    /// Enabled built-in filters; default: all except [`Filter::UrlDeny`] (which needs domains).
    pub filters: Vec<Filter>,
    /// Domains for [`Filter::UrlDeny`]; a domain also denies its subdomains
    /// (`example.com` blocks `a.example.com`, not `notexample.com`).
    pub deny_domains: Vec<String>,
    /// User regex filters, reported as `custom:<name>`.
    pub custom: Vec<CustomRegex>,
}

impl Default for DetectorsConfig {
    fn default() -> Self {
        DetectorsConfig {
            filters: Filter::ALL
                .into_iter()
                .filter(|&f| f != Filter::UrlDeny)
                .collect(),
            deny_domains: Vec::new(),
            custom: Vec::new(),
        }
    }
}

/// A user-defined regex filter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRegex {
    /// Name; findings are reported as `custom:<name>`.
    pub name: String,
    /// Regex (Rust `regex` syntax) matched against the text.
    pub pattern: String,
    /// Confidence of every match (default `high`).
    #[serde(default = "high")]
    pub confidence: Confidence,
}

fn high() -> Confidence {
    Confidence::High
}

/// Why [`super::Detectors::new`] rejected a configuration.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A custom pattern does not compile.
    #[error("custom[{index}] {name}: bad regex: {source}")]
    BadRegex {
        /// Index in `custom`.
        index: usize,
        /// The custom filter's name.
        name: String,
        /// The compiler's error.
        source: regex::Error,
    },
    /// A deny-list entry is not a domain name.
    #[error("deny_domains[{index}]: {domain:?} is not a domain")]
    BadDomain {
        /// Index in `deny_domains`.
        index: usize,
        /// The entry as written.
        domain: String,
    },
}

impl DetectorsConfig {
    /// All problems as `(yaml path, message)`, e.g. `("custom[1].pattern", "bad regex: …")`.
    /// Empty when the configuration is usable; includes problems that
    /// [`super::Detectors::new`] tolerates (duplicates, unused or missing domains).
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (i, f) in self.filters.iter().enumerate() {
            if self.filters[..i].contains(f) {
                problems.push((
                    format!("filters[{i}]"),
                    format!("duplicate filter {}", f.name()),
                ));
            }
        }
        let url_deny = self.filters.contains(&Filter::UrlDeny);
        if url_deny && self.deny_domains.is_empty() {
            problems.push((
                "deny_domains".into(),
                "url_deny is enabled but no domains are listed".into(),
            ));
        }
        if !url_deny && !self.deny_domains.is_empty() {
            problems.push((
                "deny_domains".into(),
                "domains are listed but url_deny is not enabled".into(),
            ));
        }
        for (i, d) in self.deny_domains.iter().enumerate() {
            if normalize_domain(d).is_none() {
                problems.push((
                    format!("deny_domains[{i}]"),
                    format!("{d:?} is not a domain"),
                ));
            }
        }
        for (i, c) in self.custom.iter().enumerate() {
            let valid_name = !c.name.is_empty()
                && c.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !valid_name {
                problems.push((
                    format!("custom[{i}].name"),
                    format!("{:?}: use letters, digits, '_', '-' or '.'", c.name),
                ));
            }
            if self.custom[..i].iter().any(|o| o.name == c.name) {
                problems.push((
                    format!("custom[{i}].name"),
                    format!("duplicate name {:?}", c.name),
                ));
            }
            match custom::compile(i, c) {
                Err(DetectError::BadRegex { source, .. }) => {
                    problems.push((
                        format!("custom[{i}].pattern"),
                        format!("bad regex: {source}"),
                    ));
                }
                Ok(re) if re.is_match("") => {
                    problems.push((
                        format!("custom[{i}].pattern"),
                        "matches the empty string".into(),
                    ));
                }
                _ => {}
            }
        }
        problems
    }
}
