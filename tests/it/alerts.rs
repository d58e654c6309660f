//! The alert-evaluator in the real pipeline: a simulated pool overloaded until the
//! seed's KV-cache alert (at `for: 10s`) fires, delivered as our webhook and through a
//! real Alertmanager (Debian's) to its webhook receiver; resolved once the load stops.
//! And `kill -9` of a real `poolpilot alert-evaluator` while an alert is pending.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use poolpilot::{Config, Part, start};
use poolpilot_tests::{
    Process, Receiver, eventually, free_port, http_get, infra, kafka_shared, shared_dir, unique,
};
use serde_json::Value;
use shared::bus::typed::Typed;
use shared::bus::{Bus, StartFrom, Subscribe};
use shared::wire::{
    Aggregates, AlertState, AlertTransition, RawKind, RawSample, Topic, encode_aggregates,
};

const WAIT: Duration = Duration::from_secs(90);

/// The seed's rules as they are, but `for: 10s` instead of 5m to keep tests short.
fn seed_rules(dir: &std::path::Path) -> std::path::PathBuf {
    let rules = std::fs::read_to_string(shared_dir().join("seed/alerts.yaml"))
        .unwrap()
        .replace("for: 5m", "for: 10s");
    let path = dir.join("alerts.yaml");
    std::fs::write(&path, rules).unwrap();
    path
}

/// The alerts named `alertname` with `status` in the bodies `receiver` got.
fn alerts(receiver: &Receiver, alertname: &str, status: &str) -> Vec<Value> {
    receiver
        .received()
        .into_iter()
        .flat_map(|r| r.json["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["labels"]["alertname"] == alertname && a["status"] == status)
        .collect()
}

/// How many ticks the alert-evaluator whose admin server is at `admin` has evaluated
/// (the count of its evaluation-time histogram).
async fn evaluations(admin: SocketAddr) -> Option<u64> {
    let page = http_get(admin, "/metrics").await.ok()?.body;
    page.lines()
        .find_map(|l| {
            l.strip_prefix("poolpilot_alert_evaluator_evaluation_duration_seconds_count ")
        })?
        .trim()
        .parse()
        .ok()
}

/// A real Alertmanager routing everything to `receiver` at once.
fn alertmanager(dir: &std::path::Path, receiver: &Receiver) -> (Process, String) {
    let port = free_port();
    let config = format!(
        "route:\n  receiver: test\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: test\n    webhook_configs:\n      - url: {}\n        send_resolved: true\n",
        receiver.url
    );
    std::fs::write(dir.join("alertmanager.yml"), config).unwrap();
    let binary = "/usr/bin/prometheus-alertmanager";
    let child = Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.join("alertmanager.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("am").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{binary}: {e} (dev/infra install puts it there)"));
    (Process(child), format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_alert_fires_on_an_overloaded_pool_and_resolves_through_webhooks_and_alertmanager()
{
    let dir = std::env::temp_dir().join(unique("alerts"));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = Receiver::start().await;
    let via_am = Receiver::start().await;
    let (_am, am_url) = alertmanager(&dir, &via_am);
    let yaml = format!(
        "admin:\n  listen: 127.0.0.1:0\nsimulator:\n  servers: 1\nscraper:\n  interval: 200ms\n  timeout: 200ms\naggregator:\n  tick: 250ms\nalert_evaluator:\n  rule_files: [{rules}]\n  interval: 1s\n  startup_delay: 1s\n  resend_delay: 1s\n  external_labels: {{cluster: it}}\n  external_url: http://poolpilot.test\n  webhooks:\n    - url: {hook}\n      name: ops\n      group_wait: 0s\n      group_interval: 1s\n      hmac_secret: s3cret\n  alertmanagers:\n    - url: {am_url}\n",
        rules = seed_rules(&dir).display(),
        hook = ours.url,
    );
    let config = shared::config::parse::<Config>("it.yaml", &yaml).unwrap();
    let running = start(
        &[
            Part::Simulator,
            Part::Scraper,
            Part::Aggregator,
            Part::AlertEvaluator,
        ],
        config,
    )
    .await
    .unwrap();
    let pod = running.fleet.as_ref().unwrap().pods()[0].clone();

    // Overload the pool: its KV cache fills past 0.9; after 10s the alert fires.
    let loaded = Instant::now();
    let held = poolpilot_tests::hold_completions(&pod.url(), 80, 1600, 4000).await;
    let kv = "HighInferencePoolAvgKVCacheUtilization";
    let firing = eventually(WAIT, "our webhook announces the KV alert", || async {
        alerts(&ours, kv, "firing").into_iter().next()
    })
    .await;
    assert!(
        loaded.elapsed() >= Duration::from_secs(10),
        "fired before its `for: 10s`"
    );
    assert_eq!(firing["labels"]["name"], "sim");
    assert_eq!(firing["labels"]["severity"], "critical");
    assert_eq!(
        firing["labels"]["cluster"], "it",
        "external labels are added"
    );
    assert_eq!(
        firing["annotations"]["title"],
        "High KV cache utilization for inference pool sim"
    );
    assert!(
        firing["annotations"]["description"]
            .as_str()
            .unwrap()
            .starts_with("The average KV cache utilization for inference pool sim has been"),
        "{firing}"
    );
    assert!(
        firing["generatorURL"].as_str().unwrap().starts_with(
            "http://poolpilot.test/graph?g0.expr=inference_pool_average_kv_cache_utilization"
        ),
        "{firing}"
    );

    // The body is Alertmanager's v4 webhook, signed.
    let request = ours
        .received()
        .into_iter()
        .find(|r| r.json["status"] == "firing")
        .unwrap();
    let body = &request.json;
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "ops");
    assert_eq!(body["groupLabels"]["alertname"], kv);
    assert_eq!(body["commonLabels"]["name"], "sim");
    assert_eq!(body["externalURL"], "http://poolpilot.test");
    assert!(body["groupKey"].as_str().unwrap().contains(kv), "{body}");
    assert_eq!(body["truncatedAlerts"], 0);
    // The signature covers "<timestamp>.<body>", checked here with openssl as a
    // receiver would.
    let signature = request.headers["x-poolpilot-signature"].to_str().unwrap();
    let timestamp = request.headers["x-poolpilot-timestamp"].to_str().unwrap();
    let signed = [timestamp.as_bytes(), b".", &request.body].concat();
    assert_eq!(
        signature,
        format!("sha256={}", hmac_sha256_hex(b"s3cret", &signed))
    );

    // The real Alertmanager got it from us and routed it to its own receiver.
    let routed = eventually(WAIT, "Alertmanager routes the KV alert", || async {
        alerts(&via_am, kv, "firing").into_iter().next()
    })
    .await;
    assert_eq!(routed["labels"]["name"], "sim");
    assert_eq!(routed["annotations"], firing["annotations"]);
    assert_eq!(routed["fingerprint"], firing["fingerprint"]);

    // The load stops: resolved, here and through Alertmanager.
    drop(held);
    eventually(WAIT, "our webhook resolves the KV alert", || async {
        alerts(&ours, kv, "resolved").into_iter().next()
    })
    .await;
    eventually(WAIT, "Alertmanager resolves the KV alert", || async {
        alerts(&via_am, kv, "resolved").into_iter().next()
    })
    .await;
    assert_eq!(
        alerts(&ours, kv, "firing")
            .iter()
            .map(|a| a["startsAt"].to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        1,
        "one firing episode"
    );
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// HMAC-SHA256 as `openssl dgst -hmac` computes it.
fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> String {
    use std::process::Command as Cmd;
    // openssl is what a receiver would use; dev/infra installs it.
    let mut child = Cmd::new("openssl")
        .args(["dgst", "-sha256", "-hmac"])
        .arg(String::from_utf8_lossy(key).as_ref())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

fn queue(pool: &str, value: f64) -> Aggregates {
    #[allow(clippy::disallowed_methods)]
    let time = std::time::SystemTime::now();
    Aggregates {
        pool: pool.into(),
        time,
        series: vec![RawSample {
            name: "inference_pool_average_queue_size".into(),
            labels: vec![("name".into(), pool.into())],
            kind: RawKind::Gauge,
            value,
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_alert_fires_on_time_and_once_across_kill_9() {
    let _broker = kafka_shared().await;
    let dir = std::env::temp_dir().join(unique("alerts-restart"));
    std::fs::create_dir_all(&dir).unwrap();
    let receiver = Receiver::start().await;
    let prefix = format!("{}.", unique("it"));
    let config = dir.join("poolpilot.yaml");
    let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    std::fs::write(
        &config,
        format!(
            "bus:\n  kind: kafka\n  topic_prefix: {prefix}\n  kafka:\n    brokers: {brokers}\nadmin:\n  listen: {admin}\nalert_evaluator:\n  rule_files: [{rules}]\n  interval: 500ms\n  startup_delay: 1s\n  state_path: {state}\n  webhooks:\n    - url: {hook}\n      group_wait: 0s\n      group_interval: 500ms\n",
            brokers = infra().kafka_brokers,
            rules = seed_rules(&dir).display(),
            state = dir.join("state").display(),
            hook = receiver.url,
        ),
    )
    .unwrap();
    let start = || Process::poolpilot("alert-evaluator", &config);
    let (bus, topics) =
        poolpilot_tests::kafka_topics(&prefix, &[Topic::Aggregates, Topic::Alerts, Topic::Samples])
            .await;
    let sub = bus
        .subscribe(
            Subscribe::new(unique("g"), [topics.name(Topic::Alerts)]).start(StartFrom::Earliest),
        )
        .unwrap();
    let mut transitions = Typed::<AlertTransition>::new(sub, Default::default());

    // A pool whose queue stays at 80 (> 50), published every 200 ms.
    let pool = unique("pool");
    let feeder = {
        let (bus, topic, pool) = (bus.clone(), topics.name(Topic::Aggregates), pool.clone());
        tokio::spawn(async move {
            loop {
                let body = Bytes::from(encode_aggregates(&[queue(&pool, 80.0)]));
                let _ = bus.publish(&topic, pool.as_bytes(), body).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let mut first = start();
    let queue_alert = "HighInferencePoolAvgQueueSize";
    let pending = tokio::time::timeout(WAIT, async {
        loop {
            let (_, t) = transitions.recv().await.unwrap();
            if t.alertname == queue_alert && t.to == AlertState::Pending {
                return t;
            }
        }
    })
    .await
    .expect("the queue alert goes pending");
    let active_at = pending.active_at.unwrap();

    // kill -9 three seconds into the 10 s `for`: no shutdown path runs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.kill_9();
    let _second = start();

    let fired = tokio::time::timeout(WAIT, async {
        loop {
            let (_, t) = transitions.recv().await.unwrap();
            if t.alertname == queue_alert && t.to == AlertState::Firing {
                return t;
            }
        }
    })
    .await
    .expect("the queue alert fires after the restart");
    assert_eq!(
        fired.active_at,
        Some(active_at),
        "the `for` timer continued"
    );
    let late = (fired.time - active_at).to_std().unwrap();
    assert!(
        late >= Duration::from_secs(10) && late < Duration::from_secs(12),
        "fired {late:?} after it went pending; `for` is 10s at a 500ms interval"
    );
    // Read alerts.v1 on while the restarted evaluator evaluates six more times (3 s at
    // 500 ms, six webhook group intervals): a second `Firing`, on the bus or at the
    // webhook, would be out by then.
    let again = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (again, pool) = (again.clone(), pool.clone());
        tokio::spawn(async move {
            while let Ok((_, t)) = transitions.recv().await {
                if t.alertname == queue_alert
                    && t.labels.get("name") == Some(&pool)
                    && t.to == AlertState::Firing
                {
                    again.lock().unwrap().push(t);
                }
            }
        })
    };
    let at_firing = eventually(WAIT, "the evaluator's /metrics", || evaluations(admin)).await;
    eventually(WAIT, "six evaluations after the alert fired", || async {
        evaluations(admin).await.filter(|&n| n >= at_firing + 6)
    })
    .await;
    reader.abort();
    let again = again.lock().unwrap().clone();
    assert!(
        again.is_empty(),
        "alerts.v1 carries one Firing transition for the alert, then also {again:?}"
    );
    let firing = alerts(&receiver, queue_alert, "firing");
    assert_eq!(firing.len(), 1, "announced exactly once: {firing:?}");
    feeder.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
