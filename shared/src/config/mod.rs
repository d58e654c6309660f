//! Configuration: one YAML file, `deny_unknown_fields` everywhere, `${VAR}` for secrets,
//! and validation that reports every problem at once with its place
//! (`poolpilot.yaml:14:5: scaler.maxReplicas (2) is below minReplicas (3)`), as vector's
//! `config/sink_validated.rs` does.
//!
//! Loading goes text → `${VAR}` expansion → serde (the first shape error, with its
//! place) → [`Validate`] (every semantic problem, placed through the [`SourceMap`]) →
//! [`Validated`], the only thing a service's `run` accepts.
//!
//! # Layout
//! - `source_map.rs`: YAML path → line:column.
//! - `env.rs`: `${VAR}` and `${VAR:-default}` expansion.
//! - `duration.rs`: durations as Prometheus writes them (`250ms`, `1h30m`).
//! - `tests.rs`.

pub mod duration;
mod env;
mod source_map;

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use source_map::SourceMap;

/// A config value whose [`Validate::validate`] found nothing wrong.
#[derive(Clone, Debug)]
pub struct Validated<T>(T);

impl<T> Validated<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Validated<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Pure checks of a config value. Implementations push every problem they find, each
/// with the YAML path of the offending field, and never do I/O.
pub trait Validate {
    /// Checks `self`, found at `path` (`""` for the document root).
    fn validate(&self, path: &str, problems: &mut Problems);
}

/// Validates a value built in code (tests, `poolpilot up` defaults).
pub fn validate<T: Validate>(value: T) -> Result<Validated<T>, ConfigError> {
    let mut problems = Problems::default();
    value.validate("", &mut problems);
    problems.into_result(value, "<value>", None)
}

/// Reads, expands, parses and validates a YAML file.
pub fn load<T: DeserializeOwned + Validate>(path: &Path) -> Result<Validated<T>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&path.display().to_string(), &text)
}

/// Expands, parses and validates YAML text; `name` is used in problem places.
pub fn parse<T: DeserializeOwned + Validate>(
    name: &str,
    text: &str,
) -> Result<Validated<T>, ConfigError> {
    let text = env::expand(text, |var| std::env::var(var).ok()).map_err(|problems| {
        ConfigError::Invalid(problems.into_iter().map(|p| p.in_file(name)).collect())
    })?;
    parse_literal(name, &text)
}

/// Parses and validates YAML text as it is, without `${VAR}` expansion: for files
/// whose own syntax uses `$` (Prometheus rule files, read literally by Prometheus).
pub fn parse_literal<T: DeserializeOwned + Validate>(
    name: &str,
    text: &str,
) -> Result<Validated<T>, ConfigError> {
    let value: T = serde_saphyr::from_str(text).map_err(|e| {
        let place = e.location().map(|l| Place {
            file: name.to_owned(),
            line: l.line() as usize,
            column: l.column() as usize,
        });
        ConfigError::Invalid(vec![Problem {
            path: String::new(),
            message: e.without_snippet().to_string(),
            place,
        }])
    })?;
    let map = SourceMap::new(text);
    let mut problems = Problems::default();
    value.validate("", &mut problems);
    problems.into_result(value, name, Some(&map))
}

/// A file position, 1-based.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The file as the user named it.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// One thing wrong with a config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The YAML path (`scaler.behavior.scaleUp.policies[0].value`); empty for the root.
    pub path: String,
    /// What is wrong, in a sentence fragment.
    pub message: String,
    /// Where, when known.
    pub place: Option<Place>,
}

impl Problem {
    fn in_file(mut self, file: &str) -> Self {
        if let Some(place) = &mut self.place {
            place.file = file.to_owned();
        }
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.place {
            write!(f, "{}:{}:{}: ", p.file, p.line, p.column)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// Records `message` about the field at `path`.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
            place: None,
        });
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn into_result<T>(
        self,
        value: T,
        file: &str,
        map: Option<&SourceMap>,
    ) -> Result<Validated<T>, ConfigError> {
        if self.0.is_empty() {
            return Ok(Validated(value));
        }
        let placed = self
            .0
            .into_iter()
            .map(|mut p| {
                p.place = map
                    .and_then(|m| m.place(&p.path))
                    .map(|(line, column)| Place {
                        file: file.to_owned(),
                        line,
                        column,
                    });
                p
            })
            .collect();
        Err(ConfigError::Invalid(placed))
    }
}

/// `parent.child`, or `child` at the root.
pub fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

/// `parent[index]`.
pub fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read but is wrong; every problem found, one per line.
    #[error("{}", display_problems(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The problems, or none for a read error.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(p) => p,
            ConfigError::Read { .. } => &[],
        }
    }
}

fn display_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
