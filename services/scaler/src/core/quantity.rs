//! Kubernetes `resource.Quantity` arithmetic, as far as the HPA needs it.
//!
//! The controller never computes with floats from the spec: it takes
//! `Quantity.MilliValue()` of each target (rounding up to a whole milli-unit) and
//! compares it with the milli-value of the metric sample. This module does the same
//! with exact integer arithmetic, plus `AsApproximateFloat64()` for the tolerance
//! fields.

use thiserror::Error;

/// A quantity string that does not follow the Kubernetes grammar
/// (`<signedNumber><suffix>`, suffix one of `n u m "" k M G T P E`, `Ki … Ei`,
/// or `e<int>`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("quantity {input:?}: {problem}")]
pub struct QuantityError {
    /// The text as written in the spec, so the message can quote it.
    pub input: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// An exactly parsed quantity: `(-1)^negative × mantissa × 10^exp10 × 2^exp2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    negative: bool,
    mantissa: u128,
    exp10: i32,
    exp2: u32,
}

fn parse(input: &str) -> Result<Parsed, QuantityError> {
    let fail = |problem| QuantityError {
        input: input.to_owned(),
        problem,
    };
    let bytes = input.as_bytes();
    let mut at = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            at = 1;
            true
        }
        Some(b'+') => {
            at = 1;
            false
        }
        _ => false,
    };
    let mut mantissa: u128 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0;
    let mut seen_point = false;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u128::from(b - b'0')))
                    .ok_or_else(|| fail("too many digits"))?;
                if seen_point {
                    exp10 -= 1;
                }
                digits += 1;
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        at += 1;
    }
    if digits == 0 {
        return Err(fail("no digits"));
    }
    let (extra10, exp2) = match input.get(at..).unwrap_or("") {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        suffix => match suffix.strip_prefix(['e', 'E']) {
            Some(exponent) => (
                exponent.parse::<i32>().map_err(|_| fail("bad exponent"))?,
                0,
            ),
            None => return Err(fail("unknown suffix")),
        },
    };
    Ok(Parsed {
        negative,
        mantissa,
        exp10: exp10.saturating_add(extra10),
        exp2,
    })
}

/// `Quantity.MilliValue()`: the value in thousandths, rounded up (towards +∞) to a
/// whole milli-unit and saturated at the `i64` range, as the HPA reads every target.
pub fn milli_value(input: &str) -> Result<i64, QuantityError> {
    let p = parse(input)?;
    let scaled = 1u128
        .checked_shl(p.exp2)
        .and_then(|f| p.mantissa.checked_mul(f))
        .unwrap_or(u128::MAX);
    let e = p.exp10.saturating_add(3);
    let (whole, remainder) = if e >= 0 {
        let exact = 10u128
            .checked_pow(e.unsigned_abs())
            .and_then(|f| scaled.checked_mul(f))
            .unwrap_or(u128::MAX);
        (exact, false)
    } else {
        match 10u128.checked_pow(e.unsigned_abs()) {
            Some(divisor) => (scaled / divisor, scaled % divisor != 0),
            None => (0, scaled != 0),
        }
    };
    let magnitude = i64::try_from(whole).unwrap_or(i64::MAX);
    Ok(match (p.negative, remainder) {
        (false, true) => magnitude.saturating_add(1),
        (false, false) => magnitude,
        (true, _) => -magnitude,
    })
}

/// `Quantity.AsApproximateFloat64()`, used for `behavior.scale{Up,Down}.tolerance`.
pub fn approximate_f64(input: &str) -> Result<f64, QuantityError> {
    let p = parse(input)?;
    // Precision loss is what "approximate" promises.
    let magnitude = p.mantissa as f64 * 10f64.powi(p.exp10) * 2f64.powi(p.exp2.cast_signed());
    Ok(if p.negative { -magnitude } else { magnitude })
}

/// The milli-value of a metric sample, as if the sample had been written as a decimal
/// quantity string (rounded to nano-units, then up to milli-units, like
/// `resource.ParseQuantity(...).MilliValue()`). `None` for NaN and infinities.
///
/// Rounding to nano-units first keeps binary noise out: `0.07 * 1000` is
/// `70.00000000000001` in `f64`, but the quantity `0.07` is exactly `70m`.
pub fn sample_milli(value: f64) -> Option<i64> {
    if !value.is_finite() {
        return None;
    }
    // `as` saturates: absurdly large samples pin at the i128 range.
    let nanos = (value * 1e9).round() as i128;
    let milli = nanos.div_euclid(1_000_000) + i128::from(nanos.rem_euclid(1_000_000) != 0);
    Some(i64::try_from(milli).unwrap_or(if milli > 0 { i64::MAX } else { i64::MIN }))
}
