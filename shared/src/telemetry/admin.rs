//! The admin HTTP server every service runs: `/healthz` (the process is alive),
//! `/readyz` (every component is ready), `/metrics` (OpenMetrics text).

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use super::{Health, MetricsRegistry};

#[derive(Clone)]
struct AdminState {
    metrics: MetricsRegistry,
    health: Health,
}

/// A bound admin server: its address is known before it serves.
pub struct AdminServer {
    listener: TcpListener,
    router: Router,
}

/// Binds the admin server on `addr` (port 0 picks a free one).
pub async fn serve_admin(
    addr: SocketAddr,
    metrics: MetricsRegistry,
    health: Health,
) -> std::io::Result<AdminServer> {
    let listener = TcpListener::bind(addr).await?;
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AdminState { metrics, health });
    Ok(AdminServer { listener, router })
}

impl AdminServer {
    /// Where it listens.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

async fn readyz(State(s): State<AdminState>) -> impl IntoResponse {
    let waiting = s.health.not_ready();
    if waiting.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", waiting.join(", ")),
        )
    }
}

async fn metrics_text(State(s): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}
