//! The simulated vLLM fleet over real HTTP: the OpenAI API, vLLM's errors, its
//! `/metrics` checked against the real capture and promtool, aborts, and a fleet that
//! grows and shrinks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use poolpilot_tests::{eventually, infra, shared_dir};
use serde_json::{Value, json};
use simulator::{Config, Fleet, ServerSpec};

async fn fleet(servers: u32, server: ServerSpec) -> std::sync::Arc<Fleet> {
    Fleet::start(Config {
        servers,
        server,
        ..Config::default()
    })
    .await
    .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let r = client().post(url).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn metrics(base: &str) -> String {
    client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the first sample of `name` in a metrics page.
fn sample(page: &str, name: &str) -> f64 {
    page.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in the page"))
}

#[tokio::test]
async fn a_completion_has_openai_shape_and_usage() {
    let f = fleet(1, ServerSpec::default()).await;
    let base = f.pods()[0].url();
    let prompt = "x".repeat(400);
    let (status, body) = post(
        &format!("{base}/v1/completions"),
        json!({ "model": "meta-llama/Llama-3.1-8B-Instruct", "prompt": prompt, "max_tokens": 12, "temperature": 0.7 }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(
        body["choices"][0]["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        12
    );
    assert_eq!(
        body["usage"],
        json!({ "prompt_tokens": 100, "completion_tokens": 12, "total_tokens": 112 })
    );
    f.shutdown().await;
}

#[tokio::test]
async fn a_streamed_chat_sends_tokens_usage_and_done() {
    let f = fleet(1, ServerSpec::default()).await;
    let base = f.pods()[0].url();
    let r = client()
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({ "model": "sql-lora", "messages": [{ "role": "user", "content": "hello there" }],
                       "max_tokens": 8, "stream": true, "stream_options": { "include_usage": true } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let body = r.text().await.unwrap();
    let events: Vec<&str> = body.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(*events.last().unwrap(), "data: [DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["object"], "chat.completion.chunk");
    let content = chunks.iter().filter(|c| {
        c["choices"][0]["delta"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    });
    assert_eq!(content.count(), 8);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["completion_tokens"], 8);
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "length"
    );
    f.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_vllms_errors() {
    let f = fleet(1, ServerSpec::default()).await;
    let url = format!("{}/v1/completions", f.pods()[0].url());
    let raw = client()
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["type"], "BadRequestError");
    assert_eq!(body["error"]["code"], 400);

    let (status, body) = post(&url, json!({ "max_tokens": 5 })).await;
    assert_eq!(status, 400, "missing prompt: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("prompt"),
        "{body}"
    );

    let (status, body) = post(&url, json!({ "model": "nope", "prompt": "hi" })).await;
    assert_eq!(
        (status, body["error"]["message"].as_str().unwrap()),
        (404, "The model `nope` does not exist.")
    );
    assert_eq!(body["error"]["type"], "NotFoundError");

    let (status, body) = post(
        &url,
        json!({ "prompt": "x".repeat(32_000), "max_tokens": 500 }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().starts_with(
            "This model's maximum context length is 8192 tokens. However, you requested 8500 tokens"
        ),
        "{body}"
    );

    let (status, _) = post(&url, json!({ "prompt": "hi", "max_tokens": 0 })).await;
    assert_eq!(status, 400);
    let (status, _) = post(
        &format!("{}/v1/chat/completions", f.pods()[0].url()),
        json!({ "messages": [] }),
    )
    .await;
    assert_eq!(status, 400);
    f.shutdown().await;
}

#[tokio::test]
async fn models_and_health_answer() {
    let f = fleet(1, ServerSpec::default()).await;
    let base = f.pods()[0].url();
    let models: Value = client()
        .get(format!("{base}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<_> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["meta-llama/Llama-3.1-8B-Instruct", "sql-lora"]);
    assert_eq!(
        models["data"][1]["parent"],
        "meta-llama/Llama-3.1-8B-Instruct"
    );
    assert_eq!(
        client()
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    f.shutdown().await;
}

/// `# TYPE` of every family, and the label names of its first sample.
fn families(page: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let mut out = BTreeMap::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.insert(name.to_owned(), (kind.to_owned(), BTreeSet::new()));
        } else if !line.starts_with('#') && !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| out.contains_key(*f)))
                .unwrap_or(name);
            let labels: BTreeSet<String> = line
                .split_once('{')
                .map(|(_, l)| l.split('}').next().unwrap())
                .unwrap_or("")
                .split(',')
                .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned()))
                .filter(|k| k != "le")
                .collect();
            if let Some((_, names)) = out.get_mut(family)
                && names.is_empty()
            {
                *names = labels;
            }
        }
    }
    out
}

fn buckets(page: &str, name: &str) -> Vec<String> {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket{{")))
        .filter_map(|l| {
            l.split("le=\"")
                .nth(1)?
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn metrics_match_the_real_vllm_capture() {
    let f = fleet(1, ServerSpec::default()).await;
    let base = f.pods()[0].url();
    post(
        &format!("{base}/v1/completions"),
        json!({ "prompt": "warm up", "max_tokens": 3 }),
    )
    .await;
    let ours = metrics(&base).await;
    let real =
        std::fs::read_to_string(shared_dir().join("fixtures/samples/vllm-metrics.txt")).unwrap();
    let (ours_f, real_f) = (families(&ours), families(&real));
    let mut compared = 0;
    for (name, (kind, labels)) in &ours_f {
        if let Some((real_kind, real_labels)) = real_f.get(name) {
            assert_eq!(kind, real_kind, "{name}: type");
            assert!(
                labels.is_superset(real_labels) || real_labels.is_superset(labels),
                "{name}: labels {labels:?} vs {real_labels:?}"
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 12,
        "only {compared} families in common with the capture"
    );
    let norm = |v: Vec<String>| {
        v.iter()
            .map(|s| s.parse::<f64>().unwrap_or(f64::INFINITY))
            .collect::<Vec<_>>()
    };
    for h in [
        "vllm:time_to_first_token_seconds",
        "vllm:e2e_request_latency_seconds",
        "vllm:request_queue_time_seconds",
    ] {
        assert_eq!(
            norm(buckets(&ours, h)),
            norm(buckets(&real, h)),
            "{h}: buckets"
        );
    }
    assert_eq!(
        norm(buckets(&ours, "vllm:inter_token_latency_seconds")),
        norm(buckets(&real, "vllm:time_per_output_token_seconds")),
        "the inter-token buckets are the older time_per_output_token ones"
    );
    assert_eq!(
        sample(&ours, "vllm:request_success_total"),
        0.0,
        "stop comes first and nothing stopped"
    );
    assert!(ours.contains("vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"\",waiting_lora_adapters=\"\"}"));

    // promtool, the reference parser, reads the page without errors.
    let path = std::env::temp_dir().join(poolpilot_tests::unique("sim-metrics"));
    std::fs::write(&path, &ours).unwrap();
    let out = std::process::Command::new(&infra().promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Exit 3 is lint only; the one lint is the one real vLLM pages draw too.
    assert!(matches!(out.status.code(), Some(0 | 3)), "promtool: {said}");
    for line in said.lines() {
        assert!(
            line.ends_with("metric names should not contain ':'"),
            "promtool: {line}"
        );
    }
    f.shutdown().await;
}

#[tokio::test]
async fn the_legacy_switch_reports_gpu_cache_usage_perc() {
    let f = fleet(
        1,
        ServerSpec {
            legacy_kv_metric: true,
            ..ServerSpec::default()
        },
    )
    .await;
    let page = metrics(&f.pods()[0].url()).await;
    assert!(page.contains("vllm:gpu_cache_usage_perc{"), "{page}");
    assert!(!page.contains("vllm:kv_cache_usage_perc{"));
    f.shutdown().await;
}

#[tokio::test]
async fn load_shows_in_the_signals_and_a_client_that_leaves_frees_its_blocks() {
    let f = fleet(1, ServerSpec::default()).await;
    let base = f.pods()[0].url();
    let streams = poolpilot_tests::hold_completions(&base, 16, 2000, 2000).await;
    let base2 = base.clone();
    let page = eventually(Duration::from_secs(10), "16 running", || {
        let base = base2.clone();
        async move {
            let page = metrics(&base).await;
            (sample(&page, "vllm:num_requests_running") == 16.0).then_some(page)
        }
    })
    .await;
    assert_eq!(sample(&page, "vllm:num_requests_running"), 16.0);
    assert!(sample(&page, "vllm:kv_cache_usage_perc") > 0.1, "{page}");
    let dcgm = client()
        .get(format!("{base}/dcgm/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sample(&dcgm, "DCGM_FI_DEV_GPU_UTIL") > 0.0, "{dcgm}");
    drop(streams);
    let base2 = base.clone();
    eventually(
        Duration::from_secs(10),
        "aborted requests to free the cache",
        || {
            let base = base2.clone();
            async move {
                let page = metrics(&base).await;
                (sample(&page, "vllm:kv_cache_usage_perc") == 0.0
                    && sample(&page, "vllm:num_requests_running") == 0.0)
                    .then_some(page)
            }
        },
    )
    .await;
    let page = metrics(&base).await;
    assert!(
        page.contains(
            "finished_reason=\"abort\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 16.0"
        ),
        "{page}"
    );
    f.shutdown().await;
}

#[tokio::test]
async fn the_fleet_grows_and_shrinks_at_run_time() {
    let f = fleet(1, ServerSpec::default()).await;
    let added = f.add().await.unwrap();
    assert_eq!(f.pods().len(), 2);
    assert_eq!(
        client()
            .get(format!("{}/health", added.url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(f.remove_newest().await, Some(added.clone()));
    assert_eq!(f.pods().len(), 1);
    assert!(
        client()
            .get(format!("{}/health", added.url()))
            .send()
            .await
            .is_err(),
        "a removed pod stops listening"
    );
    f.shutdown().await;
    assert!(f.pods().is_empty());
}

#[tokio::test]
async fn the_load_generator_measures_a_streamed_run() {
    use simulator::load::{LoadArgs, run};
    let f = fleet(1, ServerSpec::default()).await;
    let base = f.pods()[0].url();
    let args = LoadArgs::from_flags([
        "--url",
        &base,
        "--rate",
        "20",
        "--requests",
        "12",
        "--input-tokens",
        "fixed:300",
        "--output-tokens",
        "fixed:24",
        "--shared-prefix-ratio",
        "1",
        "--prefixes",
        "1",
        "--prefix-tokens",
        "256",
    ])
    .unwrap();
    let report = run(args, false).await.unwrap();
    assert_eq!(
        (report.requests_completed, report.requests_failed),
        (12, 0),
        "{report:?}"
    );
    assert_eq!(report.output_tokens_total, 12 * 24);
    assert!(
        report.ttft_seconds.p50 > 0.0 && report.ttft_seconds.p50 < report.e2e_seconds.p50,
        "{report:?}"
    );
    assert_eq!(
        report.itl_seconds.count,
        12 * 23,
        "one gap between each pair of tokens"
    );
    let page = metrics(&base).await;
    assert!(
        sample(&page, "vllm:prefix_cache_hits_total") >= 11.0 * 256.0,
        "the shared prefix hits: {page}"
    );
    assert_eq!(sample(&page, "vllm:generation_tokens_total"), 288.0);
    f.shutdown().await;
}
