//! `match` and `reReplaceAll` on the `regex` crate: RE2 syntax, as Go's `regexp`,
//! linear time. Leftmost-first matching and `$1`/`${name}` expansion are the same as
//! Go's; the text after `error parsing regexp: ` is the crate's, not Go's, and the
//! crate accepts a few things Go 1.19 refuses (`(?<name>…)` is refused here as Go does).

use std::fmt;

/// A pattern that did not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error parsing regexp: {}", self.0)
    }
}

/// A compiled regular expression.
#[derive(Debug, Clone)]
pub(super) struct Regex(regex::Regex);

impl Regex {
    /// Compiles `pattern`.
    pub(super) fn new(pattern: &str) -> Result<Regex, Error> {
        if pattern.contains("(?<") {
            return Err(Error(
                "invalid or unsupported Perl syntax: `(?<`".to_owned(),
            ));
        }
        regex::Regex::new(pattern).map(Regex).map_err(|e| {
            // The crate's message ends with a line `error: <what>`.
            let text = e.to_string();
            let what = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(&text);
            Error(format!("{what}: `{pattern}`"))
        })
    }

    /// Whether `text` contains a match (Go's `MatchString`).
    pub(super) fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }

    /// Go's `ReplaceAllString`.
    pub(super) fn replace_all(&self, text: &str, replacement: &str) -> String {
        self.0.replace_all(text, replacement).into_owned()
    }
}
