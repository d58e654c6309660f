//! Aggregates on the wire (`aggregates.v1`, key `pool`): one `ResourceMetrics` per
//! pool, identified by `poolpilot.pool`, holding the pool's series under their
//! endpoint-picker names (`inference_pool_average_kv_cache_utilization{name}` …), in
//! the same OTLP encoding as samples so a Collector can read both.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

use super::samples::{POOL, kv, points, push_raw, resource, string_value, unix_nanos};
use super::{DecodeError, RawSample};

/// One pool's series at one tick.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregates {
    /// The pool (also the `name` label of its series).
    pub pool: String,
    /// The tick that computed them.
    pub time: SystemTime,
    /// The series, named and labelled as the endpoint picker names them.
    pub series: Vec<RawSample>,
}

/// Encodes pools into one `ExportMetricsServiceRequest`.
pub fn encode_aggregates(pools: &[Aggregates]) -> Vec<u8> {
    let resource_metrics = pools
        .iter()
        .map(|a| {
            let mut metrics = Vec::new();
            push_raw(&mut metrics, &a.series, unix_nanos(a.time));
            resource(vec![kv(POOL, a.pool.clone())], metrics)
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }.encode_to_vec()
}

/// Decodes pools back.
pub fn decode_aggregates(bytes: &[u8]) -> Result<Vec<Aggregates>, DecodeError> {
    let request = ExportMetricsServiceRequest::decode(bytes)?;
    request
        .resource_metrics
        .into_iter()
        .map(|rm| {
            let pool = rm
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == POOL))
                .map(string_value)
                .ok_or(DecodeError::MissingAttribute(POOL))?;
            let mut newest = 0;
            let series = rm
                .scope_metrics
                .iter()
                .flat_map(|s| &s.metrics)
                .flat_map(points)
                .map(|(t, _, raw)| {
                    newest = newest.max(t);
                    raw
                })
                .collect();
            Ok(Aggregates {
                pool,
                time: UNIX_EPOCH + Duration::from_nanos(newest),
                series,
            })
        })
        .collect()
}
