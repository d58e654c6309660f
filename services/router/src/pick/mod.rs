//! Pure endpoint-picking core of an LLM-serving router.
//!
//! Given the latest scraped signals of every model server ([`Endpoint`]), a
//! request ([`Request`]) and the configured models ([`ModelConfig`]), the
//! [`Picker`] resolves the target model (weighted split, as `InferenceModel`
//! does), filters stale/down/saturated servers, scores the rest (queue, KV
//! cache, prefix affinity, LoRA affinity; formulas follow the Gateway API
//! Inference Extension EPP) and returns a ranked [`Decision`]. Nothing here
//! reads the clock or a global RNG: time and randomness are arguments.
//!
//! # Layout
//! - `endpoint.rs`: [`Endpoint`], [`Request`], [`Decision`].
//! - `config.rs`: [`PickerConfig`], [`Weights`], [`ModelConfig`],
//!   [`TargetModel`], [`Criticality`], [`ConfigError`] and validation.
//! - `scorers.rs`: per-signal scores (queue, KV cache, LoRA affinity) and
//!   the saturation formula.
//! - `prefix.rs`: chained XXH64 block hashing (EPP's) and the per-endpoint LRU
//!   prefix index.
//! - `picker.rs`: [`Picker`]: filters, weighted sum, tie-break, shedding.
//! - `round_robin.rs`: [`RoundRobin`] baseline.
//! - `tests.rs`: unit tests.

mod config;
mod endpoint;
mod picker;
pub(crate) mod prefix;
mod round_robin;
mod scorers;

#[cfg(test)]
mod tests;

pub use config::{ConfigError, Criticality, ModelConfig, PickerConfig, TargetModel, Weights};
pub use endpoint::{Decision, Endpoint, Request};
pub use picker::Picker;
pub use prefix::block_hashes;
pub use round_robin::RoundRobin;
