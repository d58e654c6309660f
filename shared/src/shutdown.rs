//! SIGTERM and SIGINT as a future: the binary hands it to `run`, which drains and
//! returns (linkerd2-proxy `main.rs`: signal → drain with a grace period).

use tokio::signal::unix::{SignalKind, signal};

/// Resolves on the first SIGTERM or SIGINT. If a handler cannot be installed (no
/// signal support), it resolves only on the other one, and never if neither works.
pub async fn signal_received() {
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    let int = async {
        match signal(SignalKind::interrupt()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = term => tracing::info!(signal = "SIGTERM", "Shutting down."),
        () = int => tracing::info!(signal = "SIGINT", "Shutting down."),
    }
}
