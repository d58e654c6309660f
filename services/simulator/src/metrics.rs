//! `/metrics` in vLLM v1's names, types, labels and bucket sets, as in
//! `shared/fixtures/samples/vllm-metrics.txt` (DESIGN §4), plus a DCGM-exporter-style
//! page whose GPU use follows the batch.

use std::fmt::Write;

use crate::engine::Engine;
use crate::histogram::Histogram;

/// Who a page describes.
pub struct PodLabels<'a> {
    /// The pod's name (`Hostname`, `pod` in DCGM series).
    pub pod: &'a str,
    /// The pool, as the pod's namespace for DCGM joins.
    pub namespace: &'a str,
    /// Seconds since the epoch now, for `vllm:lora_requests_info`'s value.
    pub now_unix: f64,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The vLLM page.
pub fn vllm(engine: &Engine, labels: &PodLabels<'_>) -> String {
    let spec = engine.spec();
    let s = engine.stats();
    let base = format!("engine=\"0\",model_name=\"{}\"", spec.model);
    let mut out = String::with_capacity(16 * 1024);
    let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name}{{{base}}} {v:?}");
    };
    gauge(
        &mut out,
        "vllm:num_requests_running",
        "Number of requests in model execution batches.",
        engine.running() as f64,
    );
    gauge(
        &mut out,
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed.",
        engine.waiting() as f64,
    );
    if spec.legacy_kv_metric {
        gauge(
            &mut out,
            "vllm:gpu_cache_usage_perc",
            "GPU KV-cache usage. 1 means 100 percent usage.",
            engine.kv_usage(),
        );
    } else {
        gauge(
            &mut out,
            "vllm:kv_cache_usage_perc",
            "KV-cache usage. 1 means 100 percent usage.",
            engine.kv_usage(),
        );
    }
    let counters: [(&str, &str, u64); 5] = [
        (
            "vllm:prefix_cache_queries",
            "Prefix cache queries, in terms of number of queried tokens.",
            s.prefix_queries,
        ),
        (
            "vllm:prefix_cache_hits",
            "Prefix cache hits, in terms of number of cached tokens.",
            s.prefix_hits,
        ),
        (
            "vllm:num_preemptions",
            "Cumulative number of preemption from the engine.",
            s.preemptions,
        ),
        (
            "vllm:prompt_tokens",
            "Number of prefill tokens processed.",
            s.prompt_tokens,
        ),
        (
            "vllm:generation_tokens",
            "Number of generation tokens processed.",
            s.generation_tokens,
        ),
    ];
    for (name, help, v) in counters {
        family(&mut out, &format!("{name}_total"), "counter", help);
        let _ = writeln!(out, "{name}_total{{{base}}} {:?}", v as f64);
    }
    family(
        &mut out,
        "vllm:request_success_total",
        "counter",
        "Count of successfully processed requests.",
    );
    for (reason, v) in [
        ("stop", s.finished_stop),
        ("length", s.finished_length),
        ("abort", s.finished_abort),
    ] {
        let _ = writeln!(
            out,
            "vllm:request_success_total{{engine=\"0\",finished_reason=\"{reason}\",model_name=\"{}\"}} {:?}",
            spec.model, v as f64
        );
    }
    let histograms: [(&str, &str, &Histogram); 4] = [
        (
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            &s.ttft,
        ),
        (
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            &s.itl,
        ),
        (
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            &s.e2e,
        ),
        (
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            &s.queue,
        ),
    ];
    for (name, help, h) in histograms {
        family(&mut out, name, "histogram", help);
        for (le, c) in h.cumulative() {
            let le = if le.is_infinite() {
                "+Inf".to_owned()
            } else {
                format!("{le:?}")
            };
            let _ = writeln!(
                out,
                "{name}_bucket{{engine=\"0\",le=\"{le}\",model_name=\"{}\"}} {:?}",
                spec.model, c as f64
            );
        }
        let _ = writeln!(out, "{name}_count{{{base}}} {:?}", h.count as f64);
        let _ = writeln!(out, "{name}_sum{{{base}}} {:?}", h.sum);
    }
    let (running, waiting) = engine.lora();
    family(
        &mut out,
        "vllm:lora_requests_info",
        "gauge",
        "Running stats on lora requests.",
    );
    let _ = writeln!(
        out,
        "vllm:lora_requests_info{{max_lora=\"{}\",running_lora_adapters=\"{}\",waiting_lora_adapters=\"{}\"}} {:?}",
        spec.max_lora,
        running.join(","),
        waiting.join(","),
        labels.now_unix
    );
    family(
        &mut out,
        "vllm:cache_config_info",
        "gauge",
        "Information of the LLMEngine CacheConfig",
    );
    let _ = writeln!(
        out,
        "vllm:cache_config_info{{block_size=\"{}\",enable_prefix_caching=\"True\",engine=\"0\",num_gpu_blocks=\"{}\"}} 1.0",
        spec.block_size, spec.num_gpu_blocks
    );
    out
}

/// The DCGM-exporter page: utilisation follows the batch, framebuffer use the cache.
pub fn dcgm(engine: &Engine, labels: &PodLabels<'_>) -> String {
    const WEIGHTS_MIB: f64 = 16_384.0;
    const KV_MIB: f64 = 57_344.0;
    let spec = engine.spec();
    let busy = engine.running() as f64 / f64::from(spec.max_num_seqs);
    let util = if engine.running() == 0 {
        0.0
    } else {
        (30.0 + 70.0 * busy).min(100.0)
    };
    let fb = WEIGHTS_MIB + KV_MIB * engine.kv_usage();
    let uuid = format!("GPU-{:016x}", shared::hash::fnv1a(labels.pod.as_bytes()));
    let l = format!(
        "gpu=\"0\",UUID=\"{uuid}\",device=\"nvidia0\",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"{pod}\",container=\"vllm\",namespace=\"{ns}\",pod=\"{pod}\"",
        pod = labels.pod,
        ns = labels.namespace
    );
    let mut out = String::new();
    family(
        &mut out,
        "DCGM_FI_DEV_GPU_UTIL",
        "gauge",
        "GPU utilization (in %).",
    );
    let _ = writeln!(out, "DCGM_FI_DEV_GPU_UTIL{{{l}}} {}", util.round());
    family(
        &mut out,
        "DCGM_FI_DEV_FB_USED",
        "gauge",
        "Framebuffer memory used (in MiB).",
    );
    let _ = writeln!(out, "DCGM_FI_DEV_FB_USED{{{l}}} {}", fb.round());
    family(
        &mut out,
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "gauge",
        "Ratio of time the graphics engine is active.",
    );
    let _ = writeln!(
        out,
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{l}}} {:.6}",
        util / 100.0
    );
    out
}
