//! Template errors, displayed exactly as Go's `text/template` words them.

use super::PRELUDE;

/// A parse or execution error.
///
/// `line` and `column` are 1-based and refer to the template text as given
/// (without the variable prelude Prometheus prepends); `column` counts
/// bytes. `Display` reproduces Go's message, whose execution locations do
/// count the prelude (it is on line 1) and start columns at 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a valid template: `template: NAME:LINE: MESSAGE`.
    #[error("template: {name}:{go_line}: {message}")]
    Parse {
        /// The template name.
        name: String,
        /// Line of the offending token.
        line: usize,
        /// Byte column of the offending token.
        column: usize,
        /// The line Go's message names: that of the parser's look-ahead
        /// token, which is nearly always `line`.
        go_line: usize,
        /// Go's description, e.g. `function "foo" not defined`.
        message: String,
    },
    /// Execution failed:
    /// `template: NAME:LINE:COL: executing "TEMPLATE" at <NODE>: MESSAGE`.
    #[error(
        "template: {name}:{line}:{}: executing {} at <{context}>: {message}",
        go_column(*line, *column),
        super::strconv::quote(template)
    )]
    Exec {
        /// The template name.
        name: String,
        /// Line of the node being executed.
        line: usize,
        /// Byte column of the node being executed.
        column: usize,
        /// The (possibly `define`d) template being executed.
        template: String,
        /// Go's rendering of the node being executed.
        context: String,
        /// Go's description, e.g. `error calling humanize: …`.
        message: String,
    },
}

impl TemplateError {
    /// Go's message without the `template: NAME:LINE[:COL]: ` location.
    pub fn message(&self) -> &str {
        match self {
            TemplateError::Parse { message, .. } | TemplateError::Exec { message, .. } => message,
        }
    }
}

/// Go's 0-based byte column, which counts the prelude on the first line.
fn go_column(line: usize, column: usize) -> usize {
    let col = column.saturating_sub(1);
    if line == 1 { col + PRELUDE.len() } else { col }
}

/// 1-based line and byte column of byte offset `pos` in `text`.
pub(super) fn line_column(text: &str, pos: usize) -> (usize, usize) {
    let before = text.get(..pos).unwrap_or(text);
    let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before.len() - start + 1)
}
