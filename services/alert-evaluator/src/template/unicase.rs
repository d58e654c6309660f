//! Go's single-rune case mappings (`unicode.ToUpper`, `ToLower`,
//! `ToTitle`), built on Rust's tables: where Rust maps a character to
//! several (`ß` → `SS`), Go keeps it or uses its simple mapping.

/// Go's single-rune `unicode.ToLower` approximated with Rust's mapping.
pub(super) fn simple_lower(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

/// Go's single-rune `unicode.ToUpper` approximated with Rust's mapping.
pub(super) fn simple_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToUpper`.
pub(super) fn to_upper(c: char) -> char {
    match c {
        '\u{1C5}' => '\u{1C4}',
        '\u{1C8}' => '\u{1C7}',
        '\u{1CB}' => '\u{1CA}',
        '\u{1F2}' => '\u{1F1}',
        c => special_simple_upper(c).unwrap_or_else(|| simple_upper(c)),
    }
}

/// Go's `unicode.ToLower`.
pub(super) fn to_lower(c: char) -> char {
    simple_lower(c)
}

/// Go's `unicode.ToTitle`.
pub(super) fn to_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        c => special_simple_title(c).unwrap_or_else(|| to_upper(c)),
    }
}

/// Simple uppercase mappings hidden by Rust's multi-character full mappings
/// (Greek letters with ypogegrammeni map to their titlecase forms).
fn special_simple_upper(c: char) -> Option<char> {
    let u = c as u32;
    let mapped = match u {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => u + 8,
        0x1FB3 | 0x1FC3 | 0x1FF3 => u + 9,
        _ => return None,
    };
    char::from_u32(mapped)
}

fn special_simple_title(c: char) -> Option<char> {
    let u = c as u32;
    match u {
        // Titlecase forms, and Georgian (whose uppercase is not its title case).
        0x1F88..=0x1F8F
        | 0x1F98..=0x1F9F
        | 0x1FA8..=0x1FAF
        | 0x1FBC
        | 0x1FCC
        | 0x1FFC
        | 0x10D0..=0x10FA
        | 0x10FD..=0x10FF => Some(c),
        _ => special_simple_upper(c),
    }
}
