//! The I/O loop: the latest aggregates of each scaled pool from `aggregates.v1`; at
//! each tick, for each pool, read the target's replicas, ask the core, and PATCH when
//! it wants a change (a 409 re-reads and retries, other errors back off). Decisions
//! go to `decisions.v1`, the log and `/metrics`; state to sled. The only place that
//! reads the clock.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use shared::Deps;
use shared::bus::typed::Typed;
use shared::bus::{StartFrom, Subscribe};
use shared::store::{SledStore, Store};
use shared::wire::{Aggregates, JsonEvent, MetricInput, ScaleDecision, ScaleTargetRef, Topic};

use crate::config::PoolScaling;
use crate::core::{Decision, Observation, Scaler, State};
use crate::events::{ReplicasDecided, ScalerMetrics};
use crate::target::{Replicas, ScaleError, ScaleTarget};
use crate::{Config, Error};

/// How many times a 409 is answered by re-reading and writing again.
const CONFLICT_RETRIES: usize = 3;

/// One scaled pool.
pub struct Pool {
    /// Its config.
    pub config: PoolScaling,
    /// Its target.
    pub target: Box<dyn ScaleTarget>,
    scaler: Scaler,
    backoff_until: i64,
    failures: u32,
    saved_at: i64,
}

impl Pool {
    /// A pool with its core; `config` was validated, so the spec builds.
    pub fn new(config: PoolScaling, target: Box<dyn ScaleTarget>) -> Result<Self, Error> {
        let scaler = Scaler::new(config.hpa.clone(), config.mode)
            .map_err(|e| Error::Spec(format!("pool {}: {e}", config.pool)))?;
        Ok(Self {
            config,
            target,
            scaler,
            backoff_until: 0,
            failures: 0,
            saved_at: 0,
        })
    }
}

/// Runs the loop until `shutdown` resolves.
pub async fn run(
    config: &Config,
    mut pools: Vec<Pool>,
    deps: Deps,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), Error> {
    let metrics = ScalerMetrics::register(&deps.metrics);
    let store = config
        .state_path
        .as_deref()
        .map(SledStore::open)
        .transpose()?;
    if let Some(store) = &store {
        for p in &mut pools {
            restore(store, p)?;
        }
    }
    let sub = deps.bus.subscribe(
        Subscribe::new(
            format!("poolpilot-scaler-{}-{}", std::process::id(), wall_ms()),
            [deps.topics.name(Topic::Aggregates)],
        )
        .start(StartFrom::Latest),
    )?;
    let mut aggregates = Typed::<Vec<Aggregates>>::new(sub, deps.bus_metrics.clone());
    let decisions_topic = deps.topics.name(Topic::Decisions);
    let mut latest: HashMap<String, Aggregates> = HashMap::new();
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    deps.health.component("scaler").set(true);
    tracing::info!(
        pools = pools.len(),
        dry_run = config.dry_run,
        "Scaler started."
    );
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            next = aggregates.recv() => {
                let (message, batch) = next?;
                for a in batch {
                    if pools.iter().any(|p| p.config.pool == a.pool) {
                        latest.insert(a.pool.clone(), a);
                    }
                }
                aggregates.commit(&message)?;
            }
            _ = tick.tick() => {
                for pool in &mut pools {
                    let now = wall_ms();
                    if now < pool.backoff_until {
                        continue;
                    }
                    let fresh = latest
                        .get(&pool.config.pool)
                        .filter(|a| now - ms(a.time) <= config.freshness.as_millis() as i64);
                    let Some(decision) = step(config, pool, fresh, now, &metrics, store.as_ref()).await? else {
                        continue;
                    };
                    let body = Bytes::from(decision.encode());
                    let key = format!("{}/{}", decision.namespace, decision.target.name);
                    if let Err(e) = deps.bus.publish(&decisions_topic, key.as_bytes(), body).await {
                        tracing::warn!(error = %e, "Scale decision not published.");
                    }
                }
                if let Some(store) = &store {
                    for pool in &mut pools {
                        save(store, pool, wall_ms(), false)?;
                    }
                }
            }
        }
    }
    if let Some(store) = &store {
        for pool in &mut pools {
            save(store, pool, wall_ms(), true)?;
        }
    }
    aggregates.close().await?;
    tracing::info!("Scaler stopped.");
    Ok(())
}

/// One pool at one tick: read, decide, act. Returns the decision when it changes
/// replicas (or would, in a dry run).
async fn step(
    config: &Config,
    pool: &mut Pool,
    aggregates: Option<&Aggregates>,
    now: i64,
    metrics: &ScalerMetrics,
    store: Option<&SledStore>,
) -> Result<Option<ScaleDecision>, Error> {
    let name = pool.config.pool.clone();
    let mut read = match pool.target.replicas().await {
        Ok(r) => r,
        Err(e) => {
            fail(pool, now, config, &e);
            return Ok(None);
        }
    };
    let observation = observe(&name, aggregates, &read);
    let mut decision = pool.scaler.recommend(now, &observation);
    metrics.desired(&name, decision.desired);
    for m in &decision.metrics {
        if metrics.missing(&name, &m.name, m.value.is_none()) && m.value.is_none() {
            tracing::warn!(pool = %name, metric = %m.name, "Metric missing: no scale-down until it is back.");
        }
    }
    if decision.desired == decision.current {
        return Ok(None);
    }
    // The recommendation is durable before it is acted on, and the scale event right
    // after: a kill -9 in between cannot shorten a stabilization window.
    if let Some(store) = store {
        save(store, pool, now, true)?;
    }
    let mut error = None;
    let mut patched = false;
    if !config.dry_run {
        for attempt in 0..=CONFLICT_RETRIES {
            match pool
                .target
                .set_replicas(decision.desired as u32, &read)
                .await
            {
                Ok(()) => {
                    pool.scaler
                        .record_scale(now, decision.current, decision.desired);
                    if let Some(store) = store {
                        save(store, pool, now, true)?;
                    }
                    pool.failures = 0;
                    patched = true;
                    error = None;
                    break;
                }
                Err(ScaleError::Conflict { .. }) if attempt < CONFLICT_RETRIES => {
                    // Someone wrote in between: read again and decide on what is there.
                    match pool.target.replicas().await {
                        Ok(r) => read = r,
                        Err(e) => {
                            error = Some(e.to_string());
                            fail(pool, now, config, &e);
                            break;
                        }
                    }
                    decision = pool
                        .scaler
                        .recommend(now, &observe(&name, aggregates, &read));
                    if decision.desired == decision.current {
                        return Ok(None);
                    }
                }
                Err(e) => {
                    error = Some(e.to_string());
                    fail(pool, now, config, &e);
                    break;
                }
            }
        }
    }
    let event = decision_event(&pool.config, &decision, now, patched, error);
    let latency = aggregates
        .filter(|_| patched)
        .map(|a| (wall_ms() - ms(a.time)) as f64 / 1000.0);
    ReplicasDecided {
        decision: &event,
        latency,
        dry_run: config.dry_run,
    }
    .emit(metrics);
    Ok(Some(event))
}

/// The core's view of a pool: its fresh aggregates (none when stale) and the
/// target's replicas.
fn observe(pool: &str, aggregates: Option<&Aggregates>, read: &Replicas) -> Observation {
    let metrics: BTreeMap<String, f64> = aggregates
        .into_iter()
        .flat_map(|a| &a.series)
        .filter(|s| s.labels.iter().all(|(k, v)| k != "name" || v == pool))
        .filter(|s| !s.labels.iter().any(|(k, _)| k == "model_server_pod"))
        .map(|s| (s.name.clone(), s.value))
        .collect();
    Observation {
        spec_replicas: read.spec,
        status_replicas: read.status,
        ready_pods: metrics
            .get("inference_pool_ready_pods")
            .map_or(read.status, |v| *v as i32),
        metrics,
    }
}

/// Backs off a pool after an error: the interval doubled per failure, at most 30 s.
/// A 403 is logged as what it is: a missing RBAC verb.
fn fail(pool: &mut Pool, now: i64, config: &Config, e: &ScaleError) {
    pool.failures += 1;
    let wait = (config.interval.as_millis() as i64)
        .saturating_mul(1 << pool.failures.min(10))
        .min(30_000);
    pool.backoff_until = now + wait;
    match e {
        ScaleError::Forbidden { .. } => {
            tracing::error!(pool = %pool.config.pool, error = %e, "Scale target refused: RBAC.");
        }
        _ => {
            tracing::warn!(pool = %pool.config.pool, error = %e, retry_in_ms = wait, "Scale target unreachable; backing off.");
        }
    }
}

fn decision_event(
    config: &PoolScaling,
    d: &Decision,
    now: i64,
    patched: bool,
    error: Option<String>,
) -> ScaleDecision {
    let t = &config.hpa.scale_target_ref;
    ScaleDecision {
        schema: 1,
        time: chrono::DateTime::from_timestamp_millis(now).unwrap_or_default(),
        namespace: config.namespace.clone(),
        target: ScaleTargetRef {
            api_version: t.api_version.clone().unwrap_or_default(),
            kind: t.kind.clone(),
            name: t.name.clone(),
        },
        pool: config.pool.clone(),
        current_replicas: d.current.max(0) as u32,
        raw_desired: d.raw_desired.max(0) as u32,
        stabilized_desired: d.stabilized.max(0) as u32,
        desired_replicas: d.desired.max(0) as u32,
        metrics: d
            .metrics
            .iter()
            .filter_map(|m| {
                Some(MetricInput {
                    metric: m.name.clone(),
                    value: m.value?,
                    target: m.target.value,
                    target_type: format!("{:?}", m.target.kind),
                    desired: m.proposed?.max(0) as u32,
                })
            })
            .collect(),
        reason: d.reason.clone(),
        patched,
        error,
    }
}

fn key(pool: &Pool) -> String {
    format!("scaler.v1/{}/{}", pool.config.namespace, pool.config.pool)
}

fn restore(store: &SledStore, pool: &mut Pool) -> Result<(), Error> {
    let Some(bytes) = store.load(&key(pool))? else {
        return Ok(());
    };
    match serde_json::from_slice::<State>(&bytes) {
        Ok(state) => {
            pool.scaler.restore(state);
            tracing::info!(pool = %pool.config.pool, "Scaler state restored.");
        }
        Err(e) => {
            tracing::error!(pool = %pool.config.pool, error = %e, "Stored scaler state does not decode; starting without it.");
        }
    }
    Ok(())
}

/// Saves a pool's recommendations and scale events: when `now` is forced, else at
/// most once a second (a crash loses at most a second of unchanged recommendations).
fn save(store: &SledStore, pool: &mut Pool, now: i64, force: bool) -> Result<(), Error> {
    if !force && now - pool.saved_at < 1000 {
        return Ok(());
    }
    let bytes = serde_json::to_vec(&pool.scaler.state()).map_err(|e| Error::Spec(e.to_string()))?;
    store.save(&key(pool), &bytes)?;
    pool.saved_at = now;
    Ok(())
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[allow(clippy::disallowed_methods, reason = "the shell reads the clock")]
fn wall_ms() -> i64 {
    ms(SystemTime::now())
}
