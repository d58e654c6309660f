//! `poolpilot up`: every part in one process, serving `/healthz`, `/readyz` and
//! `/metrics`, and stopping cleanly on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use poolpilot::{Config, Part, start};
use poolpilot_tests::{binary, eventually, free_port, http_get, repo_root};
use shared::config::validate;

#[tokio::test]
async fn up_serves_health_and_metrics_and_stops() {
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.router.listen = "127.0.0.1:0".parse().unwrap();
    let running = start(&Part::ALL, validate(config).unwrap()).await.unwrap();
    let addr = running.admin_addr;
    let health = http_get(addr, "/healthz").await.unwrap();
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = eventually(
        Duration::from_secs(10),
        "/readyz to answer 200",
        || async move {
            http_get(addr, "/readyz")
                .await
                .ok()
                .filter(|r| r.status == 200)
        },
    )
    .await;
    assert_eq!(ready.body, "ready\n");
    let metrics = http_get(addr, "/metrics").await.unwrap();
    assert!(
        metrics
            .body
            .contains("poolpilot_build_info{version=\"0.0.0\"} 1"),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    running.shutdown().await.unwrap();
    assert!(
        http_get(addr, "/healthz").await.is_err(),
        "the admin server should be gone"
    );
}

#[tokio::test]
async fn readyz_names_what_is_not_ready() {
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    let running = start(&[Part::Scraper], validate(config).unwrap())
        .await
        .unwrap();
    let waiting = running.deps.health.component("warming-up");
    let r = http_get(running.admin_addr, "/readyz").await.unwrap();
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, "not ready: warming-up\n")
    );
    waiting.set(true);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_binary_stops_cleanly_on_sigterm() {
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = tokio::process::Command::new(binary())
        .args(["up", "--admin-listen", &addr.to_string()])
        .args([
            "--router-listen",
            "127.0.0.1:0",
            "--ui-listen",
            "127.0.0.1:0",
        ])
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually(
        Duration::from_secs(30),
        "the binary's /healthz",
        || async move {
            http_get(addr, "/healthz")
                .await
                .ok()
                .filter(|r| r.status == 200)
        },
    )
    .await;
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn check_prints_every_problem_and_fails() {
    let path = std::env::temp_dir().join(poolpilot_tests::unique("bad.yaml"));
    std::fs::write(
        &path,
        "bus:\n  partitions: 0\nrouter:\n  max_body_bytes: 0\n",
    )
    .unwrap();
    let out = std::process::Command::new(binary())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let p = path.display();
    assert_eq!(
        stdout,
        format!(
            "{p}:2:15: bus.partitions: must be at least 1\n{p}:4:19: router.max_body_bytes: must be above 0\n"
        )
    );
    let good = repo_root().join("deploy/poolpilot.yaml");
    let out = std::process::Command::new(binary())
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The README's first command, unattended: `poolpilot up --duration … --report …` on
/// the demo. The report shows the loop closing, in order: the KV cache rises past
/// the scaler's target, servers are added (each with its reason), the seed's KV-cache
/// alert goes pending then firing (the demo shortens its `for:` to 15 s), the load
/// falls, the alert resolves, latency recovers, and after the 30 s window servers are
/// removed again.
#[test]
fn up_closes_the_loop_in_order() {
    let dir = std::env::temp_dir().join(poolpilot_tests::unique("up-report"));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.json");
    let status = std::process::Command::new(binary())
        .args(["up", "--duration", "200s", "--no-ui", "--report"])
        .arg(&report)
        .args(["--admin-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--router-listen", &format!("127.0.0.1:{}", free_port())])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "poolpilot up exited with {status}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let at = |v: &serde_json::Value| v["offset_seconds"].as_f64().unwrap();
    let series = &r["series"]["sim"];
    let points = |name: &str| -> Vec<Option<f64>> {
        series[name]
            .as_array()
            .unwrap()
            .iter()
            .map(serde_json::Value::as_f64)
            .collect()
    };
    let kv = points("kv_cache");
    let start = r["started"].as_str().unwrap();
    let t0 = chrono::DateTime::parse_from_rfc3339(start)
        .unwrap()
        .timestamp();
    let times: Vec<i64> = series["t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap() - t0)
        .collect();
    let first_kv_above = |x: f64| {
        kv.iter()
            .zip(&times)
            .find(|(v, _)| v.is_some_and(|v| v > x))
            .map(|(_, &t)| t as f64)
    };

    let events = r["scale_events"].as_array().unwrap();
    let ups: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["to"].as_u64() > e["from"].as_u64())
        .collect();
    let downs: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["to"].as_u64() < e["from"].as_u64())
        .collect();
    assert!(!ups.is_empty(), "no scale-up: {events:?}");
    assert!(!downs.is_empty(), "no scale-down: {events:?}");
    for e in events {
        assert!(e["patched"].as_bool().unwrap(), "{e}");
        assert!(e["reason"].as_str().unwrap().contains("kv"), "{e}");
    }
    // The first scale-up acted on a KV reading above the 0.6 target, which its
    // reason records ("kv 0.8 > target 0.6 → …"). The report samples the pool once
    // a second and may miss a reading the scaler acted on, so its series must show
    // the KV above the target only within a few samples of the scale-up.
    let first_up = at(ups[0]);
    let reason = ups[0]["reason"].as_str().unwrap();
    let acted_on: f64 = reason
        .strip_prefix("kv ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no KV reading in the reason {reason:?}"));
    assert!(acted_on > 0.6, "scaled up on kv {acted_on}: {reason}");
    let above_target = first_kv_above(0.6).expect("the KV cache never passed the target");
    assert!(
        above_target <= first_up + 5.0,
        "scaled at {first_up}s, but the report shows the KV past 0.6 only at {above_target}s"
    );

    let alerts = r["alerts"].as_array().unwrap();
    let kv_alert = |to: &str| {
        alerts
            .iter()
            .find(|a| a["alertname"] == "HighInferencePoolAvgKVCacheUtilization" && a["to"] == to)
            .map(at)
    };
    let pending = kv_alert("pending").expect("the KV alert never went pending");
    let firing = kv_alert("firing").expect("the KV alert never fired");
    let resolved = kv_alert("resolved").expect("the KV alert never resolved");
    assert!(first_kv_above(0.9).is_some_and(|t| t <= pending + 1.0));
    assert!(
        pending < firing && firing - pending >= 14.0,
        "pending {pending}s, firing {firing}s"
    );
    assert!(firing < resolved, "firing {firing}s, resolved {resolved}s");

    let last_up = at(ups[ups.len() - 1]);
    let first_down = at(downs[0]);
    assert!(
        last_up < first_down && resolved < first_down,
        "ups {ups:?}, downs {downs:?}, resolved {resolved}s"
    );

    // Latency recovered: the last 20 s are well under the worst.
    let p90: Vec<f64> = points("p90_latency_seconds")
        .into_iter()
        .flatten()
        .collect();
    let worst = p90.iter().copied().fold(0.0, f64::max);
    let tail = &p90[p90.len().saturating_sub(20)..];
    let recent = tail.iter().copied().fold(0.0, f64::max);
    assert!(
        recent < worst / 2.0,
        "p90 worst {worst}s, last 20 s up to {recent}s"
    );
    assert!(r["requests"].as_u64().unwrap() > 500, "{}", r["requests"]);
    let _ = std::fs::remove_dir_all(&dir);
}
