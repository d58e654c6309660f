//! The fleet: simulated pods that can be added and removed while running. This is
//! the handle the scaler's local target uses to close the loop in `poolpilot up`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::server::{self, Pod};

/// A pod as the rest of the system sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
    /// `pool-index`.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl PodInfo {
    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

struct Running {
    info: PodInfo,
    pod: Arc<Pod>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// The running pods.
pub struct Fleet {
    config: Config,
    pods: Mutex<BTreeMap<usize, Running>>,
    next: Mutex<usize>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Fleet {
    /// Starts `config.servers` pods.
    pub async fn start(config: Config) -> std::io::Result<Arc<Self>> {
        let fleet = Arc::new(Self {
            config,
            pods: Mutex::new(BTreeMap::new()),
            next: Mutex::new(0),
        });
        for _ in 0..fleet.config.servers {
            fleet.add().await?;
        }
        Ok(fleet)
    }

    /// Starts one more pod; pod `i` runs at `speeds[i % len]`.
    pub async fn add(&self) -> std::io::Result<PodInfo> {
        let index = {
            let mut next = lock(&self.next);
            *next += 1;
            *next - 1
        };
        let port = if self.config.base_port == 0 {
            0
        } else {
            self.config.base_port.saturating_add(index as u16)
        };
        let listener = TcpListener::bind(SocketAddr::new(self.config.host, port)).await?;
        let info = PodInfo {
            name: format!("{}-{index}", self.config.pool),
            addr: listener.local_addr()?,
        };
        let speed = self.config.speeds[index % self.config.speeds.len()];
        let pod = Pod::new(
            info.name.clone(),
            self.config.pool.clone(),
            self.config.server.clone(),
            speed,
        );
        let stop = CancellationToken::new();
        let driver = tokio::spawn(server::drive(pod.clone(), stop.clone()));
        let app = server::router(pod.clone());
        let (name, serve_stop) = (info.name.clone(), stop.clone());
        let task = tokio::spawn(async move {
            // Graceful: stop accepting, let in-flight responses finish, then stop the engine.
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(serve_stop.clone().cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::warn!(pod = %name, error = %e, "Simulated server failed.");
            }
            serve_stop.cancel();
            let _ = driver.await;
        });
        tracing::info!(pod = %info.name, addr = %info.addr, speed, "Simulated server started.");
        lock(&self.pods).insert(
            index,
            Running {
                info: info.clone(),
                pod,
                stop,
                task,
            },
        );
        Ok(info)
    }

    /// Stops the newest pod, as a scale-down removes one; returns it, or `None` when
    /// the fleet is empty.
    pub async fn remove_newest(&self) -> Option<PodInfo> {
        let (info, stopped) = self.stop_newest()?;
        stopped.await;
        Some(info)
    }

    /// Takes the newest pod out of the fleet at once and tells it to stop, as a
    /// Deployment scaled down does; the returned future ends when it has stopped
    /// (its in-flight requests drained).
    pub fn stop_newest(&self) -> Option<(PodInfo, impl Future<Output = ()> + Send + 'static)> {
        let running = {
            let mut pods = lock(&self.pods);
            let last = *pods.keys().next_back()?;
            pods.remove(&last)?
        };
        running.stop.cancel();
        let info = running.info.clone();
        Some((info, async move {
            // The driver stops with the server: requests still in flight end with 503.
            let _ = running.task.await;
            tracing::info!(pod = %running.info.name, "Simulated server stopped.");
        }))
    }

    /// The running pods, oldest first.
    pub fn pods(&self) -> Vec<PodInfo> {
        lock(&self.pods).values().map(|r| r.info.clone()).collect()
    }

    /// The pod named `name`, for callers that want its engine's load.
    pub fn pod(&self, name: &str) -> Option<Arc<Pod>> {
        lock(&self.pods)
            .values()
            .find(|r| r.info.name == name)
            .map(|r| r.pod.clone())
    }

    /// Stops every pod.
    pub async fn shutdown(&self) {
        while self.remove_newest().await.is_some() {}
    }
}
