//! Samples on the wire: a batch of [`PodSamples`] is one OTLP
//! `ExportMetricsServiceRequest`, one `ResourceMetrics` per pod, which is what the
//! OpenTelemetry Collector's Kafka exporter writes with `encoding: otlp_proto`. A
//! Collector can therefore feed `samples.v1`, and read it.
//!
//! The resource attributes name the pod; the canonical signals of DESIGN §4 are
//! gauges named as the signal; every other series is forwarded with its Prometheus
//! name and labels (a gauge, or a monotonic cumulative sum for counters).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::DecodeError;

pub(super) const POOL: &str = "poolpilot.pool";
const POD: &str = "k8s.pod.name";
const NAMESPACE: &str = "k8s.namespace.name";
const ENDPOINT: &str = "poolpilot.endpoint";
const ENGINE: &str = "poolpilot.engine";
const SCOPE: &str = "poolpilot";

const UP: &str = "up";
const QUEUE: &str = "queue_size";
const RUNNING: &str = "running_requests";
const KV: &str = "kv_cache_utilization";
const LORA: &str = "lora_requests_info";
const LORA_RUNNING: &str = "running_lora_adapters";
const LORA_WAITING: &str = "waiting_lora_adapters";
const LORA_MAX: &str = "max_lora";

/// One scrape of one pod: the canonical signals every consumer understands, plus the
/// raw series an allow-list kept for rules that use engine names.
#[derive(Clone, Debug, PartialEq)]
pub struct PodSamples {
    /// The InferencePool (or static pool) the pod serves.
    pub pool: String,
    /// The pod's name; with `namespace`, what DCGM series join on.
    pub pod: String,
    /// The pod's namespace; empty for static targets.
    pub namespace: String,
    /// `host:port` the router sends requests to.
    pub endpoint: String,
    /// The engine the mapping recognised (`vllm`, `sglang`, `trtllm`, `triton`, …).
    pub engine: String,
    /// When the scrape happened: consumers judge freshness and order by it, never by
    /// arrival time, so a redelivered message is recognised as old.
    pub time: SystemTime,
    /// The canonical per-pod signals of DESIGN §4.
    pub signals: Signals,
    /// Raw series forwarded under their own names.
    pub raw: Vec<RawSample>,
}

impl PodSamples {
    /// The message key on `samples.v1`: `pool/pod`, so one pod's samples stay in order
    /// on one partition.
    pub fn key(&self) -> String {
        format!("{}/{}", self.pool, self.pod)
    }
}

/// The canonical signals. `None` means the engine does not report it, which is not the
/// same as 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signals {
    /// Whether the scrape succeeded; `false` makes every consumer drop the pod at once.
    pub up: bool,
    /// Requests waiting for admission.
    pub queue_size: Option<f64>,
    /// Requests in the running batch.
    pub running_requests: Option<f64>,
    /// KV-cache use, 0–1.
    pub kv_cache_utilization: Option<f64>,
    /// LoRA adapters (vLLM only).
    pub lora: Option<LoraInfo>,
}

/// vLLM's `vllm:lora_requests_info` labels, newest series.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoraInfo {
    /// Adapters with running requests.
    pub running: Vec<String>,
    /// Adapters with waiting requests.
    pub waiting: Vec<String>,
    /// Adapter slots.
    pub max: u32,
}

/// Whether a raw series is a gauge or a counter; counters travel as monotonic sums so
/// `rate()` over them means what it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawKind {
    /// A value that goes up and down.
    Gauge,
    /// A cumulative, monotonic count.
    Counter,
}

/// One raw series value as Prometheus would name it.
#[derive(Clone, Debug, PartialEq)]
pub struct RawSample {
    /// The metric name, `vllm:num_requests_waiting` or `DCGM_FI_DEV_GPU_UTIL`.
    pub name: String,
    /// Its labels, in source order.
    pub labels: Vec<(String, String)>,
    /// Gauge or counter.
    pub kind: RawKind,
    /// The value.
    pub value: f64,
}

/// Encodes a batch of pods into one `ExportMetricsServiceRequest`.
pub fn encode_batch(batch: &[PodSamples]) -> Vec<u8> {
    let request = ExportMetricsServiceRequest {
        resource_metrics: batch.iter().map(resource_metrics).collect(),
    };
    request.encode_to_vec()
}

/// Decodes an `ExportMetricsServiceRequest` back into pods. Metrics the encoding does
/// not produce (histograms, summaries from a foreign Collector) are left out.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<PodSamples>, DecodeError> {
    let request = ExportMetricsServiceRequest::decode(bytes)?;
    request
        .resource_metrics
        .into_iter()
        .map(pod_samples)
        .collect()
}

fn resource_metrics(pod: &PodSamples) -> ResourceMetrics {
    let t = unix_nanos(pod.time);
    let s = &pod.signals;
    let mut metrics = vec![gauge(UP, t, if s.up { 1.0 } else { 0.0 }, Vec::new())];
    for (name, value) in [
        (QUEUE, s.queue_size),
        (RUNNING, s.running_requests),
        (KV, s.kv_cache_utilization),
    ] {
        if let Some(v) = value {
            metrics.push(gauge(name, t, v, Vec::new()));
        }
    }
    if let Some(lora) = &s.lora {
        let attrs = vec![
            kv(LORA_RUNNING, lora.running.join(",")),
            kv(LORA_WAITING, lora.waiting.join(",")),
            kv(LORA_MAX, lora.max.to_string()),
        ];
        metrics.push(gauge(LORA, t, 1.0, attrs));
    }
    push_raw(&mut metrics, &pod.raw, t);

    resource(
        vec![
            kv(POOL, pod.pool.clone()),
            kv(POD, pod.pod.clone()),
            kv(NAMESPACE, pod.namespace.clone()),
            kv(ENDPOINT, pod.endpoint.clone()),
            kv(ENGINE, pod.engine.clone()),
        ],
        metrics,
    )
}

/// One resource with its attributes and metrics, under poolpilot's scope.
pub(super) fn resource(attributes: Vec<KeyValue>, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: SCOPE.to_owned(),
                ..Default::default()
            }),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Raw samples of one name and kind in a row become one metric with many points, as a
/// Collector would write a scraped family.
pub(super) fn push_raw(metrics: &mut Vec<Metric>, raw: &[RawSample], t: u64) {
    for run in raw.chunk_by(|a, b| a.name == b.name && a.kind == b.kind) {
        let points = run
            .iter()
            .map(|r| {
                point(
                    t,
                    r.value,
                    r.labels.iter().map(|(k, v)| kv(k, v.clone())).collect(),
                )
            })
            .collect();
        let data = match run[0].kind {
            RawKind::Gauge => metric::Data::Gauge(Gauge {
                data_points: points,
            }),
            RawKind::Counter => metric::Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        };
        metrics.push(Metric {
            name: run[0].name.clone(),
            data: Some(data),
            ..Default::default()
        });
    }
}

fn pod_samples(rm: ResourceMetrics) -> Result<PodSamples, DecodeError> {
    let attrs = rm.resource.map(|r| r.attributes).unwrap_or_default();
    let attr = |key: &str| attrs.iter().find(|a| a.key == key).map(string_value);
    let mut pod = PodSamples {
        pool: attr(POOL).ok_or(DecodeError::MissingAttribute(POOL))?,
        pod: attr(POD).ok_or(DecodeError::MissingAttribute(POD))?,
        namespace: attr(NAMESPACE).unwrap_or_default(),
        endpoint: attr(ENDPOINT).unwrap_or_default(),
        engine: attr(ENGINE).unwrap_or_default(),
        time: UNIX_EPOCH,
        signals: Signals::default(),
        raw: Vec::new(),
    };
    let mut newest = 0;
    for (t, attributes, raw) in rm
        .scope_metrics
        .iter()
        .flat_map(|s| &s.metrics)
        .flat_map(points)
    {
        newest = newest.max(t);
        match raw.name.as_str() {
            UP => pod.signals.up = raw.value == 1.0,
            QUEUE => pod.signals.queue_size = Some(raw.value),
            RUNNING => pod.signals.running_requests = Some(raw.value),
            KV => pod.signals.kv_cache_utilization = Some(raw.value),
            LORA => pod.signals.lora = Some(lora_info(attributes)),
            _ => pod.raw.push(raw),
        }
    }
    pod.time = UNIX_EPOCH + Duration::from_nanos(newest);
    Ok(pod)
}

/// Every number data point of a gauge or sum as a raw sample, with its time and its
/// attributes; other metric kinds yield nothing.
pub(super) fn points(metric: &Metric) -> Vec<(u64, &[KeyValue], RawSample)> {
    let (points, kind) = match &metric.data {
        Some(metric::Data::Gauge(g)) => (&g.data_points, RawKind::Gauge),
        Some(metric::Data::Sum(s)) if s.is_monotonic => (&s.data_points, RawKind::Counter),
        Some(metric::Data::Sum(s)) => (&s.data_points, RawKind::Gauge),
        _ => return Vec::new(),
    };
    points
        .iter()
        .map(|p| {
            let raw = RawSample {
                name: metric.name.clone(),
                labels: p
                    .attributes
                    .iter()
                    .map(|a| (a.key.clone(), string_value(a)))
                    .collect(),
                kind,
                value: number(p),
            };
            (p.time_unix_nano, &p.attributes[..], raw)
        })
        .collect()
}

fn lora_info(attrs: &[KeyValue]) -> LoraInfo {
    let get = |key: &str| {
        attrs
            .iter()
            .find(|a| a.key == key)
            .map(string_value)
            .unwrap_or_default()
    };
    let list = |s: String| {
        s.split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    };
    LoraInfo {
        running: list(get(LORA_RUNNING)),
        waiting: list(get(LORA_WAITING)),
        max: get(LORA_MAX).parse().unwrap_or(0),
    }
}

fn gauge(name: &str, t: u64, value: f64, attributes: Vec<KeyValue>) -> Metric {
    Metric {
        name: name.to_owned(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![point(t, value, attributes)],
        })),
        ..Default::default()
    }
}

fn point(t: u64, value: f64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

fn number(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None => f64::NAN,
    }
}

pub(super) fn kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

pub(super) fn string_value(a: &KeyValue) -> String {
    match a.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

pub(super) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
