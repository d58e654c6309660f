//! Redaction of findings.

use super::finding::Finding;

/// Replaces each finding's range with `[REDACTED:<filter>]`.
///
/// Overlapping findings are merged into one replacement named after the finding that starts
/// first (the longest one on a tie). Ranges past the end of `text` are clamped and ranges
/// off char boundaries are widened to the enclosing chars, so any findings are safe to pass.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut order: Vec<&Finding> = findings.iter().filter(|f| f.start < f.end).collect();
    order.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < order.len() {
        let name = &order[i].filter;
        let start = floor_boundary(text, order[i].start.min(text.len())).max(copied);
        let mut end = order[i].end;
        i += 1;
        while i < order.len() && order[i].start < end {
            end = end.max(order[i].end);
            i += 1;
        }
        let end = ceil_boundary(text, end.min(text.len()));
        if end <= start {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str("[REDACTED:");
        out.push_str(name);
        out.push(']');
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}
