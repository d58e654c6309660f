//! What `poolpilot up` shows and reports, built from the bus: pool gauges from
//! `aggregates.v1`, alert transitions from `alerts.v1`, scale decisions from
//! `decisions.v1`, request rate and latency from `requests.v1`. Pure: every call
//! takes the time it is about.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::wire::{Aggregates, AlertState, AlertTransition, RequestEvent, ScaleDecision};

/// Seconds of requests the rate and p90 are computed over.
const WINDOW_S: f64 = 10.0;
/// Points kept per series (one per second).
const POINTS: usize = 3600;
/// Alert transitions and decisions kept for the page.
const ROWS: usize = 500;

/// Everything seen so far.
#[derive(Debug)]
pub struct Dashboard {
    started: DateTime<Utc>,
    pools: BTreeMap<String, Pool>,
    alerts: Vec<AlertRow>,
    decisions: Vec<DecisionRow>,
    /// Every finished request's (arrival, seconds, error), for the report.
    latencies: Vec<f64>,
    errors: u64,
    kv_target: Option<f64>,
}

#[derive(Debug, Default)]
struct Pool {
    replicas: Option<u32>,
    ready_pods: Option<f64>,
    kv_cache: Option<f64>,
    queue: Option<f64>,
    firing: BTreeSet<String>,
    last_decision: Option<DecisionRow>,
    /// (time in unix seconds, duration) of recent requests.
    recent: VecDeque<(f64, f64)>,
    series: Series,
}

/// One pool's per-second history.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Series {
    pub t: VecDeque<i64>,
    pub kv_cache: VecDeque<Option<f64>>,
    pub queue: VecDeque<Option<f64>>,
    pub replicas: VecDeque<Option<u32>>,
    pub ready_pods: VecDeque<Option<f64>>,
    pub requests_per_second: VecDeque<Option<f64>>,
    pub p90_latency_seconds: VecDeque<Option<f64>>,
}

/// One alert transition.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    pub time: DateTime<Utc>,
    pub offset_seconds: f64,
    pub alertname: String,
    pub labels: BTreeMap<String, String>,
    pub from: AlertState,
    pub to: AlertState,
    pub value: f64,
}

/// One scale decision that changed (or would change) the replicas.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRow {
    pub time: DateTime<Utc>,
    pub offset_seconds: f64,
    pub pool: String,
    pub from: u32,
    pub to: u32,
    pub reason: String,
    pub patched: bool,
}

/// One pool's current values, as the page and the terminal show them.
#[derive(Debug, Clone, Serialize)]
pub struct PoolNow {
    pub name: String,
    pub replicas: Option<u32>,
    pub ready_pods: Option<f64>,
    pub kv_cache: Option<f64>,
    pub queue: Option<f64>,
    pub requests_per_second: Option<f64>,
    pub p90_latency_seconds: Option<f64>,
    pub kv_target: Option<f64>,
    pub firing_alerts: Vec<String>,
    pub last_decision: Option<DecisionRow>,
}

/// What `GET /api/state` answers.
#[derive(Debug, Serialize)]
pub struct State<'a> {
    pub started: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub pools: Vec<PoolNow>,
    pub series: BTreeMap<&'a str, &'a Series>,
    pub alerts: &'a [AlertRow],
    pub decisions: &'a [DecisionRow],
}

/// The summary `--report` writes.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    pub duration_seconds: f64,
    pub requests: u64,
    pub errors: u64,
    /// End-to-end latency percentiles over every request, in seconds.
    pub latency: Percentiles,
    pub scale_events: &'a [DecisionRow],
    pub alerts: &'a [AlertRow],
    pub series: BTreeMap<&'a str, &'a Series>,
}

/// p50, p90, p99.
#[derive(Debug, Default, Serialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

fn unix(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1e3
}

/// The `q` quantile of `sorted` (nearest rank), `None` when empty.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    sorted.get(((last as f64) * q).round() as usize).copied()
}

impl Dashboard {
    /// An empty dashboard; `kv_target` is the scaler's KV target, drawn as a line.
    pub fn new(started: DateTime<Utc>, kv_target: Option<f64>) -> Self {
        Self {
            started,
            pools: BTreeMap::new(),
            alerts: Vec::new(),
            decisions: Vec::new(),
            latencies: Vec::new(),
            errors: 0,
            kv_target,
        }
    }

    fn offset(&self, t: DateTime<Utc>) -> f64 {
        unix(t) - unix(self.started)
    }

    /// A pool's gauges.
    pub fn aggregates(&mut self, a: &Aggregates) {
        let pool = self.pools.entry(a.pool.clone()).or_default();
        for s in a
            .series
            .iter()
            .filter(|s| s.labels.iter().all(|(k, _)| k == "name"))
        {
            match s.name.as_str() {
                "inference_pool_average_kv_cache_utilization" => pool.kv_cache = Some(s.value),
                "inference_pool_average_queue_size" => pool.queue = Some(s.value),
                "inference_pool_ready_pods" => pool.ready_pods = Some(s.value),
                _ => {}
            }
        }
    }

    /// An alert transition.
    pub fn alert(&mut self, t: &AlertTransition) {
        if let Some(pool) = t.labels.get("name").and_then(|n| self.pools.get_mut(n)) {
            if t.to == AlertState::Firing {
                pool.firing.insert(t.alertname.clone());
            } else {
                pool.firing.remove(&t.alertname);
            }
        }
        let row = AlertRow {
            time: t.time,
            offset_seconds: self.offset(t.time),
            alertname: t.alertname.clone(),
            labels: t.labels.clone(),
            from: t.from,
            to: t.to,
            value: t.value,
        };
        push_bounded(&mut self.alerts, row);
    }

    /// A scale decision: the pool's replica count, and a row when it changes them.
    pub fn decision(&mut self, d: &ScaleDecision) {
        let offset = self.offset(d.time);
        let pool = self.pools.entry(d.pool.clone()).or_default();
        let now = if d.patched {
            d.desired_replicas
        } else {
            d.current_replicas
        };
        pool.replicas = Some(now);
        if d.desired_replicas == d.current_replicas {
            return;
        }
        let row = DecisionRow {
            time: d.time,
            offset_seconds: offset,
            pool: d.pool.clone(),
            from: d.current_replicas,
            to: d.desired_replicas,
            reason: d.reason.clone(),
            patched: d.patched,
        };
        pool.last_decision = Some(row.clone());
        push_bounded(&mut self.decisions, row);
    }

    /// A finished request.
    pub fn request(&mut self, e: &RequestEvent) {
        let end = unix(e.time) + e.duration_seconds;
        self.latencies.push(e.duration_seconds);
        if e.status >= 400 {
            self.errors += 1;
        }
        if e.pool.is_empty() {
            return;
        }
        let pool = self.pools.entry(e.pool.clone()).or_default();
        pool.recent.push_back((end, e.duration_seconds));
    }

    /// Appends one point per pool for `now` (call once a second).
    pub fn tick(&mut self, now: DateTime<Utc>) {
        let t = unix(now);
        for pool in self.pools.values_mut() {
            while pool
                .recent
                .front()
                .is_some_and(|&(end, _)| end < t - WINDOW_S)
            {
                pool.recent.pop_front();
            }
            let (rps, p90) = pool.rate_and_p90();
            let s = &mut pool.series;
            s.t.push_back(now.timestamp());
            s.kv_cache.push_back(pool.kv_cache);
            s.queue.push_back(pool.queue);
            s.replicas.push_back(pool.replicas);
            s.ready_pods.push_back(pool.ready_pods);
            s.requests_per_second.push_back(Some(rps));
            s.p90_latency_seconds.push_back(p90);
            if s.t.len() > POINTS {
                s.t.pop_front();
                s.kv_cache.pop_front();
                s.queue.pop_front();
                s.replicas.pop_front();
                s.ready_pods.pop_front();
                s.requests_per_second.pop_front();
                s.p90_latency_seconds.pop_front();
            }
        }
    }

    /// Whether some pool has ready pods.
    pub fn pool_ready(&self) -> bool {
        self.pools
            .values()
            .any(|p| p.ready_pods.is_some_and(|n| n > 0.0))
    }

    /// Every pool's current values.
    pub fn now(&self) -> Vec<PoolNow> {
        self.pools
            .iter()
            .map(|(name, p)| {
                let (rps, p90) = p.rate_and_p90();
                PoolNow {
                    name: name.clone(),
                    replicas: p.replicas,
                    ready_pods: p.ready_pods,
                    kv_cache: p.kv_cache,
                    queue: p.queue,
                    requests_per_second: Some(rps),
                    p90_latency_seconds: p90,
                    kv_target: self.kv_target,
                    firing_alerts: p.firing.iter().cloned().collect(),
                    last_decision: p.last_decision.clone(),
                }
            })
            .collect()
    }

    fn series(&self) -> BTreeMap<&str, &Series> {
        self.pools
            .iter()
            .map(|(name, p)| (name.as_str(), &p.series))
            .collect()
    }

    /// The page's view at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> State<'_> {
        State {
            started: self.started,
            now,
            pools: self.now(),
            series: self.series(),
            alerts: &self.alerts,
            decisions: &self.decisions,
        }
    }

    /// The run's summary at `now`.
    pub fn report(&self, now: DateTime<Utc>) -> Report<'_> {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        Report {
            started: self.started,
            ended: now,
            duration_seconds: self.offset(now),
            requests: sorted.len() as u64,
            errors: self.errors,
            latency: Percentiles {
                p50: quantile(&sorted, 0.50),
                p90: quantile(&sorted, 0.90),
                p99: quantile(&sorted, 0.99),
            },
            scale_events: &self.decisions,
            alerts: &self.alerts,
            series: self.series(),
        }
    }
}

impl Pool {
    /// Requests per second and p90 latency over the recent window.
    fn rate_and_p90(&self) -> (f64, Option<f64>) {
        let mut d: Vec<f64> = self.recent.iter().map(|&(_, d)| d).collect();
        d.sort_by(f64::total_cmp);
        (d.len() as f64 / WINDOW_S, quantile(&d, 0.90))
    }
}

fn push_bounded<T>(rows: &mut Vec<T>, row: T) {
    if rows.len() == ROWS {
        rows.remove(0);
    }
    rows.push(row);
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::wire::{RawKind, RawSample, ScaleTargetRef};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn gauge(name: &str, value: f64) -> RawSample {
        RawSample {
            name: name.to_owned(),
            labels: vec![("name".to_owned(), "sim".to_owned())],
            kind: RawKind::Gauge,
            value,
        }
    }

    fn decision(t: i64, from: u32, to: u32) -> ScaleDecision {
        ScaleDecision {
            schema: 1,
            time: at(t),
            namespace: "sim".into(),
            target: ScaleTargetRef {
                api_version: "v1".into(),
                kind: "SimulatedFleet".into(),
                name: "sim".into(),
            },
            pool: "sim".into(),
            current_replicas: from,
            raw_desired: to,
            stabilized_desired: to,
            desired_replicas: to,
            metrics: Vec::new(),
            reason: format!("{from} to {to}"),
            patched: true,
            error: None,
        }
    }

    fn request(duration_seconds: f64, status: u16) -> RequestEvent {
        RequestEvent {
            schema: 1,
            id: format!("r{duration_seconds}"),
            time: at(2),
            pool: "sim".into(),
            model_name: "m".into(),
            target_model_name: "m".into(),
            endpoint: "e".into(),
            status,
            error_code: String::new(),
            proxy_status: String::new(),
            duration_seconds,
            ttft_seconds: None,
            input_tokens: 1,
            output_tokens: 1,
            request_bytes: 1,
            response_bytes: 1,
            criticality: "Standard".into(),
            guard: "allowed".into(),
        }
    }

    #[test]
    fn gauges_decisions_and_requests_become_series_and_a_report() {
        let mut d = Dashboard::new(at(0), Some(0.6));
        d.aggregates(&Aggregates {
            pool: "sim".into(),
            time: std::time::UNIX_EPOCH,
            series: vec![
                gauge("inference_pool_average_kv_cache_utilization", 0.95),
                gauge("inference_pool_ready_pods", 3.0),
            ],
        });
        d.decision(&decision(1, 3, 3));
        d.decision(&decision(2, 3, 4));
        for i in 0..10 {
            d.request(&request(f64::from(i + 1), if i == 0 { 503 } else { 200 }));
        }
        d.tick(at(12));
        let now = d.now();
        assert_eq!(now[0].replicas, Some(4));
        assert_eq!(now[0].kv_cache, Some(0.95));
        assert_eq!(now[0].requests_per_second, Some(1.0));
        assert_eq!(now[0].p90_latency_seconds, Some(9.0));
        assert_eq!(now[0].last_decision.as_ref().map(|r| r.to), Some(4));
        let report = d.report(at(20));
        assert_eq!((report.requests, report.errors), (10, 1));
        assert_eq!(
            report.scale_events.len(),
            1,
            "no-change decisions are not events"
        );
        assert_eq!(report.scale_events[0].offset_seconds, 2.0);
        assert_eq!(report.latency.p50, Some(6.0));
        assert_eq!(report.series["sim"].kv_cache, [Some(0.95)]);
        // Past the window, the rate falls to zero.
        d.tick(at(40));
        assert_eq!(d.now()[0].requests_per_second, Some(0.0));
    }

    #[test]
    fn firing_alerts_follow_transitions() {
        let mut d = Dashboard::new(at(0), None);
        d.decision(&decision(0, 3, 3));
        let mut t = AlertTransition {
            schema: 1,
            fingerprint: "f".into(),
            alertname: "HighKV".into(),
            labels: BTreeMap::from([("name".to_owned(), "sim".to_owned())]),
            annotations: BTreeMap::new(),
            from: AlertState::Pending,
            to: AlertState::Firing,
            value: 0.95,
            active_at: None,
            time: at(30),
        };
        d.alert(&t);
        assert_eq!(d.now()[0].firing_alerts, ["HighKV"]);
        t.from = AlertState::Firing;
        t.to = AlertState::Resolved;
        d.alert(&t);
        assert!(d.now()[0].firing_alerts.is_empty());
        assert_eq!(d.report(at(40)).alerts.len(), 2);
    }
}
