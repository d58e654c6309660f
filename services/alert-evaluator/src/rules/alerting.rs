//! An alerting rule and its alerts: Prometheus's `rules/alerting.go`, step for step.
//! Inactive → pending → firing → inactive (resolved), with `for`, `keep_firing_for`,
//! the 15-minute resolved retention, the `ALERTS`/`ALERTS_FOR_STATE` series and the
//! re-send schedule of `sendAlerts`. Time is always an argument.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Context, RuleError, query};
use crate::promql::{self, FxHashMap, FxHashSet, Labels, Sample, Storage};
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
    /// The active alerts by [`alert_key`].
    active: FxHashMap<Labels, Alert>,
}

/// A result of this evaluation, before it is merged into the active alerts.
enum Fresh {
    /// An alert already pending or firing: only its value and annotations change.
    Seen {
        value: f64,
        annotations: Vec<String>,
    },
    /// A new alert (or one that was resolved and holds again).
    New(Box<Alert>),
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
            active: FxHashMap::default(),
        }
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr_text
    }

    /// Evaluates at `now` and returns the `ALERTS`/`ALERTS_FOR_STATE` samples and what
    /// changed. On error (including a `limit` overrun, which clears the alerts as
    /// Prometheus does) nothing is returned.
    ///
    /// Alerts are keyed by their label set as a [`Labels`] (one buffer, hashed once):
    /// an alert that is already active costs that key and its annotations; its label
    /// map is built only when it first appears.
    pub fn eval(
        &mut self,
        storage: &Storage,
        now: i64,
        limit: usize,
        ctx: &Context,
    ) -> Result<(Vec<Sample>, Vec<Change>), RuleError> {
        let result = query(storage, &self.expr, now)?;
        let Self {
            name,
            hold_ms,
            keep_firing_for_ms,
            labels: label_templates,
            annotations: annotation_templates,
            active,
            ..
        } = self;
        // `$labels` is only built when some template can read it.
        let all_static = label_templates
            .iter()
            .chain(annotation_templates.iter())
            .all(|(_, t)| t.is_static());
        let mut returned: FxHashSet<Labels> = FxHashSet::default();
        returned.reserve(result.len());
        let mut fresh: Vec<(Labels, Fresh)> = Vec::with_capacity(result.len());
        for sample in &result {
            let metric = sample.labels.without_name();
            let metric_map = if all_static {
                BTreeMap::new()
            } else {
                metric.to_map()
            };
            let data = Data {
                labels: &metric_map,
                external_labels: ctx.external_labels,
                external_url: ctx.external_url,
                value: sample.value,
            };
            // Prometheus's `labels.Builder`: the result's labels, each rule label set
            // (an empty value deletes), then `alertname`.
            let mut labels: Vec<(&str, Cow<'_, str>)> =
                metric.iter().map(|(k, v)| (k, Cow::Borrowed(v))).collect();
            for (k, t) in label_templates.iter() {
                let v = if t.is_static() {
                    Cow::Borrowed(t.text())
                } else {
                    Cow::Owned(t.expand(&data))
                };
                set_label(&mut labels, k, v);
            }
            set_label(&mut labels, "alertname", Cow::Borrowed(name.as_str()));
            let key = Labels::from_sorted(labels.iter().map(|(k, v)| (*k, &**v)));
            if !returned.insert(key.clone()) {
                return Err(RuleError::DuplicateAlert);
            }
            let annotations: Vec<String> = annotation_templates
                .iter()
                .map(|(_, t)| t.expand(&data))
                .collect();
            let entry = match active.get(&key) {
                Some(a) if a.state != State::Inactive => Fresh::Seen {
                    value: sample.value,
                    annotations,
                },
                _ => Fresh::New(Box::new(Alert {
                    labels: labels
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.into_owned()))
                        .collect(),
                    annotations: annotation_templates
                        .iter()
                        .map(|(k, _)| k.clone())
                        .zip(annotations)
                        .collect(),
                    state: State::Pending,
                    value: sample.value,
                    active_at: now,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: None,
                    keep_firing_since: None,
                    series: None,
                })),
            };
            fresh.push((key, entry));
        }
        // The state before this evaluation of the alerts replaced or added below; every
        // other alert's is its state when the loop after reaches it.
        let mut replaced: FxHashMap<Labels, Option<State>> = FxHashMap::default();
        for (key, entry) in fresh {
            match entry {
                Fresh::Seen { value, annotations } => {
                    if let Some(a) = active.get_mut(&key) {
                        a.value = value;
                        set_annotations(&mut a.annotations, annotation_templates, annotations);
                    }
                }
                Fresh::New(alert) => {
                    let from = active.insert(key.clone(), *alert).map(|old| old.state);
                    replaced.insert(key, from);
                }
            }
        }
        let mut samples = Vec::with_capacity(2 * active.len());
        let mut changes: Vec<Change> = Vec::new();
        let mut active_pending = 0;
        let mut removed = Vec::new();
        for (key, a) in active.iter_mut() {
            let from = replaced.get(key).copied().unwrap_or(Some(a.state));
            let mut keep_series = true;
            if !returned.contains(key) {
                let mut keep_firing = false;
                if a.state == State::Firing && *keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since.get_or_insert(now);
                    keep_firing = now - since < *keep_firing_for_ms;
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
                keep_series = keep_firing;
            } else {
                a.keep_firing_since = None;
            }
            if keep_series {
                active_pending += 1;
                if a.state == State::Pending && now - a.active_at >= *hold_ms {
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
            if from != Some(a.state) && !(from.is_none() && a.state == State::Inactive) {
                changes.push(Change {
                    alert: a.clone(),
                    from,
                });
            }
        }
        for key in removed {
            active.remove(&key);
        }
        if limit > 0 && active_pending > limit {
            active.clear();
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
        self.active = alerts.into_iter().map(|a| (alert_key(&a), a)).collect();
    }
}

/// The key of an alert among its rule's alerts: its labels.
fn alert_key(a: &Alert) -> Labels {
    Labels::from_pairs(a.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Sets `name` in `labels` (sorted by name); an empty value deletes it.
fn set_label<'a>(labels: &mut Vec<(&'a str, Cow<'a, str>)>, name: &'a str, value: Cow<'a, str>) {
    match labels.binary_search_by(|(n, _)| (*n).cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => labels[i].1 = value,
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, (name, value)),
    }
}

/// Replaces an alert's annotations with this evaluation's values, in place when the
/// rule's annotation names are the ones the alert has (always, unless it was restored
/// from a rule with other annotations).
fn set_annotations(
    annotations: &mut BTreeMap<String, String>,
    templates: &[(String, Template)],
    values: Vec<String>,
) {
    let same_names = annotations.len() == templates.len()
        && annotations
            .keys()
            .zip(templates)
            .all(|(k, (name, _))| k == name);
    if same_names {
        for (old, new) in annotations.values_mut().zip(values) {
            *old = new;
        }
    } else {
        *annotations = templates
            .iter()
            .map(|(k, _)| k.clone())
            .zip(values)
            .collect();
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
