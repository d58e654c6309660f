//! The `router:` section of `poolpilot.yaml`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, index, join};

use crate::guard::GuardConfig;
use crate::pick::{ModelConfig, PickerConfig, Weights};

/// The proxy, the picker and the access log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The OpenAI-compatible listener (HTTP/1.1 and h2c).
    pub listen: SocketAddr,
    /// Proxy threads, each with its own listener socket (`SO_REUSEPORT`),
    /// event loop and upstream connections, as nginx's worker processes; 0 is
    /// one per CPU.
    pub threads: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: u64,
    /// Longest a request may take, end to end.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Longest a connection to a model server may take.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// `endpoint_picker` (default) or `round_robin` (the benchmark baseline).
    pub picker: PickerKind,
    /// Scorer weights.
    pub weights: Weights,
    /// Endpoints whose latest sample is older than this are not picked.
    #[serde(with = "duration")]
    pub freshness: Duration,
    /// Requested model names, as InferenceModel objects name them.
    pub models: Vec<ModelConfig>,
    /// Access-log lines per 1,000,000 requests (the seed's `sampleRate`).
    pub access_log_sample_rate: u32,
    /// Log every failed request, sampled or not.
    pub access_log_errors: bool,
    /// Append access-log lines to this file instead of standard output.
    pub access_log_path: Option<PathBuf>,
    /// Prompt and response safety checks.
    pub guard: GuardConfig,
}

/// Which picker routes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PickerKind {
    /// Filters and scorers as the endpoint picker has them.
    #[default]
    EndpointPicker,
    /// Fresh endpoints in turn.
    RoundRobin,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            threads: 0,
            max_body_bytes: 16 << 20,
            timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(2),
            picker: PickerKind::EndpointPicker,
            weights: Weights::default(),
            freshness: Duration::from_secs(2),
            models: Vec::new(),
            access_log_sample_rate: 1_000_000,
            access_log_errors: true,
            access_log_path: None,
            guard: GuardConfig::default(),
        }
    }
}

impl Config {
    /// The picker's part.
    pub fn picker_config(&self) -> PickerConfig {
        PickerConfig {
            weights: self.weights,
            freshness_ms: self.freshness.as_millis() as i64,
            models: self.models.clone(),
            ..PickerConfig::default()
        }
    }
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.threads > 1024 {
            problems.push(join(path, "threads"), "at most 1024 (0 is one per CPU)");
        }
        if self.max_body_bytes == 0 {
            problems.push(join(path, "max_body_bytes"), "must be above 0");
        }
        for (field, d) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
            ("freshness", self.freshness),
        ] {
            if d.is_zero() {
                problems.push(join(path, field), "must be above 0");
            }
        }
        if self.access_log_sample_rate > 1_000_000 {
            problems.push(
                join(path, "access_log_sample_rate"),
                "is out of 1,000,000: at most 1000000",
            );
        }
        for (i, m) in self.models.iter().enumerate() {
            if m.targets.len() > 10 {
                problems.push(
                    join(&index(&join(path, "models"), i), "targets"),
                    "at most 10 target models",
                );
            }
        }
        self.guard.validate(&join(path, "guard"), problems);
        if let Err(e) = crate::pick::Picker::new(self.picker_config()) {
            problems.push(path, e.to_string());
        }
    }
}
