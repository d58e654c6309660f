//! The `scraper:` section of `poolpilot.yaml`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, index, join};

/// What to scrape and how often.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Static targets; Kubernetes discovery comes with issue 4.
    pub targets: Vec<Target>,
    /// Time between scrapes of one target.
    #[serde(with = "duration")]
    pub interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            interval: Duration::from_secs(1),
        }
    }
}

/// One model server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The pool it serves.
    pub pool: String,
    /// Its `/metrics` URL.
    pub url: String,
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.interval < Duration::from_millis(50) {
            problems.push(join(path, "interval"), "must be at least 50ms");
        }
        for (i, t) in self.targets.iter().enumerate() {
            let at = index(&join(path, "targets"), i);
            if t.pool.is_empty() {
                problems.push(join(&at, "pool"), "must not be empty");
            }
            if !(t.url.starts_with("http://") || t.url.starts_with("https://")) {
                problems.push(
                    join(&at, "url"),
                    format!("`{}` is not an http(s) URL", t.url),
                );
            }
        }
    }
}
