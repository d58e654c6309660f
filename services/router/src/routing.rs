//! The glue between the proxy and the picker: each request's pick over the table's
//! current endpoints, the in-flight counts, and what happens when a request ends.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::config::{Config, PickerKind};
use crate::observe::Observer;
use crate::pick::{Decision, Picker, Request, RoundRobin};
use crate::proxy::{RequestRecord, RouteDecision, RouteRequest, Router};
use crate::table::Table;
use shared::wire::RequestEvent;

/// What the proxy asks.
pub struct Routing {
    pub(crate) table: std::sync::Arc<Table>,
    picker: Mutex<Picker>,
    round_robin: Option<RoundRobin>,
    rng: Mutex<u64>,
    observer: Observer,
    events: mpsc::Sender<RequestEvent>,
    models: Vec<String>,
}

impl Routing {
    /// Routing for `config` over `table`; ended requests' events go to `events`.
    pub fn new(
        config: &Config,
        picker: Picker,
        table: std::sync::Arc<Table>,
        observer: Observer,
        events: mpsc::Sender<RequestEvent>,
    ) -> Self {
        Self {
            table,
            picker: Mutex::new(picker),
            round_robin: (config.picker == PickerKind::RoundRobin)
                .then(|| RoundRobin::new(config.freshness.as_millis() as i64)),
            rng: Mutex::new(0x9e37_79b9_7f4a_7c15 ^ now_ms() as u64),
            observer,
            events,
            models: config.models.iter().map(|m| m.name.clone()).collect(),
        }
    }

    /// The observer, for the periodic refresh.
    pub fn observer(&self) -> &Observer {
        &self.observer
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "the routing shell stamps picks with the wall clock"
)]
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Router for Routing {
    fn route(&self, req: &RouteRequest<'_>) -> RouteDecision {
        let endpoints = self.table.snapshot();
        #[allow(clippy::disallowed_methods, reason = "timing the pick")]
        let started = std::time::Instant::now();
        let request = Request {
            model: req.model,
            objective: req.objective,
            prompt: req.prompt,
        };
        let now = now_ms();
        let decision = match &self.round_robin {
            Some(rr) => rr.pick(now, &endpoints, &request),
            None => {
                let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
                self.picker
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pick(now, &endpoints, &request, &mut rng)
            }
        };
        self.observer.picked(started.elapsed().as_secs_f64());
        match decision {
            Decision::Route {
                target_model,
                criticality,
                ranked,
                ..
            } => {
                let endpoints: Vec<String> = ranked
                    .iter()
                    .filter_map(|&i| endpoints.get(i).map(|e| e.address.clone()))
                    .collect();
                if let Some(best) = endpoints.first() {
                    self.picker
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .routed(best, req.prompt);
                }
                self.observer.running(req.model, 1);
                RouteDecision::Route {
                    target_model,
                    criticality,
                    endpoints,
                }
            }
            Decision::Shed { retry_after_s } => RouteDecision::Shed { retry_after_s },
            Decision::NoEndpoint => RouteDecision::NoEndpoint,
            Decision::UnknownModel => RouteDecision::UnknownModel,
        }
    }

    fn started(&self, endpoint: &str) {
        self.table.started(endpoint);
    }

    fn finished(&self, endpoint: &str) {
        self.table.finished(endpoint);
    }

    fn completed(&self, record: RequestRecord) {
        if record.criticality.is_some() {
            self.observer.running(&record.model, -1);
        }
        let pool = record
            .endpoint
            .as_deref()
            .and_then(|e| self.table.pool(e))
            .unwrap_or_default();
        let event = self.observer.completed(record, pool);
        if let Err(e) = self.events.try_send(event) {
            let id = e.into_inner().id;
            tracing::warn!(%id, "Request event dropped: the publisher is behind.");
        }
    }

    fn models(&self) -> Vec<String> {
        self.models.clone()
    }
}
