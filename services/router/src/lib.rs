//! The router: an OpenAI-compatible proxy that picks an endpoint per request from the
//! live `samples.v1` stream, as the endpoint picker does (DESIGN §2, §5, §6), and
//! reports every request on `requests.v1`, `/metrics` and the access log.
//!
//! # Layout
//! - `config.rs`: the `router:` section.
//! - `guard/`: prompt and response safety checks (Model-Armor-shaped).
//! - `pick/`: the pure picker (filters, scorers, prefix affinity, target split,
//!   shedding) and the round-robin baseline.
//! - `proxy/`: the HTTP/1.1 + h2c proxy (streaming, retries, errors, records).
//! - `table.rs`: the endpoint table fed from `samples.v1`.
//! - `routing.rs`: the proxy's `Router`, over the table and the picker.
//! - `observe.rs`: request events, per-model metrics.
//! - `access_log.rs`: the sampled access log (stdout or a file).

mod access_log;
mod config;
pub mod guard;
mod observe;
pub mod pick;
pub mod proxy;
mod routing;
mod table;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use shared::Deps;
use shared::bus::typed::Typed;
use shared::bus::{Bus, BusError, StartFrom, Subscribe};
use shared::config::Validated;
use shared::wire::{JsonEvent, PodSamples, RequestEvent, Topic};
use tokio::sync::mpsc;

pub use config::{Config, PickerKind};
pub use observe::sampled;

/// What stops the router.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bus refused us.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The listener could not be bound, or the proxy failed.
    #[error(transparent)]
    Proxy(#[from] proxy::ProxyError),
    /// The access log's file cannot be opened.
    #[error(transparent)]
    AccessLog(#[from] access_log::OpenError),
    /// A guard chain cannot be built (caught by validation first).
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    /// The picker's config is wrong (caught by validation first).
    #[error("router picker: {0}")]
    Picker(#[from] pick::ConfigError),
    /// The request-event publisher panicked.
    #[error("router: the request-event publisher failed: {0}")]
    Publisher(#[from] tokio::task::JoinError),
}

/// How often waiting request events are published.
const PUBLISH_EVERY: Duration = Duration::from_millis(10);
/// Request events that may wait for the publisher (beyond them, events are
/// dropped and logged): over six million requests per second at [`PUBLISH_EVERY`].
const EVENTS_WAITING: usize = 65_536;

/// Runs the router until `shutdown` resolves.
pub async fn run(
    config: Validated<Config>,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let table = Arc::new(table::Table::default());
    let picker = pick::Picker::new(config.picker_config())?;
    let observer = observe::Observer::register(
        &deps.metrics,
        config.access_log_sample_rate,
        config.access_log_errors,
        access_log::AccessLog::open(config.access_log_path.as_deref())?,
    );
    let (events_tx, events_rx) = mpsc::channel(EVENTS_WAITING);
    let routing = Arc::new(routing::Routing::new(
        &config,
        picker,
        table.clone(),
        observer,
        events_tx,
    ));
    let stop = stop_signal();
    let proxy = proxy::serve(
        proxy::ProxyConfig {
            listen: config.listen,
            threads: match config.threads {
                0 => std::thread::available_parallelism().map_or(1, usize::from),
                n => n,
            },
            max_body_bytes: config.max_body_bytes as usize,
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
            guard: (!config.guard.chains.is_empty())
                .then(|| guard::Guard::new(&config.guard, &deps.metrics))
                .transpose()?
                .map(Arc::new),
        },
        routing.clone(),
        stop.1,
    )
    .await?;
    let sub = deps.bus.subscribe(
        Subscribe::new(
            format!("poolpilot-router-{}-{}", std::process::id(), wall_ms()),
            [deps.topics.name(Topic::Samples)],
        )
        .start(StartFrom::Latest),
    )?;
    let mut samples = Typed::<Vec<PodSamples>>::new(sub, deps.bus_metrics.clone());
    let publisher = tokio::spawn(publish_all(
        deps.bus.clone(),
        deps.topics.name(Topic::Requests),
        events_rx,
    ));
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    deps.health.component("router").set(true);
    tracing::info!(listen = %proxy.local_addr(), picker = ?config.picker, "Router started.");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            next = samples.recv() => {
                let (message, batch) = next?;
                batch.iter().for_each(|p| table.ingest(p));
                samples.commit(&message)?;
            }
            _ = tick.tick() => {
                routing.observer().refresh(table.len());
                table.forget_before(wall_ms() - 300_000);
            }
        }
    }
    // Stop accepting, let in-flight streams finish, then publish what they
    // reported: the publisher ends once the last sender (the routing) is gone.
    let _ = stop.0.send(());
    proxy.wait().await?;
    drop(routing);
    publisher.await?;
    samples.close().await?;
    tracing::info!("Router stopped.");
    Ok(())
}

/// Publishes the request events waiting every [`PUBLISH_EVERY`], until every
/// sender is gone; a failure is logged, the router goes on. Taking them on a tick,
/// not as each arrives, keeps the proxy threads from waking this one per request.
async fn publish_all(bus: Arc<dyn Bus>, topic: String, mut events: mpsc::Receiver<RequestEvent>) {
    let mut tick = tokio::time::interval(PUBLISH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::new();
    loop {
        tick.tick().await;
        let open = loop {
            match events.try_recv() {
                Ok(event) => batch.push(event),
                Err(mpsc::error::TryRecvError::Empty) => break true,
                Err(mpsc::error::TryRecvError::Disconnected) => break false,
            }
        };
        for event in batch.drain(..) {
            let body = Bytes::from(event.encode());
            if let Err(e) = bus.publish(&topic, event.id.as_bytes(), body).await {
                tracing::warn!(error = %e, id = %event.id, "Request event not published.");
            }
        }
        if !open {
            return;
        }
    }
}

/// A one-shot stop signal for the proxy: the sender, and the future it ends.
fn stop_signal() -> (
    tokio::sync::oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}

#[allow(clippy::disallowed_methods, reason = "the shell reads the clock")]
fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
