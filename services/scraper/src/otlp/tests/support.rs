//! A receiver running on `127.0.0.1:0` over an embedded bus, a subscription to its
//! samples topic, and builders for OTLP requests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use shared::Deps;
use shared::bus::embedded::EmbeddedBus;
use shared::bus::{Bus, BusError, EmbeddedConfig, Message, Subscribe, Subscription, TopicSpec};
use shared::wire::{Topic, Topics};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::otlp::{OtlpConfig, OtlpError, OtlpServer};

/// Longest wait for anything a test expects; a healthy run takes milliseconds.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A receiver serving in the background, and what it publishes.
pub struct Running {
    /// OTLP/gRPC address.
    pub grpc: std::net::SocketAddr,
    /// OTLP/HTTP address.
    pub http: std::net::SocketAddr,
    /// The registry its counters live in.
    pub deps: Deps,
    samples: Box<dyn Subscription>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), OtlpError>>>,
}

/// The config tests use: enabled, both listeners on an ephemeral loopback port.
pub fn loopback() -> OtlpConfig {
    OtlpConfig {
        enabled: true,
        grpc_listen: "127.0.0.1:0".parse().expect("literal address"),
        http_listen: "127.0.0.1:0".parse().expect("literal address"),
        ..OtlpConfig::default()
    }
}

/// Starts a receiver on a fresh embedded bus.
pub async fn start(cfg: OtlpConfig) -> Running {
    let bus = EmbeddedBus::new(EmbeddedConfig::default());
    start_on(Arc::new(bus), cfg).await
}

/// Starts a receiver publishing to `bus`.
pub async fn start_on(bus: Arc<dyn Bus>, cfg: OtlpConfig) -> Running {
    let deps = Deps::new(bus.clone(), Topics::default());
    let samples = bus
        .subscribe(Subscribe::new(
            "otlp-test",
            [deps.topics.name(Topic::Samples)],
        ))
        .expect("subscribe to samples");
    let server = OtlpServer::bind(cfg, &deps).await.expect("bind loopback");
    let (grpc, http) = (server.grpc_addr(), server.http_addr());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running {
        grpc,
        http,
        deps,
        samples,
        stop: Some(tx),
        task: Some(task),
    }
}

impl Running {
    /// The next message on `samples.v1`, or a panic naming what was awaited.
    pub async fn next_sample(&mut self, what: &str) -> Message {
        within(what, self.samples.next())
            .await
            .expect("samples subscription")
    }

    /// Whether a message arrives within `wait`; for asserting that none does.
    pub async fn sample_within(&mut self, wait: Duration) -> Option<Message> {
        tokio::time::timeout(wait, self.samples.next())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// The `/metrics` text of the receiver's registry.
    pub fn metrics(&self) -> String {
        self.deps.metrics.encode()
    }

    /// Stops the receiver and returns how `run` ended.
    pub async fn stop(mut self) -> Result<(), OtlpError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let task = self.task.take().expect("stopped once");
        within("receiver shutdown", task)
            .await
            .expect("receiver task")
    }
}

/// Awaits `f`, or panics naming `what` after [`DEADLINE`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: nothing within {DEADLINE:?}"),
    }
}

/// A bus whose every publish fails, as a broker that is down.
pub struct DownBus;

impl Bus for DownBus {
    fn ensure_topics<'a>(&'a self, _: &'a [TopicSpec]) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async { Ok(()) })
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        _: &'a [u8],
        _: bytes::Bytes,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            Err(BusError::Publish {
                topic: topic.to_owned(),
                reason: "broker down".into(),
            })
        })
    }

    fn subscribe(&self, _: Subscribe) -> Result<Box<dyn Subscription>, BusError> {
        // The embedded bus gives a subscription that simply never yields.
        EmbeddedBus::new(EmbeddedConfig::default())
            .subscribe(Subscribe::new("none", ["none".to_owned()]))
    }
}

/// A string attribute.
pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// A gauge with `n` points.
pub fn gauge(name: &str, n: usize) -> Metric {
    Metric {
        name: name.to_owned(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: (0..n)
                .map(|i| NumberDataPoint {
                    time_unix_nano: 1_000 + i as u64,
                    value: Some(number_data_point::Value::AsDouble(i as f64)),
                    ..Default::default()
                })
                .collect(),
        })),
        ..Default::default()
    }
}

/// A histogram with `n` points.
pub fn histogram(name: &str, n: usize) -> Metric {
    Metric {
        name: name.to_owned(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: (0..n)
                .map(|_| HistogramDataPoint {
                    count: 3,
                    bucket_counts: vec![1, 1, 1],
                    explicit_bounds: vec![0.1, 1.0],
                    ..Default::default()
                })
                .collect(),
            aggregation_temporality: 2,
        })),
        ..Default::default()
    }
}

/// A resource with `attributes` holding `metrics` in one scope.
pub fn resource(attributes: Vec<KeyValue>, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A request of `resources`.
pub fn request(resources: Vec<ResourceMetrics>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: resources,
    }
}

/// The string value of attribute `key` in the first resource of `request`.
pub fn attribute(request: &ExportMetricsServiceRequest, key: &str) -> Option<String> {
    let attrs = &request
        .resource_metrics
        .first()?
        .resource
        .as_ref()?
        .attributes;
    let matching: Vec<_> = attrs.iter().filter(|a| a.key == key).collect();
    assert!(
        matching.len() <= 1,
        "attribute {key} appears {} times",
        matching.len()
    );
    match matching.first()?.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        other => Some(format!("{other:?}")),
    }
}
