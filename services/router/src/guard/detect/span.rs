//! Small text helpers shared by the detectors: boundaries and look-behind context.

/// The char ending at byte `i` (i.e. just before it), if any.
pub(super) fn char_before(text: &str, i: usize) -> Option<char> {
    text[..i].chars().next_back()
}

/// The char starting at byte `i`, if any.
pub(super) fn char_at(text: &str, i: usize) -> Option<char> {
    text[i..].chars().next()
}

/// Letters, digits and `_`: what glues a token to its neighbours.
pub(super) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// True when a number starting at `start` is not the tail of a longer token:
/// no word char (or any of `extra`) right before it, and no `1.` / `1,` decimal lead-in.
pub(super) fn clean_start(text: &str, start: usize, extra: &[char]) -> bool {
    match char_before(text, start) {
        None => true,
        Some(c) if is_word(c) || extra.contains(&c) => false,
        Some('.' | ',') => !char_before(text, start - 1).is_some_and(|c| c.is_ascii_digit()),
        Some(_) => true,
    }
}

/// True when a number ending at `end` is not followed by more of the token:
/// no word char right after, and no `.5` / `,5` decimal tail.
pub(super) fn clean_end(text: &str, end: usize) -> bool {
    match char_at(text, end) {
        None => true,
        Some(c) if is_word(c) => false,
        Some('.' | ',') => !char_at(text, end + 1).is_some_and(|c| c.is_ascii_digit()),
        Some(_) => true,
    }
}

/// Up to `max` bytes of `text` before `end`, cut on a char boundary.
pub(super) fn before(text: &str, end: usize, max: usize) -> &str {
    let mut start = end.saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..end]
}

/// A DNS label: 1–63 ASCII letters, digits or hyphens, not starting or ending with a hyphen.
pub(super) fn is_dns_label(label: &[u8]) -> bool {
    (1..=63).contains(&label.len())
        && label
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        && label[0] != b'-'
        && label[label.len() - 1] != b'-'
}

/// ASCII case-insensitive substring test (no allocation).
pub(super) fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}
