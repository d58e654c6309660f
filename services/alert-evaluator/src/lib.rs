//! The alert-evaluator: Prometheus rule files over the series of `samples.v1` and
//! `aggregates.v1`, evaluated as Prometheus evaluates them, delivered as Alertmanager
//! webhooks and/or to real Alertmanagers, every transition on `alerts.v1`, alert state
//! kept across restarts (DESIGN §2, §6).
//!
//! # Layout
//! - `config.rs`: the `alert_evaluator:` section.
//! - `promql/`: the PromQL engine and its in-memory window.
//! - `template/`: Go's text/template as Prometheus uses it in rules.
//! - `rules/`: rule files, groups, alerting and recording rules.
//! - `core.rs`: the evaluator: window + groups + schedule, `step(now)`.
//! - `feed.rs`: bus messages into the window, with staleness.
//! - `notify/`: webhooks (grouping, retries, signatures) and the Alertmanager client.
//! - `unittest/`: `poolpilot rules test`, promtool's unit-test format.
//! - `task.rs`: the I/O loop; `events.rs`: its logs and metrics.

mod config;
pub mod core;
mod events;
pub mod feed;
pub mod notify;
pub mod promql;
pub mod rules;
mod task;
pub mod template;
pub mod unittest;

#[cfg(test)]
mod tests;

use std::future::Future;

use shared::Deps;
use shared::config::Validated;

pub use config::Config;
pub use core::{Evaluator, Settings, Step};

/// What stops the alert-evaluator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
    /// A rule file did not load. Not a `source`: the message already holds every
    /// problem, and error chains would print them twice.
    #[error("rule files:\n{0}")]
    Rules(rules::LoadError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] shared::store::StoreError),
    /// Alert state could not be encoded.
    #[error("alert state: {0}")]
    Encode(String),
}

impl From<rules::LoadError> for Error {
    fn from(e: rules::LoadError) -> Self {
        Error::Rules(e)
    }
}

/// The evaluator for `config`: its rule files loaded and checked.
pub fn evaluator(config: &Config) -> Result<Evaluator, Error> {
    let groups = rules::load(&config.rule_files, config.interval)?;
    Ok(Evaluator::new(
        groups,
        Settings {
            external_labels: config.external_labels.clone(),
            external_url: config.external_url.clone(),
            resend_delay: config.resend_delay,
            retention: config.retention,
        },
    ))
}

/// Runs the alert-evaluator until `shutdown` resolves. Refuses to start when a rule
/// file has a problem.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let evaluator = evaluator(&config)?;
    task::run(&config, evaluator, deps, shutdown).await
}
