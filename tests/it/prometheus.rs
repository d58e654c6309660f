//! A real Prometheus (Debian's) scrapes poolpilot's `/metrics` like it scrapes the
//! endpoint picker, and the seed's own alert rule fires on our gauges when the
//! simulated pool is overloaded.

use std::process::{Command, Stdio};
use std::time::Duration;

use poolpilot::{Config, Part, start};
use poolpilot_tests::{Process, eventually, free_port, infra, shared_dir, unique};
use serde_json::Value;
use shared::config::validate;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_our_gauges_and_the_seed_alert_fires() {
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.simulator.servers = 1;
    config.scraper.interval = Duration::from_millis(200);
    config.scraper.timeout = Duration::from_millis(200);
    let running = start(
        &[Part::Simulator, Part::Scraper, Part::Aggregator],
        validate(config).unwrap(),
    )
    .await
    .unwrap();
    let pod = running.fleet.as_ref().unwrap().pods()[0].clone();

    // The seed's rules as they are, but `for: 10s` instead of 5m to keep the test short.
    let dir = std::env::temp_dir().join(unique("prometheus"));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = std::fs::read_to_string(shared_dir().join("seed/alerts.yaml"))
        .unwrap()
        .replace("for: 5m", "for: 10s");
    std::fs::write(dir.join("alerts.yaml"), rules).unwrap();
    let prom_config = format!(
        "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [alerts.yaml]\nscrape_configs:\n  - job_name: poolpilot\n    static_configs: [{{ targets: ['{}'] }}]\n",
        running.admin_addr
    );
    std::fs::write(dir.join("prometheus.yml"), prom_config).unwrap();
    let port = free_port();
    let binary = infra().promtool.with_file_name("prometheus");
    let prometheus = Process(
        Command::new(&binary)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display())),
    );
    let base = format!("http://127.0.0.1:{port}");

    // promtool, querying the real Prometheus, sees our gauge.
    let said = eventually(
        Duration::from_secs(60),
        "promtool to return inference_pool_ready_pods",
        || {
            let base = base.clone();
            async move {
                let out = Command::new(&infra().promtool)
                    .args(["query", "instant", &base, "inference_pool_ready_pods"])
                    .output()
                    .ok()?;
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.contains("name=\"sim\"").then_some(text)
            }
        },
    )
    .await;
    assert!(said.contains("=> 1 @"), "{said}");

    // Overload the pool: its KV cache fills past 0.9; the seed's alert goes pending, then fires.
    let client = reqwest::Client::new();
    let held = poolpilot_tests::hold_completions(&pod.url(), 80, 1600, 4000).await;
    let state = |wanted: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        move || {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let alerts: Value = client
                    .get(format!("{base}/api/v1/alerts"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                alerts["data"]["alerts"]
                    .as_array()?
                    .iter()
                    .find(|a| {
                        a["labels"]["alertname"] == "HighInferencePoolAvgKVCacheUtilization"
                            && a["labels"]["name"] == "sim"
                            && a["state"] == wanted
                    })
                    .cloned()
            }
        }
    };
    let pending = eventually(
        Duration::from_secs(60),
        "the KV-cache alert to be pending",
        state("pending"),
    )
    .await;
    assert_eq!(pending["labels"]["severity"], "critical");
    let firing = eventually(
        Duration::from_secs(60),
        "the KV-cache alert to fire",
        state("firing"),
    )
    .await;
    assert!(
        firing["annotations"]["title"]
            .as_str()
            .unwrap()
            .ends_with("inference pool sim"),
        "{firing}"
    );
    drop(held);
    running.shutdown().await.unwrap();
    drop(prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}
