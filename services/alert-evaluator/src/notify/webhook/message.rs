//! Alertmanager's webhook body, version "4" (`notify/webhook.Message` embedding
//! `template.Data`), and its encoding byte for byte as Alertmanager writes it.

use std::collections::BTreeMap;
use std::io;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::notify::Alert;
use crate::notify::alert::utc_from_ms;
use crate::notify::fingerprint::fingerprint_hex;

/// `firing` or `resolved`, for one alert and for the whole group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
}

/// The webhook body. Field names and order are Alertmanager's; unknown fields
/// (newer Alertmanagers add some) are ignored when reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub receiver: String,
    pub status: Status,
    pub alerts: Vec<MessageAlert>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    #[serde(rename = "externalURL")]
    pub external_url: String,
    pub version: String,
    pub group_key: String,
    pub truncated_alerts: u64,
}

/// One alert in the body (`template.Alert`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageAlert {
    pub status: Status,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    #[serde(with = "go_time")]
    pub starts_at: DateTime<Utc>,
    /// `None` is Go's zero time, `0001-01-01T00:00:00Z`: Alertmanager clears the
    /// end of every alert that is still firing.
    #[serde(with = "go_time::optional")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    pub fingerprint: String,
}

/// The group a message is about, as the dispatcher knows it.
pub(super) struct GroupInfo<'a> {
    pub receiver: &'a str,
    pub external_url: &'a str,
    pub key: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

impl Message {
    /// Builds the body for `alerts` (already filtered, sorted and truncated) as
    /// `template.Data` does: statuses at `now_ms`, common labels and annotations
    /// over the alerts that are in the body.
    pub(super) fn new(
        group: &GroupInfo<'_>,
        alerts: &[Alert],
        truncated: u64,
        now_ms: i64,
    ) -> Self {
        let alerts: Vec<MessageAlert> = alerts
            .iter()
            .map(|a| MessageAlert::new(a, now_ms))
            .collect();
        let mut common_labels = alerts.first().map(|a| a.labels.clone()).unwrap_or_default();
        let mut common_annotations = alerts
            .first()
            .map(|a| a.annotations.clone())
            .unwrap_or_default();
        for alert in alerts.iter().skip(1) {
            common_labels.retain(|k, v| alert.labels.get(k) == Some(v));
            common_annotations.retain(|k, v| alert.annotations.get(k) == Some(v));
        }
        let status = if alerts.iter().any(|a| a.status == Status::Firing) {
            Status::Firing
        } else {
            Status::Resolved
        };
        Self {
            receiver: group.receiver.to_owned(),
            status,
            alerts,
            group_labels: group.labels.clone(),
            common_labels,
            common_annotations,
            external_url: group.external_url.to_owned(),
            version: "4".to_owned(),
            group_key: group.key.to_owned(),
            truncated_alerts: truncated,
        }
    }

    /// The request body exactly as Alertmanager's `json.Encoder` writes it: `<`,
    /// `>`, `&`, U+2028 and U+2029 escaped, and a trailing newline.
    pub fn to_body(&self) -> serde_json::Result<Vec<u8>> {
        let mut body = Vec::with_capacity(1024);
        self.serialize(&mut serde_json::Serializer::with_formatter(
            &mut body,
            GoFormatter,
        ))?;
        body.push(b'\n');
        Ok(body)
    }
}

impl MessageAlert {
    fn new(alert: &Alert, now_ms: i64) -> Self {
        let resolved = alert.resolved_at(now_ms);
        Self {
            status: if resolved {
                Status::Resolved
            } else {
                Status::Firing
            },
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at: utc_from_ms(alert.starts_at_ms),
            ends_at: alert.ends_at_ms.filter(|_| resolved).map(utc_from_ms),
            generator_url: alert.generator_url.clone(),
            fingerprint: fingerprint_hex(alert.fingerprint()),
        }
    }
}

/// serde_json's compact output plus the escapes Go's `json.Encoder` adds by default.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Go's `time.Time` JSON: RFC 3339 with the fraction's trailing zeros trimmed, in UTC.
mod go_time {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    const ZERO: &str = "0001-01-01T00:00:00Z";

    pub fn format(time: &DateTime<Utc>) -> String {
        let nanos = time.to_rfc3339_opts(SecondsFormat::Nanos, true);
        // "…:05.120000000Z" → "…:05.12Z"; "…:05.000000000Z" → "…:05Z".
        let without_z = nanos.trim_end_matches('Z');
        let trimmed = without_z.trim_end_matches('0').trim_end_matches('.');
        format!("{trimmed}Z")
    }

    fn parse<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| D::Error::custom(format!("time {text:?}: {e}")))
    }

    pub fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        parse(deserializer)
    }

    pub mod optional {
        use super::*;

        pub fn serialize<S: Serializer>(
            time: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match time {
                Some(time) => serializer.serialize_str(&format(time)),
                None => serializer.serialize_str(ZERO),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            let time = parse(deserializer)?;
            Ok((format(&time) != ZERO).then_some(time))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// Raw request bodies Alertmanager 0.25.0 posted: the three alerts of
    /// `tests/dispatch.rs`'s `captured_input` went to its `/api/v2/alerts`, routed
    /// (`group_by: [alertname]`, `--web.external-url=http://am.example:9093/`) to
    /// receiver `hook`, which had two `webhook_configs`, the second with `max_alerts: 2`.
    const CAPTURED: &str = include_str!("testdata/alertmanager-0.25.0.json");
    const CAPTURED_MAX_2: &str = include_str!("testdata/alertmanager-0.25.0-max-alerts-2.json");

    #[test]
    fn round_trips_alertmanager_bodies_byte_for_byte() -> TestResult {
        for captured in [CAPTURED, CAPTURED_MAX_2] {
            let message: Message = serde_json::from_str(captured)?;
            assert_eq!(String::from_utf8(message.to_body()?)?, captured);
        }
        Ok(())
    }

    #[test]
    fn reads_the_fields() -> TestResult {
        let message: Message = serde_json::from_str(CAPTURED)?;
        assert_eq!(message.version, "4");
        assert_eq!(message.group_key, r#"{}:{alertname="HighLatency"}"#);
        assert_eq!(message.status, Status::Firing);
        let [b, a, c] = &message.alerts[..] else {
            return Err(format!("expected 3 alerts, got {}", message.alerts.len()).into());
        };
        assert_eq!(b.ends_at, None);
        assert_eq!(a.starts_at.timestamp_millis(), 1_714_557_600_250);
        assert_eq!(c.status, Status::Resolved);
        assert_eq!(
            c.ends_at.map(|t| t.timestamp_millis()),
            Some(1_714_555_800_500)
        );
        assert!(a.annotations["description"].contains("> 1s & rising <fast>"));
        Ok(())
    }

    #[test]
    fn formats_times_like_go() {
        let t = |ms| go_time::format(&utc_from_ms(ms));
        assert_eq!(t(1_714_557_600_000), "2024-05-01T10:00:00Z");
        assert_eq!(t(1_714_557_600_250), "2024-05-01T10:00:00.25Z");
        assert_eq!(t(1_714_557_600_007), "2024-05-01T10:00:00.007Z");
        assert_eq!(t(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn reads_other_newer_fields_and_offsets() -> TestResult {
        let text = r#"{"receiver":"r","status":"resolved","alerts":[{"status":"resolved","labels":{},
            "annotations":{},"startsAt":"2024-05-01T12:00:00.5+02:00","endsAt":"2024-05-01T10:01:00Z",
            "generatorURL":"","fingerprint":"cbf29ce484222325"}],"groupLabels":{},"commonLabels":{},
            "commonAnnotations":{},"externalURL":"","version":"4","groupKey":"{}:{}",
            "truncatedAlerts":0,"notification_reason":"x","routeLabels":{}}"#;
        let message: Message = serde_json::from_str(text)?;
        assert_eq!(
            message.alerts[0].starts_at.timestamp_millis(),
            1_714_557_600_500
        );
        Ok(())
    }
}
