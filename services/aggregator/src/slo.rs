//! SLO burn rates under Sloth's names, so existing dashboards and the workbook's
//! multi-window alerts (`deploy/prometheus/slo-alerts.yaml`) work on them:
//! `slo:sli_error:ratio_rate<window>{slo,model_name}` for 5m … 3d,
//! `slo:objective:ratio`, `slo:error_budget:ratio`,
//! `slo:period_error_budget_remaining:ratio` (over a 30-day period).
//!
//! Pure: cumulative good/bad counts per SLO and model, snapshotted every 10 s for
//! three days and every 5 minutes for the period; a window's ratio is the increase of
//! bad over the increase of all between now and the newest snapshot at least a window
//! old (the oldest one while history is shorter), as Prometheus's `increase` reads it.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use shared::wire::{RawKind, RawSample, RequestEvent};

use crate::config::{Slo, SloKind};

/// The windows of the workbook's alerts, with their label suffix.
pub const WINDOWS: [(&str, u64); 7] = [
    ("5m", 300),
    ("30m", 1800),
    ("1h", 3600),
    ("2h", 7200),
    ("6h", 21_600),
    ("1d", 86_400),
    ("3d", 259_200),
];
const FINE: Duration = Duration::from_secs(10);
const FINE_KEEP: Duration = Duration::from_secs(259_200 + 60);
const COARSE: Duration = Duration::from_secs(300);
const PERIOD: Duration = Duration::from_secs(30 * 86_400);

#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Counts {
    total: u64,
    bad: u64,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct History {
    now: Counts,
    fine: VecDeque<(SystemTime, Counts)>,
    coarse: VecDeque<(SystemTime, Counts)>,
}

impl History {
    /// Records the counts at `now` (every 10 s, and every 5 minutes for the period).
    /// A series' first snapshot is a zero baseline: what was counted before its first
    /// tick (at most one tick ago) belongs to the windows.
    fn snapshot(&mut self, now: SystemTime) {
        if self.fine.is_empty() {
            self.fine.push_back((now, Counts::default()));
            self.coarse.push_back((now, Counts::default()));
        }
        for (ring, step, keep) in [
            (&mut self.fine, FINE, FINE_KEEP),
            (&mut self.coarse, COARSE, PERIOD),
        ] {
            if ring
                .back()
                .is_none_or(|(t, _)| now.duration_since(*t).unwrap_or(Duration::ZERO) >= step)
            {
                ring.push_back((now, self.now));
            }
            while ring
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t).unwrap_or(Duration::ZERO) > keep)
            {
                ring.pop_front();
            }
        }
    }

    /// Bad / all since the newest snapshot at least `window` old; `None` without
    /// requests in the window.
    fn ratio(
        ring: &VecDeque<(SystemTime, Counts)>,
        current: Counts,
        now: SystemTime,
        window: Duration,
    ) -> Option<f64> {
        let start = ring
            .iter()
            .rev()
            .find(|(t, _)| now.duration_since(*t).unwrap_or(Duration::ZERO) >= window)
            .or(ring.front())?
            .1;
        let total = current.total - start.total;
        (total > 0).then(|| (current.bad - start.bad) as f64 / total as f64)
    }
}

/// The configured SLOs' history per model.
#[derive(Debug)]
pub struct Slos {
    slos: Vec<Slo>,
    history: BTreeMap<(String, String), History>,
}

impl Slos {
    /// Tracks `slos`.
    pub fn new(slos: Vec<Slo>) -> Self {
        Self {
            slos,
            history: BTreeMap::new(),
        }
    }

    /// Counts one (deduplicated, valid) request against every SLO that covers its model.
    pub fn record(&mut self, e: &RequestEvent) {
        for slo in &self.slos {
            if !slo.models.is_empty() && !slo.models.contains(&e.model_name) {
                continue;
            }
            let bad = match slo.kind {
                SloKind::Availability => {
                    e.status >= 500
                        || (e.status >= 400 && e.status != 429 && !e.error_code.is_empty())
                }
                SloKind::Latency => e.duration_seconds > slo.latency_threshold.as_secs_f64(),
            };
            let h = self
                .history
                .entry((slo.name.clone(), e.model_name.clone()))
                .or_default();
            h.now.total += 1;
            h.now.bad += u64::from(bad);
        }
    }

    /// Snapshots the counts and returns every series at `now`.
    pub fn tick(&mut self, now: SystemTime) -> Vec<RawSample> {
        let mut out = Vec::new();
        for ((name, model), h) in &mut self.history {
            h.snapshot(now);
            let Some(slo) = self.slos.iter().find(|s| &s.name == name) else {
                continue;
            };
            let labels = vec![
                ("slo".to_owned(), name.clone()),
                ("model_name".to_owned(), model.clone()),
            ];
            let mut gauge = |metric: String, value: f64| {
                out.push(RawSample {
                    name: metric,
                    labels: labels.clone(),
                    kind: RawKind::Gauge,
                    value,
                });
            };
            for (suffix, secs) in WINDOWS {
                if let Some(r) = History::ratio(&h.fine, h.now, now, Duration::from_secs(secs)) {
                    gauge(format!("slo:sli_error:ratio_rate{suffix}"), r);
                }
            }
            let budget = 1.0 - slo.objective / 100.0;
            gauge("slo:objective:ratio".into(), slo.objective / 100.0);
            gauge("slo:error_budget:ratio".into(), budget);
            if let Some(r) = History::ratio(&h.coarse, h.now, now, PERIOD) {
                gauge(
                    "slo:period_error_budget_remaining:ratio".into(),
                    1.0 - r / budget,
                );
            }
        }
        out
    }
}

/// What [`Slos`] stores across restarts: each series' counts and snapshots.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlosState(Vec<((String, String), History)>);

impl Slos {
    /// The state to store.
    pub fn state(&self) -> SlosState {
        SlosState(
            self.history
                .iter()
                .map(|(k, h)| (k.clone(), h.clone()))
                .collect(),
        )
    }

    /// `slos` continued from `state`.
    pub fn restore(slos: Vec<Slo>, state: SlosState) -> Self {
        Self {
            slos,
            history: state.0.into_iter().collect(),
        }
    }
}
