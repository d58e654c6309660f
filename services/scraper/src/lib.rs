//! The scraper: polls each target's Prometheus text (or OpenMetrics) endpoint, maps the
//! engine's names to the canonical per-pod signals (DESIGN §4), keeps an allow-listed
//! set of raw series, and publishes everything to `samples.v1`.
//!
//! # Layout
//! - `config.rs`: the `scraper:` section: pools, targets, interval, limits.
//! - `parse/`: our zero-copy Prometheus text and OpenMetrics parser.
//! - `engine.rs`: the pure mapping from a parsed scrape to [`shared::wire::Signals`].
//! - `fetch.rs`: one HTTP scrape with timeout, gzip and a body limit.
//! - `task.rs`: the scrape loops and publishing.
//! - `events.rs`: what the loops log and count.
//! - `tests.rs`: the mapping on the real captures.

mod config;
pub mod engine;
mod events;
mod fetch;
pub mod parse;
mod task;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use shared::Deps;
use shared::config::Validated;
use shared::wire::Topic;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::{Config, EngineChoice, Pool, Target};
pub use fetch::{FetchError, Fetcher};

/// What stops the scraper.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
    /// The HTTP client could not be built.
    #[error("scraper HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The allow-list does not compile (validation catches this first).
    #[error("scraper.raw_allowlist: {0}")]
    Allowlist(#[from] regex::Error),
}

/// Runs the scraper until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let config = config.into_inner();
    let ctx = Arc::new(task::Ctx {
        fetcher: Fetcher::new(config.timeout, config.max_body_bytes)?,
        bus: deps.bus.clone(),
        topic: deps.topics.name(Topic::Samples),
        allow: engine::allowlist(&config.raw_allowlist)?,
        dcgm: engine::allowlist(&["DCGM_.*".to_owned()])?,
        limit: tokio::sync::Semaphore::new(config.concurrency),
        interval: config.interval,
        metrics: events::ScraperMetrics::register(&deps.metrics),
    });
    let stop = CancellationToken::new();
    let mut loops = JoinSet::new();
    for pool in config.pools {
        let pool = Arc::new(pool);
        for t in pool.targets.clone() {
            loops.spawn(task::model_server(
                ctx.clone(),
                pool.clone(),
                t,
                stop.clone(),
            ));
        }
        for t in pool.dcgm.clone() {
            loops.spawn(task::dcgm(ctx.clone(), pool.clone(), t, stop.clone()));
        }
    }
    deps.health.component("scraper").set(true);
    tracing::info!(targets = loops.len(), interval = ?config.interval, "Scraper started.");
    shutdown.await;
    stop.cancel();
    while loops.join_next().await.is_some() {}
    tracing::info!("Scraper stopped.");
    Ok(())
}
