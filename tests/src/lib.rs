//! What the integration tests share: the real components from `dev/infra`, unique
//! names so tests never share a topic, group or namespace, and a tiny HTTP client.
//!
//! A component that cannot start fails the test that needs it, loudly, with the dev
//! script's output: nothing here skips.

#![allow(clippy::disallowed_methods)] // test harness: deadlines and unique names read the clock

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Where the real components listen, from `dev/infra env`.
#[derive(Debug)]
pub struct Infra {
    /// `bootstrap.servers` of the Kafka broker.
    pub kafka_brokers: String,
    /// An admin kubeconfig for the kube-apiserver.
    pub kubeconfig: PathBuf,
    /// A kubeconfig whose user has no RBAC bindings.
    pub viewer_kubeconfig: PathBuf,
    /// Prometheus' base URL.
    pub prometheus_url: String,
    /// Alertmanager's base URL.
    pub alertmanager_url: String,
    /// The promtool binary.
    pub promtool: PathBuf,
    /// kubectl, built from the same `k8s.io/kubernetes` version as the API server.
    pub kubectl: PathBuf,
    /// The CRDs `deploy/kubernetes` needs (InferencePool, ServiceMonitor, PodMonitoring),
    /// as their projects publish them.
    pub crds: PathBuf,
    /// `dev/infra` itself, for `kafka-stop` / `kafka-start`.
    pub script: PathBuf,
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The shared fixtures beside the repository (`../shared`).
pub fn shared_dir() -> PathBuf {
    repo_root()
        .parent()
        .expect("the repo has a parent")
        .join("shared")
}

/// The real components, started by `dev/infra up` on first use (idempotent: a
/// running component is left alone).
pub fn infra() -> &'static Infra {
    static INFRA: OnceLock<Infra> = OnceLock::new();
    INFRA.get_or_init(|| {
        let script = repo_root().join("dev/infra");
        if std::env::var_os("POOLPILOT_INFRA_UP").is_none() {
            run_script(&script, &["up"]);
        }
        let env: HashMap<String, String> = run_script(&script, &["env"])
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches(['\'', '"']).to_owned()))
            .collect();
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("dev/infra env did not print {k}: {env:?}"))
        };
        Infra {
            kafka_brokers: get("POOLPILOT_KAFKA_BROKERS"),
            kubeconfig: get("POOLPILOT_KUBECONFIG").into(),
            viewer_kubeconfig: get("POOLPILOT_KUBECONFIG_VIEWER").into(),
            prometheus_url: get("POOLPILOT_PROMETHEUS_URL"),
            alertmanager_url: get("POOLPILOT_ALERTMANAGER_URL"),
            promtool: get("POOLPILOT_PROMTOOL").into(),
            kubectl: get("POOLPILOT_KUBECTL").into(),
            crds: get("POOLPILOT_CRDS").into(),
            script,
        }
    })
}

fn run_script(script: &Path, args: &[&str]) -> String {
    let out = Command::new(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{} {args:?}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{}\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Infra {
    /// Runs a `dev/infra` verb (`kafka-stop`, `kafka-start`).
    pub fn script(&self, verb: &str) -> String {
        run_script(&self.script, &[verb])
    }
}

static KAFKA: RwLock<()> = RwLock::const_new(());

/// Held by every test that uses the broker, so it never goes down under them.
pub async fn kafka_shared() -> RwLockReadGuard<'static, ()> {
    KAFKA.read().await
}

/// Held by the test that stops the broker.
pub async fn kafka_exclusive() -> RwLockWriteGuard<'static, ()> {
    KAFKA.write().await
}

/// A name no other test (or earlier run) uses: `prefix-<pid>-<n>-<millis>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000_000)
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{millis}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `check` until it returns `Some`, failing with `what` at the deadline.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A response from [`http_get`].
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
}

/// `GET path` over HTTP/1.1 on `addr`, connection closed after.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok(Response { status, body })
}

/// A child process killed (and reaped) when dropped, so a failing test leaves nothing
/// running; `.0` is the child, for a test that kills or waits on it itself.
pub struct Process(pub std::process::Child);

impl Process {
    /// `poolpilot <part> --config <config>` (the built [`binary`]) from the repository
    /// root, its output discarded.
    pub fn poolpilot(part: &str, config: &Path) -> Self {
        Self::spawn(
            Command::new(binary())
                .args([part, "--config"])
                .arg(config)
                .current_dir(repo_root()),
        )
    }

    /// Starts `command`, its output discarded.
    pub fn spawn(command: &mut Command) -> Self {
        Process(
            command
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    /// `kill -9`, so that no shutdown path runs; returns once the process is gone.
    pub fn kill_9(&mut self) {
        Command::new("kill")
            .args(["-9", &self.0.id().to_string()])
            .status()
            .unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `poolpilot` binary cargo built beside the test binary.
pub fn binary() -> PathBuf {
    // target/<profile>/deps/it-<hash> → target/<profile>/poolpilot
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("poolpilot");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p poolpilot`)",
        bin.display()
    );
    bin
}

/// `/proc/<pid>/task/<tid>` of the calling thread, for [`thread_cpu`] (benchmarks).
pub fn this_thread_task() -> String {
    std::fs::read_link("/proc/thread-self")
        .map(|p| format!("/proc/{}", p.display()))
        .unwrap_or_default()
}

/// CPU seconds a thread has used so far, from its `/proc/…/task/<tid>/stat` (user +
/// system, in clock ticks of 1/100 s). Benchmarks use it to say how much of one core a
/// component pinned to one thread needs.
pub fn thread_cpu(task: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("{task}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// A simulated fleet of `servers` default pods on loopback.
pub async fn sim_fleet(servers: u32) -> std::sync::Arc<simulator::Fleet> {
    let config = simulator::Config {
        servers,
        ..Default::default()
    };
    simulator::Fleet::start(config)
        .await
        .expect("the simulated fleet binds on loopback")
}

/// `n` streamed completions of a `prompt_chars`-character prompt asking for
/// `max_tokens`, sent to `base` at once and held unread: each runs until its response
/// is dropped (dropping it aborts the request, as a client that leaves).
pub async fn hold_completions(
    base: &str,
    n: usize,
    prompt_chars: usize,
    max_tokens: u32,
) -> Vec<reqwest::Response> {
    let client = reqwest::Client::new();
    let body = serde_json::json!({ "prompt": "q".repeat(prompt_chars), "max_tokens": max_tokens, "stream": true });
    let sends = (0..n).map(|_| {
        client
            .post(format!("{base}/v1/completions"))
            .json(&body)
            .send()
    });
    futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.expect("the simulated server answers"))
        .collect()
}

/// One request a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request headers.
    pub headers: axum::http::HeaderMap,
    /// The raw body.
    pub body: bytes::Bytes,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: serde_json::Value,
}

/// A webhook receiver on loopback that keeps every request it gets and answers with
/// the status set by [`Receiver::set_status`] (200 at first).
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
}

impl Receiver {
    /// Starts one on an ephemeral port.
    pub async fn start() -> Self {
        use std::sync::atomic::{AtomicU16, Ordering};
        use std::sync::{Arc, Mutex};
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (g, s) = (got.clone(), status.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: bytes::Bytes| async move {
                    let json = serde_json::from_slice(&body).unwrap_or_default();
                    g.lock().unwrap().push(Received {
                        headers,
                        body,
                        json,
                    });
                    axum::http::StatusCode::from_u16(s.load(Ordering::Relaxed))
                        .unwrap_or(axum::http::StatusCode::OK)
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, got, status }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The status later requests are answered with.
    pub fn set_status(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A namespace of its own for one test, named `<prefix>-…`.
pub async fn fresh_namespace(client: &kube::Client, prefix: &str) -> String {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, PostParams};
    let ns = unique(prefix);
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": ns } })).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    ns
}

/// A fresh namespace holding a one-replica Deployment `llama3` (no controllers run in
/// the test API server, so it never gets pods): what the scaler's tests scale.
pub async fn namespace_with_deployment(client: &kube::Client) -> scaler::TargetRef {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{Api, PostParams};
    let ns = fresh_namespace(client, "it").await;
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
    scaler::TargetRef {
        namespace: ns,
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "llama3".into(),
    }
}

/// A client of the shared Kafka broker and `topics` created under `prefix` (two
/// partitions each), for tests that feed or read a part over Kafka.
pub async fn kafka_topics(
    prefix: &str,
    topics: &[shared::wire::Topic],
) -> (
    std::sync::Arc<shared::bus::kafka::KafkaBus>,
    shared::wire::Topics,
) {
    use shared::bus::Bus;
    let bus = std::sync::Arc::new(
        shared::bus::kafka::KafkaBus::new(&shared::bus::KafkaConfig {
            brokers: infra().kafka_brokers.clone(),
            ..Default::default()
        })
        .unwrap(),
    );
    let names = shared::wire::Topics::new(prefix);
    let specs: Vec<_> = topics
        .iter()
        .map(|&t| shared::bus::TopicSpec {
            name: names.name(t),
            partitions: 2,
        })
        .collect();
    bus.ensure_topics(&specs).await.unwrap();
    (bus, names)
}
