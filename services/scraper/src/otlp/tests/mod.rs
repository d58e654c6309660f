//! The receiver's tests: routing rules as pure cases, then both servers on
//! `127.0.0.1:0` over the embedded bus.
//!
//! # Layout
//! - `support.rs`: a running receiver with a samples subscription, request builders.
//! - `config.rs`: defaults, YAML, validation.
//! - `routing.rs`: [`super::route`]: precedence, rejection counts, rewriting.
//! - `exporter.rs`: the real `opentelemetry-otlp` exporter over gRPC and HTTP.
//! - `garbage.rs`: what bad clients get, and that good ones do not notice.

mod config;
mod exporter;
mod garbage;
mod routing;
mod support;
