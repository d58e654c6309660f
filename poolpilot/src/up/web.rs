//! The live page of `poolpilot up`: one static file (no build step, nothing from the
//! network) that polls `GET /api/state`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use tokio::net::TcpListener;

use super::dashboard::Dashboard;
use super::wall_now;

const PAGE: &str = include_str!("page.html");

/// Binds `addr` and serves until `stop`; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    dashboard: Arc<Mutex<Dashboard>>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("the web page on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/state", get(state))
        .with_state(dashboard);
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "The web page stopped.");
        }
    });
    Ok(bound)
}

async fn state(State(dashboard): State<Arc<Mutex<Dashboard>>>) -> impl IntoResponse {
    let body = {
        let d = dashboard.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::to_string(&d.state(wall_now())).unwrap_or_default()
    };
    ([(header::CONTENT_TYPE, "application/json")], body)
}
