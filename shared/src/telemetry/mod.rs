//! Telemetry every service shares: structured logs (text or JSON) with OTLP trace
//! export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the metric registry served on
//! `/metrics`, the readiness table served on `/readyz`, and the admin HTTP server.
//!
//! # Layout
//! - `logs.rs`: [`init`] and its config.
//! - `registry.rs`: [`MetricsRegistry`] and [`Health`].
//! - `admin.rs`: [`serve_admin`]: `/healthz`, `/readyz`, `/metrics`.

mod admin;
mod logs;
mod registry;

pub use admin::{AdminServer, serve_admin};
pub use logs::{LogFormat, TelemetryConfig, TelemetryGuard, init, traces_enabled};
pub use registry::{Health, MetricsRegistry, Readiness};
