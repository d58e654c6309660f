//! Test fixtures: alert builders, a scriptable local webhook receiver, and a
//! real Alertmanager process.

use std::collections::{BTreeMap, VecDeque};
use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::notify::Alert;

pub type TestResult = Result<(), Box<dyn Error>>;

/// 2024-05-01T10:00:00Z.
pub const T0: i64 = 1_714_557_600_000;

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A firing alert as the evaluator reports it: open-ended, started at `starts_at_ms`.
pub fn firing(pairs: &[(&str, &str)], starts_at_ms: i64) -> Alert {
    Alert {
        labels: labels(pairs),
        annotations: BTreeMap::new(),
        starts_at_ms,
        ends_at_ms: None,
        generator_url: String::new(),
    }
}

/// The same alert, resolved at `ends_at_ms`.
pub fn resolved(alert: &Alert, ends_at_ms: i64) -> Alert {
    Alert {
        ends_at_ms: Some(ends_at_ms),
        ..alert.clone()
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Captured {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Captured {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Clone)]
struct Shared {
    captured: Arc<Mutex<Vec<Captured>>>,
    /// Statuses to answer with, in order; 200 once used up.
    statuses: Arc<Mutex<VecDeque<u16>>>,
    count: Arc<watch::Sender<usize>>,
    released: watch::Receiver<bool>,
}

/// A local HTTP receiver on 127.0.0.1 that records every POST.
pub struct Receiver {
    pub url: String,
    shared: Shared,
    release: watch::Sender<bool>,
}

impl Receiver {
    /// Answers with `statuses` in order, then 200.
    pub async fn start(statuses: &[u16]) -> Result<Self, Box<dyn Error>> {
        Self::start_with(statuses, true).await
    }

    /// Records each request but answers only after `release`.
    pub async fn start_held() -> Result<Self, Box<dyn Error>> {
        Self::start_with(&[], false).await
    }

    async fn start_with(statuses: &[u16], released: bool) -> Result<Self, Box<dyn Error>> {
        let (release, released_rx) = watch::channel(released);
        let shared = Shared {
            captured: Arc::default(),
            statuses: Arc::new(Mutex::new(statuses.iter().copied().collect())),
            count: Arc::new(watch::channel(0).0),
            released: released_rx,
        };
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            url,
            shared,
            release,
        })
    }

    pub fn release(&self) {
        self.release.send_replace(true);
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.shared
            .captured
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (10 s at most) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Result<Vec<Captured>, Box<dyn Error>> {
        let mut count = self.shared.count.subscribe();
        tokio::time::timeout(Duration::from_secs(10), count.wait_for(|c| *c >= n))
            .await
            .map_err(|_| format!("receiver got {} requests, not {n}", self.captured().len()))??;
        Ok(self.captured())
    }
}

async fn record(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    shared
        .captured
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Captured {
            headers,
            body: body.to_vec(),
        });
    shared.count.send_modify(|c| *c += 1);
    let mut released = shared.released.clone();
    // Err only when the Receiver is gone, and then answering does not matter.
    let _ = released.wait_for(|r| *r).await;
    let status = shared
        .statuses
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop_front()
        .unwrap_or(200);
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An address that accepts connections and never answers.
pub async fn black_hole() -> Result<String, Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(url)
}

/// An address nothing listens on.
pub fn free_addr() -> Result<SocketAddr, Box<dyn Error>> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

pub const ALERTMANAGER_BIN: &str = "/usr/bin/prometheus-alertmanager";

/// A real Alertmanager routing every alert to one webhook, killed on drop.
pub struct AlertmanagerProcess {
    pub url: String,
    child: Child,
    dir: PathBuf,
}

impl AlertmanagerProcess {
    /// Starts it with clustering off, group_wait 1s, group_interval 1s, and waits until ready.
    pub async fn start(webhook_url: &str, receiver: &str) -> Result<Self, Box<dyn Error>> {
        if !Path::new(ALERTMANAGER_BIN).exists() {
            return Err(format!(
                "{ALERTMANAGER_BIN} is missing: install Debian's prometheus-alertmanager"
            )
            .into());
        }
        static RUN: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "h-notify-am-{}-{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let config = format!(
            "route:\n  receiver: '{receiver}'\n  group_by: ['alertname']\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: '{receiver}'\n    \
             webhook_configs:\n      - url: '{webhook_url}'\n        send_resolved: true\n"
        );
        std::fs::write(dir.join("alertmanager.yml"), config)?;
        let addr = free_addr()?;
        let log = std::fs::File::create(dir.join("alertmanager.log"))?;
        let child = Command::new(ALERTMANAGER_BIN)
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=")
            .arg("--web.external-url=http://am.example:9093/")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let mut process = Self {
            url: format!("http://{addr}"),
            child,
            dir,
        };
        process.wait_ready().await?;
        Ok(process)
    }

    async fn wait_ready(&mut self) -> TestResult {
        let client = reqwest::Client::new();
        for _ in 0..150 {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("alertmanager exited with {status}: {}", self.log()).into());
            }
            let ready = client.get(format!("{}/-/ready", self.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("alertmanager not ready after 15s: {}", self.log()).into())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("alertmanager.log")).unwrap_or_default()
    }
}

impl Drop for AlertmanagerProcess {
    fn drop(&mut self) {
        // Kills the process this fixture started, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
