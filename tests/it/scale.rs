//! The scaler against a real kube-apiserver: aggregates on the bus → the HPA
//! decision → a PATCH of a Deployment's `/scale`; a stale write's 409 is re-read and
//! retried; credentials without `patch` give the RBAC error; `dry_run` leaves
//! replicas alone. Every decision is on `decisions.v1`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use poolpilot_tests::{infra, namespace_with_deployment, unique};
use scaler::{Pool, PoolScaling, Replicas, ScaleClient, ScaleError, ScaleTarget, TargetRef};
use shared::bus::embedded::EmbeddedBus;
use shared::bus::typed::Typed;
use shared::bus::{Bus, StartFrom, Subscribe, TopicSpec};
use shared::wire::{
    Aggregates, RawKind, RawSample, ScaleDecision, Topic, Topics, encode_aggregates,
};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

/// The Deployment's `spec.replicas`.
pub(crate) async fn replicas(client: &kube::Client, target: &TargetRef) -> i32 {
    Api::<Deployment>::namespaced(client.clone(), &target.namespace)
        .get(&target.name)
        .await
        .unwrap()
        .spec
        .unwrap()
        .replicas
        .unwrap()
}

/// The seed's HPA for `pool`: KV cache, AverageValue 0.5, 1..10 replicas.
pub(crate) fn pool_scaling(pool: &str, target: &TargetRef) -> PoolScaling {
    serde_json::from_value(serde_json::json!({
        "pool": pool,
        "namespace": target.namespace,
        "hpa": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target.name },
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [{
                "type": "External",
                "external": {
                    "metric": {
                        "name": "prometheus.googleapis.com|inference_pool_average_kv_cache_utilization|gauge",
                        "selector": { "matchLabels": { "metric.labels.name": pool } }
                    },
                    "target": { "type": "AverageValue", "averageValue": "500m" }
                }
            }]
        }
    }))
    .unwrap()
}

/// One aggregates message for `pool`: its KV cache average and ready pods, now.
pub(crate) fn kv(pool: &str, kv: f64, ready: f64) -> Bytes {
    let labels = vec![("name".to_owned(), pool.to_owned())];
    let gauge = |name: &str, value: f64| RawSample {
        name: name.into(),
        labels: labels.clone(),
        kind: RawKind::Gauge,
        value,
    };
    #[allow(clippy::disallowed_methods)]
    let time = SystemTime::now();
    Bytes::from(encode_aggregates(&[Aggregates {
        pool: pool.into(),
        time,
        series: vec![
            gauge("inference_pool_average_kv_cache_utilization", kv),
            gauge("inference_pool_ready_pods", ready),
        ],
    }]))
}

/// A scaler over `targets` on an embedded bus, aggregates of `pool` published every
/// 100 ms at `load`, and a subscription to its decisions.
struct Harness {
    bus: Arc<dyn Bus>,
    topics: Topics,
    stop: CancellationToken,
    decisions: Typed<ScaleDecision>,
    /// The KV cache published, as f64 bits; NaN publishes nothing.
    load: Arc<std::sync::atomic::AtomicU64>,
    metrics: shared::telemetry::MetricsRegistry,
}

impl Harness {
    async fn start(config: scaler::Config, pools: Vec<Pool>, pool: &str, load: f64) -> Self {
        let bus: Arc<dyn Bus> = Arc::new(EmbeddedBus::new(Default::default()));
        let topics = Topics::new("it.");
        bus.ensure_topics(&[Topic::Aggregates, Topic::Decisions].map(|t| TopicSpec {
            name: topics.name(t),
            partitions: 1,
        }))
        .await
        .unwrap();
        let deps = shared::Deps::new(bus.clone(), topics.clone());
        let metrics = deps.metrics.clone();
        let sub = bus
            .subscribe(
                Subscribe::new("test", [topics.name(Topic::Decisions)]).start(StartFrom::Earliest),
            )
            .unwrap();
        let decisions = Typed::new(sub, deps.bus_metrics.clone());
        let stop = CancellationToken::new();
        let config = shared::config::validate(config).unwrap();
        let s = stop.clone();
        tokio::spawn(
            async move { scaler::run_with(config, pools, deps, s.cancelled_owned()).await },
        );
        let load = Arc::new(std::sync::atomic::AtomicU64::new(load.to_bits()));
        let (b, t, p, s, l) = (
            bus.clone(),
            topics.name(Topic::Aggregates),
            pool.to_owned(),
            stop.clone(),
            load.clone(),
        );
        tokio::spawn(async move {
            while !s.is_cancelled() {
                let now = f64::from_bits(l.load(Ordering::Relaxed));
                if !now.is_nan() {
                    let _ = b.publish(&t, p.as_bytes(), kv(&p, now, 1.0)).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self {
            bus,
            topics,
            stop,
            decisions,
            load,
            metrics,
        }
    }

    async fn decision(&mut self) -> ScaleDecision {
        tokio::time::timeout(WAIT, self.decisions.next())
            .await
            .expect("a decision on decisions.v1")
            .unwrap()
            .1
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = (&self.bus, &self.topics);
    }
}

/// An admin client, a fresh Deployment, a pool name and a `/scale` client for it.
async fn kube_pool() -> (kube::Client, TargetRef, String, ScaleClient) {
    let client = scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap();
    let target = namespace_with_deployment(&client).await;
    let scale = ScaleClient::new(client.clone(), target.clone())
        .await
        .unwrap();
    (client, target, unique("pool"), scale)
}

fn config() -> scaler::Config {
    scaler::Config {
        interval: Duration::from_millis(100),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scaler_patches_a_deployment_from_the_aggregates_it_reads() {
    let (client, target, pool, scale) = kube_pool().await;
    let pools = vec![Pool::new(pool_scaling(&pool, &target), Box::new(scale)).unwrap()];
    // One ready pod at 0.9 KV cache against 0.5: ceil(1 × 0.9 / 0.5) = 2.
    let mut h = Harness::start(config(), pools, &pool, 0.9).await;
    let d = h.decision().await;
    assert_eq!((d.current_replicas, d.desired_replicas), (1, 2), "{d:?}");
    assert!(d.patched, "{d:?}");
    assert_eq!(d.pool, pool);
    assert_eq!(d.metrics[0].value, 0.9);
    assert_eq!(replicas(&client, &target).await, 2);
}

/// Writes the Deployment behind the scaler's back before its first PATCH, so that
/// PATCH (conditional on what the scaler read) meets a real 409.
struct Interfering {
    inner: ScaleClient,
    client: kube::Client,
    target: TargetRef,
    done: AtomicBool,
}

impl ScaleTarget for Interfering {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn replicas(&self) -> BoxFuture<'_, Result<Replicas, ScaleError>> {
        self.inner.replicas()
    }
    fn set_replicas<'a>(
        &'a self,
        n: u32,
        read: &'a Replicas,
    ) -> BoxFuture<'a, Result<(), ScaleError>> {
        Box::pin(async move {
            if !self.done.swap(true, Ordering::SeqCst) {
                let patch =
                    serde_json::json!({ "metadata": { "annotations": { "touched": "yes" } } });
                Api::<Deployment>::namespaced(self.client.clone(), &self.target.namespace)
                    .patch(
                        &self.target.name,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                    .unwrap();
                let stale = self.inner.set_replicas(n, read).await;
                assert!(
                    matches!(stale, Err(ScaleError::Conflict { .. })),
                    "{stale:?}"
                );
                return stale;
            }
            self.inner.set_replicas(n, read).await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_write_gets_a_409_and_is_retried_after_a_fresh_read() {
    let client = scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap();
    let target = namespace_with_deployment(&client).await;
    let pool = unique("pool");
    let inner = ScaleClient::new(client.clone(), target.clone())
        .await
        .unwrap();
    let interfering = Interfering {
        inner,
        client: client.clone(),
        target: target.clone(),
        done: AtomicBool::new(false),
    };
    let pools = vec![Pool::new(pool_scaling(&pool, &target), Box::new(interfering)).unwrap()];
    let mut h = Harness::start(config(), pools, &pool, 0.9).await;
    let d = h.decision().await;
    assert!(d.patched && d.error.is_none(), "{d:?}");
    assert_eq!(replicas(&client, &target).await, 2);
}

/// Lets the `viewer` user `get` (not `patch`) `deployments/scale` in `namespace`.
async fn grant_get_scale_only(admin: &kube::Client, namespace: &str) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "scale-reader" },
        "rules": [{ "apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get"] }]
    }))
    .unwrap();
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "scale-reader" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "scale-reader" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer" }]
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_patch_verb_the_decision_carries_the_rbac_error() {
    let admin = scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap();
    let target = namespace_with_deployment(&admin).await;
    grant_get_scale_only(&admin, &target.namespace).await;
    let viewer = scaler::kube_client(Some(&infra().viewer_kubeconfig))
        .await
        .unwrap();
    let pool = unique("pool");
    let scale = ScaleClient::new(viewer, target.clone()).await.unwrap();
    let pools = vec![Pool::new(pool_scaling(&pool, &target), Box::new(scale)).unwrap()];
    let mut h = Harness::start(config(), pools, &pool, 0.9).await;
    let d = h.decision().await;
    assert!(!d.patched);
    let error = d.error.unwrap_or_default();
    assert!(
        error.contains("patch scale forbidden") && error.contains("grant `patch`"),
        "{error}"
    );
    assert_eq!(replicas(&admin, &target).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_decides_and_reports_but_leaves_replicas_alone() {
    let (client, target, pool, scale) = kube_pool().await;
    let pools = vec![Pool::new(pool_scaling(&pool, &target), Box::new(scale)).unwrap()];
    let mut h = Harness::start(
        scaler::Config {
            dry_run: true,
            ..config()
        },
        pools,
        &pool,
        0.9,
    )
    .await;
    let d = h.decision().await;
    assert_eq!(d.desired_replicas, 2);
    assert!(!d.patched && d.error.is_none(), "{d:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(replicas(&client, &target).await, 1);
}

/// `kill -9` of a real `poolpilot scaler` right after a scale-up, restarted under low
/// load: no scale-down before the (10 s) window has passed since the last higher
/// recommendation — and, thanks to the stored recommendations, not 10 s after the
/// restart either, as a fresh controller would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_stabilization_window_still_counts_from_the_last_high_recommendation() {
    use poolpilot_tests::{Process, free_port, kafka_shared};

    use std::sync::atomic::AtomicU64;
    use std::time::Instant;

    let _broker = kafka_shared().await;
    let client = scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap();
    let target = namespace_with_deployment(&client).await;
    let pool = unique("pool");
    let dir = std::env::temp_dir().join(unique("scaler-restart"));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = format!("{}.", unique("it"));
    let mut scaling = serde_json::to_value(pool_scaling(&pool, &target)).unwrap();
    scaling["hpa"]["behavior"] =
        serde_json::json!({ "scaleDown": { "stabilizationWindowSeconds": 10 } });
    let config = dir.join("poolpilot.yaml");
    std::fs::write(
        &config,
        format!(
            "bus:\n  kind: kafka\n  topic_prefix: {prefix}\n  kafka:\n    brokers: {brokers}\nadmin:\n  listen: 127.0.0.1:{port}\nscaler:\n  kubeconfig: {kubeconfig}\n  interval: 250ms\n  state_path: {state}\n  pools: [{scaling}]\n",
            brokers = infra().kafka_brokers,
            port = free_port(),
            kubeconfig = infra().kubeconfig.display(),
            state = dir.join("state").display(),
        ),
    )
    .unwrap();
    let (bus, topics) = poolpilot_tests::kafka_topics(
        &prefix,
        &[Topic::Aggregates, Topic::Decisions, Topic::Samples],
    )
    .await;
    let load = Arc::new(AtomicU64::new(0.9f64.to_bits()));
    let feeder = {
        let (bus, topic, pool, load) = (
            bus.clone(),
            topics.name(Topic::Aggregates),
            pool.clone(),
            load.clone(),
        );
        tokio::spawn(async move {
            loop {
                let kv_now = f64::from_bits(load.load(Ordering::Relaxed));
                let _ = bus
                    .publish(&topic, pool.as_bytes(), kv(&pool, kv_now, 1.0))
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let until = |want: i32| {
        let (client, target) = (client.clone(), target.clone());
        async move {
            tokio::time::timeout(WAIT, async {
                while replicas(&client, &target).await != want {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await
            .unwrap_or_else(|_| panic!("replicas never became {want}"));
            Instant::now()
        }
    };

    let mut first = Process::poolpilot("scaler", &config);
    until(2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    first.kill_9();
    let killed = Instant::now();
    load.store(0.1f64.to_bits(), Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restarted = Instant::now();
    let _second = Process::poolpilot("scaler", &config);
    let down = until(1).await;
    let since_kill = down - killed;
    assert!(
        since_kill >= Duration::from_millis(9_250),
        "scaled down {since_kill:?} after the last high recommendation; the window is 10 s"
    );
    assert!(
        down - restarted < Duration::from_secs(9),
        "the restored recommendations should let it scale down 10 s after the last high one, not 10 s after the restart ({:?} after it)",
        down - restarted
    );
    feeder.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_target_adds_simulated_servers() {
    let fleet = poolpilot_tests::sim_fleet(1).await;
    let pool = unique("pool");
    let target = TargetRef {
        namespace: "default".into(),
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "sim".into(),
    };
    let local = poolpilot::local::FleetTarget(fleet.clone());
    let pools = vec![Pool::new(pool_scaling(&pool, &target), Box::new(local)).unwrap()];
    let mut h = Harness::start(config(), pools, &pool, 0.9).await;
    let d = h.decision().await;
    assert!(d.patched, "{d:?}");
    assert_eq!(fleet.pods().len(), 2);
    fleet.shutdown().await;
}

/// `deploy/kubernetes/scaler-rbac.yaml`'s Role is enough to scale, and no more: bound
/// to a user with no other rights, it reads and patches `/scale` but cannot read the
/// Deployment itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_scaler_role_is_enough_to_scale_and_no_more() {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let admin = scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap();
    let target = namespace_with_deployment(&admin).await;
    let text = std::fs::read_to_string(
        poolpilot_tests::repo_root().join("deploy/kubernetes/scaler-rbac.yaml"),
    )
    .unwrap();
    let role: Role = text
        .split("\n---\n")
        .find(|d| d.contains("kind: Role\n"))
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .unwrap();
    Api::<Role>::namespaced(admin.clone(), &target.namespace)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "viewer-scales" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "poolpilot-scaler" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer" }]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), &target.namespace)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let viewer = scaler::kube_client(Some(&infra().viewer_kubeconfig))
        .await
        .unwrap();
    let scale = ScaleClient::new(viewer.clone(), target.clone())
        .await
        .unwrap();
    scale.patch_replicas(3).await.unwrap();
    assert_eq!(replicas(&admin, &target).await, 3);
    let read = Api::<Deployment>::namespaced(viewer, &target.namespace)
        .get(&target.name)
        .await;
    assert!(read.is_err(), "the Role grants more than /scale");
}

#[test]
fn replay_prints_one_decision_per_observation_for_the_seed_hpa() {
    let dir = std::env::temp_dir().join(unique("replay"));
    std::fs::create_dir_all(&dir).unwrap();
    let hpa = std::fs::read_to_string(poolpilot_tests::shared_dir().join("seed/hpa.yaml"))
        .unwrap()
        .replace("INFERENCE_POOL_NAMESPACE", "models")
        .replace("INFERENCE_POOL_NAME", "llama3")
        .replace("MIN_REPLICAS", "1")
        .replace("MAX_REPLICAS", "10")
        .replace("TARGET_VALUE", "0.5")
        .replace("CLUSTER_NAME", "dev");
    std::fs::write(dir.join("hpa.yaml"), hpa).unwrap();
    let line = |t: u32, kv: f64| {
        format!(
            "{{\"time\": {t}, \"spec_replicas\": 2, \"status_replicas\": 2, \"ready_pods\": 2, \"metrics\": {{\"inference_pool_average_kv_cache_utilization\": {kv}}}}}\n"
        )
    };
    std::fs::write(dir.join("t.jsonl"), line(0, 0.5) + &line(15, 0.9)).unwrap();
    let run = |stock: bool| {
        let mut cmd = std::process::Command::new(poolpilot_tests::binary());
        cmd.args([
            "scaler",
            "replay",
            "--hpa",
            "hpa.yaml",
            "--timeline",
            "t.jsonl",
        ]);
        if stock {
            cmd.arg("--stock");
        }
        let out = cmd.current_dir(&dir).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let ours = run(false);
    assert_eq!(ours.len(), 2);
    // Two pods averaging 0.9 against 0.5: ceil(2 × 0.9 / 0.5) = 4.
    assert_eq!(ours[1]["desired"], 4, "{:?}", ours[1]);
    // The stock HPA reads the average as a pool total: ceil(0.9 / 0.5) = 2.
    assert_eq!(run(true)[1]["desired"], 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A metric that stops arriving: no scale-down (even though the last value was low),
/// `poolpilot_scaler_metric_missing` set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metric_that_stops_arriving_blocks_scale_down_and_is_flagged() {
    let (client, target, pool, scale) = kube_pool().await;
    let mut scaling = pool_scaling(&pool, &target);
    scaling.hpa.behavior = Some(
        serde_json::from_value(
            serde_json::json!({ "scaleDown": { "stabilizationWindowSeconds": 0 } }),
        )
        .unwrap(),
    );
    let pools = vec![Pool::new(scaling, Box::new(scale)).unwrap()];
    let config = scaler::Config {
        freshness: Duration::from_millis(500),
        ..config()
    };
    let mut h = Harness::start(config, pools, &pool, 0.9).await;
    let up = h.decision().await;
    assert_eq!(up.desired_replicas, 2);
    // The metric stops: after the freshness limit it is missing, and scaling down
    // (what a zero value would ask for) does not happen.
    h.load.store(f64::NAN.to_bits(), Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(replicas(&client, &target).await, 2);
    let page = h.metrics.encode();
    assert!(
        page.lines()
            .any(|l| l.starts_with("poolpilot_scaler_metric_missing{")
                && l.contains(&pool)
                && l.ends_with(" 1")),
        "{page}"
    );
    // It comes back low: now the pool scales down.
    h.load.store(0.1f64.to_bits(), Ordering::Relaxed);
    let down = h.decision().await;
    assert_eq!(
        (down.current_replicas, down.desired_replicas),
        (2, 1),
        "{down:?}"
    );
}
