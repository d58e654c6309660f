//! The receiver's internal events: each logs and counts; the transports call `emit()`
//! and never the metrics API directly.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use shared::telemetry::MetricsRegistry;

/// Which listener a request came in on; a label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// OTLP/gRPC, port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, port 4318.
    Http,
}

impl Transport {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    transport: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PointLabels {
    result: &'static str,
}

/// The receiver's metrics.
#[derive(Clone)]
pub struct OtlpMetrics {
    requests: Family<RequestLabels, Counter>,
    points: Family<PointLabels, Counter>,
}

impl OtlpMetrics {
    /// Registers `poolpilot_scraper_otlp_*`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        let m = Self {
            requests: Family::default(),
            points: Family::default(),
        };
        registry.register(
            "poolpilot_scraper_otlp_requests",
            "OTLP export requests by transport and result (ok, partial, invalid, unavailable)",
            m.requests.clone(),
        );
        registry.register(
            "poolpilot_scraper_otlp_data_points",
            "OTLP data points published (accepted) or refused for want of a pool or pod (rejected)",
            m.points.clone(),
        );
        m
    }

    fn request(&self, transport: Transport, result: &'static str) {
        self.requests
            .get_or_create(&RequestLabels {
                transport: transport.as_str(),
                result,
            })
            .inc();
    }

    fn points(&self, result: &'static str, n: i64) {
        if let Ok(n) = u64::try_from(n)
            && n > 0
        {
            self.points.get_or_create(&PointLabels { result }).inc_by(n);
        }
    }
}

/// An export was published, whole or in part.
pub struct OtlpExportAccepted<'a> {
    /// Where it came in.
    pub transport: Transport,
    /// Pods published.
    pub messages: usize,
    /// Data points published.
    pub accepted: i64,
    /// Data points refused.
    pub rejected: i64,
    /// Why they were refused.
    pub error: Option<&'a str>,
}

impl OtlpExportAccepted<'_> {
    /// Counts it; logs the refusal, if any.
    pub fn emit(&self, m: &OtlpMetrics) {
        m.points("accepted", self.accepted);
        m.points("rejected", self.rejected);
        let transport = self.transport.as_str();
        match self.error {
            None => {
                m.request(self.transport, "ok");
                tracing::debug!(
                    transport,
                    pods = self.messages,
                    points = self.accepted,
                    "OTLP export published."
                );
            }
            Some(error) => {
                m.request(self.transport, "partial");
                tracing::warn!(
                    transport,
                    pods = self.messages,
                    accepted = self.accepted,
                    rejected = self.rejected,
                    error,
                    "OTLP export partly refused; the rest was published."
                );
            }
        }
    }
}

/// An export could not be read: not protobuf, too large, unsupported type or encoding.
pub struct OtlpExportInvalid<'a> {
    /// Where it came in.
    pub transport: Transport,
    /// What was wrong.
    pub error: &'a str,
}

impl OtlpExportInvalid<'_> {
    /// Counts and logs it.
    pub fn emit(&self, m: &OtlpMetrics) {
        m.request(self.transport, "invalid");
        tracing::warn!(
            transport = self.transport.as_str(),
            error = self.error,
            "OTLP export refused as unreadable."
        );
    }
}

/// The bus refused an export's messages; the client is told to retry.
pub struct OtlpPublishFailed<'a> {
    /// Where it came in.
    pub transport: Transport,
    /// Why.
    pub error: &'a shared::bus::BusError,
}

impl OtlpPublishFailed<'_> {
    /// Counts and logs it.
    pub fn emit(&self, m: &OtlpMetrics) {
        m.request(self.transport, "unavailable");
        tracing::warn!(
            transport = self.transport.as_str(),
            error = %self.error,
            "OTLP export not published; the client was told to retry."
        );
    }
}
