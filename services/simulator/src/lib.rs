//! The simulator: a fleet of vLLM-compatible model servers with a load model (DESIGN
//! §2). The servers land with issue 3; today `run` holds the wiring.
//!
//! # Layout
//! - `config.rs`: the `simulator:` section.

mod config;

use std::future::Future;

use shared::Deps;
use shared::config::Validated;

pub use config::Config;

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
    deps.health.component("simulator").set(true);
    tracing::info!(servers = config.servers, "Simulator started.");
    shutdown.await;
    tracing::info!("Simulator stopped.");
    Ok(())
}
