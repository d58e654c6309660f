//! `OtlpConfig`: defaults, YAML, round trip, validation.

use shared::config::{parse, validate};

use crate::otlp::OtlpConfig;

#[test]
fn defaults_are_the_spec_ports_and_off() {
    let c = OtlpConfig::default();
    assert!(!c.enabled);
    assert_eq!(c.grpc_listen.to_string(), "0.0.0.0:4317");
    assert_eq!(c.http_listen.to_string(), "0.0.0.0:4318");
    assert_eq!(c.max_body_bytes, 4 << 20);
    assert_eq!(
        c.pool_attributes,
        ["poolpilot.pool", "k8s.deployment.name", "service.name"]
    );
    assert_eq!(
        c.pod_attributes,
        ["k8s.pod.name", "service.instance.id", "host.name"]
    );
    assert!(validate(c).is_ok());
}

#[test]
fn yaml_fills_the_rest_with_defaults() {
    let c = parse::<OtlpConfig>(
        "otlp.yaml",
        "enabled: true\nhttp_listen: 127.0.0.1:14318\npool_attributes: [team.pool]\n",
    )
    .expect("valid");
    assert!(c.enabled);
    assert_eq!(c.http_listen.to_string(), "127.0.0.1:14318");
    assert_eq!(c.grpc_listen, OtlpConfig::default().grpc_listen);
    assert_eq!(c.pool_attributes, ["team.pool"]);
}

#[test]
fn unknown_fields_are_refused() {
    let e = parse::<OtlpConfig>("otlp.yaml", "enabled: true\ngrpc_port: 4317\n").unwrap_err();
    assert!(e.to_string().contains("grpc_port"), "{e}");
}

#[test]
fn round_trips_through_serde() {
    let c = OtlpConfig {
        enabled: true,
        max_body_bytes: 1234,
        pod_attributes: vec!["x".into()],
        ..OtlpConfig::default()
    };
    let json = serde_json::to_string(&c).expect("serialize");
    let back: OtlpConfig = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, c);
}

#[test]
fn validation_reports_every_problem_with_its_path() {
    let text = "max_body_bytes: 0\ngrpc_listen: 0.0.0.0:9000\nhttp_listen: 0.0.0.0:9000\npool_attributes: []\npod_attributes: [k8s.pod.name, \" \"]\n";
    let e = parse::<OtlpConfig>("otlp.yaml", text).unwrap_err();
    let paths: Vec<_> = e.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "max_body_bytes",
            "http_listen",
            "pool_attributes",
            "pod_attributes[1]"
        ],
        "{e}"
    );
    // Places come from the YAML source.
    assert!(e.to_string().starts_with("otlp.yaml:1:"), "{e}");
}

#[test]
fn port_zero_twice_is_fine() {
    assert!(validate(super::support::loopback()).is_ok());
}
