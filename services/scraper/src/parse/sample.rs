//! One sample, borrowed from the body: the label set stays raw text (checked when the
//! line was parsed) and is split only when a caller asks for labels.

use std::borrow::Cow;

use super::scan::{label_name_end, quoted_end, skip_blank, slice};

/// One sample line. It borrows the body, so a scrape of thousands of series allocates
/// nothing per series until a caller copies what it keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The series name as written, e.g. `vllm:num_requests_waiting` or
    /// `vllm:e2e_request_latency_seconds_bucket` (suffix and all).
    pub name: &'a str,
    /// The value; `NaN` and `±Inf` are values too.
    pub value: f64,
    /// The sample's own timestamp in Unix milliseconds, when the exporter gave one
    /// (OpenMetrics seconds are converted). Most exporters leave it to the scraper.
    pub timestamp_ms: Option<i64>,
    /// The text between the braces, valid by construction (the parser checked names,
    /// quotes and escapes), so iterating it cannot fail.
    labels: &'a str,
    /// Whether any label value holds an escape; without one no value is ever copied
    /// and none is scanned for backslashes again.
    escaped: bool,
}

impl<'a> Sample<'a> {
    /// Only the parser builds samples: `labels` must already be a valid label list.
    pub(super) fn new(
        name: &'a str,
        labels: &'a str,
        escaped: bool,
        value: f64,
        timestamp_ms: Option<i64>,
    ) -> Self {
        Self {
            name,
            value,
            timestamp_ms,
            labels,
            escaped,
        }
    }

    /// The labels in written order, values unescaped; a value is copied only when it
    /// has an escape in it.
    #[inline]
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            raw: RawLabels {
                text: self.labels,
                at: 0,
            },
            escaped: self.escaped,
        }
    }

    /// The value of label `name`, if the sample has it. Only that value is unescaped.
    pub fn label(&self, name: &str) -> Option<Cow<'a, str>> {
        let mut raw = RawLabels {
            text: self.labels,
            at: 0,
        };
        let escaped = self.escaped;
        raw.find(|&(n, _)| n == name).map(|(_, v)| {
            if escaped {
                unescape(v)
            } else {
                Cow::Borrowed(v)
            }
        })
    }

    /// The label text between the braces exactly as written, escapes and all: a
    /// zero-copy key for the series within one body.
    pub fn raw_labels(&self) -> &'a str {
        self.labels
    }
}

/// The labels of a [`Sample`], as `(name, value)` in written order.
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    /// Where we are in the label text.
    raw: RawLabels<'a>,
    /// The sample's flag: `false` hands every value out borrowed without a look.
    escaped: bool,
}

impl<'a> Iterator for Labels<'a> {
    type Item = (&'a str, Cow<'a, str>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (name, value) = self.raw.next()?;
        Some((
            name,
            if self.escaped {
                unescape(value)
            } else {
                Cow::Borrowed(value)
            },
        ))
    }
}

/// `(name, value as written between its quotes)` over a checked label list.
#[derive(Clone, Debug)]
struct RawLabels<'a> {
    /// The checked text between the braces.
    text: &'a str,
    /// Byte offset of the next label.
    at: usize,
}

impl<'a> Iterator for RawLabels<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        let start = skip_blank(b, self.at);
        let name_end = label_name_end(b, start);
        if name_end == start {
            self.at = b.len();
            return None;
        }
        // The parser allowed blanks around `=`; the value opens at the next quote.
        let open = skip_blank(b, skip_blank(b, name_end) + 1);
        let close = quoted_end(b, open + 1).ok()?.end;
        let after = skip_blank(b, close);
        self.at = if b.get(after) == Some(&b',') {
            after + 1
        } else {
            after
        };
        Some((
            slice(self.text, start, name_end),
            slice(self.text, open + 1, close - 1),
        ))
    }
}

/// A quoted value or HELP text with `\\`, `\"`, `\n` replaced; borrowed when there is
/// no backslash. Any other escape (already rejected by the parser) is kept as written.
pub(super) fn unescape(raw: &str) -> Cow<'_, str> {
    let Some(first) = memchr::memchr(b'\\', raw.as_bytes()) else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(slice(raw, 0, first));
    let mut chars = slice(raw, first, raw.len()).chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}
