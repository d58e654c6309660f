//! `docker-compose.yml` and the Dockerfile can't run here (no Docker engine), so this
//! checks what would break them: every service runs a real subcommand with a config
//! file that exists.

use clap::Parser;
use poolpilot::Cli;
use poolpilot_tests::repo_root;
use serde_json::Value;

#[test]
fn every_compose_service_runs_a_real_command_with_a_real_config() {
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).unwrap();
    let compose: Value = serde_saphyr::from_str(&text).unwrap();
    let services = compose["services"].as_object().unwrap();
    assert!(services.contains_key("kafka"));
    let mut parts = Vec::new();
    for (name, service) in services.iter().filter(|(n, _)| *n != "kafka") {
        let command: Vec<String> = service["command"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: command must be a list"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let cli =
            Cli::try_parse_from(std::iter::once("poolpilot".to_owned()).chain(command.clone()))
                .unwrap_or_else(|e| panic!("{name}: `poolpilot {}`: {e}", command.join(" ")));
        let (_, args) = cli
            .command
            .part()
            .unwrap_or_else(|| panic!("{name} must run one part"));
        let config = args
            .config
            .clone()
            .unwrap_or_else(|| panic!("{name}: no --config"));
        let mounted = service["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str()?.split_once(':'))
            .find(|(_, inside)| std::path::Path::new(inside.trim_end_matches(":ro")) == config)
            .unwrap_or_else(|| panic!("{name}: {} is not mounted", config.display()));
        assert!(
            repo_root().join(mounted.0).exists(),
            "{name}: {} does not exist",
            mounted.0
        );
        assert!(
            service["build"].as_str().is_some(),
            "{name}: built from ./Dockerfile"
        );
        parts.push(command[0].clone());
    }
    parts.sort();
    assert_eq!(
        parts,
        [
            "aggregator",
            "alert-evaluator",
            "router",
            "scaler",
            "scraper",
            "simulate"
        ]
    );
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("cargo build --release"),
        "the Dockerfile builds the binary"
    );
}
