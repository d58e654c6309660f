//! The JSON events of DESIGN §3 and §5. Each carries `schema`; a consumer refuses a
//! schema it does not know rather than guess at its fields.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::DecodeError;

/// A JSON event type with a schema version.
pub trait JsonEvent: Serialize + DeserializeOwned {
    /// The schema version this build writes and reads.
    const SCHEMA: u32;
    /// The name used in errors.
    const KIND: &'static str;

    /// The `schema` field of this value.
    fn schema(&self) -> u32;

    /// The JSON body.
    fn encode(&self) -> Vec<u8> {
        // Serialising these plain structs cannot fail: no maps with non-string keys.
        serde_json::to_vec(self).expect("event serialises")
    }

    /// Reads a body, refusing other schema versions.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let event: Self = serde_json::from_slice(bytes).map_err(|source| DecodeError::Json {
            kind: Self::KIND,
            source,
        })?;
        if event.schema() != Self::SCHEMA {
            return Err(DecodeError::Schema {
                kind: Self::KIND,
                found: event.schema(),
                expected: Self::SCHEMA,
            });
        }
        Ok(event)
    }
}

macro_rules! json_event {
    ($ty:ty, $kind:literal) => {
        impl JsonEvent for $ty {
            const SCHEMA: u32 = 1;
            const KIND: &'static str = $kind;
            fn schema(&self) -> u32 {
                self.schema
            }
        }
    };
}

/// One routed request (DESIGN §5), on `requests.v1` keyed `pool/model`. The aggregator
/// sums these over every router replica; `id` makes redelivery harmless.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestEvent {
    /// Always 1 for this shape.
    pub schema: u32,
    /// Unique per request; the aggregator deduplicates on it.
    pub id: String,
    /// When the request arrived.
    pub time: DateTime<Utc>,
    /// The pool that served it.
    pub pool: String,
    /// The model the client asked for.
    pub model_name: String,
    /// The model the router sent it to after weighted splitting.
    pub target_model_name: String,
    /// `host:port` of the chosen endpoint; empty when none was chosen.
    pub endpoint: String,
    /// HTTP status returned to the client.
    pub status: u16,
    /// A short code for failures (`"429"`, `"upstream_timeout"`…); empty on success.
    pub error_code: String,
    /// RFC 9209 `Proxy-Status` value; empty on success.
    pub proxy_status: String,
    /// Arrival to last byte.
    pub duration_seconds: f64,
    /// Arrival to the first response byte from the server.
    pub ttft_seconds: Option<f64>,
    /// Prompt tokens, from the server's `usage`.
    pub input_tokens: u64,
    /// Completion tokens, from the server's `usage`.
    pub output_tokens: u64,
    /// Request body size.
    pub request_bytes: u64,
    /// Response body size.
    pub response_bytes: u64,
    /// `Critical`, `Standard` or `Sheddable`.
    pub criticality: String,
    /// The guard's verdict (`allowed`, `blocked`, `inspected`, `skipped`).
    pub guard: String,
}
json_event!(RequestEvent, "request event");

/// The state an alert moved to, as Prometheus names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The expression no longer holds (or never did).
    Inactive,
    /// The expression holds, `for` not yet elapsed.
    Pending,
    /// The expression has held for `for`.
    Firing,
    /// Was firing, stopped holding (after `keep_firing_for`).
    Resolved,
}

/// One alert state change, on `alerts.v1` keyed by fingerprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTransition {
    /// Always 1 for this shape.
    pub schema: u32,
    /// Hash of the alert's label set, as Alertmanager computes it.
    pub fingerprint: String,
    /// The rule's `alert` name.
    pub alertname: String,
    /// The alert's labels after templating.
    pub labels: BTreeMap<String, String>,
    /// The alert's annotations after templating.
    pub annotations: BTreeMap<String, String>,
    /// State before.
    pub from: AlertState,
    /// State after.
    pub to: AlertState,
    /// The expression's value at the transition.
    pub value: f64,
    /// When the alert first became active.
    pub active_at: Option<DateTime<Utc>>,
    /// When the transition happened (evaluation time).
    pub time: DateTime<Utc>,
}
json_event!(AlertTransition, "alert transition");

/// What a scaler decision acts on, as `scaleTargetRef` names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleTargetRef {
    /// `apps/v1`, or any group/version with a `/scale` subresource.
    pub api_version: String,
    /// `Deployment`, `StatefulSet`, …
    pub kind: String,
    /// The object's name.
    pub name: String,
}

/// One metric's part in a decision: what it saw and what it asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricInput {
    /// The metric as the spec names it.
    pub metric: String,
    /// The observed value.
    pub value: f64,
    /// The target value.
    pub target: f64,
    /// `AverageValue`, `Value` or `Utilization`.
    pub target_type: String,
    /// Replicas this metric alone asks for.
    pub desired: u32,
}

/// One scale decision with its explanation, on `decisions.v1` keyed
/// `namespace/target`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleDecision {
    /// Always 1 for this shape.
    pub schema: u32,
    /// Decision time.
    pub time: DateTime<Utc>,
    /// The target's namespace.
    pub namespace: String,
    /// The target.
    pub target: ScaleTargetRef,
    /// The pool whose aggregates drove it.
    pub pool: String,
    /// Replicas before.
    pub current_replicas: u32,
    /// Max over metrics, before stabilisation and policies.
    pub raw_desired: u32,
    /// After the stabilisation window.
    pub stabilized_desired: u32,
    /// After policies and min/max: what was (or would be) patched.
    pub desired_replicas: u32,
    /// Each metric's contribution.
    pub metrics: Vec<MetricInput>,
    /// One sentence a person can read.
    pub reason: String,
    /// Whether a PATCH was sent and accepted.
    pub patched: bool,
    /// Why the PATCH failed, if it did.
    pub error: Option<String>,
}
json_event!(ScaleDecision, "scale decision");
