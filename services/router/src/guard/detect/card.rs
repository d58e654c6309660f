//! Payment card numbers: 13–19 digits, bare or in card-style groups, Luhn-valid,
//! known IIN prefix and a length that prefix issues.

use super::finding::{Confidence, Filter, Finding, push};
use super::span::{clean_end, clean_start};

/// Longest card number (digits).
const MAX_DIGITS: usize = 19;

/// Appends `card_number` findings.
pub(super) fn detect(text: &str, out: &mut Vec<Finding>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let run = DigitRun::parse(bytes, i);
        if clean_start(text, i, &['+', '-', '/', '#']) && clean_end(text, run.end) && run.is_card()
        {
            push(out, Filter::CardNumber, i, run.end, Confidence::High);
        }
        i = run.end;
    }
}

/// A maximal run of digit groups joined by one consistent single separator (space or hyphen).
struct DigitRun {
    end: usize,
    digits: [u8; MAX_DIGITS],
    len: usize,
    /// Group lengths; only the first few matter for the layout check.
    groups: [u8; 8],
    ngroups: usize,
    too_long: bool,
}

impl DigitRun {
    fn parse(bytes: &[u8], start: usize) -> Self {
        let mut run = DigitRun {
            end: start,
            digits: [0; MAX_DIGITS],
            len: 0,
            groups: [0; 8],
            ngroups: 0,
            too_long: false,
        };
        let mut sep = None;
        let mut i = start;
        loop {
            let group_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                if run.len < MAX_DIGITS {
                    run.digits[run.len] = bytes[i] - b'0';
                    run.len += 1;
                } else {
                    run.too_long = true;
                }
                i += 1;
            }
            if run.ngroups < run.groups.len() {
                run.groups[run.ngroups] = (i - group_start).min(255) as u8;
            } else {
                run.too_long = true;
            }
            run.ngroups += 1;
            run.end = i;
            let next_sep = bytes.get(i).copied().filter(|b| matches!(b, b' ' | b'-'));
            let digit_follows = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            match next_sep {
                Some(s) if digit_follows && sep.is_none_or(|p| p == s) => {
                    sep = Some(s);
                    i += 1;
                }
                _ => return run,
            }
        }
    }

    fn is_card(&self) -> bool {
        let digits = &self.digits[..self.len];
        !self.too_long
            && (13..=MAX_DIGITS).contains(&self.len)
            && self.layout_ok()
            && digits.iter().any(|&d| d != digits[0])
            && brand_accepts(digits)
            && luhn_ok(digits)
    }

    /// Bare digits, `4-4-4-…` with a last group of 1–4, or the Amex/Diners `4-6-5` / `4-6-4`.
    fn layout_ok(&self) -> bool {
        let g = &self.groups[..self.ngroups];
        match g {
            [_] => true,
            [4, 6, 5] | [4, 6, 4] => true,
            [head @ .., last] => head.iter().all(|&n| n == 4) && (1..=4).contains(last),
            [] => false,
        }
    }
}

/// Known IIN prefix whose scheme issues numbers of this length.
fn brand_accepts(d: &[u8]) -> bool {
    let prefix = |n: usize| {
        d.iter()
            .take(n)
            .fold(0u32, |acc, &x| acc * 10 + u32::from(x))
    };
    let len = d.len();
    let (p2, p3, p4) = (prefix(2), prefix(3), prefix(4));
    match d[0] {
        4 => matches!(len, 13 | 16 | 19),              // Visa
        5 => (51..=55).contains(&p2) && len == 16,     // Mastercard
        2 => (2221..=2720).contains(&p4) && len == 16, // Mastercard 2-series
        3 if p2 == 34 || p2 == 37 => len == 15,        // Amex
        3 if (3528..=3589).contains(&p4) => len >= 16, // JCB
        3 if p2 == 36 || p2 == 38 || (300..=305).contains(&p3) => len >= 14, // Diners
        6 if p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) => len >= 16, // Discover
        6 if p2 == 62 => len >= 16,                    // UnionPay
        _ => false,
    }
}

/// Luhn mod-10 check.
pub(super) fn luhn_ok(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}
