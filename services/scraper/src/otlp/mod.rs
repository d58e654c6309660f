//! The OTLP metrics receiver (DESIGN §2): OpenTelemetry SDKs and Collectors push
//! metrics over OTLP/gRPC (4317) or OTLP/HTTP with protobuf bodies (4318), as the
//! OpenTelemetry protocol specification defines them. Each pushed resource is placed
//! in a pool and pod from its resource attributes and published, metrics untouched,
//! to `samples.v1` as one `ExportMetricsServiceRequest` keyed `pool/pod`: the same
//! encoding the scraper and the Collector's Kafka exporter write. Resources that name
//! no pool or pod are refused with the spec's `partial_success`, the rest published.
//!
//! # Layout
//! - `config.rs`: [`OtlpConfig`], the `otlp:` section.
//! - `core.rs`: [`route`], the pure split into per-pod messages.
//! - `ingest.rs`: route, publish, count, answer: what both transports share.
//! - `grpc.rs`: the tonic `MetricsService`.
//! - `http.rs`: axum's `POST /v1/metrics`, gzip and limits.
//! - `server.rs`: [`OtlpServer`] and [`serve`]: binding, serving, shutdown.
//! - `events.rs`: what the receiver logs and counts.
//! - `tests/`: the routing rules, and both servers end to end against the
//!   `opentelemetry-otlp` exporter over the embedded bus.

mod config;
mod core;
mod events;
mod grpc;
mod http;
mod ingest;
mod server;

#[cfg(test)]
mod tests;

pub use self::core::{POD_ATTRIBUTE, POOL_ATTRIBUTE, Routed, data_points, route};
pub use config::OtlpConfig;
pub use http::RpcStatus;
pub use server::{OtlpError, OtlpServer, serve};
