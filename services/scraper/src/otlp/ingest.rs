//! What both transports do with a decoded request: route it, publish each pod's
//! message to `samples.v1`, count, and build the spec's response.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::join_all;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use shared::bus::{Bus, BusError};

use super::OtlpConfig;
use super::core::{Routed, route};
use super::events::{
    OtlpExportAccepted, OtlpExportInvalid, OtlpMetrics, OtlpPublishFailed, Transport,
};

/// The state both listeners share.
pub struct Ingest {
    /// Where the messages go.
    pub bus: Arc<dyn Bus>,
    /// The full name of `samples.v1`.
    pub topic: String,
    /// Attribute lists and limits.
    pub cfg: OtlpConfig,
    /// Our counters.
    pub metrics: OtlpMetrics,
}

impl Ingest {
    /// Routes and publishes `request`. `Err` means nothing can be promised about it and
    /// the client should retry (gRPC `UNAVAILABLE`, HTTP 503); what was published
    /// before the failure may arrive twice, which at-least-once consumers absorb.
    pub async fn export(
        &self,
        transport: Transport,
        request: ExportMetricsServiceRequest,
    ) -> Result<ExportMetricsServiceResponse, BusError> {
        let routed = route(request, &self.cfg);
        let encoded: Vec<(&str, Bytes)> = routed
            .messages
            .iter()
            .map(|(key, m)| (key.as_str(), Bytes::from(m.encode_to_vec())))
            .collect();
        // Publishes start in request order, so one pod's messages keep their order.
        let results = join_all(
            encoded
                .iter()
                .map(|(key, body)| self.bus.publish(&self.topic, key.as_bytes(), body.clone())),
        )
        .await;
        if let Some(error) = results.into_iter().find_map(Result::err) {
            OtlpPublishFailed {
                transport,
                error: &error,
            }
            .emit(&self.metrics);
            return Err(error);
        }
        OtlpExportAccepted {
            transport,
            messages: routed.messages.len(),
            accepted: routed.accepted_data_points,
            rejected: routed.rejected_data_points,
            error: routed.error.as_deref(),
        }
        .emit(&self.metrics);
        Ok(response(routed))
    }

    /// Counts a request refused before routing.
    pub fn invalid(&self, transport: Transport, error: &str) {
        OtlpExportInvalid { transport, error }.emit(&self.metrics);
    }
}

/// The spec's answer: `partial_success` only when something was refused, since an
/// empty one is how a server says "all accepted".
fn response(routed: Routed) -> ExportMetricsServiceResponse {
    let partial_success = routed
        .error
        .map(|error_message| ExportMetricsPartialSuccess {
            rejected_data_points: routed.rejected_data_points,
            error_message,
        });
    ExportMetricsServiceResponse { partial_success }
}
