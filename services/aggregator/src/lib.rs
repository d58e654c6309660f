//! The aggregator: pool gauges from fresh pods, per-model request metrics and SLO burn
//! rates, published to `aggregates.v1` and served on `/metrics` (DESIGN §2, §5). The
//! computation lands with issue 5; today `run` holds the wiring.
//!
//! # Layout
//! - `config.rs`: the `aggregator:` section.

mod config;

use std::future::Future;

use shared::Deps;
use shared::config::Validated;

pub use config::Config;

/// What stops the aggregator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
}

/// Runs the aggregator until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    deps.health.component("aggregator").set(true);
    tracing::info!(tick = ?config.tick, freshness = ?config.freshness, "Aggregator started.");
    shutdown.await;
    tracing::info!("Aggregator stopped.");
    Ok(())
}
