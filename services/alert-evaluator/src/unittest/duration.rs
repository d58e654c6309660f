//! Prometheus durations (`model.Duration` of prometheus/common v0.39, used by 2.42):
//! `1y2w3d4h5m6s7ms`, each unit at most once and in that order, integer counts only, plus the
//! bare `0`. A year is 365 days, a week 7 days. Printing follows `Duration.String()`:
//! `90m` prints `1h30m`, `7d` prints `1w`, `0` prints `0s`.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A non-negative duration with millisecond resolution, as promtool's test files use it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    millis: u64,
}

/// A duration string that is not valid; the messages are Prometheus's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string is empty.
    #[error("empty duration string")]
    Empty,
    /// The string does not match `((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?`.
    #[error("not a valid duration string: {}", crate::template::quote(.0))]
    Invalid(String),
    /// The total exceeds what Go's `time.Duration` holds (about 292 years).
    #[error("duration out of range")]
    OutOfRange,
}

/// Units in the order the syntax requires them, with their length in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Go's `time.Duration` is int64 nanoseconds.
const MAX_MILLIS: u64 = (i64::MAX as u64) / 1_000_000;

impl Duration {
    /// The zero duration.
    pub const ZERO: Duration = Duration { millis: 0 };

    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Duration {
            millis: secs.saturating_mul(1000),
        }
    }

    /// The length in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// Whether this is the zero duration.
    pub const fn is_zero(self) -> bool {
        self.millis == 0
    }

    /// Parses Prometheus's duration syntax (`model.ParseDuration`).
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        match text {
            "0" => return Ok(Duration::ZERO),
            "" => return Err(DurationError::Empty),
            _ => {}
        }
        let invalid = || DurationError::Invalid(text.to_string());
        let mut rest = text;
        let mut next_unit = 0;
        let mut total: u128 = 0;
        let mut out_of_range = false;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid());
            }
            let (number, after) = rest.split_at(digits);
            // "ms" must be tried before "m".
            let (idx, unit) = UNITS
                .iter()
                .enumerate()
                .skip(next_unit)
                .filter(|(_, (u, _))| after.starts_with(u))
                .max_by_key(|(_, (u, _))| u.len())
                .ok_or_else(invalid)?;
            // Go's Atoi saturates on overflow, which then fails the range check.
            let n: u128 = number.parse().unwrap_or(u128::MAX);
            let ms = n.saturating_mul(u128::from(unit.1));
            total = total.saturating_add(ms);
            if ms > u128::from(MAX_MILLIS) || total > u128::from(MAX_MILLIS) {
                out_of_range = true;
            }
            next_unit = idx + 1;
            rest = &after[unit.0.len()..];
        }
        if out_of_range {
            return Err(DurationError::OutOfRange);
        }
        let millis = u64::try_from(total).map_err(|_| DurationError::OutOfRange)?;
        Ok(Duration { millis })
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        std::time::Duration::from_millis(d.millis)
    }
}

impl FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

impl fmt::Display for Duration {
    /// `model.Duration.String()`: years and weeks only when they divide the duration exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.millis;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (i, (unit, mult)) in UNITS.iter().enumerate() {
            let exact_only = i < 2;
            if exact_only && !ms.is_multiple_of(*mult) {
                continue;
            }
            let v = ms / mult;
            if v > 0 {
                write!(f, "{v}{unit}")?;
                ms -= v * mult;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    /// Any YAML scalar, read as its text (`0` and `'5m'` alike, as yaml.v2 does); null is
    /// zero (the field was left empty).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl<'de> Visitor<'de> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Prometheus duration such as 5m or 1h30m")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Duration, E> {
                Ok(Duration::ZERO)
            }
            fn visit_none<E: de::Error>(self) -> Result<Duration, E> {
                Ok(Duration::ZERO)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Duration, D::Error> {
                d.deserialize_str(DurationVisitor)
            }
        }
        deserializer.deserialize_option(DurationVisitor)
    }
}
