//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// poolpilot: metrics, alerts, autoscaling and routing for fleets of LLM model servers.
#[derive(Debug, Parser)]
#[command(name = "poolpilot", version, propagate_version = true)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every part in one process over the embedded bus.
    Up(UpArgs),
    /// Poll model servers and publish their samples.
    Scraper(PartArgs),
    /// Compute pool averages, request metrics and burn rates.
    Aggregator(PartArgs),
    /// Evaluate Prometheus rules and send Alertmanager webhooks.
    AlertEvaluator(PartArgs),
    /// Run the HPA algorithm on the stream and PATCH /scale.
    Scaler(ScalerArgs),
    /// Proxy OpenAI-compatible requests to the best endpoint.
    Router(PartArgs),
    /// Serve a simulated vLLM fleet.
    #[command(alias = "simulator")]
    Simulate(SimulateArgs),
    /// Send OpenAI requests at a rate or schedule and report latency percentiles.
    Load(simulator::load::LoadArgs),
    /// Check or unit-test Prometheus rule files, as promtool does.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Turn the seed's kinds of manifests (HorizontalPodAutoscaler, GCPTrafficExtension,
    /// GCPBackendPolicy, Prometheus rules) into poolpilot.yaml sections, with notes.
    Import {
        /// Manifest files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Try the router's guard policy on text before turning it on.
    #[command(subcommand)]
    Guard(GuardCommand),
    /// Validate a config file and print every problem with its file:line:column.
    Check {
        /// poolpilot.yaml.
        #[arg(long, short)]
        config: PathBuf,
    },
}

impl Command {
    /// The part and its arguments, for the commands that run one part.
    pub fn part(&self) -> Option<(Part, &PartArgs)> {
        Some(match self {
            Command::Scraper(a) => (Part::Scraper, a),
            Command::Aggregator(a) => (Part::Aggregator, a),
            Command::AlertEvaluator(a) => (Part::AlertEvaluator, a),
            Command::Scaler(ScalerArgs {
                command: None,
                common,
                ..
            }) => (Part::Scaler, common),
            Command::Scaler(ScalerArgs {
                command: Some(_), ..
            }) => return None,
            Command::Router(a) => (Part::Router, a),
            Command::Simulate(a) => (Part::Simulator, &a.common),
            Command::Up(_)
            | Command::Load(_)
            | Command::Rules(_)
            | Command::Guard(_)
            | Command::Import { .. }
            | Command::Check { .. } => {
                return None;
            }
        })
    }
}

/// `poolpilot rules …`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check rule files like `promtool check rules`: every problem with its file:line.
    Check {
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run unit tests in promtool's format (`rule_files`, `input_series`,
    /// `alert_rule_test`, `promql_expr_test`) like `promtool test rules`.
    Test {
        /// Test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `poolpilot guard …`.
#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// Read JSON lines `{"id", "text"}` on stdin; write `{"id", "verdict":
    /// "allow"|"block", "findings": [{"filter", "start", "end", "confidence"}]}` per
    /// line, by a chain's local filters (the external checker is not called).
    Scan {
        /// poolpilot.yaml with a `router.guard` section.
        #[arg(long, short)]
        config: PathBuf,
        /// The chain to use; the first one when absent.
        #[arg(long)]
        chain: Option<String>,
        /// Check as responses rather than prompts (the chain must check responses).
        #[arg(long)]
        response: bool,
    },
}

/// `poolpilot scaler [replay …]`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScalerArgs {
    /// Something other than running the scaler.
    #[command(subcommand)]
    pub command: Option<ScalerCommand>,
    /// The part arguments.
    #[command(flatten)]
    pub common: PartArgs,
    /// Decide, log and publish every decision, but never PATCH /scale (sets
    /// scaler.dry_run, whatever the config file says).
    #[arg(long)]
    pub dry_run: bool,
}

/// `poolpilot scaler …`.
#[derive(Debug, Subcommand)]
pub enum ScalerCommand {
    /// What-if: decide over a recorded timeline (JSON lines: time, spec_replicas,
    /// status_replicas, ready_pods, metrics by plain or Google Cloud name) and print one
    /// JSON decision per line.
    Replay {
        /// A HorizontalPodAutoscaler manifest (autoscaling/v2).
        #[arg(long)]
        hpa: PathBuf,
        /// The timeline, one observation per line.
        #[arg(long)]
        timeline: PathBuf,
        /// The HPA's own arithmetic for pool averages, instead of poolpilot's.
        #[arg(long)]
        stock: bool,
    },
}

/// Arguments of a command that runs one part.
#[derive(Debug, clap::Args)]
pub struct PartArgs {
    /// poolpilot.yaml; without it, the defaults.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Serve /healthz, /readyz and /metrics here instead of admin.listen.
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
}

/// Arguments of `poolpilot simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The part arguments.
    #[command(flatten)]
    pub common: PartArgs,
    /// Servers to start, instead of simulator.servers.
    #[arg(long, value_name = "N")]
    pub servers: Option<u32>,
}

/// Arguments of `poolpilot up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The part arguments.
    #[command(flatten)]
    pub common: PartArgs,
    /// Use Kafka at these brokers instead of the embedded bus.
    #[arg(long, value_name = "BROKERS")]
    pub kafka: Option<String>,
    /// Load to send through the router: `demo` (a ramp past the pool's capacity, a
    /// plateau, a fall; about 3 minutes) or `none`.
    #[arg(long, value_enum, default_value_t = LoadProfile::Demo)]
    pub load: LoadProfile,
    /// Real model servers (base URLs or /metrics URLs) instead of the simulated
    /// pool; nothing is scaled then.
    #[arg(long = "target", value_name = "URL")]
    pub targets: Vec<String>,
    /// Stop after this long (e.g. `4m`) instead of on Ctrl-C.
    #[arg(long, value_name = "D", value_parser = shared::config::duration::parse)]
    pub duration: Option<std::time::Duration>,
    /// Write a JSON summary here when stopping: scale events, alert transitions,
    /// latency percentiles, the per-second series.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No terminal table and no web page (for scripts).
    #[arg(long)]
    pub no_ui: bool,
    /// Where the live web page is served.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub ui_listen: SocketAddr,
    /// Serve the router here instead of router.listen.
    #[arg(long, value_name = "ADDR")]
    pub router_listen: Option<SocketAddr>,
}

/// `--load` of `poolpilot up`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadProfile {
    /// Ramp, plateau, fall.
    Demo,
    /// No load: send your own to the router.
    None,
}

/// The parts one process can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Polls model servers and publishes samples.
    Scraper,
    /// Pool averages, request metrics, burn rates.
    Aggregator,
    /// Prometheus rules, Alertmanager webhooks.
    AlertEvaluator,
    /// The HPA algorithm, PATCH /scale.
    Scaler,
    /// The OpenAI-compatible proxy.
    Router,
    /// A simulated vLLM fleet.
    Simulator,
}

impl Part {
    /// Every part, in the order `up` starts them.
    pub const ALL: [Part; 6] = [
        Part::Simulator,
        Part::Scraper,
        Part::Aggregator,
        Part::AlertEvaluator,
        Part::Scaler,
        Part::Router,
    ];

    /// The name on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Part::Scraper => "scraper",
            Part::Aggregator => "aggregator",
            Part::AlertEvaluator => "alert-evaluator",
            Part::Scaler => "scaler",
            Part::Router => "router",
            Part::Simulator => "simulator",
        }
    }
}
