//! The streaming parser: splits the body into lines, counts them, hands each to the line
//! grammar, and enforces that nothing follows `# EOF`.

use super::error::{ErrorKind, ParseError};
use super::line::{Line, parse_line};
use super::{Entry, Format};

/// Where the parser is in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading lines.
    Lines,
    /// `# EOF` was read: the next non-empty line is an error.
    AfterEof,
    /// Nothing more to yield.
    Done,
}

/// An iterator over the entries of a body, one `Result` per meaningful line: a malformed
/// line is an `Err` with its line number, and the lines after it still parse.
#[derive(Clone, Debug)]
pub struct Parser<'a> {
    /// What we parse; entries borrow it.
    body: &'a str,
    /// Byte offset of the next line.
    pos: usize,
    /// Number of the line last read (1-based), 0 before the first.
    line: usize,
    /// How to read timestamps.
    format: Format,
    /// Whether `# EOF` was read.
    state: State,
    /// Label names of the current sample, for the duplicate check; kept between lines
    /// so its buffer is allocated once per body, not once per sample.
    seen: Vec<&'a str>,
}

impl<'a> Parser<'a> {
    /// A parser over `body` in `format` (see [`Format::detect`] when unknown).
    pub fn new(body: &'a str, format: Format) -> Self {
        Self {
            body,
            pos: 0,
            line: 0,
            format,
            state: State::Lines,
            seen: Vec::new(),
        }
    }

    /// The format this parser reads timestamps in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The 1-based number of the line the last entry came from, for errors that only
    /// a caller seeing several lines can find (a second `# TYPE`).
    pub fn line(&self) -> usize {
        self.line.max(1)
    }

    /// The next line without its `\n` or `\r\n`, and counts it.
    fn next_line(&mut self) -> Option<&'a str> {
        let rest = self.body.get(self.pos..).filter(|r| !r.is_empty())?;
        let len = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
        self.pos += len + 1;
        self.line += 1;
        let line = rest.get(..len).unwrap_or_default();
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    fn error(&self, kind: ErrorKind) -> ParseError {
        ParseError {
            line: self.line(),
            kind,
        }
    }

    /// After `# EOF`: anything but empty lines is one error, then the end.
    fn after_eof(&mut self) -> Option<Result<Entry<'a>, ParseError>> {
        self.state = State::Done;
        while let Some(line) = self.next_line() {
            if !line.is_empty() {
                return Some(Err(self.error(ErrorKind::TextAfterEof)));
            }
        }
        None
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.state {
            State::Lines => {}
            State::AfterEof => return self.after_eof(),
            State::Done => return None,
        }
        while let Some(line) = self.next_line() {
            match parse_line(line, self.format, &mut self.seen) {
                Ok(Line::Nothing) => {}
                Ok(Line::Entry(Entry::Eof)) => {
                    self.state = State::AfterEof;
                    return Some(Ok(Entry::Eof));
                }
                Ok(Line::Entry(entry)) => return Some(Ok(entry)),
                Err(kind) => return Some(Err(self.error(kind))),
            }
        }
        self.state = State::Done;
        (self.format == Format::OpenMetrics).then(|| Err(self.error(ErrorKind::MissingEof)))
    }
}
