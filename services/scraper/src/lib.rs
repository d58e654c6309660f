//! The scraper: polls each target's Prometheus text (or OpenMetrics) endpoint, maps the
//! engine's names to the canonical per-pod signals (DESIGN §4), keeps an allow-listed
//! set of raw series, and publishes everything to `samples.v1`.
//!
//! # Layout
//! - `config.rs`: the `scraper:` section: pools, targets, interval, limits.
//! - `parse/`: our zero-copy Prometheus text and OpenMetrics parser.
//! - `engine.rs`: the pure mapping from a parsed scrape to [`shared::wire::Signals`].
//! - `fetch.rs`: one HTTP scrape with timeout, gzip and a body limit.
//! - `task.rs`: one target's scrape loop and publishing.
//! - `loops.rs`: the running loops, reconciled against each pool's targets.
//! - `discovery.rs`: Pods selected as an InferencePool selects them, watched.
//! - `otlp/`: the OTLP metrics receiver (gRPC 4317, HTTP/protobuf 4318).
//! - `events.rs`: what the loops log and count.
//! - `tests.rs`: the mapping on the real captures.

mod config;
mod discovery;
pub mod engine;
mod events;
mod fetch;
mod loops;
pub mod otlp;
pub mod parse;
mod task;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use shared::Deps;
use shared::config::Validated;
use shared::wire::Topic;
use tokio_util::sync::CancellationToken;

pub use config::{Config, Discovery, EngineChoice, Pool, Target};
pub use discovery::targets_of;
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
    /// Discovery needs a Kubernetes client and none could be made.
    #[error(transparent)]
    Kube(#[from] shared::kube::KubeConfigError),
    /// The OTLP receiver could not bind.
    #[error(transparent)]
    Otlp(#[from] otlp::OtlpError),
}

/// Runs the scraper until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    run_with(config, deps, None, shutdown).await
}

/// Targets of pool `index` (in config order) from now on, from a source other than
/// Kubernetes (`poolpilot up`'s simulated fleet as it grows and shrinks).
pub type TargetChanges = tokio::sync::mpsc::UnboundedReceiver<(usize, Vec<Target>)>;

/// As [`run`], also following `external` target changes.
pub async fn run_with(
    config: Validated<Config>,
    deps: Deps,
    mut external: Option<TargetChanges>,
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
        members: Default::default(),
    });
    let stop = CancellationToken::new();
    let pools: Vec<Arc<Pool>> = config.pools.into_iter().map(Arc::new).collect();
    let mut loops = loops::Loops::new(ctx, pools.clone(), &stop);
    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let discovered: Vec<_> = pools
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kubernetes.is_some())
        .collect();
    let client = match discovered.is_empty() {
        true => None,
        false => Some(shared::kube::client(config.kubeconfig.as_deref()).await?),
    };
    for (i, pool) in pools.iter().enumerate() {
        match (&pool.kubernetes, &client) {
            (Some(d), Some(client)) => {
                let watch = discovery::follow(
                    client.clone(),
                    pool.namespace.clone(),
                    d.clone(),
                    i,
                    tx.clone(),
                    stop.child_token(),
                );
                tokio::spawn(watch);
            }
            _ => loops.reconcile(i, pool.targets.clone(), &stop),
        }
    }
    drop(tx);
    if config.otlp.enabled {
        let server = otlp::OtlpServer::bind(config.otlp.clone(), &deps).await?;
        tracing::info!(grpc = %server.grpc_addr(), http = %server.http_addr(), "OTLP receiver listening.");
        let otlp_stop = stop.child_token().cancelled_owned();
        tokio::spawn(async move {
            if let Err(e) = server.run(otlp_stop).await {
                tracing::error!(error = %e, "OTLP receiver stopped.");
            }
        });
    }
    deps.health.component("scraper").set(true);
    tracing::info!(static_targets = loops.running(), discovered_pools = discovered.len(), interval = ?config.interval, "Scraper started.");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some((i, targets)) = changes.recv() => loops.reconcile(i, targets, &stop),
            Some((i, targets)) = async {
                match external.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => loops.reconcile(i, targets, &stop),
        }
    }
    stop.cancel();
    loops.join().await;
    tracing::info!("Scraper stopped.");
    Ok(())
}
