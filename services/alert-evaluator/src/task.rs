//! The I/O loop: bus → window, a tick → `Evaluator::step`, its results → `alerts.v1`,
//! webhooks, Alertmanagers and the state store. The only place that reads the clock.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use shared::Deps;
use shared::bus::typed::Typed;
use shared::bus::{StartFrom, Subscribe};
use shared::store::{SledStore, Store};
use shared::wire::{Aggregates, JsonEvent, PodSamples, Topic};

use crate::core::{Evaluator, Snapshot};
use crate::events::{AlertStateChanged, EvaluatorMetrics, RuleEvaluationFailed};
use crate::feed::{Feed, ms};
use crate::notify::webhook::{Dispatcher, Sender};
use crate::notify::{NotifyMetrics, alertmanager};
use crate::{Config, Error};

const STATE_KEY: &str = "alerts.v1";

/// Where alerts go.
struct Outputs {
    webhooks: Vec<(Dispatcher, Sender)>,
    alertmanagers: Vec<alertmanager::Client>,
}

/// Runs the loop until `shutdown` resolves.
pub async fn run(
    config: &Config,
    mut evaluator: Evaluator,
    deps: Deps,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), Error> {
    let metrics = EvaluatorMetrics::register(&deps.metrics);
    let notify_metrics = NotifyMetrics::default();
    notify_metrics.register(&deps.metrics);
    let store = config
        .state_path
        .as_deref()
        .map(SledStore::open)
        .transpose()?;
    if let Some(store) = &store {
        restore(store, &mut evaluator)?;
    }
    let mut outputs = Outputs {
        webhooks: config
            .webhooks
            .iter()
            .map(|w| {
                (
                    Dispatcher::new(w, &config.external_url),
                    Sender::spawn(w.clone(), notify_metrics.clone()),
                )
            })
            .collect(),
        alertmanagers: config
            .alertmanagers
            .iter()
            .map(|a| alertmanager::Client::spawn(a.clone(), notify_metrics.clone()))
            .collect(),
    };
    // Alerts restored as firing were announced before the restart: the dispatchers
    // start knowing them, so a restart does not announce them again.
    let restored = evaluator.announced();
    for (d, _) in &mut outputs.webhooks {
        drop(d.update(wall_ms(), &restored));
    }

    // Every replica reads every partition from the latest offset into its own window:
    // a group of its own, so a restart after a crash never waits for the dead
    // member's session to expire before data flows again.
    let group = format!(
        "poolpilot-alert-evaluator-{}-{}",
        std::process::id(),
        wall_ms()
    );
    let subscribe = |topic: Topic| {
        deps.bus.subscribe(
            Subscribe::new(group.clone(), [deps.topics.name(topic)]).start(StartFrom::Latest),
        )
    };
    let mut samples =
        Typed::<Vec<PodSamples>>::new(subscribe(Topic::Samples)?, deps.bus_metrics.clone());
    let mut aggregates =
        Typed::<Vec<Aggregates>>::new(subscribe(Topic::Aggregates)?, deps.bus_metrics.clone());
    let alerts_topic = deps.topics.name(Topic::Alerts);
    let tick_every = evaluator
        .groups()
        .map(|g| g.interval)
        .min()
        .unwrap_or(config.interval)
        .min(config.interval);
    let mut tick = tokio::time::interval(tick_every);
    let mut warm = Warmup::new(config.startup_delay);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut feed = Feed::default();
    deps.health.component("alert-evaluator").set(true);
    tracing::info!(groups = evaluator.groups().count(), tick = ?tick_every, "Alert-evaluator started.");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            next = samples.recv() => {
                let (message, batch) = next?;
                warm.data();
                for p in &batch {
                    feed.pod(evaluator.storage_mut(), p);
                }
                samples.commit(&message)?;
            }
            next = aggregates.recv() => {
                let (message, batch) = next?;
                warm.data();
                for a in &batch {
                    feed.aggregates(evaluator.storage_mut(), a);
                }
                aggregates.commit(&message)?;
            }
            _ = tick.tick() => {
                if !warm.ready() {
                    continue;
                }
                let now = wall_ms();
                #[allow(clippy::disallowed_methods, reason = "timing the evaluation")]
                let started = std::time::Instant::now();
                let step = evaluator.step(now);
                metrics.evaluated(started.elapsed().as_secs_f64(), step.rejected);
                for (group, rule, error) in &step.errors {
                    RuleEvaluationFailed { group, rule, error }.emit(&metrics);
                }
                for t in &step.transitions {
                    AlertStateChanged(t).emit(&metrics);
                    let body = Bytes::from(t.encode());
                    if let Err(e) = deps.bus.publish(&alerts_topic, t.fingerprint.as_bytes(), body).await {
                        tracing::warn!(error = %e, "Alert transition not published.");
                    }
                }
                if !step.due.is_empty() {
                    for a in &outputs.alertmanagers {
                        a.send(step.due.clone());
                    }
                }
                // What webhooks see is built only when there are webhooks.
                let announced = if outputs.webhooks.is_empty() { Vec::new() } else { evaluator.announced() };
                for (d, s) in &mut outputs.webhooks {
                    for message in d.update(now, &announced) {
                        s.send(message);
                    }
                }
                if let Some(store) = &store
                    && (!step.transitions.is_empty() || !step.due.is_empty())
                {
                    save(store, &evaluator.snapshot())?;
                }
                let firing = evaluator.firing();
                let window = evaluator.storage();
                metrics.window(window.series_count(), window.point_count(), firing);
            }
        }
    }
    if let Some(store) = &store {
        save(store, &evaluator.snapshot())?;
    }
    samples.close().await?;
    aggregates.close().await?;
    for (_, s) in outputs.webhooks {
        s.close().await;
    }
    for a in outputs.alertmanagers {
        a.close().await;
    }
    tracing::info!("Alert-evaluator stopped.");
    Ok(())
}

/// When the first evaluation may run: once data has been arriving for the delay (an
/// empty window would drop restored pending alerts), or, with no data at all, after
/// the delay plus a minute (rules like `absent()` need no data).
struct Warmup {
    delay: Duration,
    started: tokio::time::Instant,
    data_since: Option<tokio::time::Instant>,
    done: bool,
}

impl Warmup {
    const NO_DATA: Duration = Duration::from_secs(60);

    fn new(delay: Duration) -> Self {
        Self {
            delay,
            started: tokio::time::Instant::now(),
            data_since: None,
            done: false,
        }
    }

    fn data(&mut self) {
        self.data_since
            .get_or_insert_with(tokio::time::Instant::now);
    }

    fn ready(&mut self) -> bool {
        if !self.done {
            self.done = match self.data_since {
                Some(t) => t.elapsed() >= self.delay,
                None => self.started.elapsed() >= self.delay + Self::NO_DATA,
            };
            if self.done && self.data_since.is_none() {
                tracing::warn!("No samples or aggregates arrived; evaluating rules without them.");
            }
        }
        self.done
    }
}

fn restore(store: &SledStore, evaluator: &mut Evaluator) -> Result<(), Error> {
    let Some(bytes) = store.load(STATE_KEY)? else {
        return Ok(());
    };
    match serde_json::from_slice::<Snapshot>(&bytes) {
        Ok(snapshot) => {
            let n = evaluator.restore(snapshot);
            tracing::info!(alerts = n, "Alert state restored.");
        }
        Err(e) => {
            tracing::error!(error = %e, "Stored alert state does not decode; starting without it.");
        }
    }
    Ok(())
}

fn save(store: &SledStore, snapshot: &Snapshot) -> Result<(), Error> {
    let bytes = serde_json::to_vec(snapshot).map_err(|e| Error::Encode(e.to_string()))?;
    store.save(STATE_KEY, &bytes)?;
    Ok(())
}

#[allow(clippy::disallowed_methods, reason = "the shell reads the clock")]
fn wall_ms() -> i64 {
    ms(SystemTime::now())
}
