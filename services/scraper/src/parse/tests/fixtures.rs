//! The real captures in `shared/fixtures/samples/`: no errors, every sample, and values
//! read from the files by eye.

use std::collections::HashMap;

use super::super::{MetricType, Sample, Scrape, parse_all};
use super::{FIXTURES, fixture};

/// The one sample named `name` whose labels include `with`.
fn find<'a>(scrape: &Scrape<'a>, name: &str, with: &[(&str, &str)]) -> (MetricType, Sample<'a>) {
    let found: Vec<_> = scrape
        .samples
        .iter()
        .filter(|(_, s)| {
            s.name == name && with.iter().all(|(k, v)| s.label(k).as_deref() == Some(*v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {with:?}");
    *found[0]
}

fn count_by_type(scrape: &Scrape<'_>) -> HashMap<MetricType, usize> {
    let mut by = HashMap::new();
    for (kind, _) in &scrape.samples {
        *by.entry(*kind).or_default() += 1;
    }
    by
}

fn parsed(body: &str) -> Scrape<'_> {
    let scrape = parse_all(body);
    assert!(scrape.errors.is_empty(), "{:?}", scrape.errors);
    scrape
}

#[test]
fn every_capture_parses_without_errors() {
    for name in FIXTURES {
        let body = fixture(name);
        assert_eq!(parse_all(&body).errors, [], "{name}");
    }
}

#[test]
fn vllm_capture() {
    use MetricType::*;
    let body = fixture("vllm-metrics.txt");
    let scrape = parsed(&body);
    assert_eq!(scrape.samples.len(), 360);
    assert_eq!(
        count_by_type(&scrape),
        HashMap::from([(Counter, 22), (Gauge, 43), (Histogram, 287), (Summary, 8)])
    );
    let vllm = scrape
        .samples
        .iter()
        .filter(|(_, s)| s.name.starts_with("vllm:"))
        .count();
    assert_eq!(vllm, 289, "every colon name is there");

    let engine = [
        ("engine", "0"),
        ("model_name", "Qwen/Qwen3-4B-Instruct-2507-FP8"),
    ];
    let (kind, kv) = find(&scrape, "vllm:kv_cache_usage_perc", &engine);
    assert_eq!((kind, kv.value), (Gauge, 0.0011764705882353343));
    assert_eq!(
        find(&scrape, "vllm:num_requests_waiting", &engine).1.value,
        0.0
    );
    let prompt = find(&scrape, "vllm:prompt_tokens_total", &engine);
    assert_eq!((prompt.0, prompt.1.value), (Counter, 246.0));

    let bucket = find(
        &scrape,
        "vllm:request_prompt_tokens_bucket",
        &[("le", "50.0")],
    );
    assert_eq!((bucket.0, bucket.1.value), (Histogram, 5.0));
    let iteration = find(
        &scrape,
        "vllm:iteration_tokens_total_bucket",
        &[("le", "1.0")],
    );
    assert_eq!((iteration.0, iteration.1.value), (Histogram, 1733.0));
    assert_eq!(
        find(
            &scrape,
            "vllm:e2e_request_latency_seconds_bucket",
            &[("le", "+Inf")]
        )
        .1
        .value,
        6.0
    );

    assert_eq!(
        value(&scrape, "process_virtual_memory_bytes"),
        1.372014592e10
    );
    let chat = find(
        &scrape,
        "http_requests_total",
        &[("handler", "/v1/chat/completions")],
    );
    assert_eq!(
        (chat.0, chat.1.value, chat.1.label("method").as_deref()),
        (Counter, 6.0, Some("POST"))
    );
    let created = find(
        &scrape,
        "http_request_size_bytes_created",
        &[("handler", "/v1/models")],
    );
    assert_eq!(
        (created.0, created.1.value),
        (Gauge, 1.7710424586299644e9),
        "its own gauge family"
    );
    let summary = find(
        &scrape,
        "http_response_size_bytes_sum",
        &[("handler", "/v1/models")],
    );
    assert_eq!((summary.0, summary.1.value), (Summary, 13824.0));

    let config = find(&scrape, "vllm:cache_config_info", &[]).1;
    assert_eq!(config.labels().count(), 20);
    assert_eq!(
        config.label("swap_space_bytes").as_deref(),
        Some("4294967296.0")
    );
    assert_eq!(config.label("num_gpu_blocks").as_deref(), Some("850"));
}

/// The value of the one sample named `name`.
fn value(scrape: &Scrape<'_>, name: &str) -> f64 {
    find(scrape, name, &[]).1.value
}

#[test]
fn sglang_capture() {
    use MetricType::*;
    let body = fixture("sglang-metrics.txt");
    let scrape = parsed(&body);
    assert_eq!(scrape.samples.len(), 91);
    assert_eq!(
        count_by_type(&scrape),
        HashMap::from([(Counter, 2), (Gauge, 6), (Histogram, 83)])
    );
    let model = [("model_name", "meta-llama/Llama-3.1-8B-Instruct")];
    let usage = find(&scrape, "sglang:token_usage", &model);
    assert_eq!((usage.0, usage.1.value), (Gauge, 0.28));
    assert_eq!(
        find(&scrape, "sglang:num_queue_reqs", &model).1.value,
        2826.0
    );
    assert_eq!(
        find(&scrape, "sglang:num_running_reqs", &model).1.value,
        162.0
    );
    let prompt = find(&scrape, "sglang:prompt_tokens_total", &model);
    assert_eq!((prompt.0, prompt.1.value), (Counter, 8_128_902.0));
    let inf = find(
        &scrape,
        "sglang:time_to_first_token_seconds_bucket",
        &[("le", "+Inf")],
    );
    assert_eq!((inf.0, inf.1.value), (Histogram, 11008.0));
    assert_eq!(
        value(&scrape, "sglang:time_per_output_token_seconds_count"),
        7.400757e6
    );
    assert_eq!(
        find(
            &scrape,
            "sglang:func_latency_seconds_count",
            &[("name", "generate_request")]
        )
        .1
        .value,
        14007.0
    );
}

#[test]
fn triton_capture() {
    use MetricType::*;
    let body = fixture("triton-trtllm-metrics.txt");
    let scrape = parsed(&body);
    assert_eq!(scrape.samples.len(), 20);
    assert_eq!(
        count_by_type(&scrape),
        HashMap::from([(Gauge, 18), (Counter, 2)])
    );
    let req = |t| {
        find(
            &scrape,
            "nv_trt_llm_request_metrics",
            &[("request_type", t)],
        )
        .1
        .value
    };
    assert_eq!(
        (req("waiting"), req("scheduled"), req("max"), req("active")),
        (1.0, 1.0, 512.0, 0.0)
    );
    let kv = find(
        &scrape,
        "nv_trt_llm_kv_cache_block_metrics",
        &[("kv_cache_block_type", "fraction")],
    );
    assert_eq!((kv.0, kv.1.value), (Gauge, 0.4875));
    assert_eq!(kv.1.label("model").as_deref(), Some("tensorrt_llm"));
    let mem = find(
        &scrape,
        "nv_trt_llm_runtime_memory_metrics",
        &[("memory_type", "gpu")],
    );
    assert_eq!(mem.1.value, 1_610_236.0);
    let ts = find(
        &scrape,
        "nv_trt_llm_general_metrics",
        &[("general_type", "timestamp")],
    );
    assert_eq!(ts.1.value, 1_700_074_049.0);
}

#[test]
fn dcgm_capture() {
    use MetricType::*;
    let body = fixture("dcgm-metrics.txt");
    let scrape = parsed(&body);
    assert_eq!(scrape.samples.len(), 38);
    assert_eq!(
        count_by_type(&scrape),
        HashMap::from([(Gauge, 30), (Counter, 8)])
    );
    let util = find(&scrape, "DCGM_FI_DEV_GPU_UTIL", &[]);
    assert_eq!((util.0, util.1.value), (Gauge, 0.0));
    assert_eq!(util.1.label("Hostname").as_deref(), Some("424773df46e0"));
    assert_eq!(
        util.1.label("UUID").as_deref(),
        Some("GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e")
    );
    assert_eq!(util.1.label("modelName").as_deref(), Some("Tesla T4"));
    assert_eq!(
        util.1.label("DCGM_FI_PROCESS_NAME").as_deref(),
        Some("/usr/bin/dcgm-exporter")
    );
    assert_eq!(value(&scrape, "DCGM_FI_DEV_POWER_USAGE"), 8.969);
    assert_eq!(value(&scrape, "DCGM_FI_DEV_FB_FREE"), 15109.0);
    let energy = find(&scrape, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", &[]);
    assert_eq!((energy.0, energy.1.value), (Counter, 128_996_013.0));
    // No labels at all, and the last line has no newline after it.
    assert_eq!(
        find(&scrape, "DCGM_FI_PROF_PCIE_TX_BYTES", &[])
            .1
            .labels()
            .count(),
        0
    );
    let last = find(&scrape, "DCGM_FI_PROF_DRAM_ACTIVE", &[]).1;
    assert_eq!(
        (last.value, last.label("pod").as_deref()),
        (0.000003, Some("ray-1111111"))
    );
}

#[test]
fn a_help_line_without_text_is_not_an_error() {
    let body = fixture("dcgm-metrics.txt");
    assert!(
        body.contains("\n# HELP DCGM_FI_DEV_FB_RESERVED\n"),
        "the capture still has it"
    );
    assert_eq!(parse_all(&body).errors, []);
}
