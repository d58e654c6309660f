//! What the router says about each request when it ends: a `RequestEvent` on
//! `requests.v1`, the per-model `inference_model_*` series and
//! `poolpilot_router_errors_total{error_detail}` on `/metrics` (the seed's log-based
//! metric, counted from the proxy status), and a sampled access-log line.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use shared::models::{ModelsCollector, Requests};
use shared::telemetry::MetricsRegistry;
use shared::wire::RequestEvent;

use crate::access_log::AccessLog;
use crate::pick::Criticality;
use crate::proxy::RequestRecord;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorDetail {
    error_detail: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelName {
    model_name: String,
}

/// The router's request metrics.
pub struct Observer {
    requests: Mutex<Requests>,
    models: ModelsCollector,
    running: Family<ModelName, Gauge>,
    /// The same gauges by name, found without building a label set (only routed
    /// models, so it stays as small as the model table).
    running_by_name: RwLock<HashMap<String, Gauge>>,
    errors: Family<ErrorDetail, Counter>,
    pick: Histogram,
    endpoints: Gauge,
    sample_rate: u32,
    log_errors: bool,
    access_log: AccessLog,
}

impl Observer {
    /// Registers the metrics; `sample_rate` out of 1,000,000 requests are logged to
    /// `access_log` (errors always, when `log_errors`).
    pub fn register(
        registry: &MetricsRegistry,
        sample_rate: u32,
        log_errors: bool,
        access_log: AccessLog,
    ) -> Self {
        let o = Self {
            requests: Mutex::new(Requests::new(Duration::from_secs(60))),
            models: ModelsCollector::register(registry),
            running: Family::default(),
            running_by_name: RwLock::default(),
            errors: Family::default(),
            pick: Histogram::new([
                1e-6, 2.5e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2,
            ]),
            endpoints: Gauge::default(),
            sample_rate,
            log_errors,
            access_log,
        };
        registry.register(
            "poolpilot_router_endpoints",
            "Endpoints in the table (fresh or not)",
            o.endpoints.clone(),
        );
        registry.register(
            "inference_model_running_requests",
            "Requests in flight for each model",
            o.running.clone(),
        );
        registry.register(
            "poolpilot_router_errors",
            "Requests that ended with a proxy status, by that status (the seed's error_detail metric)",
            o.errors.clone(),
        );
        registry.register(
            "poolpilot_router_pick_duration_seconds",
            "Time to pick an endpoint",
            o.pick.clone(),
        );
        o
    }

    /// One pick took `seconds`.
    pub fn picked(&self, seconds: f64) {
        self.pick.observe(seconds);
    }

    /// A request for `model` started (+1) or ended (−1).
    pub fn running(&self, model: &str, delta: i64) {
        let known = self
            .running_by_name
            .read()
            .ok()
            .and_then(|g| g.get(model).cloned());
        let gauge = known.unwrap_or_else(|| {
            let gauge = self
                .running
                .get_or_create(&ModelName {
                    model_name: model.to_owned(),
                })
                .clone();
            let mut by_name = self
                .running_by_name
                .write()
                .unwrap_or_else(|e| e.into_inner());
            by_name.insert(model.to_owned(), gauge.clone());
            gauge
        });
        gauge.inc_by(delta);
    }

    /// A request ended: maybe logged, counted, and turned into its event (to
    /// publish).
    pub fn completed(&self, record: RequestRecord, pool: String) -> RequestEvent {
        if let Some(status) = &record.proxy_status {
            self.errors
                .get_or_create(&ErrorDetail {
                    error_detail: status.clone(),
                })
                .inc();
        }
        let error = record.status >= 400 || record.proxy_status.is_some();
        if sampled(&record.id, self.sample_rate) || (error && self.log_errors) {
            self.access_log.write(&record);
        }
        let event = event(record, pool);
        // Each event is made once, here: no need to look for redeliveries.
        let _ = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .count(&event);
        event
    }

    /// Refreshes what `/metrics` shows: the table's size and the per-model series.
    pub fn refresh(&self, endpoints: usize) {
        self.endpoints.set(endpoints as i64);
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        self.models.update(requests.models());
    }
}

/// Whether request `id` is in the `rate`-per-million sample (a hash of the id, so
/// the same request is sampled the same way everywhere).
pub fn sampled(id: &str, rate: u32) -> bool {
    shared::hash::fnv1a(id.as_bytes()) % 1_000_000 < u64::from(rate)
}

fn criticality(c: Option<Criticality>) -> String {
    match c {
        Some(Criticality::Critical) => "Critical",
        Some(Criticality::Standard) | None => "Standard",
        Some(Criticality::Sheddable) => "Sheddable",
    }
    .to_owned()
}

fn event(r: RequestRecord, pool: String) -> RequestEvent {
    RequestEvent {
        schema: 1,
        id: r.id,
        time: chrono::DateTime::from_timestamp_millis(r.start_unix_ms).unwrap_or_default(),
        pool,
        model_name: r.model,
        target_model_name: r.target_model,
        endpoint: r.endpoint.unwrap_or_default(),
        status: r.status,
        error_code: r.error_code.unwrap_or_default(),
        proxy_status: r.proxy_status.unwrap_or_default(),
        duration_seconds: r.duration_seconds,
        ttft_seconds: r.ttft_seconds,
        input_tokens: r.input_tokens.unwrap_or(0),
        output_tokens: r.output_tokens.unwrap_or(0),
        request_bytes: r.request_bytes,
        response_bytes: r.response_bytes,
        criticality: criticality(r.criticality),
        guard: r.guard.unwrap_or_else(|| "unchecked".to_owned()),
    }
}
