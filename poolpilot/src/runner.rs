//! Starting parts: the bus, the topics, the admin server, then each part's `run` side
//! by side. When one part ends with an error the rest are told to stop (Thanos
//! `cmd/thanos/main.go`: one binary, many components); SIGTERM stops them all, and
//! each finishes its in-flight work before returning.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use shared::Deps;
use shared::bus::TopicSpec;
use shared::config::{ConfigError, Validated, validate};
use shared::telemetry::serve_admin;
use shared::wire::Topic;
use simulator::Fleet;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::{GuardCommand, RulesCommand, ScalerArgs, ScalerCommand};
use crate::{Cli, Command, Config, Part, PartArgs};

/// `poolpilot rules check|test`: promtool's report on standard output, an error when
/// anything failed.
fn rules(command: RulesCommand) -> anyhow::Result<()> {
    let (report, ok) = match command {
        RulesCommand::Check { files } => alert_evaluator::rules::check_files(&files),
        RulesCommand::Test { files } => alert_evaluator::unittest::run_files(&files),
    };
    print!("{report}");
    anyhow::ensure!(ok, "rules: some checks failed");
    Ok(())
}

/// Runs what the command line asks for until SIGTERM/SIGINT or a part fails.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Rules(command) => rules(command),
        Command::Import { files, output } => {
            let imported = crate::import::Imported::read(&files)?;
            for s in &imported.skipped {
                eprintln!("poolpilot import: skipped {s}");
            }
            match output {
                Some(path) => std::fs::write(&path, imported.yaml())
                    .with_context(|| format!("{}", path.display()))?,
                None => print!("{}", imported.yaml()),
            }
            Ok(())
        }
        Command::Guard(GuardCommand::Scan {
            config,
            chain,
            response,
        }) => {
            let config = shared::config::load::<Config>(&config).map_err(|e| anyhow!("{e}"))?;
            let event = if response {
                router::guard::GuardEvent::Response
            } else {
                router::guard::GuardEvent::Prompt
            };
            let summary = router::guard::scan(
                &config.router.guard,
                chain.as_deref(),
                event,
                std::io::stdin().lock(),
                std::io::stdout().lock(),
            )?;
            eprintln!(
                "{} scanned, {} would be blocked",
                summary.scanned, summary.blocked
            );
            Ok(())
        }
        Command::Scaler(ScalerArgs {
            command:
                Some(ScalerCommand::Replay {
                    hpa,
                    timeline,
                    stock,
                }),
            ..
        }) => {
            let spec = scaler::replay::load_hpa(&hpa)?;
            let file = std::fs::File::open(&timeline)
                .with_context(|| format!("{}", timeline.display()))?;
            let mode = if stock {
                scaler::core::Mode::Stock
            } else {
                scaler::core::Mode::PoolAverage
            };
            scaler::replay::replay(
                spec,
                mode,
                &timeline.display().to_string(),
                std::io::BufReader::new(file),
                std::io::stdout().lock(),
            )?;
            Ok(())
        }
        Command::Load(args) => {
            let json = args.json;
            let report = simulator::load::run(args, true).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.table());
            }
            Ok(())
        }
        Command::Up(args) => crate::up::run(args).await,
        Command::Simulate(args) => {
            let mut config = read(&args.common)?;
            if let Some(n) = args.servers {
                config.simulator.servers = n;
            }
            let config = validate(config).map_err(|e| anyhow!("{e}"))?;
            start_and_wait(&[Part::Simulator], config).await
        }
        Command::Scaler(ref args @ ScalerArgs { command: None, .. }) => {
            start_and_wait(&[Part::Scaler], scaler_config(args)?).await
        }
        ref command => {
            let (part, args) = command.part().expect("every other command runs one part");
            start_and_wait(&[part], load(args)?).await
        }
    }
}

async fn start_and_wait(parts: &[Part], config: Validated<Config>) -> anyhow::Result<()> {
    let service = if parts.len() == 1 {
        parts[0].name()
    } else {
        "up"
    };
    let _telemetry = shared::telemetry::init(&config.telemetry, service);
    let running = start(parts, config).await?;
    running.wait(shared::shutdown::signal_received()).await
}

/// The config a part runs with: the file (or the defaults) with the command line's
/// overrides, validated.
fn load(args: &PartArgs) -> anyhow::Result<Validated<Config>> {
    validate(read(args)?).map_err(|e| anyhow!("{e}"))
}

/// `poolpilot scaler`'s config: [`load`]'s, and `--dry-run` sets `scaler.dry_run`.
fn scaler_config(args: &ScalerArgs) -> anyhow::Result<Validated<Config>> {
    let mut config = read(&args.common)?;
    if args.dry_run {
        config.scaler.dry_run = true;
    }
    validate(config).map_err(|e| anyhow!("{e}"))
}

/// The file (checked) or the defaults, with the common overrides, before the command's
/// own overrides and the final validation.
fn read(args: &PartArgs) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => shared::config::load::<Config>(path)
            .map_err(|e| anyhow!("{e}"))?
            .into_inner(),
        None => Config::default(),
    };
    if let Some(addr) = args.admin_listen {
        config.admin.listen = addr;
    }
    Ok(config)
}

fn check(path: &Path) -> anyhow::Result<()> {
    match shared::config::load::<Config>(path) {
        Ok(config) => {
            println!("{}: ok", path.display());
            for pool in &config.scaler.pools {
                for line in scaler::explain(pool) {
                    println!("{line}");
                }
            }
            Ok(())
        }
        Err(ConfigError::Invalid(problems)) => {
            for p in &problems {
                println!("{p}");
            }
            Err(anyhow!("{}: {} problem(s)", path.display(), problems.len()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Parts that are up: their admin address, and how to stop them.
pub struct Running {
    /// Where `/healthz`, `/readyz` and `/metrics` answer.
    pub admin_addr: SocketAddr,
    /// What the parts share.
    pub deps: Deps,
    /// The simulated fleet started for the scraper, when there is one.
    pub fleet: Option<Arc<Fleet>>,
    stop: CancellationToken,
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
}

/// Connects the bus, creates the topics, binds the admin server and starts `parts`.
/// Returns once everything is bound, so callers (tests) know the addresses.
pub async fn start(parts: &[Part], config: Validated<Config>) -> anyhow::Result<Running> {
    let (config, fleet) = local_fleet(parts, config).await?;
    let bus = shared::bus::connect(&config.bus)?;
    let topics = config.bus.topics();
    let specs: Vec<_> = Topic::ALL
        .iter()
        .map(|t| TopicSpec {
            name: topics.name(*t),
            partitions: config.bus.partitions,
        })
        .collect();
    bus.ensure_topics(&specs).await.context("creating topics")?;
    let deps = Deps::new(bus, topics);
    let admin = serve_admin(
        config.admin.listen,
        deps.metrics.clone(),
        deps.health.clone(),
    )
    .await
    .with_context(|| format!("admin server on {}", config.admin.listen))?;
    let admin_addr = admin.local_addr()?;
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let admin_stop = stop.clone().cancelled_owned();
    tasks.spawn(async move { ("admin", admin.run(admin_stop).await.map_err(Into::into)) });
    for &part in parts {
        let (config, deps, stop, fleet) =
            (config.clone(), deps.clone(), stop.clone(), fleet.clone());
        tasks.spawn(async move {
            (
                part.name(),
                run_part(part, &config, deps, stop, fleet).await,
            )
        });
    }
    let names: Vec<_> = parts.iter().map(|p| p.name()).collect();
    tracing::info!(admin = %admin_addr, parts = ?names, bus = ?config.bus.kind, "poolpilot started.");
    Ok(Running {
        admin_addr,
        deps,
        fleet,
        stop,
        tasks,
    })
}

impl Running {
    /// Waits for `shutdown` or for a part to end, stops the rest, and waits for all.
    /// The first error wins.
    pub async fn wait(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut first = Ok(());
        tokio::select! {
            () = shutdown => {}
            Some(done) = self.tasks.join_next() => {
                first = outcome(done);
                if first.is_ok() {
                    tracing::warn!("A part ended on its own; stopping the rest.");
                }
            }
        }
        self.stop.cancel();
        while let Some(done) = self.tasks.join_next().await {
            let result = outcome(done);
            if first.is_ok() {
                first = result;
            }
        }
        tracing::info!("poolpilot stopped.");
        first
    }

    /// Stops every part and waits for them.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.wait(async {}).await
    }
}

fn outcome(
    done: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>,
) -> anyhow::Result<()> {
    match done {
        Ok((name, result)) => result.with_context(|| name.to_owned()),
        Err(e) => Err(anyhow!("a part panicked: {e}")),
    }
}

/// When the simulator and the scraper run together and no pool is configured, the
/// fleet starts first so the scraper can be pointed at its pods: `poolpilot up` then
/// shows real pool gauges with no config at all.
async fn local_fleet(
    parts: &[Part],
    config: Validated<Config>,
) -> anyhow::Result<(Config, Option<Arc<Fleet>>)> {
    let mut config = config.into_inner();
    let together = parts.contains(&Part::Simulator) && parts.contains(&Part::Scraper);
    if !together || !config.scraper.pools.is_empty() {
        return Ok((config, None));
    }
    let fleet = Fleet::start(validate(config.simulator.clone())?.into_inner())
        .await
        .context("starting the simulated fleet")?;
    config.scraper.pools = vec![crate::local::scrape_pool(
        &config.simulator.pool,
        &config.simulator.pool,
        &fleet.pods(),
    )];
    Ok((config, Some(fleet)))
}

async fn run_part(
    part: Part,
    config: &Config,
    deps: Deps,
    stop: CancellationToken,
    fleet: Option<Arc<Fleet>>,
) -> anyhow::Result<()> {
    let stopped = stop.clone().cancelled_owned();
    match part {
        Part::Scraper => {
            let follow = fleet.map(|fleet| {
                let name = config.simulator.pool.clone();
                crate::local::follow_fleet(fleet, 0, name, stop.child_token())
            });
            scraper::run_with(validate(config.scraper.clone())?, deps, follow, stopped).await?
        }
        Part::Aggregator => {
            aggregator::run(validate(config.aggregator.clone())?, deps, stopped).await?
        }
        Part::AlertEvaluator => {
            alert_evaluator::run(validate(config.alert_evaluator.clone())?, deps, stopped).await?
        }
        Part::Scaler => {
            // `kind: SimulatedFleet` targets the simulated fleet; the rest, the API.
            let (local, remote): (Vec<_>, Vec<_>) = config
                .scaler
                .pools
                .iter()
                .cloned()
                .partition(|p| p.hpa.scale_target_ref.kind == crate::local::FLEET_KIND);
            let mut pools = scaler::kube_pools(&config.scaler, &remote).await?;
            for p in local {
                let fleet = fleet.clone().ok_or_else(|| {
                    anyhow::anyhow!(
                        "scaler.pools: {} targets a {}, but no simulated fleet runs",
                        p.pool,
                        crate::local::FLEET_KIND
                    )
                })?;
                let target = Box::new(crate::local::FleetTarget(fleet));
                pools.push(scaler::Pool::new(p, target)?);
            }
            scaler::run_with(validate(config.scaler.clone())?, pools, deps, stopped).await?
        }
        Part::Router => router::run(validate(config.router.clone())?, deps, stopped).await?,
        Part::Simulator => match fleet {
            Some(fleet) => simulator::serve(fleet, deps, stopped).await?,
            None => simulator::run(validate(config.simulator.clone())?, deps, stopped).await?,
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn scaler_args(args: &[&str]) -> ScalerArgs {
        match Cli::try_parse_from(args).unwrap().command {
            Command::Scaler(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scaler_dry_run_flag_overrides_the_config_file() {
        let dir = std::env::temp_dir().join(format!("poolpilot-dry-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("poolpilot.yaml");
        std::fs::write(&file, "scaler:\n  dry_run: false\n").unwrap();
        let file = file.to_str().unwrap();

        let flagged = scaler_args(&["poolpilot", "scaler", "--config", file, "--dry-run"]);
        assert!(scaler_config(&flagged).unwrap().scaler.dry_run);
        let plain = scaler_args(&["poolpilot", "scaler", "--config", file]);
        assert!(!scaler_config(&plain).unwrap().scaler.dry_run);
        let defaults = scaler_args(&["poolpilot", "scaler", "--dry-run"]);
        assert!(scaler_config(&defaults).unwrap().scaler.dry_run);
        // A flag of the running scaler, not of `replay`.
        let replay = ["replay", "--hpa", "h.yaml", "--timeline", "t.jsonl"];
        assert!(Cli::try_parse_from([&["poolpilot", "scaler"][..], &replay].concat()).is_ok());
        let both =
            Cli::try_parse_from([&["poolpilot", "scaler", "--dry-run"][..], &replay].concat());
        assert_eq!(
            both.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
