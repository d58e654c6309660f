//! Go's `fmt` printing of template values: `Sprint`, `Sprintln` and
//! `Sprintf` with flags, width, precision, argument indexes and Go's error
//! notations (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA …)`).

use super::ftoa::format_float;
use super::strconv::{can_backquote, is_print, quote, quote_ascii, quote_rune};
use super::value::{DATA_TYPE, Value};

/// The flags, width and precision of one verb (Go's `fmt.fmtFlags`).
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// Output buffer plus the current verb's flags (Go's `fmt.pp`).
#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
    erroring: bool,
}

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(args: &[Value<'_>]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = arg.is_string_kind();
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// Go's `fmt.Sprint` of a single value (how an action prints its result).
pub(super) fn sprint_one(v: &Value<'_>) -> String {
    match v {
        Value::Str(s) | Value::Html(s) => s.to_string(),
        Value::Float(f) => super::go_float(*f),
        _ => sprint(std::slice::from_ref(v)),
    }
}

/// Go's `fmt.Sprintln`: always spaces, and a final newline.
pub(super) fn sprintln(args: &[Value<'_>]) -> String {
    let mut p = Printer::default();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// Go's `parsenum`: a decimal number of at most 1e6 starting at `i`.
fn parse_num(s: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let mut num: usize = 0;
    let mut found = false;
    while i < s.len() && s[i].is_ascii_digit() {
        if num > 1_000_000 {
            return (None, s.len());
        }
        num = num * 10 + usize::from(s[i] - b'0');
        found = true;
        i += 1;
    }
    (found.then_some(num), i)
}

/// Go's `parseArgNumber` on `[n]…`: the 0-based index (if any), the bytes
/// consumed and whether the bracket was well formed.
fn parse_arg_number(s: &[u8]) -> (Option<usize>, usize, bool) {
    if s.len() < 3 {
        return (None, 1, false);
    }
    match s[1..].iter().position(|&c| c == b']') {
        Some(rel) => {
            let close = rel + 1;
            match parse_num(s, 1) {
                (Some(n), ni) if ni == close => (n.checked_sub(1), close + 1, true),
                _ => (None, close + 1, false),
            }
        }
        None => (None, 1, false),
    }
}

/// Go's `intFromArg` for `*` widths and precisions.
fn int_from_arg(args: &[Value<'_>], arg_num: usize) -> (Option<i64>, usize) {
    let Some(arg) = args.get(arg_num) else {
        return (None, arg_num);
    };
    let n = match arg {
        Value::Int(i) => Some(*i),
        Value::Byte(b) => Some(i64::from(*b)),
        _ => None,
    };
    (n.filter(|n| n.abs() <= 1_000_000), arg_num + 1)
}

/// Go's `fmt.Sprintf`.
pub(super) fn sprintf(format: &str, args: &[Value<'_>]) -> String {
    let mut p = Printer::default();
    let s = format.as_bytes();
    let end = s.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    while i < end {
        let last = i;
        while i < end && s[i] != b'%' {
            i += 1;
        }
        if i > last {
            p.buf.push_str(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            match s[i] {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = !p.f.minus,
                b'+' => p.f.plus = true,
                b'-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                b' ' => p.f.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut good_arg_num = true;
        let mut after_index;
        // Argument index, e.g. %[2]d (Go's `argNumber`).
        let arg_index = |i: usize, arg_num: usize, good: &mut bool, re: &mut bool| {
            if i >= end || s[i] != b'[' {
                return (arg_num, i, false);
            }
            *re = true;
            let (index, wid, ok) = parse_arg_number(&s[i..]);
            match index {
                Some(index) if ok && index < args.len() => (index, i + wid, true),
                _ => {
                    *good = false;
                    (arg_num, i + wid, ok)
                }
            }
        };
        (arg_num, i, after_index) = arg_index(i, arg_num, &mut good_arg_num, &mut reordered);
        // Width.
        if i < end && s[i] == b'*' {
            i += 1;
            let (w, n) = int_from_arg(args, arg_num);
            arg_num = n;
            match w {
                Some(w) => {
                    if w < 0 {
                        p.f.minus = true;
                        p.f.zero = false;
                    }
                    p.f.wid = Some(w.unsigned_abs() as usize);
                }
                None => p.buf.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (w, ni) = parse_num(s, i);
            p.f.wid = w;
            i = ni;
            if after_index && w.is_some() {
                good_arg_num = false;
            }
        }
        // Precision.
        if i + 1 < end && s[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) = arg_index(i, arg_num, &mut good_arg_num, &mut reordered);
            if i < end && s[i] == b'*' {
                i += 1;
                let (pr, n) = int_from_arg(args, arg_num);
                arg_num = n;
                match pr {
                    Some(pr) if pr >= 0 => p.f.prec = Some(pr as usize),
                    _ => p.buf.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                let (pr, ni) = parse_num(s, i);
                p.f.prec = Some(pr.unwrap_or(0));
                i = ni;
            }
        }
        if !after_index {
            (arg_num, i, _) = arg_index(i, arg_num, &mut good_arg_num, &mut reordered);
        }
        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();
        match verb {
            '%' => p.buf.push('%'),
            _ if !good_arg_num => {
                p.buf.push_str("%!");
                p.buf.push(verb);
                p.buf.push_str("(BADINDEX)");
            }
            _ if arg_num >= args.len() => {
                p.buf.push_str("%!");
                p.buf.push(verb);
                p.buf.push_str("(MISSING)");
            }
            _ => {
                if verb == 'v' {
                    p.f.sharp_v = p.f.sharp;
                    p.f.sharp = false;
                    p.f.plus_v = p.f.plus;
                    p.f.plus = false;
                }
                p.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }
    }
    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (k, arg) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.buf.push_str(", ");
            }
            if matches!(arg, Value::Nil) {
                p.buf.push_str("<nil>");
            } else {
                p.buf.push_str(arg.type_name());
                p.buf.push('=');
                p.print_arg(arg, 'v');
            }
        }
        p.buf.push(')');
    }
    p.buf
}

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    /// Go's `fmt.pad`: honours width and the `-` flag.
    fn pad(&mut self, s: &str) {
        let Some(wid) = self.f.wid.filter(|&w| w > 0) else {
            self.buf.push_str(s);
            return;
        };
        let width = wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.buf.push_str(s);
        }
    }

    /// Pads with spaces even when the `0` flag is set.
    fn pad_no_zero(&mut self, s: &str) {
        let zero = std::mem::replace(&mut self.f.zero, false);
        self.pad(s);
        self.f.zero = zero;
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(n) => s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i]),
            None => s,
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            self.pad(&format!("`{s}`"));
        } else if self.f.plus {
            self.pad(&quote_ascii(s));
        } else {
            self.pad(&quote(s));
        }
    }

    /// Go's `fmtSbx`: hexadecimal bytes of a string.
    fn fmt_sx(&mut self, s: &str, upper: bool) {
        let digits: &[u8; 17] = if upper {
            b"0123456789ABCDEFX"
        } else {
            b"0123456789abcdefx"
        };
        let b = s.as_bytes();
        let length = self.f.prec.map_or(b.len(), |p| p.min(b.len()));
        let mut width = 2 * length;
        if width == 0 {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        if self.f.space {
            if self.f.sharp {
                width *= 2;
            }
            width += length - 1;
        } else if self.f.sharp {
            width += 2;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(digits[16] as char);
        }
        for (i, &c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(digits[16] as char);
                }
            }
            self.buf.push(digits[usize::from(c >> 4)] as char);
            self.buf.push(digits[usize::from(c & 0xf)] as char);
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_string(&mut self, v: &Value<'_>, s: &str, verb: char) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, false),
            'X' => self.fmt_sx(s, true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, v),
        }
    }

    /// Go's `fmt.fmtInteger`.
    fn fmt_integer(&mut self, u: u64, negative: bool, base: u32, verb: char, upper: bool) {
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let w = self.f.wid.unwrap_or(0);
                let zero = std::mem::replace(&mut self.f.zero, false);
                self.write_padding(w);
                self.f.zero = zero;
                return;
            }
        } else if self.f.zero
            && !self.f.minus
            && let Some(w) = self.f.wid
        {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut digits = match base {
            16 if upper => format!("{u:X}"),
            16 => format!("{u:x}"),
            8 => format!("{u:o}"),
            2 => format!("{u:b}"),
            _ => u.to_string(),
        };
        if digits.len() < prec {
            digits = "0".repeat(prec - digits.len()) + &digits;
        }
        let mut prefix = String::new();
        if self.f.sharp {
            match base {
                2 => prefix.push_str("0b"),
                8 if !digits.starts_with('0') => prefix.push('0'),
                16 => prefix.push_str(if upper { "0X" } else { "0x" }),
                _ => {}
            }
        }
        if verb == 'O' {
            prefix.insert_str(0, "0o");
        }
        let sign = if negative {
            "-"
        } else if self.f.plus {
            "+"
        } else if self.f.space {
            " "
        } else {
            ""
        };
        self.pad_no_zero(&format!("{sign}{prefix}{digits}"));
    }

    fn print_integer(&mut self, v: &Value<'_>, u: u64, negative: bool, verb: char) {
        let signed = matches!(v, Value::Int(_));
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let sharp = std::mem::replace(&mut self.f.sharp, true);
                self.fmt_integer(u, negative, 16, verb, false);
                self.f.sharp = sharp;
            }
            'v' | 'd' => self.fmt_integer(u, negative, 10, verb, false),
            'b' => self.fmt_integer(u, negative, 2, verb, false),
            'o' | 'O' => self.fmt_integer(u, negative, 8, verb, false),
            'x' => self.fmt_integer(u, negative, 16, verb, false),
            'X' => self.fmt_integer(u, negative, 16, verb, true),
            'c' | 'q' | 'U' => {
                // Go converts the (two's complement) value to a rune.
                let raw = if negative { u.wrapping_neg() } else { u };
                let c = u32::try_from(raw)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                match verb {
                    'c' => self.pad(&c.to_string()),
                    'q' => self.pad(&quote_rune(c, self.f.plus)),
                    _ => self.fmt_unicode(raw),
                }
            }
            _ => self.bad_verb(verb, v),
        }
    }

    /// Go's `fmtUnicode`: `U+0041`, with `#`: `U+0041 'A'`.
    fn fmt_unicode(&mut self, u: u64) {
        let prec = self.f.prec.unwrap_or(4).max(4);
        let mut s = format!("U+{u:0prec$X}");
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(c)
        {
            s.push_str(&format!(" '{c}'"));
        }
        self.pad_no_zero(&s);
    }

    /// Go's `fmt.fmtFloat` (sign, `+`/space flags, `#`, zero padding).
    fn fmt_float(&mut self, v: f64, verb: char, default_prec: Option<usize>) {
        let prec = self.f.prec.or(default_prec);
        let formatted = format_float(v, verb, prec);
        let mut num = if formatted.starts_with(['-', '+']) {
            formatted
        } else {
            format!("+{formatted}")
        };
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(..1, " ");
        }
        if num[1..].starts_with(['I', 'N']) {
            if num[1..].starts_with('N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad_no_zero(&num);
            return;
        }
        if self.f.sharp && verb != 'b' {
            num = sharpen(&num, verb, prec);
        }
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero
                && !self.f.minus
                && let Some(w) = self.f.wid
                && w > num.len()
            {
                self.buf.push_str(&num[..1]);
                self.write_padding(w - num.len());
                self.buf.push_str(&num[1..]);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn print_float(&mut self, v: f64, verb: char, val: &Value<'_>) {
        match verb {
            'v' => self.fmt_float(v, 'g', None),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(v, verb, None),
            'f' | 'e' | 'E' => self.fmt_float(v, verb, Some(6)),
            'F' => self.fmt_float(v, 'f', Some(6)),
            _ => self.bad_verb(verb, val),
        }
    }

    /// Go's `badVerb`: `%!verb(type=value)`.
    fn bad_verb(&mut self, verb: char, v: &Value<'_>) {
        self.erroring = true;
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if matches!(v, Value::Nil) {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(v.type_name());
            self.buf.push('=');
            self.print_arg(v, 'v');
        }
        self.buf.push(')');
        self.erroring = false;
    }

    /// Go's `printArg`.
    fn print_arg(&mut self, v: &Value<'_>, verb: char) {
        if let Value::Iface(_) = v {
            // fmt only ever sees the dynamic value.
            self.print_arg(&v.clone().concrete(), verb);
            return;
        }
        if matches!(v, Value::Nil) {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, v),
            }
            return;
        }
        if verb == 'T' {
            self.fmt_s(v.type_name());
            return;
        }
        match v {
            Value::Nil => {}
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) => self.print_integer(v, i.unsigned_abs(), *i < 0, verb),
            Value::Byte(b) => self.print_integer(v, u64::from(*b), false, verb),
            Value::Float(f) => self.print_float(*f, verb, v),
            Value::Str(s) | Value::Html(s) => self.fmt_string(v, s, verb),
            Value::Time(t) => match verb {
                'v' if self.f.sharp_v => self.buf.push_str(&t.go_string()),
                _ if self.erroring => self.pad(&t.to_string()),
                'v' | 's' | 'x' | 'X' | 'q' => self.fmt_string(v, &t.to_string(), verb),
                _ => self.bad_verb(verb, v),
            },
            _ => self.print_value(v, verb, 0),
        }
    }

    /// Go's `printValue` for composite values (maps, slices, structs).
    fn print_value(&mut self, v: &Value<'_>, verb: char, depth: usize) {
        match v {
            Value::Labels(m) => {
                self.map_open("map[string]string");
                for (i, (k, val)) in m.iter().enumerate() {
                    self.map_sep(i);
                    self.print_arg(&Value::str(k.as_str()), verb);
                    self.buf.push(':');
                    self.print_arg(&Value::str(val.as_str()), verb);
                }
                self.map_close();
            }
            Value::Args(m) => {
                self.map_open("map[string]interface {}");
                for (i, (k, val)) in m.iter().enumerate() {
                    self.map_sep(i);
                    self.print_arg(&Value::str(k.as_str()), verb);
                    self.buf.push(':');
                    match val {
                        Value::Nil if self.f.sharp_v => self.buf.push_str("interface {}(nil)"),
                        Value::Nil => self.pad("<nil>"),
                        _ => self.print_value_at(val, verb, depth + 1),
                    }
                }
                self.map_close();
            }
            Value::Vector => {
                if self.f.sharp_v {
                    self.buf.push_str("template.queryResult(nil)");
                } else {
                    self.buf.push_str("[]");
                }
            }
            Value::Data(d) => {
                if self.f.sharp_v {
                    self.buf.push_str(DATA_TYPE);
                }
                self.buf.push('{');
                let fields = [
                    ("Labels", Value::Labels(d.labels)),
                    ("ExternalLabels", Value::Labels(d.external_labels)),
                    ("ExternalURL", Value::str(d.external_url)),
                    ("Value", Value::Float(d.value)),
                ];
                for (i, (name, field)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    if self.f.plus_v || self.f.sharp_v {
                        self.buf.push_str(name);
                        self.buf.push(':');
                    }
                    self.print_value_at(field, verb, depth + 1);
                }
                self.buf.push('}');
            }
            _ => self.print_arg(v, verb),
        }
    }

    fn print_value_at(&mut self, v: &Value<'_>, verb: char, depth: usize) {
        match v {
            Value::Labels(_) | Value::Args(_) | Value::Vector | Value::Data(_) => {
                self.print_value(v, verb, depth);
            }
            _ => self.print_arg(v, verb),
        }
    }

    fn map_open(&mut self, type_name: &str) {
        if self.f.sharp_v {
            self.buf.push_str(type_name);
            self.buf.push('{');
        } else {
            self.buf.push_str("map[");
        }
    }

    fn map_sep(&mut self, i: usize) {
        if i > 0 {
            self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
        }
    }

    fn map_close(&mut self) {
        self.buf.push(if self.f.sharp_v { '}' } else { ']' });
    }
}

/// Go's `#` flag on floats: keep a decimal point and trailing zeros.
fn sharpen(num: &str, verb: char, prec: Option<usize>) -> String {
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => prec.map_or(6, |p| p as i64),
        _ => 0,
    };
    let (mut body, tail) = match num[1..].find(|c: char| {
        matches!(c, 'p' | 'P') || (matches!(c, 'e' | 'E') && verb != 'x' && verb != 'X')
    }) {
        Some(k) => (num[..k + 1].to_owned(), num[k + 1..].to_owned()),
        None => (num.to_owned(), String::new()),
    };
    let mut has_point = false;
    let mut saw_nonzero = false;
    for c in body[1..].chars() {
        if c == '.' {
            has_point = true;
            continue;
        }
        if c != '0' {
            saw_nonzero = true;
        }
        if saw_nonzero {
            digits -= 1;
        }
    }
    if !has_point {
        if body.len() == 2 && body.ends_with('0') {
            digits -= 1;
        }
        body.push('.');
    }
    while digits > 0 {
        body.push('0');
        digits -= 1;
    }
    body + &tail
}
