//! The aggregator: pool gauges from fresh pods on `samples.v1`, published every tick
//! to `aggregates.v1` and served on `/metrics`, and per-model request metrics from
//! `requests.v1` served on `/metrics` (DESIGN §2, §5). SLO burn rates and state kept
//! across restarts land with the rest of issue 5.
//!
//! # Layout
//! - `config.rs`: the `aggregator:` section.
//! - `core.rs`: [`Pools`], the pure computation: `ingest(sample)`, `tick(now)`.
//! - `requests.rs`: [`Requests`], the pure per-model counters and histograms, deduplicated.
//! - `exposition.rs`: the aggregates as Prometheus gauges, the model stats as a collector.
//! - `slo.rs`: SLO burn rates over the workbook's windows, under Sloth's names.
//! - `events.rs`: what the loop logs and counts about bad and repeated events.
//! - `tests.rs`: the core with explicit times.

mod config;
mod core;
mod events;
mod exposition;
mod requests;
mod slo;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use shared::Deps;
use shared::bus::typed::Typed;
use shared::bus::{BusError, StartFrom, Subscribe};
use shared::config::Validated;
use shared::wire::{PodSamples, RequestEvent, Topic, encode_aggregates};

pub use config::{Config, Slo, SloKind};
pub use core::Pools;
pub use requests::{ModelKey, ModelStats, Outcome, Requests};

/// What stops the aggregator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
}

#[allow(clippy::disallowed_methods)] // the shell gives the core its time
fn wall_now() -> SystemTime {
    SystemTime::now()
}

/// Runs the aggregator until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let ready = deps.health.component("aggregator");
    let samples_topic = deps.topics.name(Topic::Samples);
    let aggregates_topic = deps.topics.name(Topic::Aggregates);
    let sub = deps.bus.subscribe(
        Subscribe::new("poolpilot-aggregator", [samples_topic]).start(StartFrom::Latest),
    )?;
    let mut samples = Typed::<Vec<PodSamples>>::new(sub, deps.bus_metrics.clone());
    let sub = deps.bus.subscribe(Subscribe::new(
        "poolpilot-aggregator",
        [deps.topics.name(Topic::Requests)],
    ))?;
    let mut events = Typed::<RequestEvent>::new(sub, deps.bus_metrics.clone());
    let mut pools = Pools::new(config.freshness);
    let mut requests = Requests::new(config.dedupe_window);
    let mut slos = slo::Slos::new(config.slos.clone());
    let mut exposition = exposition::Exposition::register(&deps.metrics);
    let models = exposition::ModelsCollector::register(&deps.metrics);
    let counters = events::AggregatorMetrics::register(&deps.metrics);
    let mut tick = tokio::time::interval(config.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    ready.set(true);
    tracing::info!(tick = ?config.tick, freshness = ?config.freshness, "Aggregator started.");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            next = samples.next() => match next {
                Ok((message, batch)) => {
                    batch.iter().for_each(|p| pools.ingest(p));
                    samples.commit(&message)?;
                }
                Err(BusError::Closed) => return Err(BusError::Closed.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "Reading samples failed; retrying.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            next = events.next() => match next {
                Ok((message, event)) => {
                    let outcome = requests.ingest(wall_now(), &event);
                    if outcome == Outcome::Counted {
                        slos.record(&event);
                    }
                    events::EventIngested { outcome, message: &message, id: &event.id }.emit(&counters);
                    events.commit(&message)?;
                }
                Err(BusError::Closed) => return Err(BusError::Closed.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "Reading request events failed; retrying.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = tick.tick() => {
                let now = wall_now();
                let aggregates = pools.tick(now);
                exposition.update(&aggregates, &slos.tick(now));
                models.update(requests.models());
                let sends = aggregates.iter().map(|a| {
                    let body = Bytes::from(encode_aggregates(std::slice::from_ref(a)));
                    deps.bus.publish(&aggregates_topic, a.pool.as_bytes(), body)
                });
                for failed in futures::future::join_all(sends).await.into_iter().filter_map(Result::err) {
                    tracing::warn!(error = %failed, "Aggregates not published.");
                }
            }
        }
    }
    samples.close().await?;
    events.close().await?;
    tracing::info!("Aggregator stopped.");
    Ok(())
}
