//! `poolpilot up`: every part in one process over the embedded bus, a simulated pool
//! the scaler really grows and shrinks, the demo load, and a live view (terminal
//! table and web page) of what happens; `--duration` and `--report` for scripts.
//!
//! # Layout
//! - `demo.rs`, `demo.yaml`: what runs without `--config`, and `--load demo`.
//! - `dashboard.rs`: the pure view model (series, alerts, decisions, report).
//! - `web.rs`, `page.html`: the live page and `GET /api/state`.
//! - `term.rs`: the terminal table.

mod dashboard;
mod demo;
mod term;
mod web;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use shared::bus::typed::{Decode, Typed};
use shared::bus::{StartFrom, Subscribe};
use shared::config::validate;
use shared::wire::{Aggregates, AlertTransition, RequestEvent, ScaleDecision, Topic};
use tokio_util::sync::CancellationToken;

use crate::cli::{LoadProfile, UpArgs};
use crate::{Config, Part, start};
pub use dashboard::Dashboard;

/// The wall clock, for the shell.
#[allow(clippy::disallowed_methods, reason = "the up shell stamps its view")]
pub(crate) fn wall_now() -> DateTime<Utc> {
    Utc::now()
}

/// Runs `poolpilot up` until Ctrl-C or `--duration`.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("poolpilot-up-{}", std::process::id()));
    let mut config = match &args.common.config {
        Some(path) => shared::config::load::<Config>(path)
            .map_err(|e| anyhow!("{e}"))?
            .into_inner(),
        None => demo::config(&dir)?,
    };
    if let Some(addr) = args.common.admin_listen {
        config.admin.listen = addr;
    }
    if let Some(addr) = args.router_listen {
        config.router.listen = addr;
    }
    if let Some(brokers) = &args.kafka {
        config.bus.kind = shared::bus::BusKind::Kafka;
        config.bus.kafka.brokers.clone_from(brokers);
    }
    let mut parts = Part::ALL.to_vec();
    if !args.targets.is_empty() {
        config.scraper.pools = vec![real_targets(&args.targets)];
        config.scaler.pools.clear();
        parts.retain(|p| *p != Part::Simulator);
    }
    let kv_target = kv_target(&config);
    let router_url = format!("http://{}", config.router.listen);
    let config = validate(config).map_err(|e| anyhow!("{e}"))?;
    let _telemetry = shared::telemetry::init(&config.telemetry, "up");
    if args.common.config.is_none() {
        eprintln!(
            "poolpilot up: demo config in {} (alert rules' `{}` shortened to `{}` so they fire in a demo)",
            dir.display(),
            demo::SEED_FOR,
            demo::DEMO_FOR
        );
    }
    let running = start(&parts, config).await?;
    let dashboard = Arc::new(Mutex::new(Dashboard::new(wall_now(), kv_target)));
    let stop = CancellationToken::new();
    feed(&running.deps, &dashboard, &stop)?;
    let page = if args.no_ui {
        None
    } else {
        let addr = web::serve(args.ui_listen, dashboard.clone(), stop.clone()).await?;
        Some(format!("http://{addr}/"))
    };
    if let Some(page) = &page {
        eprintln!("poolpilot up: live page at {page}, router at {router_url}");
    }
    tokio::spawn(tick(dashboard.clone(), !args.no_ui, page, stop.clone()));
    if args.load == LoadProfile::Demo {
        let load = simulator::load::LoadArgs::from_flags(demo::load_flags(&router_url))
            .map_err(|e| anyhow!("demo load: {e}"))?;
        let (stop, dashboard) = (stop.clone(), dashboard.clone());
        tokio::spawn(async move {
            // The first request waits until the pool's servers are seen ready (the
            // router reads the same samples), for at most 30 s.
            let seen = async {
                while !dashboard
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pool_ready()
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(30), seen).await;
            tokio::select! {
                () = stop.cancelled() => {}
                done = simulator::load::run(load, false) => if let Err(e) = done {
                    tracing::warn!(error = %e, "The demo load stopped.");
                }
            }
        });
    }
    let (duration, stopping) = (args.duration, stop.clone());
    let ended = running
        .wait(async move {
            match duration {
                Some(d) => tokio::select! {
                    () = shared::shutdown::signal_received() => {}
                    () = tokio::time::sleep(d) => {}
                },
                None => shared::shutdown::signal_received().await,
            }
            // The load first: its open requests would hold the router's drain.
            stopping.cancel();
        })
        .await;
    stop.cancel();
    if let Some(path) = &args.report {
        let d = dashboard.lock().unwrap_or_else(|e| e.into_inner());
        let json = serde_json::to_string_pretty(&d.report(wall_now()))?;
        std::fs::write(path, json).with_context(|| format!("report {}", path.display()))?;
        eprintln!("poolpilot up: report written to {}", path.display());
    }
    ended
}

/// One scrape pool over `urls` (base URLs get `/metrics`).
fn real_targets(urls: &[String]) -> scraper::Pool {
    scraper::Pool {
        name: "targets".to_owned(),
        namespace: "default".to_owned(),
        engine: scraper::EngineChoice::Auto,
        targets: urls
            .iter()
            .map(|u| {
                let u = u.trim_end_matches('/');
                let url = if u.ends_with("/metrics") {
                    u.to_owned()
                } else {
                    format!("{u}/metrics")
                };
                scraper::Target::Url(url)
            })
            .collect(),
        dcgm: Vec::new(),
        kubernetes: None,
    }
}

/// The first KV-cache `AverageValue` target of the scaler, for the charts.
fn kv_target(config: &Config) -> Option<f64> {
    config.scaler.pools.iter().find_map(|p| {
        p.hpa.metrics.as_ref()?.iter().find_map(|m| {
            let e = m.external.as_ref()?;
            e.metric
                .name
                .contains("kv_cache")
                .then(|| e.target.average_value.as_ref()?.0.parse().ok())?
        })
    })
}

/// Feeds the dashboard from the four topics, each with a group of its own.
fn feed(
    deps: &shared::Deps,
    dashboard: &Arc<Mutex<Dashboard>>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    follow::<Vec<Aggregates>>(deps, Topic::Aggregates, dashboard, stop, |d, batch| {
        batch.iter().for_each(|a| d.aggregates(a));
    })?;
    follow::<AlertTransition>(deps, Topic::Alerts, dashboard, stop, |d, t| d.alert(&t))?;
    follow::<ScaleDecision>(deps, Topic::Decisions, dashboard, stop, |d, x| {
        d.decision(&x);
    })?;
    follow::<RequestEvent>(deps, Topic::Requests, dashboard, stop, |d, e| d.request(&e))
}

fn follow<T: Decode + Send + 'static>(
    deps: &shared::Deps,
    topic: Topic,
    dashboard: &Arc<Mutex<Dashboard>>,
    stop: &CancellationToken,
    apply: impl Fn(&mut Dashboard, T) + Send + 'static,
) -> anyhow::Result<()> {
    let group = format!("poolpilot-up-view-{}-{topic:?}", std::process::id());
    let sub = deps
        .bus
        .subscribe(Subscribe::new(group, [deps.topics.name(topic)]).start(StartFrom::Latest))?;
    let mut typed = Typed::<T>::new(sub, deps.bus_metrics.clone());
    let (dashboard, stop) = (dashboard.clone(), stop.clone());
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => break,
                next = typed.recv() => next,
            };
            let Ok((message, value)) = next else { break };
            apply(
                &mut dashboard.lock().unwrap_or_else(|e| e.into_inner()),
                value,
            );
            let _ = typed.commit(&message);
        }
    });
    Ok(())
}

/// Once a second: a point on every series, and the terminal table.
async fn tick(
    dashboard: Arc<Mutex<Dashboard>>,
    terminal: bool,
    page: Option<String>,
    stop: CancellationToken,
) {
    let started = wall_now();
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = every.tick() => {}
        }
        let now = wall_now();
        let pools = {
            let mut d = dashboard.lock().unwrap_or_else(|e| e.into_inner());
            d.tick(now);
            d.now()
        };
        if terminal {
            let elapsed = (now - started).num_milliseconds() as f64 / 1e3;
            term::draw(&term::table(elapsed, &pools, page.as_deref()));
        }
    }
}
