//! Go's `strconv.FormatFloat` for `float64` (`'e'`, `'f'`, `'g'`, `'x'`,
//! `'b'` formats, shortest or with a precision). Decimal digits come from
//! Rust's exact float formatting, which rounds like Go (half to even on
//! exact ties); the layout rules are ported from Go's `ftoa.go`.

/// Decimal digits `0.d1d2d3… × 10^dp` without trailing zeros (`d` empty for 0).
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

impl Digits {
    /// Parses Rust's `{:e}` output for a non-negative finite value.
    fn from_exp_string(s: &str) -> Digits {
        let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
        while d.last() == Some(&b'0') {
            d.pop();
        }
        if d.is_empty() {
            return Digits { d, dp: 0 };
        }
        Digits { d, dp: exp + 1 }
    }

    /// The shortest digits that round-trip to `v` (`v` finite, `>= 0`).
    fn shortest(v: f64) -> Digits {
        if v == 0.0 {
            return Digits {
                d: Vec::new(),
                dp: 0,
            };
        }
        Digits::from_exp_string(&format!("{v:e}"))
    }

    /// `v` (finite, `>= 0`) correctly rounded to `n >= 1` significant digits.
    fn significant(v: f64, n: usize) -> Digits {
        if v == 0.0 {
            return Digits {
                d: Vec::new(),
                dp: 0,
            };
        }
        Digits::from_exp_string(&format!("{:.*e}", n - 1, v))
    }

    fn nd(&self) -> i32 {
        self.d.len() as i32
    }
}

/// Go's `fmtE`: `-d.ddddde±dd`.
fn fmt_e(out: &mut String, neg: bool, d: &Digits, prec: i32, e: char) {
    if neg {
        out.push('-');
    }
    out.push(d.d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.d.get(i as usize).map_or('0', |&c| c as char));
        }
    }
    out.push(e);
    push_exponent(out, if d.d.is_empty() { 0 } else { d.dp - 1 });
}

/// The exponent of `fmtE` and `fmtX`: its sign, then at least two digits.
fn push_exponent(out: &mut String, exp: i32) {
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

/// Go's `fmtF`: `-ddddd.ddddd`.
fn fmt_f(out: &mut String, neg: bool, d: &Digits, prec: i32) {
    if neg {
        out.push('-');
    }
    if d.dp > 0 {
        let m = d.nd().min(d.dp);
        out.extend(d.d[..m as usize].iter().map(|&c| c as char));
        for _ in m..d.dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = d.dp + i - 1;
            let c = if j >= 0 && j < d.nd() {
                d.d[j as usize] as char
            } else {
                '0'
            };
            out.push(c);
        }
    }
}

/// Go's `formatDigits` for the `'g'`/`'G'` format.
fn fmt_g(out: &mut String, neg: bool, d: &Digits, mut prec: i32, shortest: bool, upper: bool) {
    let mut eprec = prec;
    if eprec > d.nd() && d.nd() >= d.dp {
        eprec = d.nd();
    }
    if shortest {
        eprec = 6;
    }
    let exp = d.dp - 1;
    if exp < -4 || exp >= eprec {
        if prec > d.nd() {
            prec = d.nd();
        }
        fmt_e(out, neg, d, prec - 1, if upper { 'E' } else { 'e' });
        return;
    }
    if prec > d.dp {
        prec = d.nd();
    }
    fmt_f(out, neg, d, (prec - d.dp).max(0));
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)`; `prec` `None` is Go's `-1`.
pub(crate) fn format_float(v: f64, fmt: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let neg = v.is_sign_negative();
    let a = v.abs();
    let mut out = String::new();
    match fmt {
        'b' => fmt_b(&mut out, v),
        'x' | 'X' => fmt_x(&mut out, v, prec, fmt == 'X'),
        'e' | 'E' => match prec {
            Some(p) => {
                let d = Digits::significant(a, p + 1);
                fmt_e(&mut out, neg, &d, p as i32, fmt);
            }
            None => {
                let d = Digits::shortest(a);
                fmt_e(&mut out, neg, &d, (d.nd() - 1).max(0), fmt);
            }
        },
        'f' => match prec {
            Some(p) => {
                if neg {
                    out.push('-');
                }
                out.push_str(&format!("{a:.p$}"));
            }
            None => {
                let d = Digits::shortest(a);
                fmt_f(&mut out, neg, &d, (d.nd() - d.dp).max(0));
            }
        },
        _ => {
            let upper = fmt == 'G';
            match prec {
                Some(p) => {
                    let p = p.max(1);
                    let d = Digits::significant(a, p);
                    fmt_g(&mut out, neg, &d, p as i32, false, upper);
                }
                None => {
                    let d = Digits::shortest(a);
                    let p = d.nd();
                    fmt_g(&mut out, neg, &d, p, true, upper);
                }
            }
        }
    }
    out
}

/// Mantissa and binary exponent as Go's `FormatFloat` computes them.
fn mant_exp(v: f64) -> (u64, i32) {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1 << 52;
    }
    (mant, exp - 1023)
}

/// Go's `fmtB`: `-ddddp±ddd`.
fn fmt_b(out: &mut String, v: f64) {
    let (mant, exp) = mant_exp(v);
    if v.is_sign_negative() {
        out.push('-');
    }
    let exp = exp - 52;
    out.push_str(&format!("{mant}p"));
    if exp >= 0 {
        out.push('+');
    }
    out.push_str(&exp.to_string());
}

/// Go's `fmtX`: `-0x1.yyyyp±dd`.
fn fmt_x(out: &mut String, v: f64, prec: Option<usize>, upper: bool) {
    let (mut mant, mut exp) = mant_exp(v);
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec.filter(|&p| p < 15) {
        let shift = (p * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    if v.is_sign_negative() {
        out.push('-');
    }
    out.push('0');
    out.push(if upper { 'X' } else { 'x' });
    out.push((b'0' + ((mant >> 60) & 1) as u8) as char);
    mant <<= 4;
    match prec {
        None if mant != 0 => {
            out.push('.');
            while mant != 0 {
                out.push(hex[((mant >> 60) & 15) as usize] as char);
                mant <<= 4;
            }
        }
        Some(p) if p > 0 => {
            out.push('.');
            for _ in 0..p {
                out.push(hex[((mant >> 60) & 15) as usize] as char);
                mant <<= 4;
            }
        }
        _ => {}
    }
    out.push(if upper { 'P' } else { 'p' });
    push_exponent(out, exp);
}

/// Go's `%v` formatting of a `float64` (`fmt.Sprint(v)`): the shortest
/// digits that round-trip, in exponent form (`1e+06`, `3.5e-05`) when the
/// decimal exponent is below -4 or at least 6 (`%g`), and `+Inf`, `-Inf`,
/// `NaN`.
pub fn go_float(v: f64) -> String {
    format_float(v, 'g', None)
}
