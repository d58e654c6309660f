//! The `simulator:` section of `poolpilot.yaml`.

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, join};

/// The simulated fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Servers at start.
    pub servers: u32,
    /// The pool they form.
    pub pool: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            servers: 3,
            pool: "sim".to_owned(),
        }
    }
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.servers > 1000 {
            problems.push(
                join(path, "servers"),
                format!("({}) is above 1000", self.servers),
            );
        }
        if self.pool.is_empty() {
            problems.push(join(path, "pool"), "must not be empty");
        }
    }
}
