//! The `router:` section of `poolpilot.yaml`.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, join};

/// Where the proxy listens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The OpenAI-compatible listener.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 16 << 20,
        }
    }
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.max_body_bytes == 0 {
            problems.push(join(path, "max_body_bytes"), "must be above 0");
        }
    }
}
