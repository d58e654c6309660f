//! The `scraper:` section of `poolpilot.yaml`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, index, join};

use crate::otlp::OtlpConfig;

/// What to scrape, how often, and what to keep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Time between scrapes of one target (default 1 s, as low as 50 ms).
    #[serde(with = "duration")]
    pub interval: Duration,
    /// How long one scrape may take; at most `interval`.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Scrapes in flight at once, over all targets.
    pub concurrency: usize,
    /// Largest body accepted; a larger one is a failed scrape, not an OOM.
    pub max_body_bytes: u64,
    /// Raw series to forward under their own names (regexes, anchored), for alert
    /// rules that use engine names. DCGM series are always forwarded.
    pub raw_allowlist: Vec<String>,
    /// The pools and their targets.
    pub pools: Vec<Pool>,
    /// A kubeconfig for discovery; without it, in-cluster config or `$KUBECONFIG`.
    pub kubeconfig: Option<PathBuf>,
    /// The OTLP metrics receiver (off by default).
    pub otlp: OtlpConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(900),
            concurrency: 256,
            max_body_bytes: 10 << 20,
            raw_allowlist: Vec::new(),
            pools: Vec::new(),
            kubeconfig: None,
            otlp: OtlpConfig::default(),
        }
    }
}

/// One inference pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// The pool's name (`name` label of `inference_pool_*`).
    pub name: String,
    /// The namespace its pods run in; DCGM series join on it.
    #[serde(default)]
    pub namespace: String,
    /// Which engine's names to read; `auto` detects them from each scrape.
    #[serde(default)]
    pub engine: EngineChoice,
    /// Model-server `/metrics` URLs.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// DCGM-exporter `/metrics` URLs; their series join to pods by `pod`/`namespace`.
    #[serde(default)]
    pub dcgm: Vec<Target>,
    /// Discover targets from Pods in `namespace`, as an InferencePool selects them.
    #[serde(default)]
    pub kubernetes: Option<Discovery>,
}

/// Which Pods a pool has, as an InferencePool says it: ready Pods with the selector's
/// labels in the pool's namespace, scraped on the target ports. Either written here,
/// or read (and followed) from a real `InferencePool` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    /// Labels every selected Pod has (`matchLabels`).
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// Ports to scrape on each Pod.
    #[serde(default)]
    pub target_ports: Vec<u16>,
    /// Take selector and ports from this `InferencePool`
    /// (`inference.networking.k8s.io/v1`) in the pool's namespace, following changes.
    #[serde(default)]
    pub inference_pool: Option<String>,
    /// The metrics path on each port.
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

/// A target: a URL, or a URL with the pod name DCGM series use for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Target {
    /// Just the URL; the pod is named by its `host:port`.
    Url(String),
    /// URL and pod name.
    Named {
        /// The `/metrics` URL.
        url: String,
        /// The pod's name.
        pod: String,
    },
}

impl Target {
    /// The `/metrics` URL.
    pub fn url(&self) -> &str {
        match self {
            Target::Url(u) | Target::Named { url: u, .. } => u,
        }
    }

    /// `host:port` of the URL: where the router sends requests.
    pub fn endpoint(&self) -> String {
        let rest = self.url().split_once("://").map_or(self.url(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest).to_owned()
    }

    /// The pod's name: given, or `host:port`.
    pub fn pod(&self) -> String {
        match self {
            Target::Named { pod, .. } => pod.clone(),
            Target::Url(_) => self.endpoint(),
        }
    }
}

/// Which engine's metric names a pool's servers use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// Detect from the names in each scrape.
    #[default]
    Auto,
    /// vLLM (`vllm:*`).
    Vllm,
    /// SGLang (`sglang:*`).
    Sglang,
    /// TensorRT-LLM's `trtllm-serve` (`trtllm_*`).
    Trtllm,
    /// Triton with the TensorRT-LLM backend (`nv_trt_llm_*`).
    Triton,
}

impl Validate for Config {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.interval < Duration::from_millis(50) {
            problems.push(join(path, "interval"), "must be at least 50ms");
        }
        if self.timeout.is_zero() || self.timeout > self.interval {
            problems.push(
                join(path, "timeout"),
                format!(
                    "({}) must be above 0 and at most interval ({})",
                    duration::format(self.timeout),
                    duration::format(self.interval)
                ),
            );
        }
        if self.concurrency == 0 {
            problems.push(join(path, "concurrency"), "must be at least 1");
        }
        if self.max_body_bytes == 0 {
            problems.push(join(path, "max_body_bytes"), "must be above 0");
        }
        self.otlp.validate(&join(path, "otlp"), problems);
        for (i, r) in self.raw_allowlist.iter().enumerate() {
            if let Err(e) = Regex::new(r) {
                problems.push(
                    index(&join(path, "raw_allowlist"), i),
                    format!("not a regex: {e}"),
                );
            }
        }
        for (i, pool) in self.pools.iter().enumerate() {
            let at = index(&join(path, "pools"), i);
            if pool.name.is_empty() {
                problems.push(join(&at, "name"), "must not be empty");
            }
            if let Some(d) = &pool.kubernetes {
                if pool.namespace.is_empty() {
                    problems.push(
                        join(&at, "namespace"),
                        "must name the namespace to discover Pods in",
                    );
                }
                match &d.inference_pool {
                    Some(name) if name.is_empty() => {
                        problems.push(join(&at, "kubernetes.inference_pool"), "must not be empty");
                    }
                    Some(_) if !d.selector.is_empty() || !d.target_ports.is_empty() => problems.push(
                        join(&at, "kubernetes.inference_pool"),
                        "comes with its own selector and target ports: leave selector and target_ports out",
                    ),
                    Some(_) => {}
                    None => {
                        if d.selector.is_empty() {
                            problems.push(
                                join(&at, "kubernetes.selector"),
                                "must have at least one label: an empty selector matches every Pod",
                            );
                        }
                        if d.target_ports.is_empty() {
                            problems.push(join(&at, "kubernetes.target_ports"), "must list at least one port");
                        }
                    }
                }
                if !d.metrics_path.starts_with('/') {
                    problems.push(
                        join(&at, "kubernetes.metrics_path"),
                        format!("`{}` must start with /", d.metrics_path),
                    );
                }
            }
            for (field, targets) in [("targets", &pool.targets), ("dcgm", &pool.dcgm)] {
                for (j, t) in targets.iter().enumerate() {
                    let url = t.url();
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        problems.push(
                            index(&join(&at, field), j),
                            format!("`{url}` is not an http(s) URL"),
                        );
                    }
                }
            }
        }
    }
}
