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
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use poolpilot_tests::{infra, unique};
use scaler::{Pool, PoolScaling, Replicas, ScaleClient, ScaleError, ScaleTarget, TargetRef};
use shared::bus::embedded::EmbeddedBus;
use shared::bus::typed::Typed;
use shared::bus::{Bus, StartFrom, Subscribe, TopicSpec};
use shared::wire::{
    Aggregates, RawKind, RawSample, ScaleDecision, Topic, Topics, encode_aggregates,
};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

async fn namespace_with_deployment(client: &kube::Client) -> TargetRef {
    let ns = unique("scale");
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": ns } })).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "llama3" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "llama3" } },
            "template": {
                "metadata": { "labels": { "app": "llama3" } },
                "spec": { "containers": [{ "name": "vllm", "image": "vllm/vllm-openai:latest" }] }
            }
        }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    TargetRef {
        namespace: ns,
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "llama3".into(),
    }
}

async fn replicas(client: &kube::Client, target: &TargetRef) -> i32 {
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
fn pool_scaling(pool: &str, target: &TargetRef) -> PoolScaling {
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

fn kv(pool: &str, kv: f64, ready: f64) -> Bytes {
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
        let (b, t, p, s) = (
            bus.clone(),
            topics.name(Topic::Aggregates),
            pool.to_owned(),
            stop.clone(),
        );
        tokio::spawn(async move {
            while !s.is_cancelled() {
                let _ = b.publish(&t, p.as_bytes(), kv(&p, load, 1.0)).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self {
            bus,
            topics,
            stop,
            decisions,
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

fn config() -> scaler::Config {
    scaler::Config {
        interval: Duration::from_millis(100),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scaler_patches_a_deployment_from_the_aggregates_it_reads() {
    let client = scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap();
    let target = namespace_with_deployment(&client).await;
    let pool = unique("pool");
    let scale = ScaleClient::new(client.clone(), target.clone())
        .await
        .unwrap();
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
    let client = scaler::kube_client(Some(&infra().kubeconfig))
        .await
        .unwrap();
    let target = namespace_with_deployment(&client).await;
    let pool = unique("pool");
    let scale = ScaleClient::new(client.clone(), target.clone())
        .await
        .unwrap();
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
