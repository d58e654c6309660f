//! Picker configuration (serde-loadable) and its validation.
//!
//! `ModelConfig`/`TargetModel`/`Criticality` mirror the `InferenceModel` CRD
//! of the Gateway API Inference Extension (`api/v1alpha2`: `modelName`,
//! `criticality`, `targetModels[{name, weight}]`, at most 10 targets).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most targets one model may split over (`InferenceModel` `MaxItems=10`).
pub const MAX_TARGETS: usize = 10;

/// Request criticality, spelled as in `InferenceModel` (`PascalCase`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum Criticality {
    Critical,
    #[default]
    Standard,
    Sheddable,
}

/// `InferenceModel`'s shape: requested name → criticality and weighted targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub name: String,
    #[serde(default)]
    pub criticality: Criticality,
    /// At most [`MAX_TARGETS`]; empty = route to `name` itself.
    #[serde(default)]
    pub targets: Vec<TargetModel>,
}

/// One weighted target of a [`ModelConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetModel {
    pub name: String,
    pub weight: u32,
    /// True when the target is a LoRA adapter name (enables LoRA affinity).
    #[serde(default)]
    pub lora: bool,
}

/// Scorer weights; the total score is `Σ weight × score`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Weights {
    pub queue: f64,
    pub kv: f64,
    pub prefix: f64,
    pub lora: f64,
}

impl Default for Weights {
    /// queue 2, kv 2, prefix 3, lora 1.
    fn default() -> Self {
        Self {
            queue: 2.0,
            kv: 2.0,
            prefix: 3.0,
            lora: 1.0,
        }
    }
}

/// Everything the [`Picker`](super::Picker) needs besides per-call inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PickerConfig {
    pub weights: Weights,
    /// Signals older than this are ignored (endpoint filtered out).
    pub freshness_ms: i64,
    /// "Has capacity" filter: keep `queue + in_flight <= queue_headroom`
    /// (EPP `QueueThresholdCritical`, default 5) ...
    pub queue_headroom: f64,
    /// ... and `kv <= kv_headroom` (EPP `KVCacheThreshold`, default 0.8).
    pub kv_headroom: f64,
    /// Prefix block size in bytes of the prompt (EPP `HashBlockSize`, 64).
    pub prefix_block_chars: usize,
    /// Block hashes remembered per endpoint (EPP `LRUCapacityPerServer`, 31250).
    pub prefix_lru_blocks: usize,
    /// Length of `Decision::Route::ranked` (winner + fallbacks), >= 1.
    pub max_ranked: usize,
    /// Empty = pass every model name through as Standard.
    pub models: Vec<ModelConfig>,
}

impl Default for PickerConfig {
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            freshness_ms: 2000,
            queue_headroom: 5.0,
            kv_headroom: 0.8,
            prefix_block_chars: 64,
            prefix_lru_blocks: 31_250,
            max_ranked: 4,
            models: Vec::new(),
        }
    }
}

/// Why a [`PickerConfig`] was rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    #[error("weight `{0}` must be finite and >= 0")]
    BadWeight(&'static str),
    #[error("scorer weights sum to 0")]
    ZeroWeights,
    #[error("`{0}` must be finite and >= 0")]
    BadThreshold(&'static str),
    #[error("`{0}` must be > 0")]
    Zero(&'static str),
    #[error("model `{model}` has {count} targets (at most {MAX_TARGETS})")]
    TooManyTargets { model: String, count: usize },
    #[error("model `{0}` has targets whose weights sum to 0")]
    ZeroTargetWeights(String),
    #[error("model `{0}` is configured twice")]
    DuplicateModel(String),
    #[error("a model or target has an empty name")]
    EmptyName,
}

impl PickerConfig {
    /// Checks every invariant the picker relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let w = &self.weights;
        for (name, v) in [
            ("queue", w.queue),
            ("kv", w.kv),
            ("prefix", w.prefix),
            ("lora", w.lora),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(ConfigError::BadWeight(name));
            }
        }
        if w.queue + w.kv + w.prefix + w.lora <= 0.0 {
            return Err(ConfigError::ZeroWeights);
        }
        if self.freshness_ms < 0 {
            return Err(ConfigError::BadThreshold("freshness_ms"));
        }
        for (name, v) in [
            ("queue_headroom", self.queue_headroom),
            ("kv_headroom", self.kv_headroom),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(ConfigError::BadThreshold(name));
            }
        }
        for (name, v) in [
            ("prefix_block_chars", self.prefix_block_chars),
            ("prefix_lru_blocks", self.prefix_lru_blocks),
            ("max_ranked", self.max_ranked),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.models {
            if m.name.is_empty() || m.targets.iter().any(|t| t.name.is_empty()) {
                return Err(ConfigError::EmptyName);
            }
            if !seen.insert(m.name.as_str()) {
                return Err(ConfigError::DuplicateModel(m.name.clone()));
            }
            if m.targets.len() > MAX_TARGETS {
                return Err(ConfigError::TooManyTargets {
                    model: m.name.clone(),
                    count: m.targets.len(),
                });
            }
            let sum: u64 = m.targets.iter().map(|t| u64::from(t.weight)).sum();
            if !m.targets.is_empty() && sum == 0 {
                return Err(ConfigError::ZeroTargetWeights(m.name.clone()));
            }
        }
        Ok(())
    }
}
