//! The grammar of one line, without its line break. Left to right, one pass, slices of
//! the line out; whitespace between tokens as Go's `expfmt` text parser allows it
//! (spaces and tabs around names, `{`, `=`, `,`, `}`, the value and the timestamp).

use std::borrow::Cow;

use super::error::ErrorKind;
use super::sample::unescape;
use super::scan::{
    QuoteError, char_at, excerpt, is_blank, label_name_end, metric_name_end, quoted_end,
    skip_blank, slice, token_end,
};
use super::{Entry, Format, MetricType, Sample};

/// What one line holds.
pub(super) enum Line<'a> {
    /// A blank line or an ordinary comment.
    Nothing,
    /// Something to yield.
    Entry(Entry<'a>),
}

/// Parses `line`. `seen` is scratch space for the duplicate-label check, reused so a
/// sample costs no allocation.
pub(super) fn parse_line<'a>(
    line: &'a str,
    format: Format,
    seen: &mut Vec<&'a str>,
) -> Result<Line<'a>, ErrorKind> {
    let b = line.as_bytes();
    let i = skip_blank(b, 0);
    match b.get(i) {
        None => Ok(Line::Nothing),
        Some(b'#') => comment(line, i + 1),
        Some(_) => sample(line, i, format, seen).map(|s| Line::Entry(Entry::Sample(s))),
    }
}

/// `# HELP`, `# TYPE`, `# UNIT`, `# EOF` or any other comment (ignored).
fn comment(line: &str, i: usize) -> Result<Line<'_>, ErrorKind> {
    let b = line.as_bytes();
    let start = skip_blank(b, i);
    let end = token_end(b, start);
    let keyword = match slice(line, start, end) {
        "HELP" => "HELP",
        "TYPE" => "TYPE",
        "UNIT" => "UNIT",
        "EOF" if line.trim_end_matches([' ', '\t']) == "# EOF" => {
            return Ok(Line::Entry(Entry::Eof));
        }
        _ => return Ok(Line::Nothing),
    };
    let name_start = skip_blank(b, end);
    if name_start == b.len() {
        return Err(ErrorKind::MissingFamily(keyword));
    }
    let name_end = metric_name_end(b, name_start);
    if name_end == name_start || b.get(name_end).is_some_and(|&c| !is_blank(c)) {
        let token = slice(line, name_start, token_end(b, name_start));
        return Err(ErrorKind::InvalidMetricName(excerpt(token)));
    }
    let family = slice(line, name_start, name_end);
    let rest_start = skip_blank(b, name_end);
    let entry = match keyword {
        "HELP" => Entry::Help {
            family,
            text: help_text(slice(line, rest_start, line.len()))?,
        },
        "TYPE" => {
            let word = one_word(line, rest_start)?;
            if word.is_empty() {
                return Err(ErrorKind::MissingType(family.to_owned()));
            }
            let kind = MetricType::from_word(word).ok_or_else(|| ErrorKind::UnknownType {
                family: family.to_owned(),
                kind: excerpt(word),
            })?;
            Entry::Type { family, kind }
        }
        _ => Entry::Unit {
            family,
            unit: one_word(line, rest_start)?,
        },
    };
    Ok(Line::Entry(entry))
}

/// The token at `i`, which must be the last thing on the line; empty if there is none.
fn one_word(line: &str, i: usize) -> Result<&str, ErrorKind> {
    let b = line.as_bytes();
    let end = token_end(b, i);
    let after = skip_blank(b, end);
    if after < b.len() {
        return Err(ErrorKind::TrailingText(excerpt(slice(
            line,
            after,
            b.len(),
        ))));
    }
    Ok(slice(line, i, end))
}

/// HELP text with its escapes checked and replaced. Trailing blanks are kept, as Go
/// keeps them.
fn help_text(text: &str) -> Result<Cow<'_, str>, ErrorKind> {
    let b = text.as_bytes();
    let mut at = 0;
    while let Some(off) = b.get(at..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        let p = at + off;
        match b.get(p + 1) {
            Some(b'\\' | b'n' | b'"') => at = p + 2,
            Some(_) => return Err(ErrorKind::InvalidHelpEscape(char_at(text, p + 1))),
            None => return Err(ErrorKind::HelpEndsInBackslash),
        }
    }
    Ok(unescape(text))
}

/// `name[{labels}] value [timestamp] [# exemplar]`, starting at `i`.
fn sample<'a>(
    line: &'a str,
    i: usize,
    format: Format,
    seen: &mut Vec<&'a str>,
) -> Result<Sample<'a>, ErrorKind> {
    let b = line.as_bytes();
    let name_end = metric_name_end(b, i);
    let mut j = skip_blank(b, name_end);
    if name_end == i || (j == name_end && b.get(j).is_some_and(|&c| c != b'{')) {
        let token = slice(line, i, token_end(b, i));
        let token = token.split('{').next().unwrap_or(token);
        return Err(ErrorKind::InvalidMetricName(excerpt(token)));
    }
    let name = slice(line, i, name_end);
    let mut labels = "";
    let mut escaped = false;
    if b.get(j) == Some(&b'{') {
        let set = label_set(line, j + 1, seen)?;
        labels = slice(line, j + 1, set.close);
        escaped = set.escaped;
        j = skip_blank(b, set.close + 1);
    }
    let value_end = token_end(b, j);
    if value_end == j {
        return Err(ErrorKind::MissingValue(name.to_owned()));
    }
    let value = parse_value(slice(line, j, value_end))?;
    j = skip_blank(b, value_end);
    let mut timestamp_ms = None;
    if b.get(j).is_some_and(|&c| c != b'#') {
        let end = token_end(b, j);
        timestamp_ms = Some(parse_timestamp(slice(line, j, end), format)?);
        j = skip_blank(b, end);
    }
    match b.get(j) {
        None => {}
        Some(b'#') => exemplar(line, j + 1, seen).map_err(|e| ErrorKind::Exemplar(Box::new(e)))?,
        Some(_) => return Err(ErrorKind::TrailingText(excerpt(slice(line, j, b.len())))),
    }
    Ok(Sample::new(name, labels, escaped, value, timestamp_ms))
}

/// A checked label list.
struct LabelSet {
    /// The index of its `}`.
    close: usize,
    /// Whether any value holds an escape.
    escaped: bool,
}

/// Checks the label list that starts just after `{` at `i`.
fn label_set<'a>(
    line: &'a str,
    mut i: usize,
    seen: &mut Vec<&'a str>,
) -> Result<LabelSet, ErrorKind> {
    let b = line.as_bytes();
    let mut escaped = false;
    seen.clear();
    loop {
        i = skip_blank(b, i);
        match b.get(i) {
            None => return Err(ErrorKind::UnclosedLabels),
            Some(b'}') => return closed(i, escaped, seen),
            Some(_) => {}
        }
        let name_end = label_name_end(b, i);
        let stray = b
            .get(name_end)
            .is_some_and(|&c| !is_blank(c) && !matches!(c, b'=' | b',' | b'}'));
        if name_end == i || stray {
            let token = slice(line, i, token_end(b, i));
            let token = token.split(['=', ',', '}']).next().unwrap_or(token);
            return Err(ErrorKind::InvalidLabelName(excerpt(token)));
        }
        let name = slice(line, i, name_end);
        i = skip_blank(b, name_end);
        if b.get(i) != Some(&b'=') {
            return Err(ErrorKind::ExpectedEquals(name.to_owned()));
        }
        i = skip_blank(b, i + 1);
        if b.get(i) != Some(&b'"') {
            return Err(ErrorKind::ExpectedQuote(name.to_owned()));
        }
        let value = quoted_end(b, i + 1).map_err(|e| match e {
            QuoteError::Unterminated => ErrorKind::UnterminatedValue(name.to_owned()),
            QuoteError::Escape(at) => ErrorKind::InvalidEscape {
                label: name.to_owned(),
                escape: char_at(line, at),
            },
        })?;
        i = value.end;
        escaped |= value.escaped;
        if seen.len() < PAIRWISE && seen.contains(&name) {
            return Err(ErrorKind::DuplicateLabel(name.to_owned()));
        }
        seen.push(name);
        i = skip_blank(b, i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return closed(i, escaped, seen),
            None => return Err(ErrorKind::UnclosedLabels),
            Some(_) => return Err(ErrorKind::ExpectedCommaOrBrace(name.to_owned())),
        }
    }
}

/// Up to this many labels each name is compared with those before it; past it the
/// names are sorted once at the `}`, so a hostile line of 100,000 labels costs
/// n log n, not n².
const PAIRWISE: usize = 16;

/// The label set closed at `close`, once no name in `seen` appears twice.
fn closed(close: usize, escaped: bool, seen: &mut [&str]) -> Result<LabelSet, ErrorKind> {
    if seen.len() > PAIRWISE {
        seen.sort_unstable();
        if let Some(pair) = seen.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(ErrorKind::DuplicateLabel(pair[0].to_owned()));
        }
    }
    Ok(LabelSet { close, escaped })
}

/// An OpenMetrics exemplar after its `#`: `{labels} value [timestamp]`. Checked, then
/// dropped: we forward no exemplars, but a malformed one means a malformed line.
fn exemplar<'a>(line: &'a str, i: usize, seen: &mut Vec<&'a str>) -> Result<(), ErrorKind> {
    let b = line.as_bytes();
    let open = skip_blank(b, i);
    if b.get(open) != Some(&b'{') {
        return Err(ErrorKind::ExpectedLabels);
    }
    let set = label_set(line, open + 1, seen)?;
    let j = skip_blank(b, set.close + 1);
    let end = token_end(b, j);
    if end == j {
        return Err(ErrorKind::MissingValue("exemplar".to_owned()));
    }
    parse_value(slice(line, j, end))?;
    let j = skip_blank(b, end);
    if j < b.len() {
        let end = token_end(b, j);
        parse_timestamp(slice(line, j, end), Format::OpenMetrics)?;
        let after = skip_blank(b, end);
        if after < b.len() {
            return Err(ErrorKind::TrailingText(excerpt(slice(
                line,
                after,
                b.len(),
            ))));
        }
    }
    Ok(())
}

/// A sample value: any float Rust's parser takes (`NaN`, `+Inf`, `-Inf`, `Inf`,
/// exponents), as Go's `strconv.ParseFloat` takes them.
fn parse_value(token: &str) -> Result<f64, ErrorKind> {
    token
        .parse::<f64>()
        .map_err(|_| ErrorKind::InvalidValue(excerpt(token)))
}

/// A timestamp in Unix milliseconds: integer milliseconds in the text format, seconds
/// with an optional fraction in OpenMetrics (rounded to the millisecond).
fn parse_timestamp(token: &str, format: Format) -> Result<i64, ErrorKind> {
    match format {
        Format::Text => token
            .parse::<i64>()
            .map_err(|_| ErrorKind::InvalidTimestamp(excerpt(token), "integer milliseconds")),
        Format::OpenMetrics => {
            let bad = || ErrorKind::InvalidTimestamp(excerpt(token), "seconds");
            let seconds = token.parse::<f64>().map_err(|_| bad())?;
            let ms = (seconds * 1000.0).round();
            // `as` saturates; refuse what would not fit rather than clamp silently.
            if ms.is_finite() && ms.abs() < 9.2e18 {
                Ok(ms as i64)
            } else {
                Err(bad())
            }
        }
    }
}
