//! Our own zero-copy parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0
//! (DESIGN §10: `prometheus-parse` drops every name with a `:`, all of vLLM's, and
//! never reports an error).
//!
//! [`parse`] yields one [`Entry`] or [`ParseError`] per meaningful line; [`parse_all`]
//! collects a body into samples typed by their family's `# TYPE` plus the malformed
//! lines. Names, label text and HELP text borrow the body; a label value is copied only
//! when a caller reads it and it has an escape. A malformed line is an error with its
//! 1-based number and is skipped: the lines after it still parse. No input panics.
//!
//! Accepted beyond the letter of the formats, as Go's `expfmt` accepts it: blanks
//! (spaces, tabs) around every token, leading blanks, `\r\n`, a trailing comma in a
//! label set, `# HELP name` with no text, `NaN`/`Inf` in any case; OpenMetrics'
//! `# EOF`, `# UNIT`, exemplars and types in either format. Not accepted:
//! Prometheus 3's quoted UTF-8 names (`{"my.metric"}`).
//!
//! # Layout
//! - `entry.rs`: [`Entry`], [`MetricType`], [`Format`]: what a line means.
//! - `sample.rs`: [`Sample`] and its lazy [`Labels`], unescaping.
//! - `error.rs`: [`ParseError`] and [`ErrorKind`].
//! - `scan.rs`: byte classes, blanks, names, quoted values.
//! - `swar.rs`: the same scans eight bytes at a time.
//! - `line.rs`: the grammar of one line.
//! - `parser.rs`: [`Parser`]: lines, line numbers, `# EOF`.
//! - `scrape.rs`: [`Scrape`]: a whole body, samples typed by family.
//! - `tests/`: rules, errors, the real captures, a differential test against
//!   `prometheus-parse`, and proptest fuzzing.

mod entry;
mod error;
mod line;
mod parser;
mod sample;
mod scan;
mod scrape;
mod swar;

#[cfg(test)]
mod tests;

pub use entry::{Entry, Format, MetricType};
pub use error::{ErrorKind, ParseError};
pub use parser::Parser;
pub use sample::{Labels, Sample};
pub use scrape::Scrape;

/// Parses `body` line by line, in the format [`Format::detect`] finds.
pub fn parse(body: &str) -> Parser<'_> {
    Parser::new(body, Format::detect(body))
}

/// Parses `body` line by line in `format`, for a caller that knows it from the
/// `Content-Type` ([`Format::from_content_type`]).
pub fn parse_as(body: &str, format: Format) -> Parser<'_> {
    Parser::new(body, format)
}

/// All of `body`: typed samples and malformed lines, in the format
/// [`Format::detect`] finds.
pub fn parse_all(body: &str) -> Scrape<'_> {
    Scrape::from_parser(parse(body))
}

/// All of `body` in `format`.
pub fn parse_all_as(body: &str, format: Format) -> Scrape<'_> {
    Scrape::from_parser(parse_as(body, format))
}
