//! The real components the later issues test against are up and usable: promtool
//! accepts the seed's rules and every shipped rule file, Prometheus and Alertmanager
//! answer their APIs.

use poolpilot_tests::{http_get, infra, repo_root};

fn addr(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

fn promtool(args: &[&str]) -> String {
    let out = std::process::Command::new(&infra().promtool)
        .args(args)
        .current_dir(repo_root().join("deploy/prometheus"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}: {text}");
    text
}

#[test]
fn promtool_accepts_the_shipped_rules() {
    let text = promtool(&["check", "rules", "alerts.yaml", "slo-alerts.yaml"]);
    assert!(
        text.contains("SUCCESS: 4 rules found"),
        "the seed's four rules: {text}"
    );
    assert!(
        text.contains("SUCCESS: 2 rules found"),
        "page and ticket: {text}"
    );
    let seed =
        std::fs::read_to_string(poolpilot_tests::shared_dir().join("seed/alerts.yaml")).unwrap();
    let shipped =
        std::fs::read_to_string(repo_root().join("deploy/prometheus/alerts.yaml")).unwrap();
    assert_eq!(
        shipped, seed,
        "deploy/prometheus/alerts.yaml is the seed's file unchanged"
    );
}

/// Every rule file in deploy/prometheus (the seed's alerts, the SLO alerts, the
/// dashboard's recording rules) passes `promtool check rules` and `poolpilot rules
/// check`, which refuses what our engine cannot evaluate.
#[test]
fn every_shipped_rule_file_passes_promtool_and_poolpilot_rules_check() {
    let dir = repo_root().join("deploy/prometheus");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml") && !n.ends_with(".test.yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    assert!(
        files.len() >= 3 && files.iter().any(|f| f == "recording-rules.yaml"),
        "{files:?}"
    );
    for file in &files {
        let text = promtool(&["check", "rules", file]);
        assert!(text.contains("SUCCESS"), "{file}: {text}");
        let out = std::process::Command::new(poolpilot_tests::binary())
            .args(["rules", "check", file])
            .current_dir(&dir)
            .output()
            .unwrap();
        let ours = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "poolpilot rules check {file}: {ours}");
        assert_eq!(
            ours.lines().find(|l| l.contains("SUCCESS")),
            text.lines().find(|l| l.contains("SUCCESS")),
            "{file}: the same rule count as promtool"
        );
    }
}

#[test]
fn the_slo_alerts_page_on_a_fast_burn_and_not_on_a_spike() {
    let text = promtool(&["test", "rules", "slo-alerts.test.yaml"]);
    assert!(text.contains("SUCCESS"), "{text}");
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
