//! HTTP proxy of the OpenAI-compatible router: accepts client requests, asks a
//! [`Router`] where to send them, forwards them upstream and streams the answer
//! back unchanged, reporting one [`RequestRecord`] per request.
//!
//! # Layout
//! - `types.rs`: the boundary with the routing module ([`Router`], [`RouteDecision`],
//!   [`RequestRecord`], [`ProxyConfig`], [`ProxyError`]).
//! - `server.rs`: listener, HTTP/1.1 + h2c connections, dispatch by path, shutdown.
//! - `request.rs`: body reading, validation, prompt extraction, `model` rewrite.
//! - `pool.rs`: each worker's upstream HTTP/1.1 connections, idle ones by endpoint.
//! - `upstream.rs`: header filtering, retry and error classification.
//! - `stream.rs`: pass-through response body (TTFT, token counting, disconnect).
//! - `record.rs`: guards that report `finished`/`completed` exactly once.
//! - `errors.rs`: OpenAI-style error bodies and RFC 9209 `Proxy-Status` values.

mod errors;
mod guarded;
mod pool;
mod record;
mod request;
mod server;
mod stream;
mod types;
mod upstream;

#[cfg(test)]
mod tests;

pub use server::{ProxyHandle, serve};
pub use types::{
    Criticality, ProxyConfig, ProxyError, RequestRecord, RouteDecision, RouteRequest, Router,
};
