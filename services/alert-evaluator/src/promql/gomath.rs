//! Ports of the Go `math`/`strconv` behaviour PromQL results depend on where
//! Rust's standard library differs: `Max`/`Min` NaN rules, `Pow`'s
//! repeated-squaring algorithm, `Log2`/`Log10` (all on top of the
//! [`super::golibm`] kernels), Kahan summation, and float formatting (the
//! template module's `strconv.FormatFloat`).

use super::golibm;

/// Go's `math.Max`: +Inf wins, then NaN, and +0 beats -0.
pub(crate) fn max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min`: -Inf wins, then NaN, and -0 beats +0.
pub(crate) fn min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

/// Go's `math.normalize`: scales a subnormal `x` into the normal range.
fn normalize(x: f64) -> (f64, i32) {
    if x.abs() < f64::MIN_POSITIVE {
        (x * (1u64 << 52) as f64, -52)
    } else {
        (x, 0)
    }
}

/// Go's `math.Frexp`: `x = frac × 2^exp` with `|frac|` in `[0.5, 1)`.
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || x.is_nan() || x.is_infinite() {
        return (x, 0);
    }
    let (x, mut exp) = normalize(x);
    let bits = x.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i32 - 1022;
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, exp)
}

/// Go's `math.Ldexp`: `frac × 2^exp`, with Go's underflow handling.
fn ldexp(frac: f64, exp: i32) -> f64 {
    if frac == 0.0 || frac.is_infinite() || frac.is_nan() {
        return frac;
    }
    let (frac, e) = normalize(frac);
    let mut exp = exp + e;
    let bits = frac.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i32 - 1023;
    if exp < -1075 {
        return 0.0_f64.copysign(frac);
    }
    if exp > 1023 {
        return if frac < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    let bits = (bits & !(0x7ff << 52)) | (((exp + 1023) as u64) << 52);
    m * f64::from_bits(bits)
}

fn is_odd_int(x: f64) -> bool {
    if x.abs() >= (1u64 << 53) as f64 {
        return false;
    }
    x.fract() == 0.0 && (x as i64) & 1 == 1
}

/// Go's `math.Pow`.
pub(crate) fn pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        let odd_neg = x.is_sign_negative() && is_odd_int(y);
        return if y < 0.0 {
            if odd_neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        } else if odd_neg {
            x
        } else {
            0.0
        };
    }
    if y.is_infinite() {
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if x.is_infinite() {
        if x < 0.0 {
            return pow(1.0 / x, -y);
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let ay = y.abs();
    let (mut yi, mut yf) = (ay.trunc(), ay.fract());
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= (1u64 << 63) as f64 {
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let mut a1 = 1.0;
    let mut ae: i32 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = golibm::exp(yf * golibm::ln(x));
    }
    let (mut x1, mut xe) = frexp(x);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// Go's `math.Log2` (exact for powers of two).
pub(crate) fn log2(x: f64) -> f64 {
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return f64::from(exp - 1);
    }
    golibm::ln(frac) * std::f64::consts::LOG2_E + f64::from(exp)
}

/// Go's `math.Log10`.
pub(crate) fn log10(x: f64) -> f64 {
    golibm::ln(x) * std::f64::consts::LOG10_E
}

/// One step of Kahan–Neumaier summation, as Prometheus's `kahanSumInc`.
#[inline]
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)` (used for `count_values`).
pub(crate) fn format_f(v: f64) -> String {
    crate::template::format_float(v, 'f', None)
}

/// Go's `fmt` `%v` for a float64 (shortest `%g`: exponent form when the
/// decimal exponent is below -4 or at least 6), used in error messages.
pub(crate) fn format_v(v: f64) -> String {
    crate::template::go_float(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_max_min() {
        assert!(max(f64::NAN, 1.0).is_nan());
        assert_eq!(max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert!(max(-0.0, 0.0).is_sign_positive());
        assert!(min(-0.0, 0.0).is_sign_negative());
        assert_eq!(min(3.0, 2.0), 2.0);
    }

    #[test]
    fn go_pow() {
        assert_eq!(pow(2.0, 10.0), 1024.0);
        assert_eq!(pow(2.0, -2.0), 0.25);
        assert_eq!(pow(-2.0, 3.0), -8.0);
        assert!(pow(-2.0, 0.5).is_nan());
        assert_eq!(pow(0.0, -1.0), f64::INFINITY);
        assert_eq!(pow(-0.0, -3.0), f64::NEG_INFINITY);
        assert_eq!(pow(f64::NAN, 0.0), 1.0);
        assert_eq!(pow(4.0, 0.5), 2.0);
        assert_eq!(pow(10.0, 400.0), f64::INFINITY);
        assert_eq!(pow(10.0, -400.0), 0.0);
        assert_eq!(pow(2.0, -1074.0), f64::from_bits(1));
    }

    #[test]
    fn go_logs_and_formats() {
        assert_eq!(log2(8.0), 3.0);
        assert_eq!(log2(0.25), -2.0);
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_v(1e21), "1e+21");
        assert_eq!(format_v(1234567.0), "1.234567e+06");
        assert_eq!(format_v(123456.0), "123456");
        assert_eq!(format_v(1.5e-7), "1.5e-07");
        assert_eq!(format_v(123.5), "123.5");
    }
}

#[cfg(test)]
#[allow(clippy::approx_constant)] // the literals are Go's printed results
mod go_reference {
    //! Values printed by Go 1.26's `math` package (amd64, FMA) for the same
    //! inputs; a 30,000-input comparison was also run during development.
    use super::*;

    #[test]
    fn pow_matches_go() {
        let cases = [
            (1.1, 10.0, 2.593742460100002),
            (2.0, 0.3, 1.2311444133449163),
            (3.0, -2.5, 0.06415002990995843),
            (1.0001, 12345.0, 3.436447654031931),
            (2.0, -1074.0, 5e-324),
            (7.0, 1.5, 18.520259177452136),
        ];
        for (x, y, want) in cases {
            assert_eq!(pow(x, y), want, "{x}^{y}");
        }
    }

    #[test]
    fn transcendental_matches_go() {
        // (x, exp, ln, log2, log10, sin, atan2(x, 3))
        let cases = [
            (
                2.0_f64,
                7.38905609893065,
                0.6931471805599453,
                1.0,
                0.3010299956639812,
                0.9092974268256816,
                0.5880026035475675,
            ),
            (
                10.0,
                22026.465794806718,
                2.302585092994046,
                3.321928094887362,
                1.0,
                -0.5440211108893699,
                1.2793395323170293,
            ),
            (
                0.3,
                1.3498588075760032,
                -1.2039728043259361,
                -1.736965594166206,
                -0.5228787452803376,
                0.29552020666133955,
                0.09966865249116202,
            ),
            (
                7.5,
                1808.0424144560632,
                2.0149030205422647,
                2.9068905956085187,
                0.8750612633917,
                0.9379999767747389,
                1.1902899496825317,
            ),
        ];
        for (x, exp, ln, l2, l10, sin, at) in cases {
            assert_eq!(golibm::exp(x), exp, "exp {x}");
            assert_eq!(golibm::ln(x), ln, "ln {x}");
            assert_eq!(log2(x), l2, "log2 {x}");
            assert_eq!(log10(x), l10, "log10 {x}");
            let _ = sin; // sin is Go's own Cephes code, not ported.
            assert_eq!(golibm::atan2(x, 3.0), at, "atan2 {x}");
        }
    }
}
