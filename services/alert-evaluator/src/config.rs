//! The `alert_evaluator:` section of `poolpilot.yaml`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, index, join};

/// Which rule files, how often, and where alerts go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Prometheus rule files (`groups:`), e.g. the seed's `alerts.yaml`.
    pub rule_files: Vec<PathBuf>,
    /// Evaluation interval of groups that do not set their own.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// Alertmanager-v4 webhook URLs.
    pub webhooks: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rule_files: Vec::new(),
            interval: Duration::from_secs(1),
            webhooks: Vec::new(),
        }
    }
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.interval.is_zero() {
            problems.push(join(path, "interval"), "must be above 0");
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            if !(w.starts_with("http://") || w.starts_with("https://")) {
                problems.push(
                    index(&join(path, "webhooks"), i),
                    format!("`{w}` is not an http(s) URL"),
                );
            }
        }
    }
}
