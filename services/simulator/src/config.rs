//! The `simulator:` section of `poolpilot.yaml`: the fleet and each server's model of
//! an H100 running vLLM. The defaults are round numbers near a Llama-3.1-8B on one
//! H100: 64 sequences, 2048 blocks of 16 tokens, ~20k prefill tokens/s, decode steps
//! of 10 ms with one sequence to 20 ms with a full batch.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, duration, index, join};

/// The simulated fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Servers at start.
    pub servers: u32,
    /// The pool they form.
    pub pool: String,
    /// The address servers listen on (loopback: this is a simulator).
    pub host: IpAddr,
    /// First port; server `i` listens on `base_port + i`. 0 picks free ports.
    pub base_port: u16,
    /// Speed factors, cycled over servers: `[1.0, 0.5]` makes every second server
    /// half as fast, a heterogeneous fleet.
    pub speeds: Vec<f64>,
    /// What each server runs and how fast.
    pub server: ServerSpec,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            servers: 3,
            pool: "sim".to_owned(),
            host: IpAddr::from([127, 0, 0, 1]),
            base_port: 0,
            speeds: vec![1.0],
            server: ServerSpec::default(),
        }
    }
}

/// One server: its model, its memory and its speed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSpec {
    /// The base model it serves (`model_name` in metrics).
    pub model: String,
    /// LoRA adapters it can load; requests name them as `model`.
    pub lora_adapters: Vec<String>,
    /// Adapters that can be active at once (vLLM `--max-loras`).
    pub max_lora: u32,
    /// Sequences in the running batch at most (vLLM `--max-num-seqs`).
    pub max_num_seqs: u32,
    /// KV-cache blocks on the GPU.
    pub num_gpu_blocks: u32,
    /// Tokens per block.
    pub block_size: u32,
    /// Longest prompt + completion (vLLM `--max-model-len`).
    pub max_model_len: u32,
    /// Prompt tokens prefilled per second at speed 1.
    pub prefill_tokens_per_second: f64,
    /// Time of one decode step with one sequence, at speed 1.
    #[serde(with = "duration")]
    pub decode_step: Duration,
    /// Time of one decode step with a full batch (`max_num_seqs`), at speed 1; step
    /// time grows linearly from `decode_step` to this with the batch.
    #[serde(with = "duration")]
    pub decode_step_full_batch: Duration,
    /// Report `vllm:gpu_cache_usage_perc` instead of `vllm:kv_cache_usage_perc`, as
    /// vLLM before 0.10 did.
    pub legacy_kv_metric: bool,
    /// Also serve DCGM-exporter-style GPU metrics on `/dcgm/metrics`.
    pub dcgm: bool,
    /// Answer with the prompt's text, four bytes per token, over and over
    /// (llm-d-inference-sim's echo mode): what passes through can be chosen.
    pub echo: bool,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            model: "meta-llama/Llama-3.1-8B-Instruct".to_owned(),
            lora_adapters: vec!["sql-lora".to_owned()],
            max_lora: 2,
            max_num_seqs: 64,
            num_gpu_blocks: 2048,
            block_size: 16,
            max_model_len: 8192,
            prefill_tokens_per_second: 20_000.0,
            decode_step: Duration::from_millis(10),
            decode_step_full_batch: Duration::from_millis(20),
            legacy_kv_metric: false,
            dcgm: true,
            echo: false,
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
        if self.speeds.is_empty() {
            problems.push(join(path, "speeds"), "must list at least one factor");
        }
        for (i, s) in self.speeds.iter().enumerate() {
            if !(s.is_finite() && *s > 0.0) {
                problems.push(
                    index(&join(path, "speeds"), i),
                    format!("({s}) must be above 0"),
                );
            }
        }
        self.server.validate(&join(path, "server"), problems);
    }
}

impl Validate for ServerSpec {
    fn validate(&self, path: &str, problems: &mut Problems) {
        for (field, value) in [
            ("max_num_seqs", self.max_num_seqs),
            ("num_gpu_blocks", self.num_gpu_blocks),
            ("block_size", self.block_size),
            ("max_model_len", self.max_model_len),
        ] {
            if value == 0 {
                problems.push(join(path, field), "must be above 0");
            }
        }
        let cache_tokens = u64::from(self.num_gpu_blocks) * u64::from(self.block_size);
        if u64::from(self.max_model_len) > cache_tokens {
            problems.push(
                join(path, "max_model_len"),
                format!(
                    "({}) is above the KV cache ({} blocks x {} = {cache_tokens} tokens): one request could never run",
                    self.max_model_len, self.num_gpu_blocks, self.block_size
                ),
            );
        }
        if !(self.prefill_tokens_per_second.is_finite() && self.prefill_tokens_per_second > 0.0) {
            problems.push(join(path, "prefill_tokens_per_second"), "must be above 0");
        }
        if self.decode_step.is_zero() {
            problems.push(join(path, "decode_step"), "must be above 0");
        }
        if self.decode_step_full_batch < self.decode_step {
            problems.push(
                join(path, "decode_step_full_batch"),
                format!(
                    "({}) is below decode_step ({}): a bigger batch cannot step faster",
                    duration::format(self.decode_step_full_batch),
                    duration::format(self.decode_step)
                ),
            );
        }
        if self.model.is_empty() {
            problems.push(join(path, "model"), "must not be empty");
        }
        if !self.lora_adapters.is_empty() && self.max_lora == 0 {
            problems.push(
                join(path, "max_lora"),
                "must be above 0 when lora_adapters are listed",
            );
        }
    }
}
