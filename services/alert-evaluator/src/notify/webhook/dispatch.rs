//! Alertmanager's aggregation groups (`dispatch/dispatch.go`) and notification
//! dedup (`notify.DedupStage`, `RetryStage`'s `send_resolved` filter) for one
//! webhook, as a pure state machine: time is an argument, there is no I/O.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::WebhookConfig;
use super::config::GROUP_BY_ALL;
use super::message::{GroupInfo, Message};
use crate::notify::Alert;
use crate::notify::fingerprint::label_set_string;

/// An alert reported with no `ends_at` and not reported again resolves this
/// long after it was last reported (Alertmanager's default `resolve_timeout`).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Every group is under Alertmanager's root route, whose key is `{}`.
const ROUTE_KEY: &str = "{}";

type LabelSet = BTreeMap<String, String>;

/// Aggregation groups and dedup for one webhook.
///
/// Feed it with [`Dispatcher::update`]: the alerts passed are merged into the
/// groups' alert stores as Alertmanager merges what Prometheus posts, so an
/// alert that is not passed again keeps its last state (it resolves when its
/// `ends_at` passes, or [`RESOLVE_TIMEOUT`] after it was last passed open), and
/// `update(now, &[])` is a pure timer tick.
#[derive(Debug)]
pub struct Dispatcher {
    settings: Settings,
    groups: BTreeMap<LabelSet, Group>,
}

#[derive(Debug)]
struct Settings {
    receiver: String,
    external_url: String,
    /// `None` groups by all labels.
    group_by: Option<BTreeSet<String>>,
    group_wait_ms: i64,
    group_interval_ms: i64,
    repeat_interval_ms: i64,
    send_resolved: bool,
    max_alerts: usize,
}

#[derive(Debug)]
struct Group {
    key: String,
    labels: LabelSet,
    /// The group's alerts by fingerprint, as last reported.
    alerts: BTreeMap<u64, Alert>,
    next_flush_ms: i64,
    has_flushed: bool,
    /// What the last notification covered: the notification log entry.
    last: Option<Notified>,
}

#[derive(Debug)]
struct Notified {
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    at_ms: i64,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Dispatcher {
    pub fn new(config: &WebhookConfig, external_url: &str) -> Self {
        let group_by = (!config.group_by.iter().any(|l| l == GROUP_BY_ALL))
            .then(|| config.group_by.iter().cloned().collect());
        Self {
            settings: Settings {
                receiver: config.receiver_name(),
                external_url: external_url.trim_end_matches('/').to_owned(),
                group_by,
                group_wait_ms: millis(config.group_wait),
                group_interval_ms: millis(config.group_interval),
                repeat_interval_ms: millis(config.repeat_interval),
                send_resolved: config.send_resolved,
                max_alerts: config.max_alerts,
            },
            groups: BTreeMap::new(),
        }
    }

    /// Merges `alerts` (every alert the evaluator currently reports, firing and
    /// resolved) and returns the notifications due at `now_ms`, in group order.
    pub fn update(&mut self, now_ms: i64, alerts: &[Alert]) -> Vec<Message> {
        for alert in alerts {
            self.insert(now_ms, alert);
        }
        let mut messages = Vec::new();
        self.groups.retain(|_, group| {
            if group.next_flush_ms > now_ms {
                return true;
            }
            messages.extend(group.flush(&self.settings, now_ms));
            !group.alerts.is_empty()
        });
        messages
    }

    /// When `update` should next be called even with no new input; `None` when idle.
    pub fn next_due(&self) -> Option<i64> {
        self.groups.values().map(|g| g.next_flush_ms).min()
    }

    fn insert(&mut self, now_ms: i64, alert: &Alert) {
        let settings = &self.settings;
        let labels: LabelSet = match &settings.group_by {
            None => alert.labels.clone(),
            Some(names) => alert
                .labels
                .iter()
                .filter(|(name, _)| names.contains(*name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        };
        let group = self
            .groups
            .entry(labels)
            .or_insert_with_key(|labels| Group {
                key: format!("{ROUTE_KEY}:{}", label_set_string(labels)),
                labels: labels.clone(),
                alerts: BTreeMap::new(),
                next_flush_ms: now_ms.saturating_add(settings.group_wait_ms),
                has_flushed: false,
                last: None,
            });
        // An alert that started more than group_wait ago flushes a new group at once.
        if !group.has_flushed && alert.starts_at_ms.saturating_add(settings.group_wait_ms) < now_ms
        {
            group.next_flush_ms = group.next_flush_ms.min(now_ms);
        }
        let mut alert = alert.clone();
        if alert.ends_at_ms.is_none() {
            alert.ends_at_ms = Some(now_ms.saturating_add(millis(RESOLVE_TIMEOUT)));
        }
        group.alerts.insert(alert.fingerprint(), alert);
    }
}

impl Group {
    /// One tick of the group's timer: the notification, if one is needed, and
    /// resolved alerts forgotten afterwards.
    fn flush(&mut self, settings: &Settings, now_ms: i64) -> Option<Message> {
        self.next_flush_ms = now_ms.saturating_add(settings.group_interval_ms);
        self.has_flushed = true;
        if self.alerts.is_empty() {
            return None;
        }

        let mut alerts: Vec<Alert> = self.alerts.values().cloned().collect();
        for alert in &mut alerts {
            // As in Alertmanager's flush: an alert not resolved yet has no end in the body.
            if !alert.resolved_at(now_ms) {
                alert.ends_at_ms = None;
            }
        }
        alerts.sort_by(alertmanager_order);
        let (resolved, firing): (Vec<&Alert>, Vec<&Alert>) =
            alerts.iter().partition(|a| a.resolved_at(now_ms));
        let firing: BTreeSet<u64> = firing.iter().map(|a| a.fingerprint()).collect();
        let resolved: BTreeSet<u64> = resolved.iter().map(|a| a.fingerprint()).collect();

        let message = if self.needs_update(settings, &firing, &resolved, now_ms) {
            self.last = Some(Notified {
                firing,
                resolved,
                at_ms: now_ms,
            });
            if !settings.send_resolved {
                alerts.retain(|a| !a.resolved_at(now_ms));
            }
            // Without send_resolved, all-resolved is logged as notified but not sent.
            (!alerts.is_empty()).then(|| self.message(settings, alerts, now_ms))
        } else {
            None
        };
        self.alerts.retain(|_, alert| !alert.resolved_at(now_ms));
        message
    }

    /// `DedupStage.needsUpdate`.
    fn needs_update(
        &self,
        settings: &Settings,
        firing: &BTreeSet<u64>,
        resolved: &BTreeSet<u64>,
        now_ms: i64,
    ) -> bool {
        let Some(last) = &self.last else {
            // Never notified: only worth it when something fires.
            return !firing.is_empty();
        };
        if !firing.is_subset(&last.firing) {
            return true;
        }
        if firing.is_empty() {
            // Everything resolved: tell the receiver if it was told something fired.
            return !last.firing.is_empty();
        }
        if settings.send_resolved && !resolved.is_subset(&last.resolved) {
            return true;
        }
        last.at_ms < now_ms.saturating_sub(settings.repeat_interval_ms)
    }

    fn message(&self, settings: &Settings, mut alerts: Vec<Alert>, now_ms: i64) -> Message {
        let mut truncated = 0;
        if settings.max_alerts != 0 && alerts.len() > settings.max_alerts {
            truncated = (alerts.len() - settings.max_alerts) as u64;
            alerts.truncate(settings.max_alerts);
        }
        let group = GroupInfo {
            receiver: &settings.receiver,
            external_url: &settings.external_url,
            key: &self.key,
            labels: &self.labels,
        };
        Message::new(&group, &alerts, truncated, now_ms)
    }
}

/// `types.AlertSlice.Less`: by `job`, then `instance` (alerts that have one
/// first), then by label set as `model.LabelSet.Before` orders them.
fn alertmanager_order(a: &Alert, b: &Alert) -> Ordering {
    for key in ["job", "instance"] {
        match (a.labels.get(key), b.labels.get(key)) {
            (None, None) => {}
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            (Some(_), Some(_)) => {}
        }
    }
    label_set_before(&a.labels, &b.labels)
}

/// `model.LabelSet.Before`: fewer labels first; then at the first name (in the
/// sorted union) where they differ, a missing label sorts first, else the value.
fn label_set_before(a: &LabelSet, b: &LabelSet) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| {
        let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        names
            .into_iter()
            .map(|name| match (a.get(name), b.get(name)) {
                (None, _) => Ordering::Less,
                (_, None) => Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(y),
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn alert(pairs: &[(&str, &str)]) -> Alert {
        Alert {
            labels: labels(pairs),
            annotations: LabelSet::new(),
            starts_at_ms: 0,
            ends_at_ms: None,
            generator_url: String::new(),
        }
    }

    /// The expected order is what `sort.Stable(types.AlertSlice)` printed with
    /// Alertmanager v0.25.0 for the same label sets in the same input order.
    #[test]
    fn orders_as_alertmanager() {
        let mut alerts = vec![
            alert(&[("a", "1"), ("b", "2"), ("c", "3")]),
            alert(&[("z", "1")]),
            alert(&[("instance", "i2")]),
            alert(&[("job", "b")]),
            alert(&[("instance", "i1"), ("x", "1")]),
            alert(&[("job", "a"), ("instance", "i9")]),
            alert(&[("job", "a")]),
            alert(&[("a", "1"), ("c", "3")]),
            alert(&[("a", "1"), ("b", "3")]),
            alert(&[("a", "0")]),
        ];
        alerts.sort_by(alertmanager_order);
        let order: Vec<String> = alerts.iter().map(|a| label_set_string(&a.labels)).collect();
        assert_eq!(
            order,
            [
                r#"{instance="i9", job="a"}"#,
                r#"{job="a"}"#,
                r#"{job="b"}"#,
                r#"{instance="i1", x="1"}"#,
                r#"{instance="i2"}"#,
                r#"{z="1"}"#,
                r#"{a="0"}"#,
                r#"{a="1", c="3"}"#,
                r#"{a="1", b="3"}"#,
                r#"{a="1", b="2", c="3"}"#,
            ]
        );
    }
}
