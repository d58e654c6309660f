//! From one scrape to the canonical per-pod signals of DESIGN §4. Pure: a list of
//! parsed samples in, [`Signals`] and the raw series to forward out.

use regex::RegexSet;
use shared::wire::{LoraInfo, RawKind, RawSample, Signals};

use crate::config::EngineChoice;
use crate::parse::{MetricType, Sample};

/// An engine whose names we know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// vLLM.
    Vllm,
    /// SGLang.
    Sglang,
    /// TensorRT-LLM's `trtllm-serve`.
    Trtllm,
    /// Triton with the TensorRT-LLM backend.
    Triton,
}

impl Engine {
    /// The name on the wire (`poolpilot.engine`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Vllm => "vllm",
            Engine::Sglang => "sglang",
            Engine::Trtllm => "trtllm",
            Engine::Triton => "triton",
        }
    }

    /// The configured engine, or the one whose names appear first in the scrape.
    pub fn choose(choice: EngineChoice, samples: &[(MetricType, Sample<'_>)]) -> Option<Engine> {
        match choice {
            EngineChoice::Vllm => Some(Engine::Vllm),
            EngineChoice::Sglang => Some(Engine::Sglang),
            EngineChoice::Trtllm => Some(Engine::Trtllm),
            EngineChoice::Triton => Some(Engine::Triton),
            EngineChoice::Auto => samples.iter().find_map(|(_, s)| {
                let n = s.name;
                if n.starts_with("vllm:") {
                    Some(Engine::Vllm)
                } else if n.starts_with("sglang:") {
                    Some(Engine::Sglang)
                } else if n.starts_with("trtllm_") {
                    Some(Engine::Trtllm)
                } else if n.starts_with("nv_trt_llm_") {
                    Some(Engine::Triton)
                } else {
                    None
                }
            }),
        }
    }
}

/// Sum of the samples named `name` whose label `label` (if given) has `value`;
/// `None` when there is none. Data-parallel engines report one series per rank.
fn sum(
    samples: &[(MetricType, Sample<'_>)],
    name: &str,
    label: Option<(&str, &str)>,
) -> Option<f64> {
    let mut found = None;
    for (_, s) in samples.iter().filter(|(_, s)| s.name == name) {
        if label.is_none_or(|(k, v)| s.label(k).as_deref() == Some(v)) {
            *found.get_or_insert(0.0) += s.value;
        }
    }
    found
}

/// Mean of the samples named `name`: a ratio per rank averages, it does not add.
fn mean(
    samples: &[(MetricType, Sample<'_>)],
    name: &str,
    label: Option<(&str, &str)>,
) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|(_, s)| {
            s.name == name && label.is_none_or(|(k, v)| s.label(k).as_deref() == Some(v))
        })
        .map(|(_, s)| s.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum::<f64>() / matching.len() as f64)
}

/// `vllm:lora_requests_info`: the series with the newest value (its value is the time
/// it was written) wins, as the endpoint picker reads it.
fn lora(samples: &[(MetricType, Sample<'_>)]) -> Option<LoraInfo> {
    let newest = samples
        .iter()
        .filter(|(_, s)| s.name == "vllm:lora_requests_info")
        .max_by(|(_, a), (_, b)| a.value.total_cmp(&b.value))?;
    let s = &newest.1;
    let list = |label: &str| -> Vec<String> {
        s.label(label)
            .map(|v| {
                v.split(',')
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(LoraInfo {
        running: list("running_lora_adapters"),
        waiting: list("waiting_lora_adapters"),
        max: s
            .label("max_lora")
            .and_then(|m| m.parse().ok())
            .unwrap_or(0),
    })
}

/// The canonical signals of a successful scrape by `engine`.
pub fn signals(engine: Engine, samples: &[(MetricType, Sample<'_>)]) -> Signals {
    let (queue, running, kv) = match engine {
        Engine::Vllm => (
            sum(samples, "vllm:num_requests_waiting", None),
            sum(samples, "vllm:num_requests_running", None),
            mean(samples, "vllm:kv_cache_usage_perc", None)
                .or_else(|| mean(samples, "vllm:gpu_cache_usage_perc", None)),
        ),
        Engine::Sglang => (
            sum(samples, "sglang:num_queue_reqs", None),
            sum(samples, "sglang:num_running_reqs", None),
            mean(samples, "sglang:token_usage", None),
        ),
        Engine::Trtllm => (
            sum(samples, "trtllm_num_requests_waiting", None),
            sum(samples, "trtllm_num_requests_running", None),
            mean(samples, "trtllm_kv_cache_utilization", None),
        ),
        Engine::Triton => (
            sum(
                samples,
                "nv_trt_llm_request_metrics",
                Some(("request_type", "waiting")),
            ),
            sum(
                samples,
                "nv_trt_llm_request_metrics",
                Some(("request_type", "scheduled")),
            ),
            mean(
                samples,
                "nv_trt_llm_kv_cache_block_metrics",
                Some(("kv_cache_block_type", "fraction")),
            ),
        ),
    };
    Signals {
        up: true,
        queue_size: queue,
        running_requests: running,
        kv_cache_utilization: kv,
        lora: if engine == Engine::Vllm {
            lora(samples)
        } else {
            None
        },
    }
}

/// The samples whose names match `allow`, as they are.
pub fn raw(samples: &[(MetricType, Sample<'_>)], allow: &RegexSet) -> Vec<RawSample> {
    samples
        .iter()
        .filter(|(_, s)| allow.is_match(s.name))
        .map(|(kind, s)| RawSample {
            name: s.name.to_owned(),
            labels: s
                .labels()
                .map(|(k, v)| (k.to_owned(), v.into_owned()))
                .collect(),
            kind: match kind {
                MetricType::Counter => RawKind::Counter,
                _ => RawKind::Gauge,
            },
            value: s.value,
        })
        .collect()
}

/// The allow-list as one anchored set.
pub fn allowlist(patterns: &[String]) -> Result<RegexSet, regex::Error> {
    RegexSet::new(patterns.iter().map(|p| format!("^(?:{p})$")))
}

/// DCGM series for one pod: those whose `pod` label is `pod` (and `namespace`, when
/// the series has one, is `namespace`). Without a `pod` label (DCGM without
/// Kubernetes mapping), `Hostname`/`hostname` is matched against the pod name.
pub fn dcgm_for<'s>(
    samples: &'s [(MetricType, Sample<'s>)],
    pod: &str,
    namespace: &str,
) -> impl Iterator<Item = &'s (MetricType, Sample<'s>)> {
    let (pod, namespace) = (pod.to_owned(), namespace.to_owned());
    samples.iter().filter(move |(_, s)| {
        if !s.name.starts_with("DCGM_") {
            return false;
        }
        let ns_ok = s
            .label("namespace")
            .is_none_or(|n| namespace.is_empty() || n == namespace);
        match s.label("pod") {
            Some(p) if !p.is_empty() => p == pod && ns_ok,
            _ => s
                .label("Hostname")
                .or_else(|| s.label("hostname"))
                .is_some_and(|h| h == pod),
        }
    })
}
