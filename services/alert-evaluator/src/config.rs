//! The `alert_evaluator:` section of `poolpilot.yaml`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, index, join};

use crate::notify::alertmanager::AlertmanagerConfig;
use crate::notify::webhook::WebhookConfig;

/// Which rule files, how often, and where alerts go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Prometheus rule files (`groups:`), e.g. the seed's `alerts.yaml`.
    pub rule_files: Vec<PathBuf>,
    /// Evaluation interval of groups that do not set their own.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// How much history the in-memory window keeps: the longest range or offset a
    /// rule reads, plus Prometheus's 5m lookback.
    #[serde(with = "duration")]
    pub retention: Duration,
    /// Labels added to every sent alert that lacks them; `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// The URL alerts link back to (`generatorURL`, `$externalURL`).
    pub external_url: String,
    /// Minimum time between two sends of a still-firing alert to an Alertmanager.
    #[serde(with = "duration")]
    pub resend_delay: Duration,
    /// How long data must have been arriving before the first evaluation, so the
    /// window holds data before any rule runs (an empty window would drop restored
    /// pending alerts). At least two scrape intervals.
    #[serde(with = "duration")]
    pub startup_delay: Duration,
    /// Where alert state is kept across restarts (sled); none: pending `for` timers
    /// start over after a restart.
    pub state_path: Option<PathBuf>,
    /// Alertmanager-v4 webhooks, grouped and retried here.
    pub webhooks: Vec<WebhookConfig>,
    /// Real Alertmanagers, fed as Prometheus feeds them (`/api/v2/alerts`).
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rule_files: Vec::new(),
            interval: Duration::from_secs(1),
            retention: Duration::from_secs(3600),
            external_labels: BTreeMap::new(),
            external_url: "http://localhost:9090".to_owned(),
            resend_delay: Duration::from_secs(60),
            startup_delay: Duration::from_secs(3),
            state_path: None,
            webhooks: Vec::new(),
            alertmanagers: Vec::new(),
        }
    }
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        for (field, d) in [("interval", self.interval), ("retention", self.retention)] {
            if d.is_zero() {
                problems.push(join(path, field), "must be above 0");
            }
        }
        if !(self.external_url.starts_with("http://") || self.external_url.starts_with("https://"))
        {
            problems.push(
                join(path, "external_url"),
                format!("`{}` is not an http(s) URL", self.external_url),
            );
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            let at = index(&join(path, "webhooks"), i);
            for (field, message) in w.problems() {
                problems.push(join(&at, &field), message);
            }
        }
        for (i, a) in self.alertmanagers.iter().enumerate() {
            let at = index(&join(path, "alertmanagers"), i);
            for (field, message) in a.problems() {
                problems.push(join(&at, &field), message);
            }
        }
    }
}
