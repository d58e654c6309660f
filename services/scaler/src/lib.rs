//! The scaler: the Kubernetes HPA algorithm per pool on `aggregates.v1`, then a PATCH
//! of the target's `/scale` subresource (DESIGN §1, §2, §6). The algorithm lands with
//! issue 7; today the crate holds the wiring and [`ScaleClient`], the one place that
//! talks to the API server.
//!
//! # Layout
//! - `config.rs`: the `scaler:` section.
//! - `target.rs`: [`ScaleClient`]: read and patch `/scale` of any kind that has it.

mod config;
mod target;

use std::future::Future;

use shared::Deps;
use shared::config::Validated;

pub use config::Config;
pub use shared::kube::client as kube_client;
pub use target::{ScaleClient, ScaleError, TargetRef};

/// What stops the scaler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
    /// The API server refused us.
    #[error(transparent)]
    Scale(#[from] ScaleError),
}

/// Runs the scaler until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    deps.health.component("scaler").set(true);
    tracing::info!(dry_run = config.dry_run, "Scaler started.");
    shutdown.await;
    tracing::info!("Scaler stopped.");
    Ok(())
}
