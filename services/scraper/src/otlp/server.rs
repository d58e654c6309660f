//! The receiver's I/O shell: bind both listeners, serve them side by side, stop both
//! when either fails or `shutdown` resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use shared::Deps;
use shared::telemetry::Readiness;
use shared::wire::Topic;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::events::OtlpMetrics;
use super::ingest::Ingest;
use super::{OtlpConfig, grpc, http};

/// What stops the receiver. Each names the listener and its address.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// A listener could not be opened (port taken, address not ours).
    #[error("otlp {transport} listener {addr}: bind: {source}")]
    Bind {
        /// `grpc` or `http`.
        transport: &'static str,
        /// The configured address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A listener failed while serving.
    #[error("otlp {transport} listener {addr}: {reason}")]
    Serve {
        /// `grpc` or `http`.
        transport: &'static str,
        /// The bound address.
        addr: SocketAddr,
        /// What the server said.
        reason: String,
    },
}

/// A receiver with both listeners bound but not yet serving, so a caller that binds
/// port 0 (tests, `poolpilot up` on a busy laptop) can learn the real addresses first.
pub struct OtlpServer {
    grpc: TcpListener,
    http: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    ingest: Arc<Ingest>,
    max_body: usize,
    ready: Readiness,
}

impl OtlpServer {
    /// Binds `cfg.grpc_listen` and `cfg.http_listen` and registers the receiver's
    /// metrics and readiness (`scraper-otlp`) on `deps`. Ignores `cfg.enabled`: the
    /// caller asked for a server.
    pub async fn bind(cfg: OtlpConfig, deps: &Deps) -> Result<Self, OtlpError> {
        let (grpc, grpc_addr) = listen("grpc", cfg.grpc_listen).await?;
        let (http, http_addr) = listen("http", cfg.http_listen).await?;
        let max_body = usize::try_from(cfg.max_body_bytes).unwrap_or(usize::MAX);
        let ingest = Arc::new(Ingest {
            bus: deps.bus.clone(),
            topic: deps.topics.name(Topic::Samples),
            metrics: OtlpMetrics::register(&deps.metrics),
            cfg,
        });
        Ok(Self {
            grpc,
            http,
            grpc_addr,
            http_addr,
            ingest,
            max_body,
            ready: deps.health.component("scraper-otlp"),
        })
    }

    /// Where OTLP/gRPC is served.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where OTLP/HTTP is served.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Serves both listeners until `shutdown` resolves (then finishes in-flight
    /// requests) or one of them fails (then stops the other and returns its error).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), OtlpError> {
        let stop = CancellationToken::new();
        let watcher = tokio::spawn({
            let stop = stop.clone();
            async move {
                shutdown.await;
                stop.cancel();
            }
        });
        let (grpc_addr, http_addr) = (self.grpc_addr, self.http_addr);
        let grpc = {
            let stop = stop.clone();
            let served = grpc::serve(
                self.grpc,
                self.ingest.clone(),
                self.max_body,
                stop.clone().cancelled_owned(),
            );
            async move {
                let result = served.await.map_err(|e| OtlpError::Serve {
                    transport: "grpc",
                    addr: grpc_addr,
                    reason: e.to_string(),
                });
                stop.cancel();
                result
            }
        };
        let http = {
            let stop = stop.clone();
            let served = http::serve(
                self.http,
                self.ingest,
                self.max_body,
                stop.clone().cancelled_owned(),
            );
            async move {
                let result = served.await.map_err(|e| OtlpError::Serve {
                    transport: "http",
                    addr: http_addr,
                    reason: e.to_string(),
                });
                stop.cancel();
                result
            }
        };
        self.ready.set(true);
        tracing::info!(%grpc_addr, %http_addr, "OTLP receiver started.");
        let (grpc, http) = tokio::join!(grpc, http);
        watcher.abort();
        self.ready.set(false);
        tracing::info!("OTLP receiver stopped.");
        grpc.and(http)
    }
}

async fn listen(
    transport: &'static str,
    addr: SocketAddr,
) -> Result<(TcpListener, SocketAddr), OtlpError> {
    let bind_error = |source| OtlpError::Bind {
        transport,
        addr,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// Runs the receiver until `shutdown`: binds both listeners (an error names the address
/// that could not be bound) and serves them. With `cfg.enabled` false it opens nothing
/// and just waits for `shutdown`, so callers can run it unconditionally beside the
/// scrape loops.
pub async fn serve(
    cfg: OtlpConfig,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), OtlpError> {
    if !cfg.enabled {
        shutdown.await;
        return Ok(());
    }
    OtlpServer::bind(cfg, &deps).await?.run(shutdown).await
}
