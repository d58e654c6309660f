//! Go's `strconv` pieces the template engine needs: quoting and unquoting
//! string literals, `ParseInt`/`ParseUint` with base prefixes, `ParseFloat`
//! syntax (including `Inf`/`NaN` and underscores), and `unicode.IsPrint`.
//! The quoting is the crate's one `%q`: the PromQL label printing, the
//! notifier's label sets and the unit-test reports use it too.

use std::fmt;

/// Why Go's `strconv` rejected a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NumError {
    /// `invalid syntax`
    Syntax,
    /// `value out of range`
    Range,
}

impl NumError {
    /// Go's wording for the error kind.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            NumError::Syntax => "invalid syntax",
            NumError::Range => "value out of range",
        }
    }
}

/// Go's `strconv.ParseFloat(s, 64)` error text for `s`.
pub(super) fn parse_float_error(s: &str, err: NumError) -> String {
    format!("strconv.ParseFloat: parsing {}: {}", quote(s), err.as_str())
}

/// `unicode.IsPrint`, approximated with the Unicode data Rust exposes:
/// letters, marks, numbers, punctuation and symbols plus the ASCII space.
pub(super) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Format characters, private use, surrogates (impossible in `char`)
    // and non-characters are not printable in Go.
    !matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xFDD0..=0xFDEF | 0xFFFE | 0xFFFF
        | 0x110BD | 0x110CD | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0001 | 0xE0020..=0xE007F | 0xF0000.. )
}

fn push_escaped<W: fmt::Write>(
    out: &mut W,
    c: char,
    quote_char: char,
    ascii_only: bool,
) -> fmt::Result {
    match c {
        '\x07' => out.write_str("\\a"),
        '\x08' => out.write_str("\\b"),
        '\x0c' => out.write_str("\\f"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\x0b' => out.write_str("\\v"),
        '\\' => out.write_str("\\\\"),
        c if c == quote_char => {
            out.write_char('\\')?;
            out.write_char(c)
        }
        c if (c as u32) < 0x80 && is_print(c) => out.write_char(c),
        c if !ascii_only && is_print(c) => out.write_char(c),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(out, "\\x{:02x}", c as u32),
        c if (c as u32) < 0x10000 => write!(out, "\\u{:04x}", c as u32),
        c => write!(out, "\\U{:08x}", c as u32),
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub(crate) fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// Go's `strconv.Quote`, written to `out`.
pub(crate) fn write_quoted<W: fmt::Write>(out: &mut W, s: &str) -> fmt::Result {
    write_quoted_with(out, s, '"', false)
}

/// Go's `strconv.QuoteToASCII`.
pub(super) fn quote_ascii(s: &str) -> String {
    quote_with(s, '"', true)
}

/// Go's `strconv.QuoteRune` (`ascii_only`: `QuoteRuneToASCII`).
pub(crate) fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from('\'');
    // Writing to a `String` cannot fail.
    let _ = push_escaped(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

fn quote_with(s: &str, q: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    // Writing to a `String` cannot fail.
    let _ = write_quoted_with(&mut out, s, q, ascii_only);
    out
}

fn write_quoted_with<W: fmt::Write>(
    out: &mut W,
    s: &str,
    q: char,
    ascii_only: bool,
) -> fmt::Result {
    out.write_char(q)?;
    for c in s.chars() {
        push_escaped(out, c, q, ascii_only)?;
    }
    out.write_char(q)
}

/// Go's `strconv.CanBackquote`.
pub(super) fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !(c < ' ' || c == '\x7f')))
}

/// Go's `strconv.Unquote` for `"…"`, `` `…` `` and `'…'` literals.
pub(super) fn unquote(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 {
        return None;
    }
    let q = bytes[0];
    if q != bytes[bytes.len() - 1] {
        return None;
    }
    let body = &s[1..s.len() - 1];
    match q {
        b'`' => (!body.contains('`')).then(|| body.replace('\r', "")),
        b'"' | b'\'' => {
            let mut out = String::new();
            let mut rest = body;
            let mut count = 0;
            while !rest.is_empty() {
                let (c, tail) = unquote_char(rest, q as char)?;
                out.push(c);
                rest = tail;
                count += 1;
            }
            if q == b'\'' && count != 1 {
                return None;
            }
            Some(out)
        }
        _ => None,
    }
}

/// Go's `strconv.UnquoteChar`: decodes the first character or escape of
/// `s` (inside a literal quoted with `quote`) and returns it with the rest.
pub(super) fn unquote_char(s: &str, quote: char) -> Option<(char, &str)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c == '\n' && quote == '"' {
        return None;
    }
    if c != '\\' {
        return Some((c, chars.as_str()));
    }
    let e = chars.next()?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '\'' | '"' if e == quote => Some(e),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((c, rest));
    }
    let (digits, radix) = match e {
        'x' => (2, 16),
        'u' => (4, 16),
        'U' => (8, 16),
        '0'..='7' => (3, 8),
        _ => return None,
    };
    let (lit, tail) = if radix == 8 {
        (s.get(1..4)?, s.get(4..)?)
    } else {
        (rest.get(..digits)?, rest.get(digits..)?)
    };
    let v = u32::from_str_radix(lit, radix).ok()?;
    if !lit.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    match e {
        // \x and octal escapes are bytes; only ASCII ones fit in a `char`.
        'x' | '0'..='7' if v > 0x7f => None,
        _ => char::from_u32(v).map(|c| (c, tail)),
    }
}

/// Go's `underscoreOK`: underscores only between digits or after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        i = 1;
    }
    let mut hex = false;
    if b.len() - i >= 2 && b[i] == b'0' && matches!(b[i + 1] | 0x20, b'b' | b'o' | b'x') {
        hex = b[i + 1] | 0x20 == b'x';
        i += 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub(super) fn parse_uint(s: &str) -> Result<u64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let (digits, radix) = split_base(s);
    if digits.is_empty() {
        return Err(NumError::Syntax);
    }
    if s.contains('_') && !underscore_ok(s) {
        return Err(NumError::Syntax);
    }
    let mut v: u64 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        let d = c.to_digit(radix).ok_or(NumError::Syntax)?;
        v = v
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(NumError::Range)?;
    }
    Ok(v)
}

/// Splits a base prefix (`0x`, `0o`, `0b`, or a bare leading `0` for
/// octal): returns the digits and the radix.
fn split_base(s: &str) -> (&str, u32) {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'0' {
        return match b[1] | 0x20 {
            b'x' => (&s[2..], 16),
            b'o' => (&s[2..], 8),
            b'b' => (&s[2..], 2),
            _ => (&s[1..], 8),
        };
    }
    (s, 10)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub(super) fn parse_int(s: &str) -> Result<i64, NumError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if neg {
        if u > 1 << 63 {
            return Err(NumError::Range);
        }
        Ok((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).map_err(|_| NumError::Range)
    }
}

/// Go's `strconv.ParseFloat(s, 64)`.
pub(super) fn parse_float(s: &str) -> Result<f64, NumError> {
    if let Some(v) = special_float(s) {
        return Ok(v);
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s.contains('_') && !underscore_ok(s) {
        return Err(NumError::Syntax);
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let v = if clean.len() > 2 && clean.as_bytes()[0] == b'0' && clean.as_bytes()[1] | 0x20 == b'x'
    {
        parse_hex_float(&clean[2..])?
    } else {
        if !is_decimal_float_syntax(&clean) {
            return Err(NumError::Syntax);
        }
        clean.parse::<f64>().map_err(|_| NumError::Syntax)?
    };
    if v.is_infinite() {
        return Err(NumError::Range);
    }
    Ok(if neg { -v } else { v })
}

/// `digits [. digits] [e [+-] digits]` with at least one mantissa digit.
fn is_decimal_float_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] | 0x20) == b'e' {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Hexadecimal float mantissa (after `0x`) with a mandatory `p` exponent.
fn parse_hex_float(s: &str) -> Result<f64, NumError> {
    let (mant, exp) = s.split_once(['p', 'P']).ok_or(NumError::Syntax)?;
    let exp: i32 = match exp.parse::<i64>() {
        Ok(e) => e.clamp(-100_000, 100_000) as i32,
        Err(_) => return Err(NumError::Syntax),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(NumError::Syntax);
    }
    let mut v = 0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        let d = c.to_digit(16).ok_or(NumError::Syntax)?;
        v = v * 16.0 + f64::from(d);
    }
    let shift = exp - 4 * frac_part.len() as i32;
    Ok(v * 2f64.powi(shift))
}

fn special_float(s: &str) -> Option<f64> {
    let (sign, body, signed) = match s.as_bytes().first()? {
        b'-' => (-1.0, &s[1..], true),
        b'+' => (1.0, &s[1..], true),
        _ => (1.0, s, false),
    };
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => Some(sign * f64::INFINITY),
        "nan" if !signed => Some(f64::NAN),
        _ => None,
    }
}
