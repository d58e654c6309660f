//! Prometheus alert templates: the subset of Go's `text/template` that
//! alerting-rule labels and annotations use, with Prometheus 2.42's
//! template functions, expanding exactly as Prometheus does.
//!
//! Prometheus (`rules/alerting.go`) prepends
//! `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}`
//! to each label/annotation value, executes it with the option
//! `missingkey=zero` (so `{{ $labels.missing }}` prints nothing), and on
//! failure stores `<error expanding template: …>` in the value; [`expand`]
//! does the same. Parse a rule's templates once with [`Template::parse`] and
//! [`Template::render`] them for every alert; a text without `{{` is kept
//! as is and renders without any work.
//!
//! Prometheus 2.42 is built with Go 1.19, whose `text/template` differs
//! from later Go in places (no `{{else with}}`, no `range` over integers,
//! `incompatible types for comparison` without the types); this module
//! follows Go 1.19, checked with Debian's `promtool` 2.42.
//!
//! # Differences from Prometheus
//!
//! - `query` is rejected when parsing (`function "query" is not supported:
//!   …`); the query-result helpers `first`, `label`, `value`, `strvalue`
//!   and `sortByLabel` exist but can only ever see an empty result.
//! - Methods of `toTime`'s `*time.Time` (`.Unix`, `.Format`…) and `%d`-like
//!   verbs on it, and complex number literals are not supported (they fail with an
//!   error). Regular expressions are the `regex` crate's: the same RE2 syntax, other
//!   error details.
//! - Limits that keep any input within a 2 MiB stack: 40 nested
//!   parentheses or blocks when parsing, execution depth 100 (Go: 100000
//!   nested template calls).
//! - Case mappings and "printable" tests use Rust's Unicode tables, which
//!   are newer than Go 1.19's.
//!
//! # Layout
//!
//! - `lex.rs`: the lexer (Go's `parse/lex.go`).
//! - `ast.rs`: parse tree nodes and their Go-style rendering.
//! - `parse.rs`: the parser (Go's `parse/parse.go`).
//! - `exec.rs`: the executor (Go's `exec.go`).
//! - `value.rs`: dynamically typed values with Go's type names and truth.
//! - `funcs.rs`: the function table and Go's builtins.
//! - `prometheus.rs`: Prometheus's functions.
//! - `regex.rs`: the `regex` crate for `match`/`reReplaceAll`.
//! - `unicase.rs`: Go's single-rune case mappings.
//! - `fmt.rs`: Go's `fmt` printing (`Sprint`, `Sprintf`).
//! - `ftoa.rs`: Go's float formatting ([`go_float`]); the crate's one
//!   `strconv.FormatFloat`.
//! - `strconv.rs`: Go's quoting and number parsing; the crate's one `%q`.
//! - `error.rs`: [`TemplateError`].
//! - `tests.rs`, `tests/go_cases.rs`: cases checked against Go and promtool.

mod ast;
mod error;
mod exec;
mod fmt;
mod ftoa;
mod funcs;
mod lex;
mod parse;
mod prometheus;
mod regex;
mod strconv;
mod unicase;
mod value;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use error::TemplateError;
pub(crate) use ftoa::format_float;
pub use ftoa::go_float;
pub(crate) use funcs::query_escape;
pub(crate) use lex::sharp_u;
pub(crate) use strconv::{quote, quote_rune, write_quoted};
pub(crate) use value::civil_from_days;

/// The variable declarations Prometheus puts before every alert template.
pub const PRELUDE: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// The data an alert template sees (Prometheus's `AlertTemplateData`).
#[derive(Debug, Clone, Copy)]
pub struct Data<'a> {
    /// The alert's labels (`.Labels`, `$labels`).
    pub labels: &'a BTreeMap<String, String>,
    /// The server's external labels (`.ExternalLabels`, `$externalLabels`).
    pub external_labels: &'a BTreeMap<String, String>,
    /// The server's external URL (`.ExternalURL`, `$externalURL`,
    /// `externalURL`, `pathPrefix`).
    pub external_url: &'a str,
    /// The alert's value (`.Value`, `$value`).
    pub value: f64,
}

/// A parsed alert label or annotation template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    text: String,
    body: Option<parse::Trees>,
}

impl Template {
    /// Parses `text` as Prometheus parses an alert label/annotation value
    /// (after its variable prelude). `name` is the template name used in
    /// error messages; Prometheus uses `__alert_` followed by the alert name.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let body = if text.contains("{{") {
            let trees = parse::parse(name, text).map_err(|e| {
                let (line, column) = error::line_column(text, e.pos);
                TemplateError::Parse {
                    name: name.to_owned(),
                    line,
                    column,
                    go_line: e.go_line,
                    message: e.message,
                }
            })?;
            Some(trees)
        } else {
            None
        };
        Ok(Template {
            name: name.to_owned(),
            text: text.to_owned(),
            body,
        })
    }

    /// The template name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the text has no actions, so it always renders to itself.
    pub fn is_static(&self) -> bool {
        self.body.is_none()
    }

    /// Executes the template for one alert.
    pub fn render(&self, data: &Data<'_>) -> Result<String, TemplateError> {
        let Some(trees) = &self.body else {
            return Ok(self.text.clone());
        };
        let mut exec = exec::Exec::new(&self.name, &self.text, trees, data);
        exec.run()?;
        Ok(exec.out)
    }

    /// Renders as Prometheus does: on error, the value becomes
    /// `<error expanding template: error executing template NAME: …>`.
    pub fn expand(&self, data: &Data<'_>) -> String {
        self.render(data).unwrap_or_else(|e| {
            format!(
                "<error expanding template: error executing template {}: {e}>",
                self.name
            )
        })
    }
}

/// Prometheus's expansion of one alert label/annotation value: parse and
/// render, and on any error the `<error expanding template: …>` text
/// Prometheus stores instead (it also logs a warning).
pub fn expand(name: &str, text: &str, data: &Data<'_>) -> String {
    match Template::parse(name, text) {
        Ok(t) => t.expand(data),
        Err(e) => format!("<error expanding template: error parsing template {name}: {e}>"),
    }
}
