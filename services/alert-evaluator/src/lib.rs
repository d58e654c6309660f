//! The alert-evaluator: Prometheus rule files over the series in `samples.v1` and
//! `aggregates.v1`, delivered as Alertmanager webhooks (DESIGN §2, §6). Evaluation
//! lands with issue 6; today `run` holds the wiring.
//!
//! # Layout
//! - `config.rs`: the `alert_evaluator:` section.

mod config;

use std::future::Future;

use shared::Deps;
use shared::config::Validated;

pub use config::Config;

/// What stops the alert-evaluator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
}

/// Runs the alert-evaluator until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    deps.health.component("alert-evaluator").set(true);
    tracing::info!(
        rule_files = config.rule_files.len(),
        "Alert-evaluator started."
    );
    shutdown.await;
    tracing::info!("Alert-evaluator stopped.");
    Ok(())
}
