//! The real components the later issues test against are up and usable: promtool
//! accepts the seed's rules, Prometheus and Alertmanager answer their APIs.

use poolpilot_tests::{http_get, infra, repo_root};

fn addr(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

#[test]
fn promtool_accepts_the_seed_rules() {
    let out = std::process::Command::new(&infra().promtool)
        .args(["check", "rules"])
        .arg(repo_root().join("deploy/alerts.yaml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("SUCCESS: 4 rules found"), "{text}");
}

#[tokio::test]
async fn prometheus_and_alertmanager_answer() {
    let prom = http_get(addr(&infra().prometheus_url), "/api/v1/status/buildinfo")
        .await
        .unwrap();
    assert_eq!(prom.status, 200, "{}", prom.body);
    assert!(prom.body.contains("\"version\""), "{}", prom.body);
    let am = http_get(addr(&infra().alertmanager_url), "/api/v2/status")
        .await
        .unwrap();
    assert_eq!(am.status, 200, "{}", am.body);
    assert!(am.body.contains("versionInfo"), "{}", am.body);
}
