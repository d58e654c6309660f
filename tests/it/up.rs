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
