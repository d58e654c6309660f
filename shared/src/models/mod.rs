//! Per-model request metrics, as the endpoint picker names them (DESIGN §5): request
//! events counted once per id into `inference_model_*` counters and histograms with the
//! picker's buckets, and their `/metrics` exposition. The aggregator counts every
//! router's events; a router shows its own.
//!
//! # Layout
//! - `requests.rs`: [`Requests`], the counting core (pure, time as an argument).
//! - `collector.rs`: [`ModelsCollector`], the exposition.

mod collector;
mod requests;

pub use collector::ModelsCollector;
pub use requests::*;
