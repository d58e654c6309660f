//! What the aggregator's loop logs and counts about request events it does not count.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use shared::bus::Message;
use shared::telemetry::MetricsRegistry;

use shared::models::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

/// The aggregator's own counters.
#[derive(Clone, Default)]
pub struct AggregatorMetrics {
    invalid: Family<Reason, Counter>,
    duplicates: Counter,
}

impl AggregatorMetrics {
    /// Registers `poolpilot_aggregator_*`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        let m = Self::default();
        registry.register(
            "poolpilot_aggregator_invalid_messages",
            "Messages not counted, by reason (undecodable ones are in poolpilot_bus_messages_skipped_total)",
            m.invalid.clone(),
        );
        registry.register(
            "poolpilot_aggregator_duplicate_events",
            "Request events whose id was already counted (at-least-once redelivery)",
            m.duplicates.clone(),
        );
        m
    }
}

impl AggregatorMetrics {
    /// A message on `topic` that did not decode: `reason` is `schema` for a schema
    /// version this build does not read, `decode` otherwise.
    pub fn undecodable(&self, error: &shared::wire::DecodeError) {
        let reason = match error {
            shared::wire::DecodeError::Schema { .. } => "schema",
            _ => "decode",
        };
        self.invalid.get_or_create(&Reason { reason }).inc();
    }
}

/// One request event, counted or not.
pub struct EventIngested<'a> {
    /// What became of it.
    pub outcome: Outcome,
    /// Where it came from.
    pub message: &'a Message,
    /// Its id.
    pub id: &'a str,
}

impl EventIngested<'_> {
    /// Counts what was not counted; logs invalid events with their place.
    pub fn emit(&self, m: &AggregatorMetrics) {
        match self.outcome {
            Outcome::Counted => {}
            Outcome::Duplicate => {
                m.duplicates.inc();
            }
            Outcome::Invalid(reason) => {
                m.invalid.get_or_create(&Reason { reason }).inc();
                tracing::warn!(place = %self.message.place(), id = self.id, reason, "Request event not counted.");
            }
        }
    }
}
