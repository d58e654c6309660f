//! `route`: which attributes name the pool and pod, what is refused and counted, and
//! that metrics pass through untouched.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Metric, NumberDataPoint, Sum, Summary,
    SummaryDataPoint, metric,
};

use super::support::{attribute, gauge, histogram, kv, request, resource};
use crate::otlp::{OtlpConfig, POD_ATTRIBUTE, POOL_ATTRIBUTE, data_points, route};

fn cfg() -> OtlpConfig {
    OtlpConfig::default()
}

#[test]
fn first_configured_attribute_present_wins() {
    // service.name is last in the list; k8s.deployment.name beats it.
    let r = route(
        request(vec![resource(
            vec![
                kv("service.name", "svc"),
                kv("k8s.deployment.name", "deploy"),
                kv("host.name", "host-1"),
                kv("service.instance.id", "inst-1"),
            ],
            vec![gauge("g", 1)],
        )]),
        &cfg(),
    );
    assert_eq!(r.error, None);
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].0, "deploy/inst-1");

    // Our own attribute beats everything.
    let r = route(
        request(vec![resource(
            vec![
                kv("k8s.deployment.name", "deploy"),
                kv("poolpilot.pool", "llama3"),
                kv("host.name", "host-1"),
            ],
            vec![gauge("g", 1)],
        )]),
        &cfg(),
    );
    assert_eq!(r.messages[0].0, "llama3/host-1");
}

#[test]
fn empty_values_do_not_count_as_present() {
    let r = route(
        request(vec![resource(
            vec![
                kv("poolpilot.pool", ""),
                kv("service.name", "svc"),
                kv("k8s.pod.name", "p-1"),
            ],
            vec![gauge("g", 1)],
        )]),
        &cfg(),
    );
    assert_eq!(r.messages[0].0, "svc/p-1");
}

#[test]
fn integer_values_are_used_as_text() {
    let int = KeyValue {
        key: "service.instance.id".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(7)),
        }),
        ..Default::default()
    };
    let r = route(
        request(vec![resource(
            vec![kv("service.name", "svc"), int],
            vec![gauge("g", 1)],
        )]),
        &cfg(),
    );
    assert_eq!(r.messages[0].0, "svc/7");
}

#[test]
fn configured_lists_replace_the_defaults() {
    let cfg = OtlpConfig {
        pool_attributes: vec!["team.pool".into()],
        pod_attributes: vec!["team.pod".into()],
        ..OtlpConfig::default()
    };
    let r = route(
        request(vec![resource(
            vec![
                kv("poolpilot.pool", "ignored"),
                kv("k8s.pod.name", "ignored"),
                kv("team.pool", "a"),
                kv("team.pod", "b"),
            ],
            vec![gauge("g", 1)],
        )]),
        &cfg,
    );
    assert_eq!(r.messages[0].0, "a/b");
    // The canonical attributes are overwritten, once each.
    assert_eq!(
        attribute(&r.messages[0].1, POOL_ATTRIBUTE).as_deref(),
        Some("a")
    );
    assert_eq!(
        attribute(&r.messages[0].1, POD_ATTRIBUTE).as_deref(),
        Some("b")
    );
}

#[test]
fn attributes_are_rewritten_and_the_rest_kept() {
    let r = route(
        request(vec![resource(
            vec![
                kv("k8s.deployment.name", "llama3"),
                kv("k8s.namespace.name", "serving"),
                kv("service.instance.id", "p-0"),
                kv("custom", "kept"),
            ],
            vec![gauge("g", 1)],
        )]),
        &cfg(),
    );
    let m = &r.messages[0].1;
    assert_eq!(attribute(m, "poolpilot.pool").as_deref(), Some("llama3"));
    assert_eq!(attribute(m, "k8s.pod.name").as_deref(), Some("p-0"));
    assert_eq!(
        attribute(m, "k8s.namespace.name").as_deref(),
        Some("serving")
    );
    assert_eq!(attribute(m, "custom").as_deref(), Some("kept"));
    assert_eq!(
        attribute(m, "k8s.deployment.name").as_deref(),
        Some("llama3")
    );

    // And the wire decoder now reads the pod.
    let decoded = shared::wire::decode_batch(&prost::Message::encode_to_vec(m)).expect("decodes");
    assert_eq!(decoded[0].pool, "llama3");
    assert_eq!(decoded[0].pod, "p-0");
    assert_eq!(decoded[0].namespace, "serving");
}

#[test]
fn metrics_pass_through_untouched() {
    let metrics = vec![gauge("g", 2), histogram("h", 1), sum("s", 3)];
    let rm = resource(
        vec![kv("poolpilot.pool", "llama3"), kv("k8s.pod.name", "p-0")],
        metrics,
    );
    let r = route(request(vec![rm.clone()]), &cfg());
    let out = &r.messages[0].1.resource_metrics[0];
    assert_eq!(out.scope_metrics, rm.scope_metrics);
    assert_eq!(out.schema_url, rm.schema_url);
    assert_eq!(r.accepted_data_points, 6);
    assert_eq!(r.rejected_data_points, 0);
}

#[test]
fn each_resource_becomes_its_own_message_in_order() {
    let r = route(
        request(vec![
            resource(
                vec![kv("service.name", "a"), kv("host.name", "1")],
                vec![gauge("g", 1)],
            ),
            resource(
                vec![kv("service.name", "b"), kv("host.name", "2")],
                vec![gauge("g", 1)],
            ),
            resource(
                vec![kv("service.name", "a"), kv("host.name", "1")],
                vec![gauge("g", 1)],
            ),
        ]),
        &cfg(),
    );
    let keys: Vec<_> = r.messages.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a/1", "b/2", "a/1"]);
    assert!(
        r.messages
            .iter()
            .all(|(_, m)| m.resource_metrics.len() == 1)
    );
}

#[test]
fn rejection_counts_every_kind_of_data_point() {
    let metrics = vec![
        gauge("g", 2),
        sum("s", 3),
        histogram("h", 4),
        exp_histogram("e", 5),
        summary("q", 6),
        Metric {
            name: "empty".into(),
            ..Default::default()
        },
    ];
    let no_pod = resource(vec![kv("poolpilot.pool", "llama3")], metrics.clone());
    assert_eq!(data_points(&no_pod), 20);
    let ok = resource(
        vec![kv("poolpilot.pool", "llama3"), kv("host.name", "h")],
        vec![gauge("g", 1)],
    );
    let r = route(request(vec![no_pod, ok]), &cfg());
    assert_eq!(r.rejected_data_points, 20);
    assert_eq!(r.accepted_data_points, 1);
    assert_eq!(r.messages.len(), 1);
    let e = r.error.expect("an error message");
    assert!(e.contains("resource_metrics[0]"), "{e}");
    assert!(
        e.contains("no pod (k8s.pod.name, service.instance.id, host.name)"),
        "{e}"
    );
    assert!(!e.contains("no pool"), "{e}");
    assert!(e.contains("20 data points"), "{e}");
}

#[test]
fn a_resource_without_attributes_names_both_missing() {
    let mut rm = resource(vec![], vec![gauge("g", 1)]);
    rm.resource = None;
    let r = route(request(vec![rm]), &cfg());
    assert!(r.messages.is_empty());
    assert_eq!(r.rejected_data_points, 1);
    let e = r.error.expect("an error message");
    assert!(
        e.contains("no pool (poolpilot.pool") && e.contains("and no pod"),
        "{e}"
    );
}

#[test]
fn many_rejections_are_summarized() {
    let resources = (0..10)
        .map(|_| resource(vec![], vec![gauge("g", 1)]))
        .collect();
    let r = route(request(resources), &cfg());
    assert_eq!(r.rejected_data_points, 10);
    let e = r.error.expect("an error message");
    assert!(
        e.contains("resource_metrics[2]") && !e.contains("resource_metrics[3]"),
        "{e}"
    );
    assert!(e.ends_with("and 7 more resources like these"), "{e}");
}

#[test]
fn an_empty_request_is_fine() {
    let r = route(request(vec![]), &cfg());
    assert_eq!(r, Default::default());
}

fn sum(name: &str, n: usize) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![NumberDataPoint::default(); n],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn exp_histogram(name: &str, n: usize) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint::default(); n],
            aggregation_temporality: 2,
        })),
        ..Default::default()
    }
}

fn summary(name: &str, n: usize) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Summary(Summary {
            data_points: vec![SummaryDataPoint::default(); n],
        })),
        ..Default::default()
    }
}

#[test]
fn the_sdk_placeholder_service_name_is_no_pool() {
    for placeholder in ["unknown_service", "unknown_service:my-binary"] {
        let r = route(
            request(vec![resource(
                vec![kv("service.name", placeholder), kv("host.name", "h")],
                vec![gauge("g", 2)],
            )]),
            &cfg(),
        );
        assert!(r.messages.is_empty(), "{placeholder}");
        assert_eq!(r.rejected_data_points, 2);
    }
}
