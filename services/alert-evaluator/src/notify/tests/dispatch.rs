//! The dispatcher's grouping, timing and dedup, with time as an argument.

use std::time::Duration;

use super::support::{T0, TestResult, firing, labels, resolved};
use crate::notify::Alert;
use crate::notify::webhook::{Dispatcher, Message, RESOLVE_TIMEOUT, Status, WebhookConfig};

const SEC: i64 = 1_000;

fn config() -> WebhookConfig {
    WebhookConfig {
        name: Some("ops".into()),
        ..WebhookConfig::new("http://127.0.0.1:9/hook")
    }
}

fn dispatcher(config: &WebhookConfig) -> Dispatcher {
    Dispatcher::new(config, "http://eval.example/")
}

/// Each message's alerts as `(name-or-pool, status)`.
fn summary(message: &Message) -> Vec<(String, Status)> {
    message
        .alerts
        .iter()
        .map(|a| {
            let id = a.labels.get("pool").or(a.labels.get("alertname"));
            (id.cloned().unwrap_or_default(), a.status)
        })
        .collect()
}

fn pool(name: &str, pool: &str, starts_at_ms: i64) -> Alert {
    firing(
        &[("alertname", name), ("pool", pool), ("severity", "page")],
        starts_at_ms,
    )
}

#[test]
fn groups_by_alertname_and_fills_group_fields() {
    let mut d = dispatcher(&config());
    let mut a = pool("HighLatency", "gpu-a", T0);
    a.annotations = labels(&[("summary", "slow"), ("runbook", "r1")]);
    let mut b = pool("HighLatency", "gpu-b", T0);
    b.annotations = labels(&[("summary", "slow"), ("runbook", "r2")]);
    let c = pool("Down", "gpu-a", T0);

    let messages = d.update(T0, &[a, b, c]);
    assert_eq!(messages.len(), 2);
    let (down, latency) = (&messages[0], &messages[1]);
    assert_eq!(down.group_key, r#"{}:{alertname="Down"}"#);
    assert_eq!(latency.group_key, r#"{}:{alertname="HighLatency"}"#);
    assert_eq!(
        latency.group_labels,
        labels(&[("alertname", "HighLatency")])
    );
    assert_eq!(
        latency.common_labels,
        labels(&[("alertname", "HighLatency"), ("severity", "page")])
    );
    assert_eq!(latency.common_annotations, labels(&[("summary", "slow")]));
    assert_eq!(latency.receiver, "ops");
    assert_eq!(latency.external_url, "http://eval.example");
    assert_eq!(latency.version, "4");
    assert_eq!(latency.status, Status::Firing);
    assert_eq!(latency.truncated_alerts, 0);
    assert_eq!(
        summary(latency),
        [
            ("gpu-a".into(), Status::Firing),
            ("gpu-b".into(), Status::Firing)
        ]
    );
    assert!(latency.alerts.iter().all(|a| a.ends_at.is_none()));
}

#[test]
fn groups_by_all_labels_or_by_missing_ones() {
    let all = WebhookConfig {
        group_by: vec!["...".into()],
        ..config()
    };
    let mut d = dispatcher(&all);
    let messages = d.update(T0, &[pool("X", "a", T0), pool("X", "b", T0)]);
    let keys: Vec<&str> = messages.iter().map(|m| m.group_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            r#"{}:{alertname="X", pool="a", severity="page"}"#,
            r#"{}:{alertname="X", pool="b", severity="page"}"#
        ]
    );

    let by_zone = WebhookConfig {
        group_by: vec!["zone".into()],
        ..config()
    };
    let mut d = dispatcher(&by_zone);
    let messages = d.update(T0, &[pool("X", "a", T0), pool("Y", "b", T0)]);
    assert_eq!(messages.len(), 1, "no zone label: one group with no labels");
    assert_eq!(messages[0].group_key, "{}:{}");
    assert!(messages[0].group_labels.is_empty());
    assert_eq!(messages[0].alerts.len(), 2);
}

#[test]
fn group_wait_holds_the_first_notification() {
    let config = WebhookConfig {
        group_wait: Duration::from_secs(30),
        ..config()
    };
    let mut d = dispatcher(&config);
    assert_eq!(d.next_due(), None);
    assert!(d.update(T0, &[pool("X", "a", T0)]).is_empty());
    assert_eq!(d.next_due(), Some(T0 + 30 * SEC));
    assert!(
        d.update(T0 + 10 * SEC, &[pool("X", "b", T0 + 10 * SEC)])
            .is_empty()
    );
    assert!(d.update(T0 + 30 * SEC - 1, &[]).is_empty());
    let messages = d.update(T0 + 30 * SEC, &[]);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].alerts.len(),
        2,
        "both alerts in the first notification"
    );
    assert_eq!(
        d.next_due(),
        Some(T0 + 35 * SEC),
        "then every group_interval"
    );
}

#[test]
fn an_alert_older_than_group_wait_flushes_a_new_group_at_once() {
    let config = WebhookConfig {
        group_wait: Duration::from_secs(30),
        ..config()
    };
    let mut d = dispatcher(&config);
    // Alertmanager's aggrGroup.insert: startsAt + group_wait before now → flush now.
    let messages = d.update(T0, &[pool("X", "a", T0 - 31 * SEC)]);
    assert_eq!(messages.len(), 1);
    // Exactly group_wait old is not "before now" yet.
    let mut d = dispatcher(&config);
    assert!(d.update(T0, &[pool("X", "a", T0 - 30 * SEC)]).is_empty());
}

#[test]
fn group_interval_paces_changes_and_nothing_is_resent_without_one() {
    let mut d = dispatcher(&config());
    let a = pool("X", "a", T0);
    let b = pool("X", "b", T0 + SEC);
    assert_eq!(d.update(T0, std::slice::from_ref(&a)).len(), 1);
    // A new alert in the group waits for the next group_interval tick (5s).
    assert!(d.update(T0 + SEC, &[a.clone(), b.clone()]).is_empty());
    assert!(d.update(T0 + 4 * SEC, &[a.clone(), b.clone()]).is_empty());
    let messages = d.update(T0 + 5 * SEC, &[a.clone(), b.clone()]);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].alerts.len(), 2);
    // The same alerts again: no notification at the following ticks.
    for tick in 2..20 {
        assert!(
            d.update(T0 + tick * 5 * SEC, &[a.clone(), b.clone()])
                .is_empty()
        );
    }
}

#[test]
fn repeat_interval_resends_while_firing() {
    let config = WebhookConfig {
        repeat_interval: Duration::from_secs(60),
        ..config()
    };
    let mut d = dispatcher(&config);
    let a = pool("X", "a", T0);
    assert_eq!(d.update(T0, std::slice::from_ref(&a)).len(), 1);
    let mut sent_at = Vec::new();
    for tick in 1..=30 {
        let now = T0 + tick * 5 * SEC;
        if !d.update(now, std::slice::from_ref(&a)).is_empty() {
            sent_at.push((now - T0) / SEC);
        }
    }
    // DedupStage: last notification *before* now - repeat_interval, so the
    // first tick strictly after 60s, then again 65s after that.
    assert_eq!(sent_at, [65, 130]);
}

#[test]
fn resolved_alerts_are_sent_once_then_forgotten() {
    let mut d = dispatcher(&config());
    let a = pool("X", "a", T0);
    let b = pool("X", "b", T0);
    assert_eq!(d.update(T0, &[a.clone(), b.clone()]).len(), 1);

    let a_done = resolved(&a, T0 + 2 * SEC);
    assert!(
        d.update(T0 + 3 * SEC, &[a_done.clone(), b.clone()])
            .is_empty()
    );
    let messages = d.update(T0 + 5 * SEC, &[a_done.clone(), b.clone()]);
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.status, Status::Firing, "b still fires");
    assert_eq!(
        summary(message),
        [("a".into(), Status::Resolved), ("b".into(), Status::Firing)]
    );
    let ends_at = message.alerts[0].ends_at.map(|t| t.timestamp_millis());
    assert_eq!(ends_at, Some(T0 + 2 * SEC));

    // Prometheus keeps re-sending the resolved alert: nothing new to say.
    for tick in 2..10 {
        assert!(
            d.update(T0 + tick * 5 * SEC, &[a_done.clone(), b.clone()])
                .is_empty()
        );
    }

    // The last one resolves: one "resolved" notification, then the group is gone.
    let b_done = resolved(&b, T0 + 50 * SEC);
    let messages = d.update(T0 + 50 * SEC, &[a_done.clone(), b_done.clone()]);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].status, Status::Resolved);
    assert_eq!(d.next_due(), None);
    // Re-sent resolved alerts make a group that never notifies.
    assert!(d.update(T0 + 55 * SEC, &[a_done, b_done]).is_empty());
    assert_eq!(d.next_due(), None);
}

#[test]
fn an_alert_that_stops_being_reported_resolves_by_its_end() {
    let mut d = dispatcher(&config());
    // As Prometheus sends it: ends_at = ValidUntil, refreshed on every evaluation.
    let mut a = pool("X", "a", T0);
    a.ends_at_ms = Some(T0 + 60 * SEC);
    assert_eq!(d.update(T0, &[a]).len(), 1);
    for tick in 1..12 {
        assert!(d.update(T0 + tick * 5 * SEC, &[]).is_empty());
    }
    let messages = d.update(T0 + 60 * SEC, &[]);
    assert_eq!(summary(&messages[0]), [("a".into(), Status::Resolved)]);
    assert_eq!(d.next_due(), None);

    // Open-ended alerts time out like Alertmanager's resolve_timeout.
    let mut d = dispatcher(&config());
    assert_eq!(d.update(T0, &[pool("X", "b", T0)]).len(), 1);
    let timeout = i64::try_from(RESOLVE_TIMEOUT.as_millis()).unwrap_or(i64::MAX);
    for tick in 1..timeout / (5 * SEC) {
        assert!(d.update(T0 + tick * 5 * SEC, &[]).is_empty());
    }
    let messages = d.update(T0 + timeout, &[]);
    assert_eq!(messages[0].status, Status::Resolved);
}

#[test]
fn send_resolved_false_sends_firing_alerts_only() {
    let config = WebhookConfig {
        send_resolved: false,
        ..config()
    };
    let mut d = dispatcher(&config);
    let a = pool("X", "a", T0);
    let b = pool("X", "b", T0);
    assert_eq!(d.update(T0, &[a.clone(), b.clone()]).len(), 1);

    // A resolution alone is no reason to notify.
    let a_done = resolved(&a, T0 + SEC);
    assert!(
        d.update(T0 + 5 * SEC, &[a_done.clone(), b.clone()])
            .is_empty()
    );
    // A new firing alert is, and the body leaves the resolved one out.
    let c = pool("X", "c", T0 + 6 * SEC);
    let a_done_again = resolved(&a, T0 + SEC);
    let messages = d.update(T0 + 10 * SEC, &[a_done_again, b.clone(), c.clone()]);
    assert_eq!(
        summary(&messages[0]),
        [("b".into(), Status::Firing), ("c".into(), Status::Firing)]
    );
    // Everything resolved: logged, not sent, and the group is gone.
    let all_done = [resolved(&b, T0 + 11 * SEC), resolved(&c, T0 + 11 * SEC)];
    assert!(d.update(T0 + 15 * SEC, &all_done).is_empty());
    assert_eq!(d.next_due(), None);
    // Firing again is news.
    assert_eq!(
        d.update(T0 + 20 * SEC, &[pool("X", "b", T0 + 20 * SEC)])
            .len(),
        1
    );
}

#[test]
fn max_alerts_truncates_and_counts_the_rest() {
    let config = WebhookConfig {
        max_alerts: 2,
        ..config()
    };
    let mut d = dispatcher(&config);
    let mut alerts = vec![pool("X", "a", T0), pool("X", "b", T0), pool("X", "c", T0)];
    alerts[2].labels.insert("severity".into(), "warning".into());
    let messages = d.update(T0, &alerts);
    let message = &messages[0];
    assert_eq!(message.alerts.len(), 2);
    assert_eq!(message.truncated_alerts, 1);
    // Common labels are over the alerts in the body, as in Alertmanager.
    assert_eq!(message.common_labels["severity"], "page");
}

/// The alerts posted to Alertmanager 0.25.0 to capture `webhook/testdata`.
fn captured_input() -> Vec<Alert> {
    let mut a = firing(
        &[
            ("alertname", "HighLatency"),
            ("pool", "gpu-a"),
            ("severity", "page"),
        ],
        T0 + 250,
    );
    a.annotations = labels(&[
        ("summary", "p99 high"),
        ("description", "p99 > 1s & rising <fast> – ünïcode"),
        ("runbook", "https://runbooks.example/latency"),
    ]);
    a.ends_at_ms = Some(4_102_444_800_000);
    a.generator_url = "http://eval.example/graph?g0.expr=x%3E1&g0.tab=1".into();
    let mut b = firing(
        &[
            ("alertname", "HighLatency"),
            ("job", "api"),
            ("pool", "gpu-b"),
            ("severity", "page"),
        ],
        T0 + SEC,
    );
    b.annotations = labels(&[("summary", "p99 high")]);
    b.ends_at_ms = Some(4_102_444_800_000);
    let mut c = firing(
        &[
            ("alertname", "HighLatency"),
            ("pool", "gpu-c"),
            ("severity", "warning"),
        ],
        T0 - 3_600 * SEC,
    );
    c.annotations = labels(&[("summary", "p99 high")]);
    c.ends_at_ms = Some(T0 - 1_800 * SEC + 500);
    c.generator_url = "http://eval.example/graph?g0.expr=y".into();
    vec![a, b, c]
}

#[test]
fn body_is_byte_for_byte_what_alertmanager_sends() -> TestResult {
    for (max_alerts, captured) in [
        (
            0,
            include_str!("../webhook/testdata/alertmanager-0.25.0.json"),
        ),
        (
            2,
            include_str!("../webhook/testdata/alertmanager-0.25.0-max-alerts-2.json"),
        ),
    ] {
        let config = WebhookConfig {
            name: Some("hook".into()),
            max_alerts,
            ..config()
        };
        let mut d = Dispatcher::new(&config, "http://am.example:9093/");
        let messages = d.update(T0 + 60 * SEC, &captured_input());
        assert_eq!(messages.len(), 1);
        assert_eq!(String::from_utf8(messages[0].to_body()?)?, captured);
    }
    Ok(())
}
