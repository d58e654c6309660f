//! The `scaler:` section of `poolpilot.yaml`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, join};

/// How the scaler reaches the API server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// A kubeconfig file; without it, in-cluster config or `$KUBECONFIG`.
    pub kubeconfig: Option<PathBuf>,
    /// Decide and explain, but never PATCH.
    pub dry_run: bool,
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self
            .kubeconfig
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            problems.push(
                join(path, "kubeconfig"),
                "is empty: leave it out for in-cluster config",
            );
        }
    }
}
