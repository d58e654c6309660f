//! The pure part of the receiver: which pod each pushed resource belongs to, and what
//! goes on the bus for it. No I/O and no clock, so every rule is a plain test.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, metric};

use super::OtlpConfig;

/// The pool attribute every consumer of `samples.v1` reads (shared/src/wire/samples.rs).
pub const POOL_ATTRIBUTE: &str = "poolpilot.pool";
/// The pod attribute every consumer of `samples.v1` reads.
pub const POD_ATTRIBUTE: &str = "k8s.pod.name";

/// The semantic-conventions attribute SDKs always set.
const SERVICE_NAME: &str = "service.name";
/// What SDKs put in `service.name` when the user set none (OpenTelemetry resource SDK
/// spec).
const UNKNOWN_SERVICE: &str = "unknown_service";

/// At most this many rejected resources are described in the error message; a client
/// sending a thousand unnamed resources gets a count, not a megabyte of text.
const DESCRIBED: usize = 3;

/// What one export request becomes: messages for the bus and an account of what was
/// refused, which the transports turn into the spec's `partial_success`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Routed {
    /// `(pool/pod key, request holding exactly one ResourceMetrics)`, in request order,
    /// so one pod's messages stay in order on its partition.
    pub messages: Vec<(String, ExportMetricsServiceRequest)>,
    /// Data points in `messages`, for the receiver's own counters.
    pub accepted_data_points: i64,
    /// Data points of resources we could not place, as the spec counts them.
    pub rejected_data_points: i64,
    /// Why they were refused, naming each resource and the attributes looked for.
    pub error: Option<String>,
}

/// Splits `request` into one message per resource, keyed `pool/pod`, with
/// `poolpilot.pool` and `k8s.pod.name` set from the first configured attributes
/// present; a resource without a pool or pod is refused and its data points counted.
/// Metrics are passed on untouched: a Collector reading the topic gets everything.
pub fn route(request: ExportMetricsServiceRequest, cfg: &OtlpConfig) -> Routed {
    let mut routed = Routed::default();
    let mut problems = Vec::new();
    for (i, mut rm) in request.resource_metrics.into_iter().enumerate() {
        let points = data_points(&rm);
        let attrs = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let (pool, pod) = match (
            first_present(attrs, &cfg.pool_attributes),
            first_present(attrs, &cfg.pod_attributes),
        ) {
            (Some(pool), Some(pod)) => (pool, pod),
            (pool, pod) => {
                routed.rejected_data_points = routed.rejected_data_points.saturating_add(points);
                problems.push(describe(i, points, pool.is_none(), pod.is_none(), cfg));
                continue;
            }
        };
        let key = format!("{pool}/{pod}");
        let resource = rm.resource.get_or_insert_with(Default::default);
        resource
            .attributes
            .retain(|a| a.key != POOL_ATTRIBUTE && a.key != POD_ATTRIBUTE);
        resource.attributes.splice(
            0..0,
            [
                string_kv(POOL_ATTRIBUTE, pool),
                string_kv(POD_ATTRIBUTE, pod),
            ],
        );
        routed.accepted_data_points = routed.accepted_data_points.saturating_add(points);
        routed.messages.push((
            key,
            ExportMetricsServiceRequest {
                resource_metrics: vec![rm],
            },
        ));
    }
    routed.error = summarize(problems);
    routed
}

/// Data points in a resource, of every kind the spec counts in `rejected_data_points`.
pub fn data_points(rm: &ResourceMetrics) -> i64 {
    rm.scope_metrics
        .iter()
        .flat_map(|s| &s.metrics)
        .map(metric_points)
        .fold(0i64, i64::saturating_add)
}

fn metric_points(m: &Metric) -> i64 {
    let n = match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    };
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The value of the first of `keys` present with a usable value: a non-empty string,
/// or an integer (some SDKs send ids as ints). The SDKs' placeholder service name does
/// not count: every SDK sets `service.name` to `unknown_service[:process]` when the
/// user did not, and a pool of that name would gather every unconfigured client.
fn first_present(attrs: &[KeyValue], keys: &[String]) -> Option<String> {
    keys.iter().find_map(|key| {
        attrs.iter().filter(|a| &a.key == key).find_map(|a| {
            match a.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) if s.is_empty() => None,
                any_value::Value::StringValue(s)
                    if key == SERVICE_NAME && s.starts_with(UNKNOWN_SERVICE) =>
                {
                    None
                }
                any_value::Value::StringValue(s) => Some(s.clone()),
                any_value::Value::IntValue(i) => Some(i.to_string()),
                _ => None,
            }
        })
    })
}

fn describe(i: usize, points: i64, no_pool: bool, no_pod: bool, cfg: &OtlpConfig) -> String {
    let mut missing = Vec::new();
    if no_pool {
        missing.push(format!("no pool ({})", cfg.pool_attributes.join(", ")));
    }
    if no_pod {
        missing.push(format!("no pod ({})", cfg.pod_attributes.join(", ")));
    }
    format!(
        "resource_metrics[{i}]: {} attribute; {points} data points rejected",
        missing.join(" and ")
    )
}

fn summarize(problems: Vec<String>) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    let more = problems.len().saturating_sub(DESCRIBED);
    let mut text = problems
        .into_iter()
        .take(DESCRIBED)
        .collect::<Vec<_>>()
        .join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more resources like these"));
    }
    Some(text)
}

fn string_kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}
