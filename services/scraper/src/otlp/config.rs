//! The `otlp:` section: where the receiver listens, how much it accepts, and which
//! resource attributes name a pushed resource's pool and pod.

use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};
use shared::config::{Problems, Validate, index, join};

/// The largest body we let anyone configure: past this a single request is a memory
/// problem, not a batch.
const MAX_BODY_CEILING: u64 = 1 << 30;

/// The OTLP metrics receiver's settings. Off by default: a scraper that only polls
/// should not open two more ports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// Whether to listen at all.
    pub enabled: bool,
    /// OTLP/gRPC listener; 4317 is the port every OpenTelemetry SDK and Collector
    /// sends to by default.
    pub grpc_listen: SocketAddr,
    /// OTLP/HTTP listener (`POST /v1/metrics`); 4318 is the spec's default port.
    pub http_listen: SocketAddr,
    /// Largest request accepted, after gzip is undone; a larger one is refused (HTTP
    /// 413, gRPC `OUT_OF_RANGE`) instead of filling memory.
    pub max_body_bytes: u64,
    /// Resource attributes that name the pool, first present wins: an SDK in a pod
    /// rarely knows our pool, but its Deployment or service name usually is it.
    pub pool_attributes: Vec<String>,
    /// Resource attributes that name the pod, first present wins.
    pub pod_attributes: Vec<String>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        let any = Ipv4Addr::UNSPECIFIED;
        Self {
            enabled: false,
            grpc_listen: SocketAddr::from((any, 4317)),
            http_listen: SocketAddr::from((any, 4318)),
            max_body_bytes: 4 << 20,
            pool_attributes: strings(&["poolpilot.pool", "k8s.deployment.name", "service.name"]),
            pod_attributes: strings(&["k8s.pod.name", "service.instance.id", "host.name"]),
        }
    }
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| (*s).to_owned()).collect()
}

impl Validate for OtlpConfig {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if self.max_body_bytes == 0 || self.max_body_bytes > MAX_BODY_CEILING {
            problems.push(
                join(path, "max_body_bytes"),
                format!(
                    "({}) must be above 0 and at most {MAX_BODY_CEILING} (1 GiB)",
                    self.max_body_bytes
                ),
            );
        }
        if self.grpc_listen == self.http_listen && self.grpc_listen.port() != 0 {
            problems.push(
                join(path, "http_listen"),
                format!("({}) must differ from grpc_listen", self.http_listen),
            );
        }
        for (field, keys) in [
            ("pool_attributes", &self.pool_attributes),
            ("pod_attributes", &self.pod_attributes),
        ] {
            let at = join(path, field);
            if keys.is_empty() {
                problems.push(at.clone(), "must name at least one resource attribute");
            }
            for (i, key) in keys.iter().enumerate() {
                if key.trim().is_empty() {
                    problems.push(index(&at, i), "must not be empty");
                }
            }
        }
    }
}
