//! The evaluator: the window, the groups and their schedule. `step(now)` evaluates the
//! groups that are due and returns everything that happened — state changes, alerts
//! due for Alertmanager — for the shell to deliver; `announced()` is what webhooks see.
//!
//! **Invariant:** the evaluator never reads the clock and never touches the bus or the
//! network: ten minutes of rules run in milliseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::wire::{AlertState, AlertTransition};

use crate::notify;
use crate::promql::Storage;
use crate::rules::{self, Alert, Context, Group, RuleError, State};
use crate::template::query_escape;

/// What the evaluator needs besides the rules.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Added to sent alerts that lack them; `$externalLabels` in templates.
    pub external_labels: BTreeMap<String, String>,
    /// Prometheus's `--web.external-url`: generator URLs, `$externalURL`.
    pub external_url: String,
    /// Minimum time between two sends of a firing alert to Alertmanager.
    pub resend_delay: Duration,
    /// How much history the window keeps (the longest range a rule reads).
    pub retention: Duration,
}

/// The evaluator's state.
pub struct Evaluator {
    storage: Storage,
    groups: Vec<(Group, i64)>,
    settings: Settings,
}

/// What one `step` did.
#[derive(Debug, Default)]
pub struct Step {
    /// How many groups were evaluated.
    pub evaluated: usize,
    /// Every alert state change, as published on `alerts.v1`.
    pub transitions: Vec<AlertTransition>,
    /// Alerts to post to Alertmanager now (Prometheus's re-send schedule).
    pub due: Vec<notify::Alert>,
    /// Rules that failed: group, rule, why.
    pub errors: Vec<(String, String, RuleError)>,
    /// Rule results the window refused.
    pub rejected: usize,
}

/// The alerts of every alerting rule, for the state store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `(file, group, rule)` → its alerts.
    pub rules: Vec<((String, String, String), Vec<Alert>)>,
}

impl Evaluator {
    /// An evaluator over an empty window.
    pub fn new(groups: Vec<Group>, settings: Settings) -> Self {
        Self {
            storage: Storage::new(),
            groups: groups.into_iter().map(|g| (g, i64::MIN)).collect(),
            settings,
        }
    }

    /// The window, for feeding.
    pub fn storage_mut(&mut self) -> &mut Storage {
        &mut self.storage
    }

    /// The window.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The groups.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.iter().map(|(g, _)| g)
    }

    /// When the next group is due (unix ms).
    pub fn next_due(&self) -> Option<i64> {
        self.groups.iter().map(|(_, next)| *next).min()
    }

    /// Evaluates every group due at `now` (each on the multiples of its interval),
    /// then trims the window to the retention.
    pub fn step(&mut self, now: i64) -> Step {
        let mut step = Step::default();
        for i in 0..self.groups.len() {
            let (group, next) = &mut self.groups[i];
            if *next > now {
                continue;
            }
            let interval = (group.interval.as_millis() as i64).max(1);
            *next = (now / interval + 1) * interval;
            self.eval_group(i, now, &mut step);
        }
        let retention = self.settings.retention.as_millis() as i64;
        self.storage.truncate_before(now.saturating_sub(retention));
        step
    }

    /// Evaluates every group at `now`, in order, whatever their intervals (as
    /// `promtool test rules` does).
    pub fn eval_all(&mut self, now: i64, order: &[usize]) -> Step {
        let mut step = Step::default();
        for &i in order {
            self.eval_group(i, now, &mut step);
        }
        step
    }

    fn eval_group(&mut self, i: usize, now: i64, step: &mut Step) {
        let settings = &self.settings;
        let ctx = Context {
            external_labels: &settings.external_labels,
            external_url: &settings.external_url,
            resend_delay_ms: settings.resend_delay.as_millis() as i64,
        };
        let (group, _) = &mut self.groups[i];
        let out = group.eval(&mut self.storage, now, &ctx);
        step.evaluated += 1;
        step.rejected += out.rejected;
        step.errors.extend(
            out.errors
                .into_iter()
                .map(|(rule, e)| (group.name.clone(), rule, e)),
        );
        step.transitions
            .extend(out.changes.iter().map(|c| transition(c, now)));
        step.due
            .extend(out.due.iter().map(|a| to_notify(a, settings, group)));
    }

    /// The alerts of every rule.
    pub fn snapshot(&self) -> Snapshot {
        let mut rules = Vec::new();
        for (g, _) in &self.groups {
            for r in g.alerting() {
                let mut alerts: Vec<Alert> = r.alerts().cloned().collect();
                alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
                rules.push(((g.file.clone(), g.name.clone(), r.name.clone()), alerts));
            }
        }
        Snapshot { rules }
    }

    /// Continues from a snapshot: rules that still exist get their alerts back.
    /// Returns how many alerts were restored.
    pub fn restore(&mut self, snapshot: Snapshot) -> usize {
        let mut restored = 0;
        let mut saved: BTreeMap<_, _> = snapshot.rules.into_iter().collect();
        for (g, _) in &mut self.groups {
            let (file, group) = (g.file.clone(), g.name.clone());
            for r in g.alerting_mut() {
                if let Some(alerts) = saved.remove(&(file.clone(), group.clone(), r.name.clone())) {
                    restored += alerts.len();
                    r.restore(alerts);
                }
            }
        }
        restored
    }

    /// How many alerts fire now.
    pub fn firing(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|(g, _)| g.alerting())
            .flat_map(|r| r.alerts())
            .filter(|a| a.state == State::Firing)
            .count()
    }

    /// Every firing or recently resolved alert, as webhooks see them.
    pub fn announced(&self) -> Vec<notify::Alert> {
        let mut out = Vec::new();
        for (g, _) in &self.groups {
            for r in g.alerting() {
                out.extend(r.announced().map(|a| to_notify(a, &self.settings, g)));
            }
        }
        out
    }

    /// Finds an alerting rule's alerts by name (for the unit-test runner).
    pub fn alerts_of(&self, alertname: &str) -> Vec<&Alert> {
        self.groups
            .iter()
            .flat_map(|(g, _)| g.alerting())
            .filter(|r| r.name == alertname)
            .flat_map(|r| r.alerts())
            .collect()
    }
}

/// A rule's alert as Prometheus's rule manager hands it to the notifier: starts when it
/// fired, ends when resolved or when the last send stops being valid, external labels
/// added where the alert has none of that name.
fn to_notify(a: &Alert, settings: &Settings, group: &Group) -> notify::Alert {
    let mut labels = a.labels.clone();
    for (k, v) in &settings.external_labels {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let expr = group
        .alerting()
        .find(|r| Some(r.name.as_str()) == a.labels.get("alertname").map(String::as_str))
        .map(|r| r.expr())
        .unwrap_or_default();
    notify::Alert {
        labels,
        annotations: a.annotations.clone(),
        starts_at_ms: a.fired_at.unwrap_or(a.active_at),
        ends_at_ms: a.resolved_at.or(a.valid_until),
        generator_url: format!(
            "{}/graph?g0.expr={}&g0.tab=1",
            settings.external_url.trim_end_matches('/'),
            query_escape(expr)
        ),
    }
}

fn transition(c: &rules::Change, now: i64) -> AlertTransition {
    let a = &c.alert;
    let from = match c.from {
        None | Some(State::Inactive) => AlertState::Inactive,
        Some(State::Pending) => AlertState::Pending,
        Some(State::Firing) => AlertState::Firing,
    };
    let to = match (a.state, c.from) {
        (State::Inactive, Some(State::Firing)) => AlertState::Resolved,
        (State::Inactive, _) => AlertState::Inactive,
        (State::Pending, _) => AlertState::Pending,
        (State::Firing, _) => AlertState::Firing,
    };
    AlertTransition {
        schema: 1,
        fingerprint: notify::fingerprint_hex(notify::fingerprint(&a.labels)),
        alertname: a.labels.get("alertname").cloned().unwrap_or_default(),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        from,
        to,
        value: a.value,
        active_at: Some(utc(a.active_at)),
        time: utc(now),
    }
}

/// Unix ms as a UTC time.
pub fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
