//! Series descriptions of promtool's `input_series`: a label set such as
//! `name{a="b"}` followed by values in the expanding notation (`1+1x3`, `_x2`, `stale`).
//!
//! This is a port of Prometheus 2.42's `parser.ParseSeriesDesc` (the lexer in
//! `promql/parser/lex.go` in series-description mode and the `series_description` rules of
//! `generated_parser.y`), including its error messages and positions, and of
//! `parser.ParseMetric` (used for `exp_samples` labels).
//!
//! promtool joins each input series into one line, `"<series> <values>"`, and parses that
//! line; [`parse_series`] takes such a line. [`parse_selector`] and [`parse_values`] parse
//! the two halves on their own. Expansion rules, as in 2.42:
//!
//! | notation | points |
//! |---|---|
//! | `a` | `a` |
//! | `axN` | N+1 times `a` |
//! | `a+bxN`, `a-bxN` | N+1 points `a, a±b, …`, accumulated by repeated addition |
//! | `_` | one omitted point |
//! | `_xN` | N omitted points (not N+1) |
//! | `stale` | a stale marker |
//!
//! Numbers are decimal (`1`, `-2.5`, `.5`, `1.`, `1e3`), `Inf`/`NaN` in any case; an
//! integer with a leading zero is octal (`010` = 8), and `0x10` is `0` repeated 11 times
//! (`x` is the repetition operator, hexadecimal does not exist here).

use std::fmt;

use crate::template::{self, go_float, quote as go_quote};

/// The value of one point of an input series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Point {
    /// A sample value.
    Value(f64),
    /// A stale marker (Prometheus's special NaN): the series ends here until its next sample.
    Stale,
}

/// Labels of a series, sorted by name (stable for repeated names), `__name__` included.
pub type Labels = Vec<(String, String)>;

/// A parsed series description: its labels and its points; `None` is an omitted point (`_`).
pub type SeriesDesc = (Labels, Vec<Option<Point>>);

/// The label name holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// Upper bound on the number of points one description may expand to. promtool has none
/// (and loops forever on a repetition count that overflows `u64`); a service must not.
pub const MAX_POINTS: u64 = 1 << 22;

/// A series description that does not parse.
///
/// Displays as promtool prints it: `line:column: parse error: message`, where the column is
/// the 1-based byte offset in the parsed text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: parse error: {message}")]
pub struct SeriesError {
    /// 1-based line (input with newlines only).
    pub line: usize,
    /// 1-based byte column within the line.
    pub column: usize,
    /// The message, worded as Prometheus 2.42 words it.
    pub message: String,
}

impl SeriesError {
    fn at(input: &str, pos: usize, message: String) -> Self {
        let pos = pos.min(input.len());
        let before = &input.as_bytes()[..pos];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = match before.iter().rposition(|&b| b == b'\n') {
            Some(nl) => pos - nl,
            None => pos + 1,
        };
        SeriesError {
            line,
            column,
            message,
        }
    }
}

/// Parses one promtool load line, `"<series> <values>"`, as `ParseSeriesDesc` does.
///
/// ```ignore
/// let (labels, points) = parse_series(r#"up{job="api"} 1+1x2 _ stale"#)?;
/// assert_eq!(labels[0], ("__name__".to_string(), "up".to_string()));
/// assert_eq!(points.len(), 5);
/// assert_eq!(points[4], Some(Point::Stale));
/// ```
pub fn parse_series(desc: &str) -> Result<SeriesDesc, SeriesError> {
    Parser::new(desc, true).series_description()
}

/// Parses the `series` field alone (`name{a="b"}`, `{__name__="x"}`, `name`).
///
/// The text must be a complete label set: anything after it but spaces is an error.
pub fn parse_selector(series: &str) -> Result<Labels, SeriesError> {
    Parser::new(series, true).selector_only()
}

/// Parses the `values` field alone, as promtool would after a label set.
///
/// Error columns count within `values`.
pub fn parse_values(values: &str) -> Result<Vec<Option<Point>>, SeriesError> {
    // A label set is needed for the lexer to enter value mode: `{}` plus one space.
    const PREFIX: &str = "{} ";
    let line = format!("{PREFIX}{values}");
    match parse_series(&line) {
        Ok((_, points)) => Ok(points),
        Err(e) if e.line == 1 && e.column > PREFIX.len() => Err(SeriesError {
            column: e.column - PREFIX.len(),
            ..e
        }),
        Err(e) => Err(e),
    }
}

/// Parses a metric with its labels as `parser.ParseMetric` does (the `labels` of an
/// `exp_samples` entry): `name{a="b"}`, `{a="b"}`, `name` or the empty string.
pub fn parse_metric(text: &str) -> Result<Labels, SeriesError> {
    Parser::new(text, false).metric_only()
}

/// Formats labels as Prometheus's `labels.Labels.String()`: `{__name__="x", a="b"}`.
pub fn labels_to_string(labels: &[(String, String)]) -> String {
    crate::promql::label_set_string(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

// ---------------------------------------------------------------------------------------
// Lexer: a port of lex.go, restricted to what a series description or a metric can reach.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    Error,
    Comment,
    Space,
    Comma,
    LeftBrace,
    RightBrace,
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Colon,
    Eql,
    Blank,
    Times,
    Str,
    Identifier,
    MetricIdentifier,
    Number,
    Duration,
    /// `+ - * / % ^ == != <= < >= > =~ !~ @ and or unless atan2`.
    Operator,
    /// `sum avg count min max group stddev stdvar topk bottomk count_values quantile`.
    Aggregator,
    /// `offset by without on ignoring group_left group_right bool`.
    Keyword,
    /// `start end`.
    Preprocessor,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// Lower-cased keyword / operator spelling, to tell tokens of one kind apart.
    op: &'static str,
    pos: usize,
    val: String,
}

impl Token {
    /// `Item.desc()` of lex.go.
    fn desc(&self) -> String {
        match self.kind {
            Kind::Eof => "end of input".to_string(),
            Kind::Error => format!("error {}", self.val),
            Kind::Identifier => format!("identifier {}", go_quote(&self.val)),
            Kind::MetricIdentifier => format!("metric identifier {}", go_quote(&self.val)),
            Kind::Str => format!("string {}", short_quote(&self.val)),
            Kind::Number => format!("number {}", short_quote(&self.val)),
            Kind::Duration => format!("duration {}", short_quote(&self.val)),
            Kind::Comment => format!("comment {}", short_quote(&self.val)),
            Kind::Operator if self.op == "@" => {
                // AT is an operator without an entry in ItemTypeStr: Go prints its
                // token number (57385 in 2.42) before the item.
                format!("\"<Item 57385>\" <op:{}>", self.val)
            }
            Kind::Operator => format!("<op:{}>", self.val),
            Kind::Aggregator => format!("<aggr:{}>", self.val),
            Kind::Keyword => format!("<{}>", self.val),
            _ => short_quote(&self.val),
        }
    }
}

/// `%q`, or `%.10q...` for values over 10 bytes (the Go code checks bytes, cuts runes).
fn short_quote(s: &str) -> String {
    if s.len() > 10 {
        let cut: String = s.chars().take(10).collect();
        format!("{}...", go_quote(&cut))
    } else {
        go_quote(s)
    }
}

const KEYWORDS: &[(&str, Kind)] = &[
    ("and", Kind::Operator),
    ("or", Kind::Operator),
    ("unless", Kind::Operator),
    ("atan2", Kind::Operator),
    ("sum", Kind::Aggregator),
    ("avg", Kind::Aggregator),
    ("count", Kind::Aggregator),
    ("min", Kind::Aggregator),
    ("max", Kind::Aggregator),
    ("group", Kind::Aggregator),
    ("stddev", Kind::Aggregator),
    ("stdvar", Kind::Aggregator),
    ("topk", Kind::Aggregator),
    ("bottomk", Kind::Aggregator),
    ("count_values", Kind::Aggregator),
    ("quantile", Kind::Aggregator),
    ("offset", Kind::Keyword),
    ("by", Kind::Keyword),
    ("without", Kind::Keyword),
    ("on", Kind::Keyword),
    ("ignoring", Kind::Keyword),
    ("group_left", Kind::Keyword),
    ("group_right", Kind::Keyword),
    ("bool", Kind::Keyword),
    ("start", Kind::Preprocessor),
    ("end", Kind::Preprocessor),
    ("inf", Kind::Number),
    ("nan", Kind::Number),
];

/// Words that may name a metric (`metric_identifier` in the grammar).
fn is_metric_identifier(tok: &Token) -> bool {
    match tok.kind {
        Kind::Identifier | Kind::MetricIdentifier | Kind::Aggregator | Kind::Preprocessor => true,
        Kind::Operator => matches!(tok.op, "and" | "or" | "unless"),
        Kind::Keyword => matches!(tok.op, "by" | "offset" | "without"),
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Statements,
    InsideBraces,
    ValueSequence,
    KeywordOrIdentifier,
    Done,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    width: usize,
    state: State,
    series_desc: bool,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    paren_depth: i64,
    string_open: char,
}

const EOF_CH: Option<char> = None;

fn is_space(c: Option<char>) -> bool {
    matches!(c, Some(' ' | '\t' | '\n' | '\r'))
}
fn is_digit(c: Option<char>) -> bool {
    matches!(c, Some('0'..='9'))
}
fn is_alpha(c: Option<char>) -> bool {
    matches!(c, Some('_' | 'a'..='z' | 'A'..='Z'))
}
fn is_alnum(c: Option<char>) -> bool {
    is_alpha(c) || is_digit(c)
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str, series_desc: bool) -> Self {
        Lexer {
            input,
            pos: 0,
            start: 0,
            width: 0,
            state: State::Statements,
            series_desc,
            brace_open: false,
            bracket_open: false,
            got_colon: false,
            paren_depth: 0,
            string_open: '"',
        }
    }

    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
            None => {
                self.width = 0;
                EOF_CH
            }
        }
    }
    fn backup(&mut self) {
        self.pos -= self.width;
    }
    fn peek(&mut self) -> Option<char> {
        let c = self.next();
        self.backup();
        c
    }
    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }
    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }
    fn ignore(&mut self) {
        self.start = self.pos;
    }
    fn emit(&mut self, kind: Kind, op: &'static str) -> Token {
        let tok = Token {
            kind,
            op,
            pos: self.start,
            val: self.input[self.start..self.pos].to_string(),
        };
        self.start = self.pos;
        tok
    }
    fn error(&mut self, message: String) -> Token {
        self.state = State::Done;
        Token {
            kind: Kind::Error,
            op: "",
            pos: self.start,
            val: message,
        }
    }

    /// The next token (`NextItem`).
    fn next_token(&mut self) -> Token {
        loop {
            let produced = match self.state {
                State::Done => return self.emit(Kind::Eof, ""),
                State::Statements => self.lex_statements(),
                State::InsideBraces => self.lex_inside_braces(),
                State::ValueSequence => self.lex_value_sequence(),
                State::KeywordOrIdentifier => Some(self.lex_keyword_or_identifier()),
            };
            if let Some(tok) = produced {
                return tok;
            }
        }
    }

    fn lex_statements(&mut self) -> Option<Token> {
        if self.brace_open {
            self.state = State::InsideBraces;
            return None;
        }
        if self.input[self.pos..].starts_with('#') {
            return Some(self.lex_line_comment());
        }
        let c = self.next();
        let tok = match c {
            None => {
                if self.paren_depth != 0 {
                    return Some(self.error("unclosed left parenthesis".into()));
                } else if self.bracket_open {
                    return Some(self.error("unclosed left bracket".into()));
                }
                self.state = State::Done;
                self.emit(Kind::Eof, "")
            }
            Some(',') => self.emit(Kind::Comma, ""),
            c if is_space(c) => {
                self.skip_spaces();
                return None;
            }
            Some('*') => self.emit(Kind::Operator, "*"),
            Some('/') => self.emit(Kind::Operator, "/"),
            Some('%') => self.emit(Kind::Operator, "%"),
            Some('+') => self.emit(Kind::Operator, "+"),
            Some('-') => self.emit(Kind::Operator, "-"),
            Some('^') => self.emit(Kind::Operator, "^"),
            Some('=') => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(Kind::Operator, "==")
                }
                Some('~') => {
                    return Some(self.error("unexpected character after '=': '~'".into()));
                }
                _ => self.emit(Kind::Eql, ""),
            },
            Some('!') => match self.next() {
                Some('=') => self.emit(Kind::Operator, "!="),
                t => {
                    let msg = format!("unexpected character after '!': {}", quote_rune(t));
                    return Some(self.error(msg));
                }
            },
            Some('<') => {
                if self.peek() == Some('=') {
                    self.next();
                    self.emit(Kind::Operator, "<=")
                } else {
                    self.emit(Kind::Operator, "<")
                }
            }
            Some('>') => {
                if self.peek() == Some('=') {
                    self.next();
                    self.emit(Kind::Operator, ">=")
                } else {
                    self.emit(Kind::Operator, ">")
                }
            }
            c if is_digit(c) || (c == Some('.') && is_digit(self.peek())) => {
                self.backup();
                return Some(self.lex_number_or_duration());
            }
            Some(q @ ('"' | '\'' | '`')) => return Some(self.open_string(q)),
            c if is_alpha(c) || c == Some(':') => {
                if !self.bracket_open {
                    self.backup();
                    self.state = State::KeywordOrIdentifier;
                    return None;
                }
                if self.got_colon {
                    return Some(self.error("unexpected colon ':'".into()));
                }
                self.got_colon = true;
                self.emit(Kind::Colon, "")
            }
            Some('(') => {
                self.paren_depth += 1;
                self.emit(Kind::LeftParen, "")
            }
            Some(')') => {
                let tok = self.emit(Kind::RightParen, "");
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    // Go emits the paren, then overwrites it with the error (positioned
                    // after the paren).
                    return Some(self.error("unexpected right parenthesis ')'".into()));
                }
                tok
            }
            Some('{') => {
                self.brace_open = true;
                self.state = State::InsideBraces;
                return Some(self.emit(Kind::LeftBrace, ""));
            }
            Some('[') => {
                if self.bracket_open {
                    return Some(self.error("unexpected left bracket '['".into()));
                }
                self.got_colon = false;
                let tok = self.emit(Kind::LeftBracket, "");
                self.bracket_open = true;
                // Durations inside brackets cannot occur in a valid metric; stay simple.
                tok
            }
            Some(']') => {
                if !self.bracket_open {
                    return Some(self.error("unexpected right bracket ']'".into()));
                }
                self.bracket_open = false;
                self.emit(Kind::RightBracket, "")
            }
            Some('@') => self.emit(Kind::Operator, "@"),
            Some(c) => {
                let msg = format!("unexpected character: {}", quote_rune(Some(c)));
                return Some(self.error(msg));
            }
        };
        Some(tok)
    }

    fn lex_inside_braces(&mut self) -> Option<Token> {
        if self.input[self.pos..].starts_with('#') {
            return Some(self.lex_line_comment());
        }
        let c = self.next();
        let tok = match c {
            None => return Some(self.error("unexpected end of input inside braces".into())),
            c if is_space(c) => {
                self.skip_spaces();
                return None;
            }
            c if is_alpha(c) => {
                while is_alnum(self.next()) {}
                self.backup();
                self.emit(Kind::Identifier, "")
            }
            Some(',') => self.emit(Kind::Comma, ""),
            Some(q @ ('"' | '\'' | '`')) => return Some(self.open_string(q)),
            Some('=') => {
                if self.next() == Some('~') {
                    self.emit(Kind::Operator, "=~")
                } else {
                    self.backup();
                    self.emit(Kind::Eql, "")
                }
            }
            Some('!') => match self.next() {
                Some('~') => self.emit(Kind::Operator, "!~"),
                Some('=') => self.emit(Kind::Operator, "!="),
                nr => {
                    let msg = format!(
                        "unexpected character after '!' inside braces: {}",
                        quote_rune(nr)
                    );
                    return Some(self.error(msg));
                }
            },
            Some('{') => return Some(self.error("unexpected left brace '{'".into())),
            Some('}') => {
                self.brace_open = false;
                self.state = if self.series_desc {
                    State::ValueSequence
                } else {
                    State::Statements
                };
                self.emit(Kind::RightBrace, "")
            }
            Some(c) => {
                let msg = format!(
                    "unexpected character inside braces: {}",
                    quote_rune(Some(c))
                );
                return Some(self.error(msg));
            }
        };
        Some(tok)
    }

    fn lex_value_sequence(&mut self) -> Option<Token> {
        let c = self.next();
        let tok = match c {
            None => {
                self.state = State::Statements;
                return None;
            }
            c if is_space(c) => {
                let tok = self.emit(Kind::Space, "");
                while is_space(self.peek()) {
                    self.next();
                }
                self.ignore();
                tok
            }
            Some('+') => self.emit(Kind::Operator, "+"),
            Some('-') => self.emit(Kind::Operator, "-"),
            Some('x') => self.emit(Kind::Times, ""),
            Some('_') => self.emit(Kind::Blank, ""),
            c if is_digit(c) || (c == Some('.') && is_digit(self.peek())) => {
                self.backup();
                if !self.scan_number() {
                    let msg = format!(
                        "bad number syntax: {}",
                        go_quote(&self.input[self.start..self.pos])
                    );
                    return Some(self.error(msg));
                }
                self.emit(Kind::Number, "")
            }
            c if is_alpha(c) => {
                self.backup();
                self.state = State::KeywordOrIdentifier;
                return None;
            }
            c => {
                let msg = format!("unexpected character in series sequence: {}", quote_rune(c));
                return Some(self.error(msg));
            }
        };
        Some(tok)
    }

    fn lex_keyword_or_identifier(&mut self) -> Token {
        loop {
            let c = self.next();
            if !(is_alnum(c) || c == Some(':')) {
                self.backup();
                break;
            }
        }
        let word = self.input[self.start..self.pos].to_ascii_lowercase();
        let tok = match KEYWORDS.iter().find(|(k, _)| *k == word) {
            Some((k, kind)) => self.emit(*kind, k),
            None if word.contains(':') => self.emit(Kind::MetricIdentifier, ""),
            None => self.emit(Kind::Identifier, ""),
        };
        self.state = if self.series_desc && self.peek() != Some('{') {
            State::ValueSequence
        } else {
            State::Statements
        };
        tok
    }

    fn lex_line_comment(&mut self) -> Token {
        self.pos += 1;
        loop {
            match self.next() {
                None => break,
                Some('\r' | '\n') => {
                    self.backup();
                    break;
                }
                _ => {}
            }
        }
        self.state = State::Statements;
        self.emit(Kind::Comment, "")
    }

    fn skip_spaces(&mut self) {
        while is_space(self.peek()) {
            self.next();
        }
        self.ignore();
    }

    /// After an opening quote: a string, or a raw string for a backquote.
    fn open_string(&mut self, q: char) -> Token {
        self.string_open = q;
        if q == '`' {
            self.lex_raw_string()
        } else {
            self.lex_string()
        }
    }

    fn lex_string(&mut self) -> Token {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Err(msg) = self.lex_escape() {
                        return self.error(msg);
                    }
                }
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some(c) if c == self.string_open => break,
                _ => {}
            }
        }
        self.after_string()
    }

    fn lex_raw_string(&mut self) -> Token {
        loop {
            match self.next() {
                None => return self.error("unterminated raw string".into()),
                Some(c) if c == self.string_open => break,
                _ => {}
            }
        }
        self.after_string()
    }

    fn after_string(&mut self) -> Token {
        let tok = self.emit(Kind::Str, "");
        self.state = if self.brace_open {
            State::InsideBraces
        } else {
            State::Statements
        };
        tok
    }

    fn lex_escape(&mut self) -> Result<(), String> {
        let ch = self.next();
        let (mut n, base, max): (u32, u32, u32) = match ch {
            Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return Ok(()),
            Some(c) if c == self.string_open => return Ok(()),
            Some('0'..='7') => (3, 8, 255),
            Some('x') => (2, 16, 255),
            Some('u') => (4, 16, 0x10FFFF),
            Some('U') => (8, 16, 0x10FFFF),
            None => return Err("escape sequence not terminated".into()),
            Some(c) => {
                return Err(format!(
                    "unknown escape sequence {}",
                    template::sharp_u(Some(c))
                ));
            }
        };
        let mut ch = if matches!(ch, Some('x' | 'u' | 'U')) {
            self.next()
        } else {
            ch
        };
        let mut x: u32 = 0;
        while n > 0 {
            let d = ch.and_then(|c| c.to_digit(16)).unwrap_or(16);
            if d >= base {
                return Err(match ch {
                    None => "escape sequence not terminated".into(),
                    Some(c) => format!(
                        "illegal character {} in escape sequence",
                        template::sharp_u(Some(c))
                    ),
                });
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            n -= 1;
            if n > 0 {
                ch = self.next();
            }
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            return Err("escape sequence is an invalid Unicode code point".into());
        }
        Ok(())
    }

    fn scan_number(&mut self) -> bool {
        let mut digits = "0123456789";
        if !self.series_desc && self.accept("0") && self.accept("xX") {
            digits = "0123456789abcdefABCDEF";
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789");
        }
        let r = self.peek();
        (self.series_desc && r == Some('x')) || !is_alnum(r)
    }

    fn lex_number_or_duration(&mut self) -> Token {
        if self.scan_number() {
            self.state = State::Statements;
            return self.emit(Kind::Number, "");
        }
        if self.accept_remaining_duration() {
            self.backup();
            self.state = State::Statements;
            return self.emit(Kind::Duration, "");
        }
        let msg = format!(
            "bad number or duration syntax: {}",
            go_quote(&self.input[self.start..self.pos])
        );
        self.error(msg)
    }

    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        !is_alnum(self.next())
    }
}

// ---------------------------------------------------------------------------------------
// Parser: the `series_description` and `metric` rules, with the first error goyacc reports.
// ---------------------------------------------------------------------------------------

/// A failed parse: the first error Prometheus would record.
struct Fail {
    pos: usize,
    message: String,
}

type PResult<T> = Result<T, Fail>;

struct Parser<'a> {
    input: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
}

#[derive(Clone, Copy)]
enum Seed {
    Stale,
    Num(f64),
}

impl Seed {
    fn point(self) -> Point {
        match self {
            Seed::Stale => Point::Stale,
            Seed::Num(v) => Point::Value(v),
        }
    }
    fn add(self, step: f64) -> Seed {
        match self {
            // The stale NaN plus anything is an ordinary NaN.
            Seed::Stale => Seed::Num(f64::NAN),
            Seed::Num(v) => Seed::Num(v + step),
        }
    }
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, series_desc: bool) -> Self {
        Parser {
            input,
            lexer: Lexer::new(input, series_desc),
            peeked: None,
        }
    }

    fn fail<T>(&self, fail: Fail) -> Result<T, SeriesError> {
        Err(SeriesError::at(self.input, fail.pos, fail.message))
    }

    /// The next token, comments skipped; a lexer error ends the parse with its message.
    fn peek(&mut self) -> PResult<&Token> {
        if self.peeked.is_none() {
            let tok = loop {
                let tok = self.lexer.next_token();
                if tok.kind != Kind::Comment {
                    break tok;
                }
            };
            if tok.kind == Kind::Error {
                return Err(Fail {
                    pos: tok.pos,
                    message: tok.val,
                });
            }
            self.peeked = Some(tok);
        }
        match &self.peeked {
            Some(tok) => Ok(tok),
            None => unreachable!("peeked was just filled"),
        }
    }

    fn bump(&mut self) -> PResult<Token> {
        self.peek()?;
        self.peeked.take().ok_or_else(|| Fail {
            pos: self.input.len(),
            message: "internal: no token".into(),
        })
    }

    fn unexpected(tok: &Token, context: &str, expected: &str) -> Fail {
        let mut message = format!("unexpected {}", tok.desc());
        if !context.is_empty() {
            message.push_str(" in ");
            message.push_str(context);
        }
        if !expected.is_empty() {
            message.push_str(", expected ");
            message.push_str(expected);
        }
        Fail {
            pos: tok.pos,
            message,
        }
    }

    fn series_description(mut self) -> Result<SeriesDesc, SeriesError> {
        let labels = match self.metric() {
            Ok(l) => l,
            Err(f) => return self.fail(f),
        };
        match self.series_values() {
            Ok(points) => Ok((labels, points)),
            Err(f) => self.fail(f),
        }
    }

    fn selector_only(mut self) -> Result<Labels, SeriesError> {
        let result = self.metric().and_then(|labels| {
            loop {
                let tok = self.bump()?;
                match tok.kind {
                    Kind::Eof => break Ok(labels),
                    Kind::Space => {}
                    _ => break Err(Self::unexpected(&tok, "series", "end of the label set")),
                }
            }
        });
        match result {
            Ok(labels) => Ok(labels),
            Err(f) => self.fail(f),
        }
    }

    fn metric_only(mut self) -> Result<Labels, SeriesError> {
        let result = self.metric().and_then(|labels| {
            let tok = self.peek()?;
            if tok.kind == Kind::Eof {
                Ok(labels)
            } else {
                Err(Self::unexpected(tok, "", ""))
            }
        });
        match result {
            Ok(labels) => Ok(labels),
            Err(f) => self.fail(f),
        }
    }

    /// `metric: metric_identifier label_set | label_set`.
    fn metric(&mut self) -> PResult<Labels> {
        let name = if is_metric_identifier(self.peek()?) {
            Some(self.bump()?.val)
        } else {
            None
        };
        let mut labels = self.label_set()?;
        if let Some(name) = name {
            // `labels.NewBuilder(set).Set("__name__", name)`: the builder also drops labels
            // with empty values (only on this path: `{a=""}` keeps its empty label).
            labels.retain(|(n, v)| n != METRIC_NAME && !v.is_empty());
            labels.push((METRIC_NAME.to_string(), name));
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(labels)
    }

    fn label_set(&mut self) -> PResult<Labels> {
        let mut labels = Labels::new();
        if self.peek()?.kind != Kind::LeftBrace {
            return Ok(labels);
        }
        self.bump()?;
        if self.peek()?.kind == Kind::RightBrace {
            self.bump()?;
            return Ok(labels);
        }
        loop {
            labels.push(self.label_set_item()?);
            let tok = self.bump()?;
            match tok.kind {
                Kind::RightBrace => return Ok(labels),
                Kind::Comma => {
                    if self.peek()?.kind == Kind::RightBrace {
                        self.bump()?;
                        return Ok(labels);
                    }
                }
                _ => return Err(Self::unexpected(&tok, "label set", "\",\" or \"}\"")),
            }
        }
    }

    fn label_set_item(&mut self) -> PResult<(String, String)> {
        let name = self.bump()?;
        if name.kind != Kind::Identifier {
            return Err(Self::unexpected(&name, "label set", "identifier or \"}\""));
        }
        let eq = self.bump()?;
        if eq.kind != Kind::Eql {
            return Err(Self::unexpected(&eq, "label set", "\"=\""));
        }
        let value = self.bump()?;
        if value.kind != Kind::Str {
            return Err(Self::unexpected(&value, "label set", "string"));
        }
        let unquoted = unquote(&value.val).map_err(|e| Fail {
            pos: value.pos,
            message: format!("error unquoting string {}: {e}", go_quote(&value.val)),
        })?;
        Ok((name.val, unquoted))
    }

    /// `series_values: (SPACE series_item?)*`, then the end of input.
    fn series_values(&mut self) -> PResult<Vec<Option<Point>>> {
        let mut points = Vec::new();
        let mut first = true;
        loop {
            let tok = self.bump()?;
            match tok.kind {
                Kind::Eof => return Ok(points),
                Kind::Space => {}
                // Right after the metric the parser is in a state that can recover with the
                // `series_values: error` rule; later, default reductions run first and the
                // error surfaces at the top level, without context.
                _ if first => return Err(Self::unexpected(&tok, "series values", "")),
                _ => return Err(Self::unexpected(&tok, "", "")),
            }
            first = false;
            let kind = self.peek()?.kind;
            if matches!(kind, Kind::Eof | Kind::Space) {
                continue;
            }
            self.series_item(&mut points)?;
        }
    }

    fn series_item(&mut self, points: &mut Vec<Option<Point>>) -> PResult<()> {
        if self.peek()?.kind == Kind::Blank {
            self.bump()?;
            if self.peek()?.kind != Kind::Times {
                points.push(None);
                return Ok(());
            }
            self.bump()?;
            let n = self.uint()?;
            Self::reserve(points, n, 0)?;
            points.extend((0..n).map(|_| None));
            return Ok(());
        }
        let tok = self.peek()?.clone();
        let start = match tok.kind {
            Kind::Identifier => {
                self.bump()?;
                if tok.val != "stale" {
                    return Err(Self::unexpected(
                        &tok,
                        "series values",
                        "number or \"stale\"",
                    ));
                }
                Seed::Stale
            }
            Kind::Number => {
                self.bump()?;
                Seed::Num(number(&tok)?)
            }
            Kind::Operator if matches!(tok.op, "+" | "-") => Seed::Num(self.signed_number()?),
            _ => return Err(Self::unexpected(&tok, "", "")),
        };
        let next = self.peek()?;
        match next.kind {
            Kind::Times => {
                self.bump()?;
                let n = self.uint()?;
                Self::reserve(points, n, 1)?;
                points.extend((0..=n).map(|_| Some(start.point())));
            }
            Kind::Operator if matches!(next.op, "+" | "-") => {
                let step = self.signed_number()?;
                let times = self.bump()?;
                if times.kind != Kind::Times {
                    return Err(Self::unexpected(&times, "series values", ""));
                }
                let n = self.uint()?;
                Self::reserve(points, n, 1)?;
                let mut cur = start;
                for _ in 0..=n {
                    points.push(Some(cur.point()));
                    cur = cur.add(step);
                }
            }
            _ => points.push(Some(start.point())),
        }
        Ok(())
    }

    fn reserve(points: &mut Vec<Option<Point>>, n: u64, extra: u64) -> PResult<()> {
        let total = (points.len() as u64)
            .saturating_add(n)
            .saturating_add(extra);
        if total > MAX_POINTS {
            return Err(Fail {
                pos: 0,
                message: format!("series expands to more than {MAX_POINTS} points"),
            });
        }
        points.reserve(usize::try_from(n.saturating_add(extra)).unwrap_or(0));
        Ok(())
    }

    /// `signed_number: ADD number | SUB number`.
    fn signed_number(&mut self) -> PResult<f64> {
        let sign = self.bump()?;
        let num = self.bump()?;
        if num.kind != Kind::Number {
            return Err(Self::unexpected(&num, "series values", ""));
        }
        let v = number(&num)?;
        Ok(if sign.op == "-" { -v } else { v })
    }

    /// `uint: NUMBER`, parsed with `strconv.ParseUint(s, 10, 64)`.
    fn uint(&mut self) -> PResult<u64> {
        let tok = self.bump()?;
        if tok.kind != Kind::Number {
            return Err(Self::unexpected(&tok, "series values", ""));
        }
        let reason = if tok.val.is_empty() || !tok.val.bytes().all(|b| b.is_ascii_digit()) {
            "invalid syntax"
        } else {
            match tok.val.parse::<u64>() {
                Ok(n) => return Ok(n),
                Err(_) => "value out of range",
            }
        };
        Err(Fail {
            pos: tok.pos,
            message: format!(
                "invalid repetition in series values: strconv.ParseUint: parsing {}: {reason}",
                go_quote(&tok.val)
            ),
        })
    }
}

/// `parser.number`: `strconv.ParseInt(s, 0, 64)` (so a leading 0 means octal), else
/// `strconv.ParseFloat(s, 64)`.
fn number(tok: &Token) -> PResult<f64> {
    let s = tok.val.as_str();
    if let Some(i) = parse_go_int(s) {
        return Ok(i as f64);
    }
    let lower = s.to_ascii_lowercase();
    let parsed = match lower.as_str() {
        "inf" | "infinity" => Ok(f64::INFINITY),
        "nan" => Ok(f64::NAN),
        _ => s
            .parse::<f64>()
            .map_err(|_| "invalid syntax")
            .and_then(|v| {
                if v.is_infinite() {
                    Err("value out of range")
                } else {
                    Ok(v)
                }
            }),
    };
    parsed.map_err(|reason| Fail {
        pos: tok.pos,
        message: format!(
            "error parsing number: strconv.ParseFloat: parsing {}: {reason}",
            go_quote(s)
        ),
    })
}

/// `strconv.ParseInt(s, 0, 64)` for the digit strings the lexer produces.
fn parse_go_int(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        i64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse::<i64>().ok()
    }
}

/// `strutil.Unquote` for a token the lexer accepted.
fn unquote(s: &str) -> Result<String, &'static str> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 || bytes[0] != bytes[bytes.len() - 1] {
        return Err("invalid syntax");
    }
    let quote = bytes[0];
    let body = &s[1..s.len() - 1];
    if quote == b'`' {
        return if body.contains('`') {
            Err("invalid syntax")
        } else {
            Ok(body.to_string())
        };
    }
    if (quote != b'"' && quote != b'\'') || body.contains('\n') {
        return Err("invalid syntax");
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c as u32 == u32::from(quote) {
            return Err("invalid syntax");
        }
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or("invalid syntax")?;
        let simple = match e {
            'a' => Some(0x07u8),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '\'' | '"' if e as u32 == u32::from(quote) => Some(quote),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        match e {
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut v: u32 = 0;
                for _ in 0..n {
                    let d = chars
                        .next()
                        .and_then(|c| c.to_digit(16))
                        .ok_or("invalid syntax")?;
                    v = (v << 4) | d;
                }
                if e == 'x' {
                    // A single byte, possibly not UTF-8 (checked below).
                    out.push(u8::try_from(v).map_err(|_| "invalid syntax")?);
                } else {
                    let c = char::from_u32(v).ok_or("invalid syntax")?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).ok_or("invalid syntax")?;
                for _ in 0..2 {
                    let d = chars
                        .next()
                        .and_then(|c| c.to_digit(8))
                        .ok_or("invalid syntax")?;
                    v = (v << 3) | d;
                }
                out.push(u8::try_from(v).map_err(|_| "invalid syntax")?);
            }
            _ => return Err("invalid syntax"),
        }
    }
    // Go keeps invalid UTF-8 bytes in label values; a Rust String cannot.
    String::from_utf8(out).map_err(|_| "label value is not valid UTF-8")
}

// ---------------------------------------------------------------------------------------
// Go-compatible quoting for messages.
// ---------------------------------------------------------------------------------------

/// Go's `%q` for a rune: `'x'`.
fn quote_rune(c: Option<char>) -> String {
    // Go prints eof (-1) as the replacement character.
    template::quote_rune(c.unwrap_or('\u{FFFD}'), false)
}

impl fmt::Display for Point {
    /// `stale`, or the value as Go's `%v` would print it (`1`, `0.5`, `1e+21`, `+Inf`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Point::Stale => f.write_str("stale"),
            Point::Value(v) => f.write_str(&go_float(*v)),
        }
    }
}
