//! The evaluator's own behaviour beyond what the promtool-format corpus checks: feeding
//! with staleness, the schedule, the re-send rules, restoring after a restart.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use shared::wire::{Aggregates, AlertState, PodSamples, RawKind, RawSample, Signals};

use crate::core::{Evaluator, Settings};
use crate::feed::Feed;
use crate::promql::{self, Value};
use crate::rules::{Group, RuleFile};

const S: i64 = 1000;

fn group(yaml: &str) -> Vec<Group> {
    let file = shared::config::parse_literal::<RuleFile>("test.yaml", yaml)
        .unwrap()
        .into_inner();
    file.groups
        .iter()
        .map(|g| Group::build("test.yaml".as_ref(), g, Duration::from_secs(1)).unwrap())
        .collect()
}

fn settings() -> Settings {
    Settings {
        external_labels: BTreeMap::from([("cluster".into(), "eu1".into())]),
        external_url: "http://prom.example".into(),
        resend_delay: Duration::from_secs(60),
        retention: Duration::from_secs(3600),
    }
}

fn queue(pool: &str, t: i64, value: f64) -> Aggregates {
    Aggregates {
        pool: pool.into(),
        time: UNIX_EPOCH + Duration::from_millis(t as u64),
        series: vec![RawSample {
            name: "inference_pool_average_queue_size".into(),
            labels: vec![("name".into(), pool.into())],
            kind: RawKind::Gauge,
            value,
        }],
    }
}

fn pod(t: i64, up: bool, raw: Vec<RawSample>) -> PodSamples {
    PodSamples {
        pool: "llama".into(),
        pod: "llama-0".into(),
        namespace: "ml".into(),
        endpoint: "10.0.0.1:8000".into(),
        engine: "vllm".into(),
        time: UNIX_EPOCH + Duration::from_millis(t as u64),
        signals: Signals {
            up,
            ..Default::default()
        },
        raw,
    }
}

fn gauge(name: &str, labels: &[(&str, &str)], value: f64) -> RawSample {
    RawSample {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        kind: RawKind::Gauge,
        value,
    }
}

fn query(e: &Evaluator, expr: &str, t: i64) -> Vec<(String, f64)> {
    let expr = promql::parse(expr).unwrap();
    match promql::instant(e.storage(), &expr, t).unwrap() {
        Value::Vector(v) => v
            .into_iter()
            .map(|s| (s.labels.to_string(), s.value))
            .collect(),
        Value::Scalar(v) => vec![(String::new(), v)],
        _ => panic!("not a vector"),
    }
}

const QUEUE_RULE: &str = r#"
groups:
  - name: pool
    rules:
      - alert: HighQueue
        expr: inference_pool_average_queue_size > 50
        for: 10s
        labels: { severity: critical }
        annotations: { summary: "queue of {{ $labels.name }} is {{ $value }}" }
"#;

#[test]
fn a_pod_that_goes_down_has_its_series_marked_stale_at_once() {
    let mut e = Evaluator::new(Vec::new(), settings());
    let mut feed = Feed::default();
    let waiting = gauge("vllm:num_requests_waiting", &[("model_name", "m")], 3.0);
    feed.pod(e.storage_mut(), &pod(0, true, vec![waiting.clone()]));
    assert_eq!(query(&e, "vllm:num_requests_waiting", 1000).len(), 1);
    feed.pod(e.storage_mut(), &pod(2000, false, vec![waiting]));
    assert!(query(&e, "vllm:num_requests_waiting", 2000).is_empty());
    let up = query(&e, "up", 2000);
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1, 0.0);
}

#[test]
fn a_series_missing_from_the_next_scrape_is_stale_and_target_labels_win() {
    let mut e = Evaluator::new(Vec::new(), settings());
    let mut feed = Feed::default();
    let a = gauge("lora", &[("pod", "scraped"), ("adapter", "a")], 1.0);
    let b = gauge("lora", &[("adapter", "b")], 1.0);
    feed.pod(e.storage_mut(), &pod(0, true, vec![a.clone(), b]));
    let got = query(&e, "lora", 0);
    assert_eq!(got.len(), 2);
    let with_export = query(
        &e,
        r#"lora{exported_pod="scraped", pod="llama-0", instance="10.0.0.1:8000"}"#,
        0,
    );
    assert_eq!(with_export.len(), 1, "{got:?}");
    feed.pod(e.storage_mut(), &pod(1000, true, vec![a]));
    let got = query(&e, "lora", 1000);
    assert_eq!(got.len(), 1, "b went stale: {got:?}");
}

#[test]
fn an_alert_goes_pending_then_fires_after_for_then_resolves() {
    let mut e = Evaluator::new(group(QUEUE_RULE), settings());
    let mut feed = Feed::default();
    let mut states = Vec::new();
    for t in 0..=20 {
        let value = if t < 15 { 80.0 } else { 10.0 };
        feed.aggregates(e.storage_mut(), &queue("p", t * S, value));
        let step = e.step(t * S);
        states.extend(step.transitions.iter().map(|x| (t, x.from, x.to)));
    }
    assert_eq!(
        states,
        vec![
            (0, AlertState::Inactive, AlertState::Pending),
            (10, AlertState::Pending, AlertState::Firing),
            (15, AlertState::Firing, AlertState::Resolved),
        ]
    );
}

#[test]
fn firing_alerts_are_sent_again_after_the_resend_delay_and_resolved_ones_for_15_minutes() {
    let mut e = Evaluator::new(group(QUEUE_RULE), settings());
    let mut feed = Feed::default();
    let mut sends = Vec::new();
    for t in 0..=(20 * 60) {
        let value = if t < 200 { 80.0 } else { 10.0 };
        feed.aggregates(e.storage_mut(), &queue("p", t * S, value));
        for a in e.step(t * S).due {
            sends.push((t, a.ends_at_ms.map(|e| e / S - t)));
        }
    }
    // Fires at 10 s; re-sent when more than 60 s passed; endsAt 4 × 60 s ahead.
    assert_eq!(
        &sends[..3],
        &[(10, Some(240)), (71, Some(240)), (132, Some(240))]
    );
    // Resolved at 200 s: sent at once with endsAt = the resolve time, then every
    // resend delay while it is kept (15 minutes), then never again.
    let resolved: Vec<_> = sends.iter().filter(|(t, _)| *t >= 200).collect();
    assert_eq!(resolved[0], &(200, Some(0)));
    assert!(
        resolved.iter().all(|(t, _)| *t <= 200 + 15 * 60 + 1),
        "{resolved:?}"
    );
    assert!(resolved.len() >= 14, "{resolved:?}");
}

#[test]
fn sent_alerts_carry_external_labels_expanded_annotations_and_a_generator_url() {
    let mut e = Evaluator::new(group(QUEUE_RULE), settings());
    let mut feed = Feed::default();
    let mut due = Vec::new();
    for t in 0..=10 {
        feed.aggregates(e.storage_mut(), &queue("p", t * S, 80.0));
        due.extend(e.step(t * S).due);
    }
    assert_eq!(due.len(), 1);
    let a = &due[0];
    assert_eq!(a.labels["cluster"], "eu1");
    assert_eq!(a.labels["alertname"], "HighQueue");
    assert_eq!(a.labels["name"], "p");
    assert_eq!(a.annotations["summary"], "queue of p is 80");
    assert_eq!(a.starts_at_ms, 10 * S);
    assert_eq!(
        a.generator_url,
        "http://prom.example/graph?g0.expr=inference_pool_average_queue_size+%3E+50&g0.tab=1"
    );
}

#[test]
fn a_restart_continues_the_for_timer_from_the_snapshot() {
    let mut before = Evaluator::new(group(QUEUE_RULE), settings());
    let mut feed = Feed::default();
    for t in 0..=4 {
        feed.aggregates(before.storage_mut(), &queue("p", t * S, 80.0));
        before.step(t * S);
    }
    let snapshot = before.snapshot();
    let json = serde_json::to_vec(&snapshot).unwrap();

    let mut after = Evaluator::new(group(QUEUE_RULE), settings());
    assert_eq!(after.restore(serde_json::from_slice(&json).unwrap()), 1);
    let mut feed = Feed::default();
    let mut transitions = Vec::new();
    for t in 7..=12 {
        feed.aggregates(after.storage_mut(), &queue("p", t * S, 80.0));
        transitions.extend(after.step(t * S).transitions.into_iter().map(|x| (t, x.to)));
    }
    assert_eq!(transitions, vec![(10, AlertState::Firing)]);
}

#[test]
fn groups_run_on_multiples_of_their_own_interval() {
    let rules = r#"
groups:
  - name: fast
    rules: [{ record: a, expr: vector(1) }]
  - name: slow
    interval: 10s
    rules: [{ record: b, expr: vector(1) }]
"#;
    let mut e = Evaluator::new(group(rules), settings());
    let evaluated: usize = (0..30).map(|t| e.step(t * S + 500).evaluated).sum();
    assert_eq!(evaluated, 30 + 3);
    assert_eq!(query(&e, "b", 29 * S + 500).len(), 1);
}

#[test]
fn the_window_forgets_what_is_older_than_the_retention() {
    let mut e = Evaluator::new(
        group(QUEUE_RULE),
        Settings {
            retention: Duration::from_secs(60),
            ..settings()
        },
    );
    let mut feed = Feed::default();
    for t in 0..=600 {
        feed.aggregates(e.storage_mut(), &queue("p", t * S, 1.0));
        e.step(t * S);
    }
    assert!(
        e.storage().point_count() <= 62,
        "{}",
        e.storage().point_count()
    );
}

#[test]
fn alerts_whose_labels_differ_only_slightly_are_told_apart() {
    // Label sets like these collide under a 64-bit Fx hash; alerts are keyed by their
    // labels, so every one is its own alert.
    let mut e = Evaluator::new(group(QUEUE_RULE), settings());
    let mut feed = Feed::default();
    for m in 0..500 {
        feed.aggregates(e.storage_mut(), &queue(&format!("model-{m}"), 0, 80.0));
    }
    let step = e.step(0);
    assert!(step.errors.is_empty(), "{:?}", step.errors);
    assert_eq!(step.transitions.len(), 500);
    assert_eq!(e.alerts_of("HighQueue").len(), 500);
}

#[test]
fn a_rule_over_the_group_limit_fails_and_its_result_is_discarded_as_in_prometheus() {
    // Prometheus 2.42 (rules/alerting.go, rules/recording.go, rules/manager.go): a rule
    // with more alerts or series than the group's `limit` fails with "exceeded limit of
    // N with M alerts|series"; nothing of it is appended (and no stale markers are
    // written), an alerting rule forgets its alerts, and no notification is sent.
    let rules = r#"
groups:
  - name: pool
    limit: 2
    rules:
      - alert: HighQueue
        expr: inference_pool_average_queue_size > 50
        for: 10s
      - record: high_queue
        expr: inference_pool_average_queue_size > 50
"#;
    let mut e = Evaluator::new(group(rules), settings());
    let mut feed = Feed::default();
    let mut step_with = |e: &mut Evaluator, t: i64, pools: &[&str]| {
        for p in ["a", "b", "c"] {
            let value = if pools.contains(&p) { 80.0 } else { 10.0 };
            feed.aggregates(e.storage_mut(), &queue(p, t * S, value));
        }
        e.step(t * S)
    };

    let ok = step_with(&mut e, 0, &["a", "b"]);
    assert!(ok.errors.is_empty(), "{:?}", ok.errors);
    assert_eq!(ok.transitions.len(), 2);

    let over = step_with(&mut e, 1, &["a", "b", "c"]);
    let errors: Vec<_> = over
        .errors
        .iter()
        .map(|(g, r, err)| (g.as_str(), r.as_str(), err.to_string()))
        .collect();
    assert_eq!(
        errors,
        [
            (
                "pool",
                "HighQueue",
                "exceeded limit of 2 with 3 alerts".to_string()
            ),
            (
                "pool",
                "high_queue",
                "exceeded limit of 2 with 3 series".to_string()
            ),
        ]
    );
    assert!(over.transitions.is_empty(), "{:?}", over.transitions);
    assert!(over.due.is_empty());
    assert!(e.alerts_of("HighQueue").is_empty());
    // Nothing appended at 1 s: the last points are still those of 0 s.
    assert_eq!(query(&e, "timestamp(high_queue)", S).len(), 2);
    assert!(
        query(
            &e,
            "timestamp(high_queue) == 1 or timestamp(ALERTS) == 1",
            S
        )
        .is_empty(),
        "a failed rule appended samples"
    );

    // Under the limit again: the alerts start over (their `for` timer too).
    let back = step_with(&mut e, 2, &["a", "b"]);
    assert!(back.errors.is_empty(), "{:?}", back.errors);
    let pending: Vec<_> = back
        .transitions
        .iter()
        .map(|x| (x.from, x.to, x.active_at.map(|t| t.timestamp())))
        .collect();
    assert_eq!(
        pending,
        [(AlertState::Inactive, AlertState::Pending, Some(2)); 2]
    );
}
