//! Byte-level scanning shared by the line grammar and the label iterator: character
//! classes from one lookup table, blank skipping, quoted values. Every delimiter we look
//! for is ASCII, so every index these return is a `char` boundary of the line.

use super::swar::find_either;

const METRIC_START: u8 = 1;
const METRIC: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL: u8 = 8;
const BLANK: u8 = 16;

/// One byte's classes: a table lookup beats a chain of range comparisons per byte.
static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut k = 0;
        if b.is_ascii_alphabetic() || b == b'_' {
            k |= METRIC_START | METRIC | LABEL_START | LABEL;
        }
        if b.is_ascii_digit() {
            k |= METRIC | LABEL;
        }
        if b == b':' {
            k |= METRIC_START | METRIC;
        }
        if b == b' ' || b == b'\t' {
            k |= BLANK;
        }
        t[c] = k;
        c += 1;
    }
    t
}

fn is(b: u8, class: u8) -> bool {
    CLASS[usize::from(b)] & class != 0
}

/// Whether `b` separates tokens: a space or a tab, as in Go's `skipBlankTab`.
pub(super) fn is_blank(b: u8) -> bool {
    is(b, BLANK)
}

/// The first index at or after `i` that is not a blank.
pub(super) fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_blank(c)) {
        i += 1;
    }
    i
}

/// The end of the token starting at `i`: the next blank or the end of the line.
pub(super) fn token_end(b: &[u8], i: usize) -> usize {
    find_either(b, i, b' ', b'\t').unwrap_or(b.len().max(i))
}

/// The end of the run of bytes in `class` starting at `i`.
fn run(b: &[u8], mut i: usize, class: u8) -> usize {
    while b.get(i).is_some_and(|&c| is(c, class)) {
        i += 1;
    }
    i
}

/// The end of the metric name `[a-zA-Z_:][a-zA-Z0-9_:]*` at `i`; `i` when there is none.
pub(super) fn metric_name_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(&c) if is(c, METRIC_START) => run(b, i + 1, METRIC),
        _ => i,
    }
}

/// The end of the label name `[a-zA-Z_][a-zA-Z0-9_]*` at `i`; `i` when there is none.
pub(super) fn label_name_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(&c) if is(c, LABEL_START) => run(b, i + 1, LABEL),
        _ => i,
    }
}

/// Why a quoted label value did not close.
pub(super) enum QuoteError {
    /// The line ended first.
    Unterminated,
    /// A backslash was followed by something other than `\`, `"` or `n`; the index of
    /// the byte after the backslash.
    Escape(usize),
}

/// A closed quoted value.
pub(super) struct Quoted {
    /// The index just past the closing quote.
    pub end: usize,
    /// Whether the value holds an escape, so readers that see `false` can skip
    /// unescaping.
    pub escaped: bool,
}

/// Closes the quoted value whose first byte is at `i`, checking that each escape is one
/// of `\\`, `\"`, `\n`.
pub(super) fn quoted_end(b: &[u8], mut i: usize) -> Result<Quoted, QuoteError> {
    let mut escaped = false;
    loop {
        let p = find_either(b, i, b'"', b'\\').ok_or(QuoteError::Unterminated)?;
        match b.get(p) {
            Some(b'"') => {
                return Ok(Quoted {
                    end: p + 1,
                    escaped,
                });
            }
            _ => match b.get(p + 1) {
                Some(b'\\' | b'"' | b'n') => {
                    escaped = true;
                    i = p + 2;
                }
                Some(_) => return Err(QuoteError::Escape(p + 1)),
                None => return Err(QuoteError::Unterminated),
            },
        }
    }
}

/// `s[from..to]`, or `""` if the range is not one (never, by the module invariant; a
/// slip must not become a panic on a scraped body).
pub(super) fn slice(s: &str, from: usize, to: usize) -> &str {
    debug_assert!(s.get(from..to).is_some(), "{from}..{to} of {}", s.len());
    s.get(from..to).unwrap_or_default()
}

/// The character starting at byte `i` of `s`, for error messages.
pub(super) fn char_at(s: &str, i: usize) -> char {
    s.get(i..)
        .and_then(|t| t.chars().next())
        .unwrap_or('\u{fffd}')
}

/// At most 64 characters of `s`, so an error about a megabyte of garbage stays short.
pub(super) fn excerpt(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}
