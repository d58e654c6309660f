//! The `aggregator:` section of `poolpilot.yaml`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, join};

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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(250),
            freshness: Duration::from_secs(2),
            dedupe_window: Duration::from_secs(600),
        }
    }
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
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
