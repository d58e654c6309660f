//! The scraper end to end over real Kafka: simulated vLLM servers in, canonical
//! signals and DCGM series on `samples.v1` out, `up=0` as soon as a server goes away.

use std::time::Duration;

use poolpilot_tests::{Process, free_port, infra, kafka_shared, unique};
use scraper::{Config, EngineChoice, FetchError, Fetcher, Pool, Target};
use serde_json::json;
use shared::Deps;
use shared::bus::kafka::KafkaBus;
use shared::bus::typed::Typed;
use shared::bus::{KafkaConfig, Subscribe, TopicSpec};
use shared::config::validate;
use shared::wire::{PodSamples, Topic, Topics};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

/// Reads samples until one satisfies `want`.
async fn until(
    sub: &mut Typed<Vec<PodSamples>>,
    what: &str,
    want: impl Fn(&PodSamples) -> bool,
) -> PodSamples {
    tokio::time::timeout(WAIT, async {
        loop {
            let (_, batch) = sub.recv().await.unwrap();
            if let Some(p) = batch.into_iter().find(|p| want(p)) {
                return p;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no sample where {what} within {WAIT:?}"))
}

/// A scraper over real Kafka with its own topics, and a consumer of its samples.
struct Running {
    sub: Typed<Vec<PodSamples>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), scraper::Error>>,
}

impl Running {
    async fn start(pools: Vec<Pool>, raw_allowlist: Vec<String>) -> Self {
        Self::start_with(pools, raw_allowlist, None).await
    }

    async fn start_with(
        pools: Vec<Pool>,
        raw_allowlist: Vec<String>,
        kubeconfig: Option<std::path::PathBuf>,
    ) -> Self {
        Self::start_config(Config {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(100),
            raw_allowlist,
            pools,
            kubeconfig,
            ..Config::default()
        })
        .await
    }

    async fn start_config(config: Config) -> Self {
        let topics = Topics::new(format!("{}.", unique("it")));
        let kafka = KafkaConfig {
            brokers: infra().kafka_brokers.clone(),
            ..Default::default()
        };
        let bus = std::sync::Arc::new(KafkaBus::new(&kafka).unwrap());
        let samples = topics.name(Topic::Samples);
        let spec = TopicSpec {
            name: samples.clone(),
            partitions: 4,
        };
        shared::bus::Bus::ensure_topics(&*bus, &[spec])
            .await
            .unwrap();
        let deps = Deps::new(bus.clone(), topics);
        let sub = Typed::new(
            shared::bus::Bus::subscribe(&*bus, Subscribe::new(unique("g"), [samples])).unwrap(),
            deps.bus_metrics.clone(),
        );
        let stop = CancellationToken::new();
        let task = tokio::spawn(scraper::run(
            validate(config).unwrap(),
            deps,
            stop.clone().cancelled_owned(),
        ));
        Self { sub, stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
        self.sub.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_servers_reach_the_samples_topic_over_kafka() {
    let _broker = kafka_shared().await;
    let fleet = poolpilot_tests::sim_fleet(2).await;
    let pods = fleet.pods();
    let pool = unique("pool");
    let mut run = Running::start(
        vec![poolpilot::local::scrape_pool(&pool, "sim", &pods)],
        vec!["vllm:generation_tokens_total".into()],
    )
    .await;
    let sub = &mut run.sub;

    let idle = until(sub, "sim-0 is up", |p| {
        p.pod == pods[0].name && p.engine == "vllm"
    })
    .await;
    assert_eq!(
        (idle.pool.as_str(), idle.endpoint.clone()),
        (pool.as_str(), pods[0].addr.to_string())
    );
    assert_eq!(
        (
            idle.signals.up,
            idle.signals.queue_size,
            idle.signals.kv_cache_utilization
        ),
        (true, Some(0.0), Some(0.0))
    );
    assert!(
        idle.raw
            .iter()
            .any(|r| r.name == "vllm:generation_tokens_total"),
        "allow-listed raw series forwarded"
    );
    assert!(idle.raw.iter().any(|r| r.name == "scrape_duration_seconds"));

    // Load one server: its signals must show it, the other's must not.
    let streams = poolpilot_tests::hold_completions(&pods[0].url(), 16, 2000, 3000).await;
    let busy = until(sub, "sim-0 runs 16", |p| {
        p.pod == pods[0].name && p.signals.running_requests == Some(16.0)
    })
    .await;
    assert!(busy.signals.kv_cache_utilization.unwrap() > 0.1, "{busy:?}");
    let gpu = until(sub, "sim-0's GPU is busy", |p| {
        p.pod == pods[0].name
            && p.engine == "dcgm"
            && p.raw
                .iter()
                .any(|r| r.name == "DCGM_FI_DEV_GPU_UTIL" && r.value > 0.0)
    })
    .await;
    assert!(gpu.raw.iter().all(|r| r.name.starts_with("DCGM_")));
    let other = until(sub, "sim-1 reports", |p| {
        p.pod == pods[1].name && p.engine == "vllm"
    })
    .await;
    assert_eq!(other.signals.running_requests, Some(0.0));
    drop(streams);

    // A server that goes away is published as up=0 at its next scrape.
    fleet.remove_newest().await.unwrap();
    let down = until(sub, "sim-1 is down", |p| {
        p.pod == pods[1].name && !p.signals.up
    })
    .await;
    assert_eq!(down.signals.queue_size, None);

    run.stop().await;
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_llm_d_inference_sim_reaches_the_samples_topic() {
    let _broker = kafka_shared().await;
    let bin = std::env::var("POOLPILOT_LLMD_SIM")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            let out = std::process::Command::new(&infra().script)
                .arg("env")
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("export POOLPILOT_LLMD_SIM="))
                .map(|v| v.trim_matches('\'').to_owned())
                .filter(|v| !v.is_empty())
                .expect("dev/infra did not build llm-d-inference-sim (see `dev/infra install`)")
        });
    let port = free_port();
    let _sim = Process(
        std::process::Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--model",
                "meta-llama/Llama-3.1-8B-Instruct",
                "--force-dummy-tokenizer",
            ])
            .args([
                "--max-num-seqs",
                "5",
                "--time-to-first-token",
                "50ms",
                "--inter-token-latency",
                "100ms",
                "--mode",
                "random",
            ])
            .args([
                "--enable-kvcache",
                "--kv-cache-size",
                "64",
                "--zmq-endpoint=",
            ])
            .env("POD_IP", "127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    poolpilot_tests::eventually(WAIT, "llm-d-inference-sim to answer", || {
        let url = format!("{base}/health");
        async move {
            reqwest::get(url)
                .await
                .ok()
                .filter(|r| r.status().is_success())
        }
    })
    .await;
    let pool = unique("llmd");
    let mut run = Running::start(
        vec![Pool {
            name: pool.clone(),
            namespace: String::new(),
            engine: EngineChoice::Auto,
            targets: vec![Target::Named {
                url: format!("{base}/metrics"),
                pod: "llmd-0".into(),
            }],
            dcgm: Vec::new(),
            kubernetes: None,
        }],
        Vec::new(),
    )
    .await;
    let idle = until(&mut run.sub, "llm-d-inference-sim is up", |p| {
        p.pod == "llmd-0" && p.signals.up
    })
    .await;
    assert_eq!(idle.engine, "vllm");
    let client = reqwest::Client::new();
    let load: Vec<_> = (0..12)
        .map(|_| {
            client
                .post(format!("{base}/v1/completions"))
                .json(&json!({ "model": "meta-llama/Llama-3.1-8B-Instruct", "prompt": "hello ".repeat(40), "max_tokens": 60, "ignore_eos": true }))
                .send()
        })
        .collect();
    let load = tokio::spawn(futures::future::join_all(load));
    let busy = until(&mut run.sub, "5 running and a queue", |p| {
        p.pod == "llmd-0"
            && p.signals.running_requests == Some(5.0)
            && p.signals.queue_size.is_some_and(|q| q > 0.0)
    })
    .await;
    assert!(
        busy.signals.kv_cache_utilization.is_some_and(|kv| kv > 0.0),
        "{busy:?}"
    );
    load.abort();
    run.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_an_error_not_an_oom() {
    let fleet = poolpilot_tests::sim_fleet(1).await;
    let url = format!("{}/metrics", fleet.pods()[0].url());
    let small = Fetcher::new(Duration::from_secs(5), 1000).unwrap();
    let err = small.fetch(&url).await.unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { limit: 1000, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("target {url}: scrape: body exceeds 1000 bytes")
    );
    let missing = Fetcher::new(Duration::from_secs(5), 1 << 20)
        .unwrap()
        .fetch(&format!("{}/nope", fleet.pods()[0].url()))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), "status");
    fleet.shutdown().await;
    let gone = Fetcher::new(Duration::from_secs(5), 1 << 20)
        .unwrap()
        .fetch(&url)
        .await
        .unwrap_err();
    assert_eq!(gone.kind(), "transport");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_discovered_on_the_real_apiserver_come_and_go() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

    let _broker = kafka_shared().await;
    let fleet = poolpilot_tests::sim_fleet(1).await;
    let port = fleet.pods()[0].addr.port();
    let client = scraper_kube_client().await;
    let ns = poolpilot_tests::fresh_namespace(&client, "disc").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = |name: &str, app: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": name, "labels": { "app": app } },
            "spec": { "containers": [{ "name": "vllm", "image": "vllm/vllm-openai:latest" }] }
        }))
        .unwrap()
    };
    pods.create(&PostParams::default(), &pod("llama-0", "llama"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("other-0", "other"))
        .await
        .unwrap();

    let pool = unique("pool");
    let mut run = Running::start_with(
        vec![Pool {
            name: pool.clone(),
            namespace: ns.clone(),
            engine: EngineChoice::Auto,
            targets: Vec::new(),
            dcgm: Vec::new(),
            kubernetes: Some(scraper::Discovery {
                selector: [("app".to_owned(), "llama".to_owned())].into(),
                target_ports: vec![port],
                inference_pool: None,
                metrics_path: "/metrics".into(),
            }),
        }],
        Vec::new(),
        Some(infra().kubeconfig.clone()),
    )
    .await;

    // Ready, with an IP: the pod becomes a target (its IP is loopback, where the simulator listens).
    let ready = json!({ "status": { "phase": "Running", "podIP": "127.0.0.1",
        "conditions": [{ "type": "Ready", "status": "True" }] } });
    pods.patch_status("llama-0", &PatchParams::default(), &Patch::Merge(&ready))
        .await
        .unwrap();
    pods.patch_status("other-0", &PatchParams::default(), &Patch::Merge(&ready))
        .await
        .unwrap();
    let up = until(&mut run.sub, "llama-0 is scraped", |p| {
        p.pod == "llama-0" && p.signals.up
    })
    .await;
    assert_eq!(
        (up.pool.as_str(), up.endpoint.clone(), up.namespace.as_str()),
        (pool.as_str(), format!("127.0.0.1:{port}"), ns.as_str())
    );
    assert_eq!(up.engine, "vllm");

    // Deleted: one last up=0, and no more samples for it.
    pods.delete("llama-0", &DeleteParams::default())
        .await
        .unwrap();
    until(&mut run.sub, "llama-0 is gone", |p| {
        p.pod == "llama-0" && !p.signals.up
    })
    .await;
    let unrelated = tokio::time::timeout(
        Duration::from_secs(1),
        until(&mut run.sub, "", |p| p.pod == "other-0"),
    )
    .await;
    assert!(unrelated.is_err(), "a pod outside the selector was scraped");
    run.stop().await;
    fleet.shutdown().await;
}

async fn scraper_kube_client() -> kube::Client {
    scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_inference_pool_object_is_followed() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{
        Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
    };

    let _broker = kafka_shared().await;
    let fleet = poolpilot_tests::sim_fleet(1).await;
    let port = fleet.pods()[0].addr.port();
    let client = scraper_kube_client().await;

    // The InferencePool CRD, as a cluster with the Gateway API Inference Extension has it
    // (permissive here; the deploy test applies the real one, which this pool also fits).
    let crd: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": { "name": "inferencepools.inference.networking.k8s.io",
            "annotations": { "api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api-inference-extension/pull/1173" } },
        "spec": { "group": "inference.networking.k8s.io", "scope": "Namespaced",
            "names": { "plural": "inferencepools", "singular": "inferencepool", "kind": "InferencePool", "listKind": "InferencePoolList" },
            "versions": [{ "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }] }
    }))
    .unwrap();
    let crds_gvk = GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk(&crds_gvk));
    match crds.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating the CRD: {e}"),
    }

    let ns = poolpilot_tests::fresh_namespace(&client, "ipool").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let ready = json!({ "status": { "phase": "Running", "podIP": "127.0.0.1", "conditions": [{ "type": "Ready", "status": "True" }] } });
    for (name, app) in [("llama-0", "llama"), ("other-0", "other")] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": name, "labels": { "app": app } },
            "spec": { "containers": [{ "name": "vllm", "image": "vllm/vllm-openai:latest" }] }
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&ready))
            .await
            .unwrap();
    }
    let gvk = GroupVersionKind::gvk("inference.networking.k8s.io", "v1", "InferencePool");
    let pools: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &ApiResource::from_gvk_with_plural(&gvk, "inferencepools"),
    );
    let pool_object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
        "metadata": { "name": "llama" },
        "spec": { "selector": { "matchLabels": { "app": "llama" } }, "targetPorts": [{ "number": port }],
                  "endpointPickerRef": { "name": "epp", "port": { "number": 9002 } } }
    }))
    .unwrap();
    poolpilot_tests::eventually(WAIT, "the InferencePool CRD to serve", || {
        let (pools, pool_object) = (pools.clone(), pool_object.clone());
        async move {
            pools
                .create(&PostParams::default(), &pool_object)
                .await
                .ok()
        }
    })
    .await;

    let mut run = Running::start_with(
        vec![Pool {
            name: unique("pool"),
            namespace: ns.clone(),
            engine: EngineChoice::Auto,
            targets: Vec::new(),
            dcgm: Vec::new(),
            kubernetes: Some(scraper::Discovery {
                selector: Default::default(),
                target_ports: Vec::new(),
                inference_pool: Some("llama".into()),
                metrics_path: "/metrics".into(),
            }),
        }],
        Vec::new(),
        Some(infra().kubeconfig.clone()),
    )
    .await;
    until(&mut run.sub, "llama-0 is scraped", |p| {
        p.pod == "llama-0" && p.signals.up
    })
    .await;

    // The pool's selector changes: its members change with it.
    let moved = json!({ "spec": { "selector": { "matchLabels": { "app": "other" } } } });
    pools
        .patch("llama", &PatchParams::default(), &Patch::Merge(&moved))
        .await
        .unwrap();
    until(&mut run.sub, "llama-0 leaves", |p| {
        p.pod == "llama-0" && !p.signals.up
    })
    .await;
    until(&mut run.sub, "other-0 joins", |p| {
        p.pod == "other-0" && p.signals.up
    })
    .await;
    run.stop().await;
    fleet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_pushed_over_http_reaches_the_samples_topic_over_kafka() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use prost::Message;
    use shared::wire::{LoraInfo, RawKind, RawSample, Signals, encode_batch};

    let _broker = kafka_shared().await;
    let pool = unique("otlp");
    let (grpc, http) = (free_port(), free_port());
    let mut config = Config::default();
    config.otlp.enabled = true;
    config.otlp.grpc_listen = format!("127.0.0.1:{grpc}").parse().unwrap();
    config.otlp.http_listen = format!("127.0.0.1:{http}").parse().unwrap();
    let mut run = Running::start_config(config).await;

    // A body as an OTLP exporter would send it: our own encoding is OTLP, so build one.
    let pushed = PodSamples {
        pool: pool.clone(),
        pod: "p-0".into(),
        namespace: "models".into(),
        endpoint: String::new(),
        engine: String::new(),
        time: std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        signals: Signals {
            up: true,
            lora: Some(LoraInfo::default()),
            ..Default::default()
        },
        raw: vec![RawSample {
            name: "gpu_temp_celsius".into(),
            labels: vec![],
            kind: RawKind::Gauge,
            value: 61.0,
        }],
    };
    let body = encode_batch(std::slice::from_ref(&pushed));
    assert!(ExportMetricsServiceRequest::decode(&body[..]).is_ok());
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{http}/v1/metrics");
    let response = poolpilot_tests::eventually(WAIT, "the OTLP receiver to accept", || {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        async move {
            let r = client
                .post(url)
                .header("content-type", "application/x-protobuf")
                .body(body)
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(r)
        }
    })
    .await;
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let garbage = client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let arrived = until(&mut run.sub, "the pushed pod arrives", |p| p.pool == pool).await;
    assert_eq!(
        (arrived.pod.as_str(), arrived.namespace.as_str()),
        ("p-0", "models")
    );
    assert!(
        arrived
            .raw
            .iter()
            .any(|r| r.name == "gpu_temp_celsius" && r.value == 61.0),
        "{arrived:?}"
    );
    run.stop().await;
}
