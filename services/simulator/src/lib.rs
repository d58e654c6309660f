//! The simulator: a fleet of vLLM-compatible model servers whose signals move the way
//! real ones do under load (DESIGN §2), and the load generator that drives them.
//! It is the default fleet of `poolpilot up`, the load for benchmarks, and what lets
//! the whole loop close on a laptop.
//!
//! # Layout
//! - `config.rs`: the `simulator:` section: the fleet and each server's spec.
//! - `engine.rs`: the pure load model of one server (continuous batching, KV blocks,
//!   preemption, prefix cache, LoRA slots) over simulated time.
//! - `histogram.rs`: vLLM's bucket sets.
//! - `tokens.rs`: token counts and prefix-block hashes without a tokenizer.
//! - `metrics.rs`: the vLLM and DCGM `/metrics` pages.
//! - `openai.rs`: request and response shapes, vLLM's error body.
//! - `server.rs`: one pod over HTTP, and the task that drives its engine.
//! - `fleet.rs`: [`Fleet`], pods added and removed at run time.
//! - `load/`: the load generator behind `poolpilot load`.
//! - `tests.rs`: the model's laws, checked in simulated time.

mod config;
mod engine;
mod fleet;
mod histogram;
pub mod load;
mod metrics;
mod openai;
mod server;
mod tokens;

#[cfg(test)]
mod tests;

use std::future::Future;

use shared::Deps;
use shared::config::Validated;

pub use config::{Config, ServerSpec};
pub use engine::{Engine, Output, Refused, Submit};
pub use fleet::{Fleet, PodInfo};

/// What stops the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A server could not bind.
    #[error("simulated server: {0}")]
    Bind(#[from] std::io::Error),
}

/// Runs the simulated fleet until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let fleet = Fleet::start(config.into_inner()).await?;
    serve(fleet, deps, shutdown).await
}

/// Runs a fleet already started (so its caller knew the pods' addresses first) until
/// `shutdown` resolves, then stops every pod.
pub async fn serve(
    fleet: std::sync::Arc<Fleet>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    deps.health.component("simulator").set(true);
    let urls: Vec<_> = fleet.pods().iter().map(PodInfo::url).collect();
    tracing::info!(servers = urls.len(), urls = ?urls, "Simulator started.");
    shutdown.await;
    fleet.shutdown().await;
    tracing::info!("Simulator stopped.");
    Ok(())
}
