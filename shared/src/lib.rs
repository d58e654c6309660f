//! What every poolpilot part shares: the wire contract of DESIGN §3, the [`bus::Bus`]
//! with its Kafka and embedded implementations, configuration loading with
//! file:line:column problems, telemetry (logs, traces, `/healthz`, `/readyz`,
//! `/metrics`) and graceful shutdown.
//!
//! # Layout
//! - [`wire`]: topic names, the OTLP-protobuf sample encoding, the JSON events.
//! - [`bus`]: the [`bus::Bus`] trait, [`bus::kafka`] over rdkafka, [`bus::embedded`]
//!   in process, and [`bus::typed`], the decode-or-skip consumer every service uses.
//! - [`config`]: YAML loading, `${VAR}` expansion, validation with source places,
//!   durations as Prometheus writes them.
//! - [`telemetry`]: tracing set-up, the admin HTTP server, the shared metric registry.
//! - [`hash`]: stable FNV-1a and chained prefix-block hashes.
//! - [`histogram`]: fixed-bound histograms as plain data.
//! - [`models`]: per-model request metrics (`inference_model_*`) and their exposition.
//! - `kube` (feature `kube`): a Kubernetes client from a kubeconfig or in-cluster.
//! - [`shutdown`]: SIGTERM/SIGINT as a future.
//! - [`store`]: state that survives restarts (sled behind a small trait).
//! - [`Deps`]: what a service's `run` is handed besides its config.

pub mod bus;
pub mod config;
pub mod hash;
pub mod histogram;
#[cfg(feature = "kube")]
pub mod kube;
pub mod models;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod wire;

use std::sync::Arc;

/// What a service's `run` gets from whoever starts it, besides its config: the bus it
/// talks over and the places it reports its health and metrics. `poolpilot up` hands
/// every service the same `Deps`, so they share one admin server.
#[derive(Clone)]
pub struct Deps {
    /// The bus: Kafka or embedded; a service never knows which.
    pub bus: Arc<dyn bus::Bus>,
    /// The topic names under the configured prefix.
    pub topics: wire::Topics,
    /// Where the service registers its metrics; served on `/metrics`.
    pub metrics: telemetry::MetricsRegistry,
    /// Where the service says it is ready; served on `/readyz`.
    pub health: telemetry::Health,
    /// The bus's own counters (skipped messages), for [`bus::typed::Typed`].
    pub bus_metrics: bus::typed::BusMetrics,
}

impl Deps {
    /// Deps over `bus` with a fresh registry (holding `poolpilot_build_info` and the
    /// bus's counters) and an empty health table.
    pub fn new(bus: Arc<dyn bus::Bus>, topics: wire::Topics) -> Self {
        let metrics = telemetry::MetricsRegistry::default();
        metrics.register(
            "poolpilot_build",
            "The poolpilot version serving these metrics",
            prometheus_client::metrics::info::Info::new(vec![(
                "version",
                env!("CARGO_PKG_VERSION"),
            )]),
        );
        Self {
            bus,
            topics,
            bus_metrics: bus::typed::BusMetrics::register(&metrics),
            metrics,
            health: telemetry::Health::default(),
        }
    }
}
