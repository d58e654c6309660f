//! Invisible Unicode: tag characters, zero-width characters and bidi controls.
//!
//! - High: tag characters (U+E0000–E007F), bidi overrides LRO/RLO (U+202D/202E) and
//!   isolates (U+2066–2069).
//! - Medium: zero-width characters (U+200B–200D, U+2060, U+FEFF except at the very start of
//!   the text), bidi embeddings/pop (U+202A–202C) and marks (U+200E, U+200F, U+061C).
//! - Not flagged: ZWJ (U+200D) between emoji (👨‍👩‍👧, 🏳️‍🌈), and ZWJ/ZWNJ (U+200C/200D)
//!   between letters of scripts that use them for shaping (Arabic/Persian, Syriac, Indic,
//!   Myanmar, Khmer, Mongolian), and the tag sequence of a subdivision flag (🏴 + tags +
//!   CANCEL TAG, e.g. the flag of England).
//!
//! Consecutive flagged characters are merged into one finding with the highest confidence.

use super::finding::{Confidence, Filter, Finding, push};

/// Appends `invisible_unicode` findings. `at_stream_start`: offset 0 is the start of the
/// document (a BOM there is legitimate).
pub(super) fn detect(text: &str, at_stream_start: bool, out: &mut Vec<Finding>) {
    if text.is_ascii() {
        return;
    }
    let mut open: Option<(usize, usize, Confidence)> = None;
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\u{1F3F4}' {
            // Subdivision flags (🏴 + tag letters + CANCEL TAG) are legitimate tag use.
            let skip_to = i + c.len_utf8() + subdivision_tags_len(&text[i + c.len_utf8()..]);
            while chars.next_if(|&(j, _)| j < skip_to).is_some() {}
        }
        let next = chars.peek().map(|&(_, n)| n);
        let flagged =
            classify(c, prev, next).filter(|_| !(c == '\u{FEFF}' && i == 0 && at_stream_start));
        let end = i + c.len_utf8();
        match (flagged, open) {
            (Some(conf), Some((s, e, old))) if e == i => open = Some((s, end, old.max(conf))),
            (Some(conf), _) => {
                if let Some((s, e, old)) = open.take() {
                    push(out, Filter::InvisibleUnicode, s, e, old);
                }
                open = Some((i, end, conf));
            }
            (None, _) => {}
        }
        // Invisible chars do not count as context for their neighbours' joiner checks.
        if flagged.is_none() {
            prev = Some(c);
        }
    }
    if let Some((s, e, conf)) = open {
        push(out, Filter::InvisibleUnicode, s, e, conf);
    }
}

/// Confidence for a flagged char; None when it is visible or legitimately used here.
fn classify(c: char, prev: Option<char>, next: Option<char>) -> Option<Confidence> {
    match u32::from(c) {
        0xE0000..=0xE007F | 0x202D | 0x202E | 0x2066..=0x2069 => Some(Confidence::High),
        0x200D if prev.is_some_and(is_emoji_part) && next.is_some_and(is_emoji) => None,
        0x200C | 0x200D if prev.is_some_and(uses_joiners) && next.is_some_and(uses_joiners) => None,
        0x200B..=0x200F | 0x2060 | 0xFEFF | 0x202A..=0x202C | 0x061C => Some(Confidence::Medium),
        _ => None,
    }
}

/// Byte length of a `tag-letters… CANCEL TAG` subdivision-flag tail at the start of `s`
/// (2–6 tag letters/digits), or 0.
fn subdivision_tags_len(s: &str) -> usize {
    let mut len = 0;
    for (n, c) in s.chars().enumerate() {
        match u32::from(c) {
            0xE007F if (2..=6).contains(&n) => return len + c.len_utf8(),
            0xE0030..=0xE0039 | 0xE0061..=0xE007A if n < 6 => len += c.len_utf8(),
            _ => return 0,
        }
    }
    0
}

/// Pictographic emoji (approximation of Extended_Pictographic).
fn is_emoji(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF
        | 0x2190..=0x21FF | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0xA9 | 0xAE | 0x203C | 0x2049
        | 0x2122 | 0x2139)
}

/// An emoji or something that ends an emoji: VS16, keycap, skin-tone modifiers (in range).
fn is_emoji_part(c: char) -> bool {
    is_emoji(c) || matches!(u32::from(c), 0xFE0F | 0x20E3 | 0xE0020..=0xE007F)
}

/// Letters of scripts where ZWJ/ZWNJ legitimately control shaping.
fn uses_joiners(c: char) -> bool {
    matches!(u32::from(c),
        0x0600..=0x06FF | 0x0700..=0x074F | 0x0750..=0x077F | 0x07C0..=0x07FF | 0x08A0..=0x08FF
        | 0x0900..=0x0DFF | 0x1000..=0x109F | 0x1780..=0x17FF | 0x1800..=0x18AF
        | 0xA8E0..=0xA8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFC)
}
