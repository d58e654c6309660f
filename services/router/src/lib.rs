//! The router: an OpenAI-compatible proxy that picks an endpoint per request from the
//! live `samples.v1` stream (DESIGN §2, §6). The proxy lands with issue 8; today `run`
//! holds the wiring.
//!
//! # Layout
//! - `config.rs`: the `router:` section.

mod config;

use std::future::Future;

use shared::Deps;
use shared::config::Validated;

pub use config::Config;

/// What stops the router.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
}

/// Runs the router until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    deps.health.component("router").set(true);
    tracing::info!(listen = %config.listen, "Router started.");
    shutdown.await;
    tracing::info!("Router stopped.");
    Ok(())
}
