//! National identifiers: US social security numbers and IBANs.

use std::sync::LazyLock;

use regex::Regex;

use super::finding::{Confidence, Filter, Finding, push};
use super::span::{before, clean_end, clean_start, contains_ci};

static SSN_SEPARATED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u)\d{3}[- ]\d{2}[- ]\d{4}").unwrap());
static SSN_BARE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?-u)\b\d{9}\b").unwrap());

/// How far before a bare 9-digit number an "ssn" / "social security" keyword may appear.
const SSN_CONTEXT_BYTES: usize = 24;

/// Appends `us_ssn` findings: `AAA-GG-SSSS` / `AAA GG SSSS` → High; bare 9 digits after an
/// SSN keyword → Medium.
pub(super) fn detect_ssn(text: &str, out: &mut Vec<Finding>) {
    for m in SSN_SEPARATED.find_iter(text) {
        let s = m.as_str().as_bytes();
        if s[3] == s[6]
            && clean_start(text, m.start(), &['-', '+', '/', '#'])
            && clean_end(text, m.end())
            && !matches!(text.as_bytes()[m.end()..], [b'-', d, ..] if d.is_ascii_digit())
            && ssn_valid(m.as_str().bytes().filter(u8::is_ascii_digit))
        {
            push(out, Filter::UsSsn, m.start(), m.end(), Confidence::High);
        }
    }
    for m in SSN_BARE.find_iter(text) {
        let ctx = before(text, m.start(), SSN_CONTEXT_BYTES);
        if (contains_ci(ctx, "ssn") || contains_ci(ctx, "social security"))
            && clean_start(text, m.start(), &['-', '+'])
            && clean_end(text, m.end())
            && ssn_valid(m.as_str().bytes())
        {
            push(out, Filter::UsSsn, m.start(), m.end(), Confidence::Medium);
        }
    }
}

/// SSA rules: area not 000, 666 or 900–999; group not 00; serial not 0000.
fn ssn_valid(digits: impl Iterator<Item = u8>) -> bool {
    let mut d = [0u32; 9];
    for (slot, b) in d.iter_mut().zip(digits) {
        *slot = u32::from(b - b'0');
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// IBAN length per country (SWIFT IBAN registry).
#[rustfmt::skip]
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28), (b"BA", 20), (b"BE", 16),
    (b"BG", 22), (b"BH", 22), (b"BR", 29), (b"BY", 28), (b"CH", 21), (b"CR", 22), (b"CY", 28),
    (b"CZ", 24), (b"DE", 22), (b"DK", 18), (b"DO", 28), (b"EE", 20), (b"EG", 29), (b"ES", 24),
    (b"FI", 18), (b"FO", 18), (b"FR", 27), (b"GB", 22), (b"GE", 22), (b"GI", 23), (b"GL", 18),
    (b"GR", 27), (b"GT", 28), (b"HR", 21), (b"HU", 28), (b"IE", 22), (b"IL", 23), (b"IS", 26),
    (b"IT", 27), (b"JO", 30), (b"KW", 30), (b"KZ", 20), (b"LB", 28), (b"LI", 21), (b"LT", 20),
    (b"LU", 20), (b"LV", 21), (b"MC", 27), (b"MD", 24), (b"ME", 22), (b"MK", 19), (b"MR", 27),
    (b"MT", 31), (b"MU", 30), (b"NL", 18), (b"NO", 15), (b"PK", 24), (b"PL", 28), (b"PS", 29),
    (b"PT", 25), (b"QA", 29), (b"RO", 24), (b"RS", 22), (b"SA", 24), (b"SE", 24), (b"SI", 19),
    (b"SK", 24), (b"SM", 27), (b"TN", 24), (b"TR", 26), (b"UA", 29), (b"VA", 22), (b"VG", 24),
    (b"XK", 20),
];

/// Appends `iban` findings: country length + mod-97 == 1, compact or grouped by 4 → High.
pub(super) fn detect_iban(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 4 <= b.len() {
        let looks = b[i].is_ascii_alphabetic()
            && b[i + 1].is_ascii_alphabetic()
            && b[i + 2].is_ascii_digit()
            && b[i + 3].is_ascii_digit()
            && clean_start(text, i, &[]);
        if looks
            && let Some(len) =
                iban_length([b[i].to_ascii_uppercase(), b[i + 1].to_ascii_uppercase()])
            && let Some(end) = iban_end(b, i, len)
            && clean_end(text, end)
            && mod97_is_one(&b[i..end])
        {
            push(out, Filter::Iban, i, end, Confidence::High);
            i = end;
            continue;
        }
        i += 1;
    }
}

/// IBAN length for a country code.
fn iban_length(cc: [u8; 2]) -> Option<usize> {
    IBAN_LENGTHS
        .iter()
        .find(|(c, _)| **c == cc)
        .map(|&(_, n)| n)
}

/// End of an IBAN of `len` alphanumerics starting at `start`, allowing single spaces only
/// between groups of four.
fn iban_end(b: &[u8], start: usize, len: usize) -> Option<usize> {
    let (mut pos, mut count) = (start, 0);
    while count < len {
        match b.get(pos) {
            Some(c) if c.is_ascii_alphanumeric() => {
                count += 1;
                pos += 1;
            }
            Some(b' ')
                if count % 4 == 0 && b.get(pos + 1).is_some_and(u8::is_ascii_alphanumeric) =>
            {
                pos += 1;
            }
            _ => return None,
        }
    }
    Some(pos)
}

/// ISO 7064 mod 97-10 over the rearranged IBAN (spaces skipped).
fn mod97_is_one(iban: &[u8]) -> bool {
    let chars = || iban.iter().filter(|c| c.is_ascii_alphanumeric());
    let rearranged = chars().skip(4).chain(chars().take(4));
    let mut r: u32 = 0;
    for &c in rearranged {
        r = match c.to_ascii_uppercase() {
            d @ b'0'..=b'9' => (r * 10 + u32::from(d - b'0')) % 97,
            l => (r * 100 + u32::from(l - b'A') + 10) % 97,
        };
    }
    r == 1
}
