//! Contact details: e-mail addresses and phone numbers.

use std::sync::LazyLock;

use regex::Regex;

use super::finding::{Confidence, Filter, Finding, push};
use super::span::{before, clean_end, clean_start, is_dns_label};

/// "TLDs" that are really file extensions (`icon@2x.png`).
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tiff", "html", "htm", "json",
    "yaml", "yml", "txt", "css", "js",
];

fn is_local_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_label_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// Appends `email` findings (High). An address inside a URL authority (`https://user@host`)
/// is userinfo, not an e-mail, and is skipped.
pub(super) fn detect_email(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find('@').map(|p| p + from) {
        from = at + 1;
        let mut start = at;
        while start > 0 && is_local_byte(b[start - 1]) {
            start -= 1;
        }
        while start < at && matches!(b[start], b'.' | b'-' | b'+') {
            start += 1;
        }
        let local = &b[start..at];
        if local.is_empty()
            || local.len() > 64
            || !local.iter().any(u8::is_ascii_alphanumeric)
            || local.ends_with(b".")
            || in_url_authority(text, start)
        {
            continue;
        }
        if let Some(end) = domain_end(b, at + 1) {
            push(out, Filter::Email, start, end, Confidence::High);
            from = end;
        }
    }
}

/// True when the token containing `pos` started with `scheme://`.
fn in_url_authority(text: &str, pos: usize) -> bool {
    let token_start = text[..pos]
        .rfind(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '(' | '`'))
        .map_or(0, |p| p + 1);
    text[token_start..pos].contains("://")
}

/// End of a `label(.label)+` domain with an alphabetic TLD of 2–24 letters, starting at `start`.
fn domain_end(b: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    let mut labels = 0;
    let mut last_label = (start, start);
    loop {
        let label_start = pos;
        while pos < b.len() && is_label_byte(b[pos]) {
            pos += 1;
        }
        if !is_dns_label(&b[label_start..pos]) {
            // An unusable label ends the domain at the previous one.
            pos = last_label.1;
            break;
        }
        labels += 1;
        last_label = (label_start, pos);
        if b.get(pos) == Some(&b'.') && b.get(pos + 1).is_some_and(|&c| is_label_byte(c)) {
            pos += 1;
        } else {
            break;
        }
    }
    let tld = &b[last_label.0..last_label.1];
    let tld_ok = (2..=24).contains(&tld.len())
        && tld.iter().all(u8::is_ascii_alphabetic)
        && !FILE_EXTENSIONS
            .iter()
            .any(|e| e.as_bytes().eq_ignore_ascii_case(tld));
    (labels >= 2 && tld_ok).then_some(pos)
}

static NANP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u)(?:\([2-9]\d{2}\) ?|\b[2-9]\d{2}[-.])[2-9]\d{2}[-.]\d{4}\b").unwrap()
});

/// Words right before a number that make it a reference, not a phone number.
const NOT_PHONE_CONTEXT: &[&str] = &[
    "order",
    "ref",
    "reference",
    "invoice",
    "isbn",
    "tracking",
    "sku",
    "po",
];

/// Appends `phone` findings: E.164 (`+` and 8–15 digits) → High; North American
/// `(NXX) NXX-XXXX`, `NXX-NXX-XXXX`, `NXX.NXX.XXXX` → Medium.
pub(super) fn detect_phone(text: &str, out: &mut Vec<Finding>) {
    let first = out.len();
    let mut from = 0;
    while let Some(plus) = text[from..].find('+').map(|p| p + from) {
        from = plus + 1;
        if let Some(end) = e164_end(text, plus)
            && clean_start(text, plus, &['+'])
            && !reference_context(text, plus)
        {
            push(out, Filter::Phone, plus, end, Confidence::High);
            from = end;
        }
    }
    for m in NANP.find_iter(text) {
        // `NXX-NXX-XXXX` / `NXX.NXX.XXXX` use one separator; `(NXX) NXX-XXXX` is free.
        let s = m.as_str().as_bytes();
        let seps_agree = s[0] == b'(' || s[3] == s[7];
        let overlaps_e164 = out[first..]
            .iter()
            .any(|f| f.start < m.end() && m.start() < f.end);
        if seps_agree
            && !overlaps_e164
            && clean_start(text, m.start(), &['-', '.', '+', '/', '#'])
            && clean_end(text, m.end())
            && !matches!(text.as_bytes()[m.end()..], [b'-' | b'.', d, ..] if d.is_ascii_digit())
            && !reference_context(text, m.start())
        {
            push(out, Filter::Phone, m.start(), m.end(), Confidence::Medium);
        }
    }
}

/// End of an E.164-style number starting at the `+` at `plus`: digit groups joined by at most
/// two of ` `, `-`, `(`, `)` (never two spaces or two hyphens), 8–15 digits in total.
fn e164_end(text: &str, plus: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut pos = plus + 1;
    let (mut digits, mut end) = (0, None);
    loop {
        let group_start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == group_start {
            break;
        }
        digits += pos - group_start;
        end = Some(pos);
        let seps = b[pos..]
            .iter()
            .take(2)
            .take_while(|c| matches!(c, b' ' | b'-' | b'(' | b')'))
            .count();
        let sep = &b[pos..pos + seps];
        if matches!(sep, [b' ', b' '] | [b'-', b'-']) {
            break;
        }
        if b.get(pos + seps).is_some_and(u8::is_ascii_digit) {
            pos += seps;
        } else {
            break;
        }
    }
    let end = end?;
    ((8..=15).contains(&digits) && clean_end(text, end)).then_some(end)
}

/// True when the number at `start` is introduced as an order/reference/ISBN number or by `#`.
fn reference_context(text: &str, start: usize) -> bool {
    let ctx = before(text, start, 16);
    ctx.trim_end_matches(' ').ends_with('#')
        || ctx
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| NOT_PHONE_CONTEXT.iter().any(|k| k.eq_ignore_ascii_case(w)))
}
