//! The router in front of a simulated fleet: the scraper's samples fill its endpoint
//! table; requests pass through (JSON and SSE), avoid the busier server, survive a
//! server that disappears, and come out as `requests.v1` events and `/metrics`.

use std::time::Duration;

use futures::StreamExt;

use poolpilot::{Config, Part, start};
use poolpilot_tests::{eventually, free_port, hold_completions, http_get, sim_fleet, unique};
use shared::bus::typed::Typed;
use shared::bus::{StartFrom, Subscribe};
use shared::config::validate;
use shared::wire::{PodSamples, RequestEvent, Topic};

const WAIT: Duration = Duration::from_secs(60);

pub(crate) fn model() -> String {
    simulator::Config::default().server.model
}

async fn setup(servers: u32) -> Setup {
    setup_with(servers, Duration::from_millis(100), Duration::from_secs(2)).await
}

pub(crate) struct Setup {
    pub running: poolpilot::Running,
    pub base: String,
    pub fleet: std::sync::Arc<simulator::Fleet>,
}

impl Setup {
    /// `samples.v1` from now on, as the router reads it.
    fn samples(&self) -> Typed<Vec<PodSamples>> {
        let deps = &self.running.deps;
        let sub = deps
            .bus
            .subscribe(
                Subscribe::new(unique("g"), [deps.topics.name(Topic::Samples)])
                    .start(StartFrom::Latest),
            )
            .unwrap();
        Typed::new(sub, deps.bus_metrics.clone())
    }
}

/// Waits until two samples on the bus satisfy `want` (the router, reading the same
/// topic, has the first by the time the second comes).
async fn until_seen(
    samples: &mut Typed<Vec<PodSamples>>,
    what: &str,
    want: impl Fn(&PodSamples) -> bool,
) {
    let mut seen = 0;
    while seen < 2 {
        let (_, batch) = tokio::time::timeout(WAIT, samples.recv())
            .await
            .unwrap_or_else(|_| panic!("no sample showing {what}"))
            .unwrap();
        seen += batch.iter().filter(|p| want(p)).count();
    }
}

/// A fleet of `servers`, scraped every `scrape`, behind a router whose samples count
/// as fresh for `freshness`.
async fn setup_with(servers: u32, scrape: Duration, freshness: Duration) -> Setup {
    setup_tuned(servers, scrape, freshness, |_| {}).await
}

/// As [`setup_with`], with the router's config adjusted by `tune`.
pub(crate) async fn setup_tuned(
    servers: u32,
    scrape: Duration,
    freshness: Duration,
    tune: impl FnOnce(&mut router::Config),
) -> Setup {
    setup_fleet(sim_fleet(servers).await, scrape, freshness, tune).await
}

/// As [`setup_tuned`], over `fleet`.
pub(crate) async fn setup_fleet(
    fleet: std::sync::Arc<simulator::Fleet>,
    scrape: Duration,
    freshness: Duration,
    tune: impl FnOnce(&mut router::Config),
) -> Setup {
    let servers = fleet.pods().len();
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.scraper.interval = scrape;
    config.scraper.timeout = Duration::from_millis(100);
    config.router.freshness = freshness;
    config.scraper.pools = vec![poolpilot::local::scrape_pool(
        &unique("pool"),
        "sim",
        &fleet.pods(),
    )];
    config.router.listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    // Tests that read the access log send it to a file; the rest keep stdout quiet.
    config.router.access_log_sample_rate = 0;
    config.router.access_log_errors = false;
    tune(&mut config.router);
    let base = format!("http://{}", config.router.listen);
    let running = start(&[Part::Scraper, Part::Router], validate(config).unwrap())
        .await
        .unwrap();
    eventually(WAIT, "the router's table to hold every server", || async {
        let page = http_get(running.admin_addr, "/metrics").await.ok()?.body;
        page.contains(&format!("poolpilot_router_endpoints {servers}"))
            .then_some(())
    })
    .await;
    // Before that the table was empty or partial: 503s then.
    let client = reqwest::Client::new();
    eventually(WAIT, "the router to know the fleet", || {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let r = client
                .post(format!("{base}/v1/completions"))
                .json(&serde_json::json!({ "model": model(), "prompt": "hi", "max_tokens": 2 }))
                .send()
                .await
                .ok()?;
            (r.status() != 503).then_some(())
        }
    })
    .await;
    Setup {
        running,
        base,
        fleet,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_streams_pass_through_and_are_reported() {
    let s = setup(2).await;
    let sub = s
        .running
        .deps
        .bus
        .subscribe(
            Subscribe::new(unique("g"), [s.running.deps.topics.name(Topic::Requests)])
                .start(StartFrom::Earliest),
        )
        .unwrap();
    let mut events = Typed::<RequestEvent>::new(sub, s.running.deps.bus_metrics.clone());
    let client = reqwest::Client::new();
    let pods: Vec<String> = s.fleet.pods().iter().map(|p| p.addr.to_string()).collect();

    let r = client
        .post(format!("{}/v1/completions", s.base))
        .json(&serde_json::json!({ "model": model(), "prompt": "hello there", "max_tokens": 7 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let served = r.headers()["x-gateway-destination-endpoint-served"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(pods.contains(&served), "{served} not in {pods:?}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["usage"]["completion_tokens"], 7, "{body}");

    let r = client
        .post(format!("{}/v1/chat/completions", s.base))
        .json(
            &serde_json::json!({ "model": model(), "stream": true, "max_tokens": 5,
            "messages": [{ "role": "user", "content": "stream please" }] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");

    // Each request is an event with its tokens, and a per-model series.
    let mut seen = Vec::new();
    while !seen.iter().any(|e: &RequestEvent| e.output_tokens == 7) || seen.len() < 3 {
        let (_, e) = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("request events")
            .unwrap();
        seen.push(e);
    }
    let ok: Vec<_> = seen.iter().filter(|e| e.status == 200).collect();
    assert!(ok.len() >= 2, "{seen:?}");
    assert!(
        ok.iter()
            .all(|e| pods.contains(&e.endpoint) && !e.pool.is_empty()),
        "{seen:?}"
    );
    let page = eventually(
        WAIT,
        "inference_model_request_total on /metrics",
        || async {
            let page = http_get(s.running.admin_addr, "/metrics").await.ok()?.body;
            page.contains("inference_model_request_total{")
                .then_some(page)
        },
    )
    .await;
    assert!(
        page.contains("poolpilot_router_pick_duration_seconds"),
        "{page}"
    );
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_busier_server_is_avoided() {
    let s = setup(2).await;
    let pods = s.fleet.pods();
    let mut samples = s.samples();
    // Fill the first server: its queue forms.
    let held = hold_completions(&pods[0].url(), 100, 400, 4000).await;
    let busy = pods[0].addr.to_string();
    until_seen(&mut samples, "the busy server's queue", |p| {
        p.endpoint == busy && p.signals.queue_size.unwrap_or(0.0) >= 30.0
    })
    .await;
    let client = reqwest::Client::new();
    let mut served = Vec::new();
    for i in 0..10 {
        let r = client
            .post(format!("{}/v1/completions", s.base))
            .json(&serde_json::json!({ "model": model(), "prompt": format!("q{i}"), "max_tokens": 1 }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        served.push(
            r.headers()["x-gateway-destination-endpoint-served"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    let busy = pods[0].addr.to_string();
    assert!(
        served.iter().all(|e| *e != busy),
        "the busy server got {served:?}"
    );
    drop(held);
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_disappears_is_retried_elsewhere_without_a_client_error() {
    // Scraped rarely, so the table still holds the dead server for the requests below.
    let s = setup_with(2, Duration::from_secs(20), Duration::from_secs(60)).await;
    // Gone, but still in the table until the scraper says so.
    s.fleet.remove_newest().await.unwrap();
    let client = reqwest::Client::new();
    for i in 0..20 {
        let r = client
            .post(format!("{}/v1/completions", s.base))
            .json(&serde_json::json!({ "model": model(), "prompt": format!("r{i}"), "max_tokens": 1 }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "request {i}");
    }
    let page = http_get(s.running.admin_addr, "/metrics")
        .await
        .unwrap()
        .body;
    let refused = page.lines().any(|l| {
        l.starts_with("poolpilot_router_errors_total{") && l.contains("connection_refused")
    });
    assert!(refused, "no connection_refused counted:\n{page}");
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

pub(crate) fn models(yaml: &str) -> Vec<router::pick::ModelConfig> {
    serde_saphyr::from_str(yaml).unwrap()
}

pub(crate) async fn complete(
    client: &reqwest::Client,
    base: &str,
    model: &str,
    prompt: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/v1/completions"))
        .json(&serde_json::json!({ "model": model, "prompt": prompt, "max_tokens": 1 }))
        .send()
        .await
        .unwrap()
}

/// InferenceModel's traffic split: 90% to the base model, 10% to a LoRA adapter, over
/// 10,000 requests through the router to the simulated fleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_90_10_split_lands_within_3_percent() {
    let yaml = format!(
        "- name: llama3\n  targets:\n    - {{ name: {}, weight: 90 }}\n    - {{ name: sql-lora, weight: 10, lora: true }}\n",
        model()
    );
    let s = setup_tuned(2, Duration::from_millis(100), Duration::from_secs(2), |r| {
        r.models = models(&yaml);
    })
    .await;
    let client = reqwest::Client::new();
    let n = 10_000;
    let adapter = futures::stream::iter(0..n)
        .map(|i| {
            let (client, base) = (client.clone(), s.base.clone());
            async move {
                let r = complete(&client, &base, "llama3", &format!("p{i}")).await;
                assert_eq!(r.status(), 200);
                let body: serde_json::Value = r.json().await.unwrap();
                body["model"] == "sql-lora"
            }
        })
        .buffer_unordered(32)
        .filter(|lora| futures::future::ready(*lora))
        .count()
        .await;
    let share = adapter as f64 / n as f64;
    assert!(
        (share - 0.10).abs() <= 0.03,
        "{adapter} of {n} went to the adapter"
    );
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

/// A saturated pool sheds `Sheddable` requests with 429 and Retry-After, and still
/// serves `Critical` ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_sheds_only_sheddable_traffic() {
    let yaml = format!(
        "- name: batch\n  criticality: Sheddable\n  targets: [{{ name: {m}, weight: 1 }}]\n- name: chat\n  criticality: Critical\n  targets: [{{ name: {m}, weight: 1 }}]\n",
        m = model()
    );
    let s = setup_tuned(1, Duration::from_millis(100), Duration::from_secs(2), |r| {
        r.models = models(&yaml);
    })
    .await;
    let client = reqwest::Client::new();
    assert_eq!(
        complete(&client, &s.base, "batch", "before").await.status(),
        200
    );
    // 64 running + 36 waiting: queue/5 is far above 1.
    let pod = s.fleet.pods()[0].clone();
    let held = hold_completions(&pod.url(), 100, 400, 4000).await;
    // A probe that is not shed waits behind the held requests: give up on it quickly.
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let shed = eventually(WAIT, "a Sheddable request to be shed", || {
        let (probe, base) = (probe.clone(), s.base.clone());
        async move {
            let r = probe
                .post(format!("{base}/v1/completions"))
                .json(&serde_json::json!({ "model": "batch", "prompt": "now", "max_tokens": 1 }))
                .send()
                .await
                .ok()?;
            (r.status() == 429).then_some(r)
        }
    })
    .await;
    assert!(shed.headers().contains_key("retry-after"));
    let body: serde_json::Value = shed.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
    // Critical traffic is routed (it waits in the queue like everything else).
    let critical = probe
        .post(format!("{}/v1/completions", s.base))
        .json(&serde_json::json!({ "model": "chat", "prompt": "urgent", "max_tokens": 1 }))
        .send()
        .await;
    assert!(
        critical.is_err() || critical.as_ref().is_ok_and(|r| r.status() != 429),
        "Critical traffic was shed: {critical:?}"
    );
    drop(held);
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

/// Prefix affinity: the same long prompt goes back to the server that has its prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_prompt_returns_to_the_same_server() {
    let s = setup(3).await;
    let client = reqwest::Client::new();
    let prompt = "You are a careful assistant. ".repeat(40);
    let mut served = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let r = complete(&client, &s.base, &model(), &prompt).await;
        assert_eq!(r.status(), 200);
        served.insert(
            r.headers()["x-gateway-destination-endpoint-served"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(served.len(), 1, "the prompt was spread over {served:?}");
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

/// The request's `x-gateway-destination-endpoint-served` header.
fn served_by(r: &reqwest::Response) -> String {
    r.headers()["x-gateway-destination-endpoint-served"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// LoRA affinity: requests for an adapter go to the server already running it (1.0)
/// rather than to one with a free slot (0.8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_request_goes_where_the_adapter_runs() {
    let yaml = "- name: sql\n  targets: [{ name: sql-lora, weight: 1, lora: true }]\n";
    let s = setup_tuned(3, Duration::from_millis(100), Duration::from_secs(2), |r| {
        r.models = models(yaml);
    })
    .await;
    let mut samples = s.samples();
    let pods = s.fleet.pods();
    let client = reqwest::Client::new();
    // The third server runs the adapter for a while (a held stream, sent directly).
    let holder = pods[2].clone();
    let held = client
        .post(format!("{}/v1/completions", holder.url()))
        .json(&serde_json::json!({ "model": "sql-lora", "prompt": "hold", "max_tokens": 600, "stream": true }))
        .send()
        .await
        .unwrap();
    let address = holder.addr.to_string();
    let idle_with_adapter = |p: &PodSamples| {
        p.endpoint == address
            && p.signals.queue_size == Some(0.0)
            && p.signals
                .lora
                .as_ref()
                .is_some_and(|l| l.running.iter().any(|a| a == "sql-lora"))
    };
    for i in 0..10 {
        // Each pick sees the adapter running there and no queue anywhere: the
        // previous request has ended in the router (its in-flight count is gone)
        // and in the server's scraped queue.
        eventually(
            WAIT,
            "the previous request to end in the router",
            || async {
                let page = http_get(s.running.admin_addr, "/metrics").await.ok()?.body;
                (i == 0 || page.contains("inference_model_running_requests{model_name=\"sql\"} 0"))
                    .then_some(())
            },
        )
        .await;
        until_seen(
            &mut samples,
            "the adapter running, no queue",
            idle_with_adapter,
        )
        .await;
        let r = complete(&client, &s.base, "sql", &format!("q{i}")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(served_by(&r), address, "request {i}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["model"], "sql-lora", "{body}");
    }
    drop(held);
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

/// `x-gateway-inference-objective` names the model config to use, whatever `model`
/// the body carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_objective_header_chooses_the_model_config() {
    let yaml = format!(
        "- name: chat\n  targets: [{{ name: {}, weight: 1 }}]\n- name: sql\n  targets: [{{ name: sql-lora, weight: 1, lora: true }}]\n",
        model()
    );
    let s = setup_tuned(1, Duration::from_millis(100), Duration::from_secs(2), |r| {
        r.models = models(&yaml);
    })
    .await;
    let client = reqwest::Client::new();
    let send = |objective: Option<&'static str>| {
        let mut r = client
            .post(format!("{}/v1/completions", s.base))
            .json(&serde_json::json!({ "model": "chat", "prompt": "x", "max_tokens": 1 }));
        if let Some(o) = objective {
            r = r.header("x-gateway-inference-objective", o);
        }
        r.send()
    };
    let plain: serde_json::Value = send(None).await.unwrap().json().await.unwrap();
    assert_eq!(plain["model"], model().as_str(), "{plain}");
    let steered: serde_json::Value = send(Some("sql")).await.unwrap().json().await.unwrap();
    assert_eq!(steered["model"], "sql-lora", "{steered}");
    let unknown = send(Some("nope")).await.unwrap();
    assert_eq!(unknown.status(), 404);
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

/// A client that leaves mid-stream: the router drops the upstream request and the
/// server stops working on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_cancels_the_upstream_request() {
    let s = setup(1).await;
    let pod = s.fleet.pods()[0].clone();
    let server = s.fleet.pod(&pod.name).unwrap();
    let client = reqwest::Client::new();
    let mut stream = client
        .post(format!("{}/v1/completions", s.base))
        .json(&serde_json::json!({ "model": model(), "prompt": "long", "max_tokens": 5000, "stream": true }))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "), "{first:?}");
    assert_eq!(server.load().0, 1, "the request runs on the server");
    drop(stream);
    eventually(WAIT, "the server to drop the request", || async {
        (server.load().0 == 0).then_some(())
    })
    .await;
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

/// Bodies the router refuses before any server sees them: OpenAI-style errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_openai_errors_and_reach_no_server() {
    let s = setup_tuned(1, Duration::from_millis(100), Duration::from_secs(2), |r| {
        r.max_body_bytes = 4096;
    })
    .await;
    let pod = s.fleet.pods()[0].clone();
    let server = s.fleet.pod(&pod.name).unwrap();
    let client = reqwest::Client::new();
    let before = crate::guard::served(&s).await;
    let post = |body: Vec<u8>| {
        client
            .post(format!("{}/v1/completions", s.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, status, code) in [
        (b"{not json".to_vec(), 400, "invalid_json"),
        (b"[1, 2]".to_vec(), 400, "invalid_json"),
        (br#"{"prompt": "no model"}"#.to_vec(), 400, "missing_model"),
        (
            format!(r#"{{"model": "m", "prompt": "{}"}}"#, "x".repeat(5000)).into_bytes(),
            413,
            "request_too_large",
        ),
    ] {
        let r = post(body).await.unwrap();
        assert_eq!(r.status(), status);
        let err: serde_json::Value = r.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{err}");
        assert_eq!(err["error"]["type"], "invalid_request_error", "{err}");
        assert!(err["error"]["message"].is_string(), "{err}");
    }
    assert_eq!(server.load().0, 0);
    let after = crate::guard::served(&s).await;
    assert_eq!(before, after, "a server saw a bad body");
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
}

/// `(error_detail, value)` of each `poolpilot_router_errors_total` series.
fn error_counts(page: &str) -> std::collections::BTreeMap<String, u64> {
    page.lines()
        .filter_map(|l| l.strip_prefix("poolpilot_router_errors_total{error_detail=\""))
        .map(|rest| {
            let (label, value) = rest.rsplit_once("\"} ").unwrap();
            let label = label.replace("\\\"", "\"").replace("\\\\", "\\");
            (label, value.trim().parse().unwrap())
        })
        .collect()
}

/// The seed's logging policy samples 500000 of 1,000,000 requests: about half of
/// 10,000 are logged, each chosen by its id; errors are always logged, and
/// `poolpilot_router_errors_total{error_detail}` counts exactly the logged proxy
/// statuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_samples_half_and_the_error_metric_matches_the_log() {
    let dir = std::env::temp_dir().join(unique("access-log"));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("access.jsonl");
    let path = log.clone();
    // Scraped rarely, so a removed server stays in the table and gets refused.
    let s = setup_tuned(
        2,
        Duration::from_secs(20),
        Duration::from_secs(60),
        move |r| {
            // Round-robin: after the removal below, every other request goes to the
            // dead server until the next scrape, whatever the scores would say.
            r.picker = router::PickerKind::RoundRobin;
            r.access_log_sample_rate = 500_000;
            r.access_log_errors = true;
            r.access_log_path = Some(path);
        },
    )
    .await;
    let lines = |log: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let warmup = lines(&log).len();
    let client = reqwest::Client::new();
    let n = 10_000;
    let ids: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let (client, base) = (client.clone(), s.base.clone());
            async move {
                let r = complete(&client, &base, &model(), &format!("p{i}")).await;
                assert_eq!(r.status(), 200);
                r.headers()["x-request-id"].to_str().unwrap().to_owned()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let logged = lines(&log).split_off(warmup);
    let share = logged.len() as f64 / n as f64;
    assert!(
        (share - 0.5).abs() <= 0.02,
        "{} of {n} logged",
        logged.len()
    );
    for line in &logged {
        let id = line["request_id"].as_str().unwrap();
        assert!(router::sampled(id, 500_000), "{id} logged but not sampled");
        assert!(ids.iter().any(|i| i == id), "{id} was not one of ours");
        assert!(line.get("prompt").is_none(), "{line}");
    }

    // Errors: a server goes away; requests to it are refused, retried elsewhere, and
    // every one of them is logged with its proxy status (errors are always logged, so
    // the whole log holds every proxy status the metric counted).
    s.fleet.remove_newest().await.unwrap();
    for i in 0..200 {
        let r = complete(&client, &s.base, &model(), &format!("e{i}")).await;
        assert_eq!(r.status(), 200);
    }
    let mut logged_errors = std::collections::BTreeMap::<String, u64>::new();
    for line in lines(&log) {
        if let Some(status) = line["proxy_status"].as_str() {
            *logged_errors.entry(status.to_owned()).or_default() += 1;
        }
    }
    assert!(
        logged_errors
            .keys()
            .any(|k| k.contains("error=connection_refused")),
        "{logged_errors:?}"
    );
    let page = http_get(s.running.admin_addr, "/metrics")
        .await
        .unwrap()
        .body;
    assert_eq!(error_counts(&page), logged_errors);
    s.running.shutdown().await.unwrap();
    s.fleet.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
