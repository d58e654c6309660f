//! The scraper: polls each target's Prometheus text endpoint, maps the engine's names to
//! the canonical per-pod signals (DESIGN §4) and publishes them to `samples.v1`. Scraping
//! itself lands with issue 4; today `run` holds the wiring: config, readiness, shutdown.
//!
//! # Layout
//! - `config.rs`: the `scraper:` section.

mod config;

use std::future::Future;

use shared::Deps;
use shared::config::Validated;

pub use config::{Config, Target};

/// What stops the scraper.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
}

/// Runs the scraper until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    deps.health.component("scraper").set(true);
    tracing::info!(targets = config.targets.len(), "Scraper started.");
    shutdown.await;
    tracing::info!("Scraper stopped.");
    Ok(())
}
