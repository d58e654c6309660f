//! The alert the evaluator hands over, in the shape of Prometheus's `notifier.Alert`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// An alert as the evaluator hands it over (Prometheus's `notifier.Alert`).
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Unix milliseconds.
    pub starts_at_ms: i64,
    /// Prometheus sets `ValidUntil` (firing) or `ResolvedAt` (resolved); `None` = open.
    pub ends_at_ms: Option<i64>,
    pub generator_url: String,
}

impl Alert {
    /// Alertmanager's fingerprint of the label set (`model.LabelSet.Fingerprint`).
    pub fn fingerprint(&self) -> u64 {
        super::fingerprint::fingerprint(&self.labels)
    }

    /// What Alertmanager calls `ResolvedAt(now)`: `ends_at` is set and not after `now_ms`.
    pub fn resolved_at(&self, now_ms: i64) -> bool {
        self.ends_at_ms.is_some_and(|ends_at| ends_at <= now_ms)
    }

    /// The `alertname` label, or "" when there is none.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// Unix milliseconds as a UTC time, clamped to what `chrono` can represent.
pub(super) fn utc_from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(ends_at_ms: Option<i64>) -> Alert {
        Alert {
            labels: BTreeMap::from([("alertname".into(), "HighLatency".into())]),
            annotations: BTreeMap::new(),
            starts_at_ms: 1_000,
            ends_at_ms,
            generator_url: String::new(),
        }
    }

    #[test]
    fn resolved_at_matches_alertmanager() {
        assert!(!alert(None).resolved_at(i64::MAX));
        assert!(!alert(Some(2_000)).resolved_at(1_999));
        assert!(
            alert(Some(2_000)).resolved_at(2_000),
            "ends_at == now is resolved"
        );
        assert!(alert(Some(2_000)).resolved_at(2_001));
    }

    #[test]
    fn name_and_fingerprint() {
        let a = alert(None);
        assert_eq!(a.name(), "HighLatency");
        // Computed with github.com/prometheus/common/model v0.38.0.
        assert_eq!(a.fingerprint(), 0x73db_eed5_635e_a4e4);
    }

    #[test]
    fn utc_from_ms_clamps() {
        assert_eq!(
            utc_from_ms(250).to_rfc3339(),
            "1970-01-01T00:00:00.250+00:00"
        );
        assert_eq!(utc_from_ms(i64::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(utc_from_ms(i64::MIN), DateTime::<Utc>::MIN_UTC);
    }
}
