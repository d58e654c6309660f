//! The whole `poolpilot.yaml`: bad files report every problem with its line; the
//! examples in the README and in `deploy/` load.

use poolpilot::Config;
use poolpilot_tests::{repo_root, unique};
use shared::config::{ConfigError, load, parse};

#[test]
fn every_problem_in_a_bad_file_is_reported_with_its_line() {
    let text = "\
bus:
  kind: kafka
  partitions: 0
  kafka:
    brokers: \"\"
scraper:
  interval: 1s
  pools:
    - name: llama3
      targets:
        - localhost:8000
aggregator:
  tick: 1s
  freshness: 500ms
router:
  threads: 5000
";
    let err = parse::<Config>("poolpilot.yaml", text).unwrap_err();
    let lines: Vec<_> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "poolpilot.yaml:3:15: bus.partitions: must be at least 1",
            "poolpilot.yaml:5:14: bus.kafka.brokers: must name at least one broker for kind: kafka",
            "poolpilot.yaml:11:11: scraper.pools[0].targets[0]: `localhost:8000` is not an http(s) URL",
            "poolpilot.yaml:14:14: aggregator.freshness: (500ms) is below tick (1s): every pod would be stale",
            "poolpilot.yaml:16:12: router.threads: at most 1024 (0 is one per CPU)",
        ]
    );
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let err =
        parse::<Config>("poolpilot.yaml", "bus:\n  kind: embedded\n  partitons: 4\n").unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(p.place.as_ref().unwrap().line, 3, "{p}");
    assert!(p.message.contains("partitons"), "{p}");
}

#[test]
fn a_missing_file_names_the_file() {
    let path = std::env::temp_dir().join(unique("missing.yaml"));
    let err = load::<Config>(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn secrets_come_from_the_environment() {
    // SAFETY: the variable name is unique to this test; nothing else reads it.
    unsafe { std::env::set_var("POOLPILOT_IT_SASL_PASSWORD", "hunter2") };
    let text =
        "bus:\n  kafka:\n    properties:\n      sasl.password: ${POOLPILOT_IT_SASL_PASSWORD}\n";
    let config = parse::<Config>("poolpilot.yaml", text).unwrap();
    assert_eq!(config.bus.kafka.properties["sasl.password"], "hunter2");
    let err = parse::<Config>(
        "p.yaml",
        "bus:\n  kafka:\n    brokers: ${POOLPILOT_IT_UNSET}\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "p.yaml:3:14: environment variable POOLPILOT_IT_UNSET is not set (write ${POOLPILOT_IT_UNSET:-default} for a default)"
    );
}

#[test]
fn the_deploy_config_loads() {
    for file in [
        "deploy/poolpilot.yaml",
        "deploy/kafka.yaml",
        "deploy/kubernetes/poolpilot.yaml",
    ] {
        load::<Config>(&repo_root().join(file)).unwrap_or_else(|e| panic!("{file}:\n{e}"));
    }
}

#[test]
fn every_yaml_example_in_the_readme_loads() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut examples = 0;
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        let text = block.split("```").next().unwrap();
        parse::<Config>(&format!("README.md example {}", i + 1), text)
            .unwrap_or_else(|e| panic!("{e}"));
        examples += 1;
    }
    assert!(
        examples >= 2,
        "the README should show its config ({examples} examples found)"
    );
}

#[test]
fn the_defaults_are_valid_and_round_trip() {
    let config = Config::default();
    let yaml = serde_saphyr_round_trip(&config);
    assert_eq!(
        parse::<Config>("defaults", &yaml).unwrap().into_inner(),
        config
    );
}

fn serde_saphyr_round_trip(config: &Config) -> String {
    // JSON is YAML: no serializer beyond serde_json needed.
    serde_json::to_string_pretty(config).unwrap()
}

/// The seed's `hpa.yaml` with its placeholders filled, as a `scaler.pools[].hpa`.
fn seed_hpa(min: &str, max: &str, target: &str) -> String {
    let manifest = std::fs::read_to_string(poolpilot_tests::shared_dir().join("seed/hpa.yaml"))
        .unwrap()
        .replace("INFERENCE_POOL_NAMESPACE", "models")
        .replace("INFERENCE_POOL_NAME", "llama3")
        .replace("MIN_REPLICAS", min)
        .replace("MAX_REPLICAS", max)
        .replace("TARGET_VALUE", target)
        .replace("CLUSTER_NAME", "dev");
    let hpa: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler =
        serde_saphyr::from_str(&manifest).unwrap();
    let spec = serde_json::to_string(&hpa.spec).unwrap();
    format!("scaler:\n  pools:\n    - pool: llama3\n      namespace: models\n      hpa: {spec}\n")
}

#[test]
fn the_seed_hpa_with_its_placeholders_filled_is_a_scaler_pool() {
    let config = parse::<Config>("seed.yaml", &seed_hpa("1", "10", "0.7"))
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let pool = &config.scaler.pools[0];
    assert_eq!(pool.hpa.max_replicas, 10);
    // `poolpilot check` says what the stock HPA would do with the same spec.
    let said = scaler::explain(pool).join("\n");
    assert!(said.contains("the stock HPA with this spec"), "{said}");
    assert!(said.contains("DESIGN §1"), "{said}");
}

#[test]
fn a_bad_hpa_spec_reports_every_problem_with_its_line() {
    let yaml = r#"scaler:
  pools:
    - pool: llama3
      hpa:
        scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: llama3 }
        minReplicas: 5
        maxReplicas: 2
        metrics:
          - type: Object
          - type: External
            external:
              metric: { name: inference_pool_average_queue_size }
              target: { type: AverageValue, averageValue: "-3" }
"#;
    let err = parse::<Config>("hpa.yaml", yaml).unwrap_err();
    let text = err.to_string();
    for (line, says) in [(7, "maxReplicas"), (9, "Object"), (13, "averageValue")] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("hpa.yaml:{line}:")) && l.contains(says)),
            "line {line} should mention {says}:\n{text}"
        );
    }
    let missing_kind = seed_hpa("1", "10", "0.7").replace("\"kind\":\"Deployment\",", "");
    let err = parse::<Config>("hpa.yaml", &missing_kind)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("hpa.yaml:") && err.contains("kind"),
        "{err}"
    );
    // A utilization target written as a percentage.
    let err = parse::<Config>("hpa.yaml", &seed_hpa("1", "10", "70"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("0.70"), "{err}");
}

/// `poolpilot import` on the seed's manifests (placeholders filled) writes a config
/// that `poolpilot check` accepts, with each mapping in it.
#[test]
fn the_seed_manifests_import_into_a_config_that_checks() {
    let dir = std::env::temp_dir().join(poolpilot_tests::unique("import"));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<std::path::PathBuf> = [
        "hpa.yaml",
        "gcp-traffic-extension.yaml",
        "logging-backend-policy.yaml",
        "alerts.yaml",
    ]
    .iter()
    .map(|f| {
        let text = std::fs::read_to_string(poolpilot_tests::shared_dir().join("seed").join(f))
            .unwrap()
            .replace("INFERENCE_POOL_NAMESPACE", "models")
            .replace("INFERENCE_POOL_NAME", "llama3")
            .replace("MIN_REPLICAS", "1")
            .replace("MAX_REPLICAS", "10")
            .replace("TARGET_VALUE", "\"0.7\"")
            .replace("CLUSTER_NAME", "dev")
            .replace("NAMESPACE_NAME", "models")
            .replace("GATEWAY_NAME", "gateway")
            .replace(
                "MODEL_ARMOR_TEMPLATE_NAME",
                "projects/p/locations/us-central1/templates/t",
            );
        let path = dir.join(f);
        std::fs::write(&path, text).unwrap();
        path
    })
    .collect();
    let out = dir.join("poolpilot.yaml");
    let status = std::process::Command::new(poolpilot_tests::binary())
        .arg("import")
        .args(&files)
        .arg("--output")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let check = std::process::Command::new(poolpilot_tests::binary())
        .args(["check", "--config"])
        .arg(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{said}");
    assert!(said.contains("the stock HPA with this spec"), "{said}");
    let config = shared::config::load::<Config>(&out).unwrap().into_inner();
    assert_eq!(config.scaler.pools[0].pool, "llama3");
    assert_eq!(config.scaler.pools[0].namespace, "models");
    assert_eq!(config.router.access_log_sample_rate, 500_000);
    let chain = &config.router.guard.chains[0];
    assert_eq!(chain.name, "my-model-armor-chain1");
    assert_eq!(chain.match_condition, [r#"request.path.startsWith("/")"#]);
    assert_eq!(chain.timeout, std::time::Duration::from_secs(1));
    assert!(
        chain
            .template
            .external
            .as_ref()
            .unwrap()
            .url
            .ends_with("/v1/projects/p/locations/us-central1/templates/t")
    );
    assert_eq!(config.alert_evaluator.rule_files.len(), 1);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("DESIGN §1"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
