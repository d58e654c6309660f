//! Durations as Prometheus writes them: `250ms`, `5s`, `1h30m`, `2d`, `1w`, `1y`
//! (`model.ParseDuration`: units in decreasing order, each at most once; a bare `0`).
//! Use as `#[serde(with = "shared::config::duration")]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

const UNITS: [(&str, u64); 8] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
    ("", 0),
];

/// Parses a Prometheus duration.
pub fn parse(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || format!("`{text}` is not a duration (like 250ms, 5s, 1h30m)");
    let mut rest = text;
    let mut millis: u64 = 0;
    let mut last_unit = 0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        // "ms" before "m": the longest unit that matches.
        let (i, (unit, scale)) = UNITS
            .iter()
            .enumerate()
            .filter(|(_, (u, _))| !u.is_empty() && rest.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len())
            .ok_or_else(bad)?;
        if i < last_unit || (i == last_unit && millis > 0) {
            return Err(format!(
                "`{text}`: units must go from largest to smallest, each once"
            ));
        }
        last_unit = i;
        millis = n
            .checked_mul(*scale)
            .and_then(|v| millis.checked_add(v))
            .ok_or_else(|| format!("`{text}` is too long"))?;
        rest = &rest[unit.len()..];
    }
    Ok(Duration::from_millis(millis))
}

/// Formats as Prometheus does: the largest units first, `0s` for zero.
pub fn format(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, scale) in UNITS.iter().filter(|(u, _)| !u.is_empty()) {
        if ms >= *scale {
            out.push_str(&format!("{}{unit}", ms / scale));
            ms %= scale;
        }
    }
    out
}

/// serde: deserialize.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// serde: serialize.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}
