//! `docker-compose.yml` and the Dockerfile can't run here (no Docker engine), so this
//! checks what would break them: Kafka plus every part and the simulator, each built
//! from the one Dockerfile, running a real subcommand with a config file that exists,
//! every mounted file there, and every address in that config a compose service.

use std::path::{Path, PathBuf};

use clap::Parser;
use poolpilot::{Cli, Config};
use poolpilot_tests::repo_root;
use serde_json::Value;

/// The host file a service sees at `inside`, through its `volumes`.
fn host_path(service: &Value, inside: &Path) -> Option<PathBuf> {
    service["volumes"]
        .as_array()?
        .iter()
        .filter_map(|v| {
            let mut fields = v.as_str()?.split(':');
            Some((fields.next()?, fields.next()?))
        })
        .filter(|(_, at)| inside.starts_with(at))
        .max_by_key(|(_, at)| at.len())
        .map(|(host, at)| {
            let below = inside.strip_prefix(at).unwrap();
            let host = repo_root().join(host);
            if below.as_os_str().is_empty() {
                host
            } else {
                host.join(below)
            }
        })
}

/// The host of `host:port` or of a URL's authority.
fn host_of(address: &str) -> &str {
    let rest = address.split_once("://").map_or(address, |(_, r)| r);
    rest.split([':', '/']).next().unwrap()
}

#[test]
fn every_compose_service_runs_a_real_command_with_a_real_config() {
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).unwrap();
    let compose: Value = serde_saphyr::from_str(&text).unwrap();
    let services = compose["services"].as_object().unwrap();

    // Kafka, the same image as deploy/kubernetes/kafka runs.
    let kafka_image = services["kafka"]["image"]
        .as_str()
        .expect("kafka runs a published image");
    let k8s_kafka =
        std::fs::read_to_string(repo_root().join("deploy/kubernetes/kafka/kafka.yaml")).unwrap();
    assert!(
        k8s_kafka.contains(&format!("image: {kafka_image}\n")),
        "docker-compose.yml and deploy/kubernetes/kafka run different Kafkas"
    );
    let kafka_env = &services["kafka"]["environment"];
    assert!(
        kafka_env["KAFKA_ADVERTISED_LISTENERS"]
            .as_str()
            .unwrap()
            .contains("//kafka:9092"),
        "{kafka_env}"
    );

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
        let config_path = args
            .config
            .clone()
            .unwrap_or_else(|| panic!("{name}: no --config"));

        // Built from ./Dockerfile, tagged as the image deploy/kubernetes runs.
        let context = service["build"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: built from ./Dockerfile"));
        assert!(
            repo_root().join(context).join("Dockerfile").is_file(),
            "{name}: no Dockerfile in {context}"
        );
        assert_eq!(
            service["image"], "ghcr.io/poolpilot/poolpilot:latest",
            "{name}"
        );
        for volume in service["volumes"].as_array().unwrap() {
            let host = volume.as_str().unwrap().split(':').next().unwrap();
            assert!(
                repo_root().join(host).exists(),
                "{name}: {host} does not exist"
            );
        }

        // The config it mounts loads, and what it names is there.
        let host = host_path(service, &config_path)
            .unwrap_or_else(|| panic!("{name}: {} is not mounted", config_path.display()));
        let config = shared::config::load::<Config>(&host)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into_inner();
        if command[0] == "alert-evaluator" {
            assert!(!config.alert_evaluator.rule_files.is_empty());
            for file in &config.alert_evaluator.rule_files {
                let host = host_path(service, file)
                    .unwrap_or_else(|| panic!("{name}: {} is not mounted", file.display()));
                assert!(host.is_file(), "{name}: {} does not exist", host.display());
            }
        }
        let brokers = service["environment"]["POOLPILOT_KAFKA_BROKERS"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no POOLPILOT_KAFKA_BROKERS"));
        assert!(services.contains_key(host_of(brokers)), "{name}: {brokers}");
        for pool in &config.scraper.pools {
            for target in pool.targets.iter().chain(&pool.dcgm) {
                assert!(
                    services.contains_key(host_of(target.url())),
                    "{name}: scrapes {}, no such service",
                    target.url()
                );
            }
        }
        if command[0] == "router" {
            let port = config.router.listen.port().to_string();
            assert!(
                service["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p.as_str().unwrap().ends_with(&format!(":{port}"))),
                "{name}: router.listen's port {port} is not published"
            );
        }
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
        dockerfile.contains("cargo build --release -p poolpilot"),
        "the Dockerfile builds the binary"
    );
    assert!(
        dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/poolpilot\"]"),
        "the image runs poolpilot with the command as its arguments"
    );
}
