//! The `aggregator:` section of `poolpilot.yaml`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, index, join};

/// How often pool gauges are recomputed and what counts as fresh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Time between recomputations of the pool gauges.
    #[serde(with = "duration")]
    pub tick: Duration,
    /// A pod's signals count only while younger than this (the endpoint picker's 2 s).
    #[serde(with = "duration")]
    pub freshness: Duration,
    /// How long a request event's id is remembered: a redelivery within it counts once.
    #[serde(with = "duration")]
    pub dedupe_window: Duration,
    /// Service-level objectives whose burn rates are exported.
    pub slos: Vec<Slo>,
    /// Where request counters and SLO history are kept across restarts (a sled
    /// database); without it they start from zero at every start.
    pub state_path: Option<std::path::PathBuf>,
}

/// One SLO, as Sloth writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The `slo` label.
    pub name: String,
    /// Percent of good requests promised over 30 days (99.9).
    pub objective: f64,
    /// What counts as bad.
    pub kind: SloKind,
    /// For `latency`: slower than this is bad.
    #[serde(with = "duration", default)]
    pub latency_threshold: Duration,
    /// The models it covers; empty is every model.
    #[serde(default)]
    pub models: Vec<String>,
}

/// What an SLO measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SloKind {
    /// Server errors (5xx, and 4xx the router caused) over all requests; 429 is shedding, not failure.
    Availability,
    /// Requests slower than `latency_threshold` over all requests.
    Latency,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(250),
            freshness: Duration::from_secs(2),
            dedupe_window: Duration::from_secs(600),
            slos: Vec::new(),
            state_path: None,
        }
    }
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        for (i, slo) in self.slos.iter().enumerate() {
            let at = index(&join(path, "slos"), i);
            if slo.name.is_empty() {
                problems.push(join(&at, "name"), "must not be empty");
            }
            if !(slo.objective > 0.0 && slo.objective < 100.0) {
                problems.push(
                    join(&at, "objective"),
                    format!(
                        "({}) must be a percentage between 0 and 100, like 99.9",
                        slo.objective
                    ),
                );
            }
            if slo.kind == SloKind::Latency && slo.latency_threshold.is_zero() {
                problems.push(
                    join(&at, "latency_threshold"),
                    "is needed for kind: latency",
                );
            }
        }
        if self.tick.is_zero() {
            problems.push(join(path, "tick"), "must be above 0");
        }
        if self.freshness < self.tick {
            problems.push(
                join(path, "freshness"),
                format!(
                    "({}) is below tick ({}): every pod would be stale",
                    duration::format(self.freshness),
                    duration::format(self.tick)
                ),
            );
        }
    }
}
