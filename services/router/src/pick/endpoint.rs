//! Inputs and output of one pick: the router's view of a model server, the
//! request, and the routing decision.

use serde::{Deserialize, Serialize};

use super::config::Criticality;

/// One model server as the router knows it (from the latest scrape plus the
/// router's own in-flight count).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `host:port`; also the key of the prefix index.
    pub address: String,
    pub pod: String,
    pub up: bool,
    /// Scrape time of the signals below, in ms on the caller's clock.
    pub sampled_at_ms: i64,
    /// Waiting requests (vLLM `num_requests_waiting`).
    pub queue: f64,
    pub running: f64,
    /// KV-cache utilisation in `0..=1`.
    pub kv: f64,
    pub lora_running: Vec<String>,
    pub lora_waiting: Vec<String>,
    /// Adapter slots; 0 = unknown (never counts as a free slot).
    pub lora_max: u32,
    /// Requests the router sent since that sample; added to `queue`.
    pub in_flight: u32,
}

impl Endpoint {
    /// Queue as used by every filter and scorer: scraped waiting requests
    /// plus what the router sent since the scrape.
    pub fn effective_queue(&self) -> f64 {
        self.queue + f64::from(self.in_flight)
    }

    /// Fresh (`now - sampled_at <= freshness`) and up.
    pub fn is_eligible(&self, now_ms: i64, freshness_ms: i64) -> bool {
        self.up && now_ms.saturating_sub(self.sampled_at_ms) <= freshness_ms
    }
}

/// The request as far as picking needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// `model` field of the body.
    pub model: &'a str,
    /// `x-gateway-inference-objective` header: when set it names the model
    /// config to use instead of `model`.
    pub objective: Option<&'a str>,
    pub prompt: &'a str,
}

/// Outcome of [`Picker::pick`](super::Picker::pick).
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Route {
        /// Model (or LoRA adapter) name to put in the forwarded body.
        target_model: String,
        criticality: Criticality,
        /// Indices into the endpoint slice, best first (at most
        /// `PickerConfig::max_ranked`); the proxy retries on `ranked[1]`.
        ranked: Vec<usize>,
        /// Total score of each entry of `ranked` (same order).
        scores: Vec<f64>,
    },
    /// Sheddable request while pool saturation >= 1.
    Shed { retry_after_s: u32 },
    /// No fresh, up endpoint.
    NoEndpoint,
    /// Models are configured and the name matches none.
    UnknownModel,
}
