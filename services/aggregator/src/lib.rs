//! The aggregator: pool gauges from fresh pods on `samples.v1`, published every tick
//! to `aggregates.v1` and served on `/metrics`; per-model request metrics from
//! `requests.v1` and SLO burn rates, served on `/metrics` (DESIGN §2, §5). Request
//! counters and SLO history survive restarts in sled.
//!
//! # Layout
//! - `config.rs`: the `aggregator:` section.
//! - `core.rs`: [`Pools`], the pure computation: `ingest(sample)`, `tick(now)`.
//! - `shared::models`: [`Requests`], the pure per-model counters and histograms, deduplicated.
//! - `exposition.rs`: the aggregates as Prometheus gauges, the model stats as a collector.
//! - `slo.rs`: SLO burn rates over the workbook's windows, under Sloth's names.
//! - `events.rs`: what the loop logs and counts about bad and repeated events.
//! - `tests.rs`: the core with explicit times.

mod config;
mod core;
mod events;
mod exposition;
mod slo;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::SystemTime;

use bytes::Bytes;
use shared::Deps;
use shared::bus::typed::Typed;
use shared::bus::{StartFrom, Subscribe};
use shared::config::Validated;
use shared::wire::{Aggregates, PodSamples, RequestEvent, Topic, encode_aggregates};

pub use config::{Config, Slo, SloKind};
pub use core::Pools;
pub use shared::models::{ModelKey, ModelStats, Outcome, Requests};

/// What stops the aggregator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] shared::bus::BusError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] shared::store::StoreError),
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
    let counters = events::AggregatorMetrics::register(&deps.metrics);
    let on_skip = |c: events::AggregatorMetrics| -> shared::bus::typed::OnSkip {
        Box::new(move |_, e| c.undecodable(e))
    };
    let mut samples = Typed::<Vec<PodSamples>>::new(sub, deps.bus_metrics.clone())
        .on_skip(on_skip(counters.clone()));
    let sub = deps.bus.subscribe(Subscribe::new(
        "poolpilot-aggregator",
        [deps.topics.name(Topic::Requests)],
    ))?;
    let mut events = Typed::<RequestEvent>::new(sub, deps.bus_metrics.clone())
        .on_skip(on_skip(counters.clone()));
    let mut pools = Pools::new(config.freshness);
    let store = match &config.state_path {
        Some(path) => Some(shared::store::SledStore::open(path)?),
        None => {
            tracing::info!(
                "No aggregator.state_path: request counters start from zero at every start."
            );
            None
        }
    };
    let (mut requests, mut slos) = restore(store.as_ref(), &config)?;
    let mut uncommitted = Vec::new();
    let mut exposition = exposition::Exposition::register(&deps.metrics);
    let models = shared::models::ModelsCollector::register(&deps.metrics);
    let mut tick = tokio::time::interval(config.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    ready.set(true);
    tracing::info!(tick = ?config.tick, freshness = ?config.freshness, "Aggregator started.");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            next = samples.recv() => {
                let (message, batch) = next?;
                batch.iter().for_each(|p| pools.ingest(p));
                samples.commit(&message)?;
            }
            next = events.recv() => {
                let (message, event) = next?;
                let outcome = requests.ingest(wall_now(), &event);
                if outcome == Outcome::Counted {
                    slos.record(&event);
                }
                events::EventIngested { outcome, message: &message, id: &event.id }.emit(&counters);
                // With a store, offsets are committed only once the counts are saved:
                // a crash in between redelivers, and the stored ids deduplicate.
                match store {
                    Some(_) => uncommitted.push(message),
                    None => events.commit(&message)?,
                }
            }
            _ = tick.tick() => {
                let now = wall_now();
                let mut aggregates = pools.tick(now);
                let slo_series = slos.tick(now);
                exposition.update(&aggregates, &slo_series);
                if let Some(store) = &store {
                    save(store, &requests, &slos)?;
                    for m in uncommitted.drain(..) {
                        events.commit(&m)?;
                    }
                }
                // Counters are shown only once saved, so a restart never shows less.
                models.update(requests.models());
                // Model and SLO series belong to no pool: one message with pool "".
                let mut global = requests.series();
                global.extend(slo_series);
                if !global.is_empty() {
                    aggregates.push(Aggregates { pool: String::new(), time: now, series: global });
                }
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
    if let Some(store) = &store {
        save(store, &requests, &slos)?;
        for m in uncommitted.drain(..) {
            events.commit(&m)?;
        }
    }
    samples.close().await?;
    events.close().await?;
    tracing::info!("Aggregator stopped.");
    Ok(())
}

const REQUESTS_KEY: &str = "requests.v1";
const SLOS_KEY: &str = "slos.v1";

/// The request counters and SLO history from `store`, or fresh ones.
fn restore(
    store: Option<&shared::store::SledStore>,
    config: &Config,
) -> Result<(Requests, slo::Slos), Error> {
    use shared::store::Store;
    let Some(store) = store else {
        return Ok((
            Requests::new(config.dedupe_window),
            slo::Slos::new(config.slos.clone()),
        ));
    };
    let read = |key: &str| -> Result<Option<Vec<u8>>, Error> { Ok(store.load(key)?) };
    let requests = match read(REQUESTS_KEY)?.map(|b| serde_json::from_slice(&b)) {
        Some(Ok(state)) => Requests::restore(config.dedupe_window, state),
        Some(Err(e)) => {
            tracing::error!(error = %e, "Stored request counters do not decode; starting from zero.");
            Requests::new(config.dedupe_window)
        }
        None => Requests::new(config.dedupe_window),
    };
    let slos = match read(SLOS_KEY)?.map(|b| serde_json::from_slice(&b)) {
        Some(Ok(state)) => slo::Slos::restore(config.slos.clone(), state),
        Some(Err(e)) => {
            tracing::error!(error = %e, "Stored SLO history does not decode; starting over.");
            slo::Slos::new(config.slos.clone())
        }
        None => slo::Slos::new(config.slos.clone()),
    };
    let total: u64 = requests.models().values().map(|m| m.total).sum();
    tracing::info!(requests = total, "Aggregator state restored.");
    Ok((requests, slos))
}

fn save(
    store: &shared::store::SledStore,
    requests: &Requests,
    slos: &slo::Slos,
) -> Result<(), Error> {
    use shared::store::Store;
    // Serialising plain structs with string keys cannot fail.
    store.save(
        REQUESTS_KEY,
        &serde_json::to_vec(&requests.state()).expect("serialisable"),
    )?;
    store.save(
        SLOS_KEY,
        &serde_json::to_vec(&slos.state()).expect("serialisable"),
    )?;
    Ok(())
}
