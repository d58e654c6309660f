//! An alerting rule and its alerts: Prometheus's `rules/alerting.go`, step for step.
//! Inactive → pending → firing → inactive (resolved), with `for`, `keep_firing_for`,
//! the 15-minute resolved retention, the `ALERTS`/`ALERTS_FOR_STATE` series and the
//! re-send schedule of `sendAlerts`. Time is always an argument.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Context, RuleError, query};
use crate::promql::{self, Labels, Sample, Storage};
use crate::template::{Data, Template};

/// How long a resolved alert is still sent to Alertmanager (Prometheus's
/// `resolvedRetention`).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// An alert's state, as Prometheus names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Resolved (kept for the retention so it is sent as resolved).
    Inactive,
    /// The expression holds; `for` has not passed.
    Pending,
    /// The expression has held for `for`.
    Firing,
}

/// One alert of a rule (Prometheus's `rules.Alert`). Times in unix ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Labels after templating, with `alertname`.
    pub labels: BTreeMap<String, String>,
    /// Annotations after templating.
    pub annotations: BTreeMap<String, String>,
    /// The state.
    pub state: State,
    /// The expression's value at the last evaluation (not kept across restarts).
    #[serde(skip)]
    pub value: f64,
    /// When the expression started holding.
    pub active_at: i64,
    /// When it started firing.
    pub fired_at: Option<i64>,
    /// When it was resolved.
    pub resolved_at: Option<i64>,
    /// When it was last sent.
    pub last_sent_at: Option<i64>,
    /// Until when the last send is valid (`endsAt` of a firing alert).
    pub valid_until: Option<i64>,
    /// Since when it keeps firing although the expression no longer holds.
    pub keep_firing_since: Option<i64>,
    /// The `ALERTS` and `ALERTS_FOR_STATE` label sets, built once per state.
    #[serde(skip)]
    series: Option<(State, Labels, Labels)>,
}

impl Alert {
    /// Prometheus's `needsSending`.
    fn needs_sending(&self, now: i64, resend_delay_ms: i64) -> bool {
        if self.state == State::Pending {
            return false;
        }
        match (self.resolved_at, self.last_sent_at) {
            (_, None) => true,
            (Some(resolved), Some(sent)) if resolved > sent => true,
            (_, Some(sent)) => sent + resend_delay_ms < now,
        }
    }
}

/// A state change of one alert during an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The alert after the change.
    pub alert: Alert,
    /// The state before (`None`: it was not active).
    pub from: Option<State>,
}

/// An alerting rule, parsed.
pub struct AlertingRule {
    /// The `alert` name.
    pub name: String,
    expr: promql::Expr,
    expr_text: String,
    hold_ms: i64,
    keep_firing_for_ms: i64,
    labels: Vec<(String, Template)>,
    annotations: Vec<(String, Template)>,
    active: HashMap<BTreeMap<String, String>, Alert>,
}

impl AlertingRule {
    /// A rule from its parts; templates already parsed.
    pub fn new(
        name: String,
        expr_text: String,
        expr: promql::Expr,
        hold_ms: i64,
        keep_firing_for_ms: i64,
        labels: Vec<(String, Template)>,
        annotations: Vec<(String, Template)>,
    ) -> Self {
        Self {
            name,
            expr,
            expr_text,
            hold_ms,
            keep_firing_for_ms,
            labels,
            annotations,
            active: HashMap::new(),
        }
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr_text
    }

    /// Evaluates at `now` and returns the `ALERTS`/`ALERTS_FOR_STATE` samples and what
    /// changed. On error (including a `limit` overrun, which clears the alerts as
    /// Prometheus does) nothing is returned.
    pub fn eval(
        &mut self,
        storage: &Storage,
        now: i64,
        limit: usize,
        ctx: &Context,
    ) -> Result<(Vec<Sample>, Vec<Change>), RuleError> {
        let result = query(storage, &self.expr, now)?;
        let mut fresh: HashMap<BTreeMap<String, String>, Alert> = HashMap::new();
        for sample in result {
            let metric = sample.labels.without_name().to_map();
            let expanded = |templates: &[(String, Template)]| -> BTreeMap<String, String> {
                let data = Data {
                    labels: &metric,
                    external_labels: ctx.external_labels,
                    external_url: ctx.external_url,
                    value: sample.value,
                };
                templates
                    .iter()
                    .map(|(k, t)| (k.clone(), t.expand(&data)))
                    .collect()
            };
            let mut labels = metric.clone();
            for (k, v) in expanded(&self.labels) {
                if v.is_empty() {
                    labels.remove(&k);
                } else {
                    labels.insert(k, v);
                }
            }
            labels.insert("alertname".to_owned(), self.name.clone());
            let annotations = expanded(&self.annotations);
            if fresh.contains_key(&labels) {
                return Err(RuleError::DuplicateAlert);
            }
            fresh.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    state: State::Pending,
                    value: sample.value,
                    active_at: now,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: None,
                    keep_firing_since: None,
                    series: None,
                },
            );
        }
        let before: HashMap<_, _> = self
            .active
            .iter()
            .map(|(k, a)| (k.clone(), a.state))
            .collect();
        let returned: HashSet<_> = fresh.keys().cloned().collect();
        for (key, alert) in fresh {
            match self.active.get_mut(&key) {
                Some(a) if a.state != State::Inactive => {
                    a.value = alert.value;
                    a.annotations = alert.annotations;
                }
                _ => {
                    self.active.insert(key, alert);
                }
            }
        }
        let mut samples = Vec::new();
        let mut active_pending = 0;
        let mut removed = Vec::new();
        for (key, a) in &mut self.active {
            if !returned.contains(key) {
                let mut keep_firing = false;
                if a.state == State::Firing && self.keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(now);
                    keep_firing = now - since < self.keep_firing_for_ms;
                }
                if a.state == State::Pending
                    || a.resolved_at
                        .is_some_and(|r| now - r > RESOLVED_RETENTION_MS)
                {
                    removed.push(key.clone());
                }
                if a.state != State::Inactive && !keep_firing {
                    a.state = State::Inactive;
                    a.resolved_at = Some(now);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            active_pending += 1;
            if a.state == State::Pending && now - a.active_at >= self.hold_ms {
                a.state = State::Firing;
                a.fired_at = Some(now);
            }
            let (alerts, for_state) = alert_series(a);
            samples.push(Sample {
                labels: alerts,
                value: 1.0,
            });
            samples.push(Sample {
                labels: for_state,
                value: (a.active_at / 1000) as f64,
            });
        }
        let mut changes: Vec<Change> = Vec::new();
        for (key, a) in &self.active {
            let from = before.get(key).copied();
            if from != Some(a.state) && !(from.is_none() && a.state == State::Inactive) {
                changes.push(Change {
                    alert: a.clone(),
                    from,
                });
            }
        }
        for key in removed {
            self.active.remove(&key);
        }
        if limit > 0 && active_pending > limit {
            self.active.clear();
            return Err(RuleError::Limit {
                limit,
                found: active_pending,
                what: "alerts",
            });
        }
        changes.sort_by(|a, b| a.alert.labels.cmp(&b.alert.labels));
        Ok((samples, changes))
    }

    /// Prometheus's `sendAlerts`: the alerts due for (re-)sending at `now`, marked as
    /// sent, with `endsAt` = the resolve time, or `now + 4 × max(interval, resend)`.
    pub fn due(&mut self, now: i64, resend_delay_ms: i64, interval_ms: i64) -> Vec<Alert> {
        let delta = resend_delay_ms.max(interval_ms);
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.needs_sending(now, resend_delay_ms) {
                a.last_sent_at = Some(now);
                a.valid_until = Some(now + 4 * delta);
                out.push(a.clone());
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Every alert not pending: firing, or resolved within the retention.
    pub fn announced(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().filter(|a| a.state != State::Pending)
    }

    /// All active alerts, for the state store and the unit-test runner.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// Continues from alerts saved before a restart.
    pub fn restore(&mut self, alerts: Vec<Alert>) {
        self.active = alerts.into_iter().map(|a| (a.labels.clone(), a)).collect();
    }
}

/// The alert's `ALERTS` and `ALERTS_FOR_STATE` label sets, cached until its state
/// changes (building them for every active alert at every evaluation dominated the
/// group's time with hundreds of alerts).
fn alert_series(a: &mut Alert) -> (Labels, Labels) {
    if let Some((state, alerts, for_state)) = &a.series
        && *state == a.state
    {
        return (alerts.clone(), for_state.clone());
    }
    let state = match a.state {
        State::Pending => "pending",
        State::Firing | State::Inactive => "firing",
    };
    let labels = |name: &'static str, with_state: bool| {
        Labels::from_pairs(
            a.labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain([("__name__", name)])
                .chain(with_state.then_some(("alertstate", state))),
        )
    };
    let built = (labels("ALERTS", true), labels("ALERTS_FOR_STATE", false));
    a.series = Some((a.state, built.0.clone(), built.1.clone()));
    built
}
