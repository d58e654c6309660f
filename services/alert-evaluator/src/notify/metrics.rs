//! The notification metrics every webhook sender and Alertmanager client reports into.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use shared::telemetry::MetricsRegistry;

/// What became of a notification. For a webhook a notification is one message
/// (one group flush); for the Alertmanager client it is one alert, as in
/// Prometheus's own `prometheus_notifications_*_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Accepted by the receiver (2xx).
    Sent,
    /// Given up on: not retryable, out of attempts, or no answer in time at shutdown.
    Failed,
    /// Never attempted: pushed out of a full queue, or still queued when closing gave up.
    Dropped,
    /// One more attempt after a retryable failure.
    Retried,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
            Self::Retried => "retried",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    receiver: String,
    result: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReceiverLabels {
    receiver: String,
}

type HistogramFamily = Family<ReceiverLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

/// The families, created once and cloned into every sender (clones share the values):
/// - `poolpilot_alert_evaluator_notifications_total{receiver, result="sent|failed|dropped|retried"}`
/// - `poolpilot_alert_evaluator_notification_duration_seconds{receiver}`: one observation per HTTP request
/// - `poolpilot_alert_evaluator_notification_queue_length{receiver}`: notifications waiting to be sent
#[derive(Clone, Debug)]
pub struct NotifyMetrics {
    notifications: Family<ResultLabels, Counter>,
    duration: HistogramFamily,
    queue_length: Family<ReceiverLabels, Gauge>,
}

impl Default for NotifyMetrics {
    fn default() -> Self {
        Self {
            notifications: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            queue_length: Family::default(),
        }
    }
}

impl NotifyMetrics {
    pub fn register(&self, registry: &MetricsRegistry) {
        registry.register(
            "poolpilot_alert_evaluator_notifications",
            "Alert notifications by receiver and result (sent, failed, dropped, retried).",
            self.notifications.clone(),
        );
        registry.register(
            "poolpilot_alert_evaluator_notification_duration_seconds",
            "Duration of each HTTP request delivering alert notifications.",
            self.duration.clone(),
        );
        registry.register(
            "poolpilot_alert_evaluator_notification_queue_length",
            "Alert notifications queued and not yet sent, by receiver.",
            self.queue_length.clone(),
        );
    }

    /// Creates the series for `receiver` at zero, so they exist before the first event.
    pub(super) fn init(&self, receiver: &str) {
        for result in [
            Outcome::Sent,
            Outcome::Failed,
            Outcome::Dropped,
            Outcome::Retried,
        ] {
            self.add(receiver, result, 0);
        }
        self.set_queue_length(receiver, 0);
    }

    pub(super) fn add(&self, receiver: &str, result: Outcome, count: u64) {
        let labels = ResultLabels {
            receiver: receiver.to_owned(),
            result,
        };
        self.notifications.get_or_create(&labels).inc_by(count);
    }

    pub(super) fn observe_duration(&self, receiver: &str, seconds: f64) {
        self.duration
            .get_or_create(&receiver_labels(receiver))
            .observe(seconds);
    }

    pub(super) fn set_queue_length(&self, receiver: &str, length: usize) {
        let length = i64::try_from(length).unwrap_or(i64::MAX);
        self.queue_length
            .get_or_create(&receiver_labels(receiver))
            .set(length);
    }

    #[cfg(test)]
    pub(super) fn count(&self, receiver: &str, result: Outcome) -> u64 {
        let labels = ResultLabels {
            receiver: receiver.to_owned(),
            result,
        };
        self.notifications.get_or_create(&labels).get()
    }

    #[cfg(test)]
    pub(super) fn queue_length(&self, receiver: &str) -> i64 {
        self.queue_length
            .get_or_create(&receiver_labels(receiver))
            .get()
    }
}

fn receiver_labels(receiver: &str) -> ReceiverLabels {
    ReceiverLabels {
        receiver: receiver.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_the_documented_names() -> Result<(), std::fmt::Error> {
        let metrics = NotifyMetrics::default();
        let registry = MetricsRegistry::default();
        metrics.register(&registry);
        metrics.init("ops");
        metrics.add("ops", Outcome::Sent, 2);
        metrics.observe_duration("ops", 0.02);
        metrics.set_queue_length("ops", 3);

        let text = registry.encode();
        for line in [
            r#"poolpilot_alert_evaluator_notifications_total{receiver="ops",result="sent"} 2"#,
            r#"poolpilot_alert_evaluator_notifications_total{receiver="ops",result="retried"} 0"#,
            r#"poolpilot_alert_evaluator_notification_duration_seconds_count{receiver="ops"} 1"#,
            r#"poolpilot_alert_evaluator_notification_queue_length{receiver="ops"} 3"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        Ok(())
    }

    #[test]
    fn clones_share_values() {
        let metrics = NotifyMetrics::default();
        metrics.clone().add("ops", Outcome::Dropped, 1);
        assert_eq!(metrics.count("ops", Outcome::Dropped), 1);
    }
}
