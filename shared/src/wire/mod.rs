//! The wire contract of DESIGN §3: topic names, the OTLP-protobuf encoding of samples
//! and aggregates, and the JSON events. Everything that crosses the bus is defined here
//! and nowhere else.
//!
//! # Layout
//! - `topics.rs`: topic names under a configurable prefix.
//! - `samples.rs`: [`PodSamples`] and its `ExportMetricsServiceRequest` encoding.
//! - `aggregates.rs`: [`Aggregates`], a pool's series, in the same encoding.
//! - `events.rs`: [`RequestEvent`], [`AlertTransition`], [`ScaleDecision`].
//! - `tests.rs`: round trips.

mod aggregates;
mod events;
mod samples;
mod topics;

#[cfg(test)]
mod tests;

pub use aggregates::{Aggregates, decode_aggregates, encode_aggregates};
pub use events::{
    AlertState, AlertTransition, JsonEvent, MetricInput, RequestEvent, ScaleDecision,
    ScaleTargetRef,
};
pub use samples::{LoraInfo, PodSamples, RawKind, RawSample, Signals, decode_batch, encode_batch};
pub use topics::{Topic, Topics};

/// A message body that is not what its topic promises. The consumer reports it with the
/// message's place and skips it; see [`crate::bus::typed`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not protobuf, or not an `ExportMetricsServiceRequest`.
    #[error("not an OTLP ExportMetricsServiceRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// Valid protobuf that lacks what a sample needs.
    #[error("OTLP resource without the `{0}` attribute")]
    MissingAttribute(&'static str),
    /// Not JSON, or JSON of another shape.
    #[error("not a JSON {kind}: {source}")]
    Json {
        /// Which event type was expected.
        kind: &'static str,
        /// What serde_json said.
        source: serde_json::Error,
    },
    /// A JSON event of a schema version this build does not know.
    #[error("{kind} with schema {found}; this build reads schema {expected}")]
    Schema {
        /// Which event type.
        kind: &'static str,
        /// The version in the message.
        found: u32,
        /// The version we read.
        expected: u32,
    },
}
