//! What a malformed line is reported as. Errors are values: the parser skips the line
//! and goes on, so one bad exporter line costs one series, not the scrape.

/// One malformed line: the caller counts these and logs the first, and the rest of the
/// body is still used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line number in the body, so an operator can find the line with `sed -n`.
    pub line: usize,
    /// What is wrong with it.
    pub kind: ErrorKind,
}

/// What is wrong with a line. Offending text is quoted, cut to 64 characters.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// A sample or a `# HELP`/`# TYPE`/`# UNIT` line names no valid metric
    /// (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    #[error("invalid metric name {0:?}")]
    InvalidMetricName(String),
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name {0:?}")]
    InvalidLabelName(String),
    /// A label name is not followed by `=`.
    #[error("label {0}: expected `=` after the name")]
    ExpectedEquals(String),
    /// A label's `=` is not followed by `"`.
    #[error("label {0}: expected `\"` to open the value")]
    ExpectedQuote(String),
    /// A label value runs to the end of the line.
    #[error("label {0}: the value has no closing quote")]
    UnterminatedValue(String),
    /// A backslash in a label value is followed by something other than `\`, `"`, `n`.
    #[error("label {label}: invalid escape `\\{escape}` (only `\\\\`, `\\\"` and `\\n`)")]
    InvalidEscape {
        /// The label whose value holds it.
        label: String,
        /// The character after the backslash.
        escape: char,
    },
    /// Something other than `,` or `}` follows a label value.
    #[error("label {0}: expected `,` or `}}` after the value")]
    ExpectedCommaOrBrace(String),
    /// The line ends inside `{…}`.
    #[error("the label set has no closing `}}`")]
    UnclosedLabels,
    /// A label name appears twice in one set: which value is meant is undefined.
    #[error("label {0} appears twice")]
    DuplicateLabel(String),
    /// A sample line ends before its value.
    #[error("sample {0} has no value")]
    MissingValue(String),
    /// The value is not a float (`NaN`, `+Inf`, `-Inf` and exponents are fine).
    #[error("invalid value {0:?}")]
    InvalidValue(String),
    /// The timestamp is not what the format says: integer milliseconds in the text
    /// format, seconds (fractions allowed) in OpenMetrics.
    #[error("invalid timestamp {0:?} (expected {1})")]
    InvalidTimestamp(String, &'static str),
    /// Text follows the timestamp that is not an exemplar (` # {…} value`).
    #[error("unexpected text {0:?} after the sample")]
    TrailingText(String),
    /// An exemplar after ` # ` is malformed.
    #[error("exemplar: {0}")]
    Exemplar(Box<ErrorKind>),
    /// An exemplar's ` # ` is not followed by a label set.
    #[error("expected `{{` to open the label set")]
    ExpectedLabels,
    /// `# HELP`, `# TYPE` or `# UNIT` with nothing after it.
    #[error("{0} line has no metric name")]
    MissingFamily(&'static str),
    /// `# TYPE name` without a type.
    #[error("TYPE line for {0} has no type")]
    MissingType(String),
    /// `# TYPE name kind` where `kind` is not one we know.
    #[error("unknown metric type {kind:?} for {family}")]
    UnknownType {
        /// The family named on the line.
        family: String,
        /// The word we did not recognise.
        kind: String,
    },
    /// HELP text with a backslash followed by something other than `\`, `"`, `n`.
    #[error("invalid escape `\\{0}` in HELP text (only `\\\\`, `\\\"` and `\\n`)")]
    InvalidHelpEscape(char),
    /// HELP text whose last character is a lone backslash: nothing follows it to escape.
    #[error("HELP text ends with a lone backslash")]
    HelpEndsInBackslash,
    /// A second `# TYPE` line for one family (as Go's parser, the first one counts).
    #[error("second TYPE line for {0}")]
    DuplicateType(String),
    /// A line after `# EOF`: OpenMetrics says the exposition ends there.
    #[error("text after `# EOF`")]
    TextAfterEof,
    /// An OpenMetrics body without its `# EOF`: it was cut short.
    #[error("the body ends without `# EOF`")]
    MissingEof,
}
