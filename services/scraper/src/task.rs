//! The scrape loops: one task per target, started at an offset within the interval
//! derived from the URL's hash (as Prometheus spreads its scrapes), sharing a
//! concurrency limit. Each scrape is published to `samples.v1` at once; a failed one
//! as `up=0`, so consumers drop the pod without waiting for freshness to run out.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use regex::RegexSet;
use shared::bus::Bus;
use shared::wire::{PodSamples, RawKind, RawSample, Signals, encode_batch};
use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::config::{Pool, Target};
use crate::engine::{self, Engine};
use crate::events::{SamplesPublishFailed, ScraperMetrics, TargetScrapeFailed, TargetScraped};
use crate::fetch::Fetcher;
use crate::parse::{Scrape, parse_all};

/// What every loop shares.
pub struct Ctx {
    /// The HTTP client.
    pub fetcher: Fetcher,
    /// Where samples go.
    pub bus: Arc<dyn Bus>,
    /// The samples topic's full name.
    pub topic: String,
    /// Raw series to forward.
    pub allow: RegexSet,
    /// Every DCGM series.
    pub dcgm: RegexSet,
    /// Scrapes in flight at once.
    pub limit: Semaphore,
    /// Time between scrapes.
    pub interval: Duration,
    /// Counters.
    pub metrics: ScraperMetrics,
    /// Each pool's current model-server targets, for the DCGM join.
    pub members: Mutex<HashMap<String, Vec<Target>>>,
}

impl Ctx {
    /// Records `pool`'s current targets.
    pub fn set_members(&self, pool: &str, targets: Vec<Target>) {
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pool.to_owned(), targets);
    }

    fn members(&self, pool: &str) -> Vec<Target> {
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        members.get(pool).cloned().unwrap_or_default()
    }
}

#[allow(clippy::disallowed_methods)] // the shell stamps each scrape with the wall clock
fn wall_now() -> SystemTime {
    SystemTime::now()
}

fn offset(url: &str, interval: Duration) -> Duration {
    let nanos = interval.as_nanos().max(1) as u64;
    Duration::from_nanos(shared::hash::fnv1a(url.as_bytes()) % nanos)
}

/// Runs `scrape` at each tick of `url`'s schedule, under the concurrency limit,
/// until `stop`.
async fn every_tick<F: Future<Output = ()>>(
    ctx: &Ctx,
    url: &str,
    stop: &CancellationToken,
    scrape: impl Fn() -> F,
) {
    let mut tick =
        tokio::time::interval_at(Instant::now() + offset(url, ctx.interval), ctx.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let Ok(_permit) = ctx.limit.acquire().await else {
            return;
        };
        scrape().await;
    }
}

async fn publish(ctx: &Ctx, pod: PodSamples) {
    let key = pod.key();
    if let Err(error) = ctx
        .bus
        .publish(
            &ctx.topic,
            key.as_bytes(),
            Bytes::from(encode_batch(&[pod])),
        )
        .await
    {
        SamplesPublishFailed { error: &error }.emit(&ctx.metrics);
    }
}

/// A sample of `target` that knows nothing yet: `up=0`, no signals, no series.
fn unknown(pool: &Pool, target: &Target, time: SystemTime) -> PodSamples {
    PodSamples {
        pool: pool.name.clone(),
        pod: target.pod(),
        namespace: pool.namespace.clone(),
        endpoint: target.endpoint(),
        engine: String::new(),
        time,
        signals: Signals::default(),
        raw: Vec::new(),
    }
}

/// Scrapes one model server until `stop`.
pub async fn model_server(ctx: Arc<Ctx>, pool: Arc<Pool>, target: Target, stop: CancellationToken) {
    every_tick(&ctx, target.url(), &stop, || {
        scrape_model_server(&ctx, &pool, &target)
    })
    .await;
}

/// Fetches `url` and reports the outcome: `None` (already reported) when it failed.
async fn fetch(ctx: &Ctx, pool: &Pool, url: &str) -> Option<String> {
    match ctx.fetcher.fetch(url).await {
        Ok(body) => Some(body),
        Err(error) => {
            TargetScrapeFailed {
                pool: &pool.name,
                error: &error,
            }
            .emit(&ctx.metrics);
            None
        }
    }
}

/// Parses a fetched body and reports it; returns the scrape and the seconds since
/// `started`.
fn parse<'b>(
    ctx: &Ctx,
    pool: &Pool,
    url: &str,
    body: &'b str,
    started: Instant,
) -> (Scrape<'b>, f64) {
    let scrape = parse_all(body);
    let seconds = started.elapsed().as_secs_f64();
    TargetScraped {
        pool: &pool.name,
        seconds,
        errors: &scrape.errors,
        url,
    }
    .emit(&ctx.metrics);
    (scrape, seconds)
}

async fn scrape_model_server(ctx: &Ctx, pool: &Pool, target: &Target) {
    let url = target.url();
    let mut pod = unknown(pool, target, wall_now());
    let started = Instant::now();
    if let Some(body) = fetch(ctx, pool, url).await {
        let (scrape, seconds) = parse(ctx, pool, url, &body, started);
        match Engine::choose(pool.engine, &scrape.samples) {
            Some(e) => {
                pod.engine = e.name().to_owned();
                pod.signals = engine::signals(e, &scrape.samples);
            }
            // A server whose names we do not know is up but has no signals.
            None => pod.signals.up = true,
        }
        pod.raw = engine::raw(&scrape.samples, &ctx.allow);
        pod.raw.push(RawSample {
            name: "scrape_duration_seconds".into(),
            labels: Vec::new(),
            kind: RawKind::Gauge,
            value: seconds,
        });
    }
    publish(ctx, pod).await;
}

/// One last `up=0` for a target that is no longer in its pool.
pub async fn gone(ctx: Arc<Ctx>, pool: Arc<Pool>, target: Target) {
    publish(&ctx, unknown(&pool, &target, wall_now())).await;
}

/// Scrapes one DCGM exporter until `stop`, publishing each pod's GPU series as a
/// message with engine `dcgm`: raw series only, no canonical signals (consumers take
/// those from the model server's own messages).
pub async fn dcgm(ctx: Arc<Ctx>, pool: Arc<Pool>, target: Target, stop: CancellationToken) {
    every_tick(&ctx, target.url(), &stop, || {
        scrape_dcgm(&ctx, &pool, &target)
    })
    .await;
}

async fn scrape_dcgm(ctx: &Ctx, pool: &Pool, target: &Target) {
    let url = target.url();
    let time = wall_now();
    let started = Instant::now();
    let Some(body) = fetch(ctx, pool, url).await else {
        return;
    };
    let (scrape, _) = parse(ctx, pool, url, &body, started);
    for t in ctx.members(&pool.name) {
        let name = t.pod();
        let mine: Vec<_> = engine::dcgm_for(&scrape.samples, &name, &pool.namespace)
            .copied()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let pod = PodSamples {
            engine: "dcgm".into(),
            signals: Signals {
                up: true,
                ..Signals::default()
            },
            raw: engine::raw(&mine, &ctx.dcgm),
            ..unknown(pool, &t, time)
        };
        publish(ctx, pod).await;
    }
}
