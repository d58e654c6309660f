//! The mapping on the real captures in `shared/fixtures/samples/`: expected values
//! were read from the files by eye.

use shared::wire::{RawKind, Signals};

use crate::config::EngineChoice;
use crate::engine::{self, Engine};
use crate::parse::parse_all;

fn fixture(name: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/samples/"
    );
    std::fs::read_to_string(format!("{path}{name}")).unwrap()
}

fn signals_of(file: &str, expect: Engine) -> Signals {
    let body = fixture(file);
    let scrape = parse_all(&body);
    assert!(scrape.errors.is_empty(), "{file}: {:?}", scrape.errors);
    let engine = Engine::choose(EngineChoice::Auto, &scrape.samples).unwrap();
    assert_eq!(engine, expect, "{file}");
    engine::signals(engine, &scrape.samples)
}

#[test]
fn vllm_capture() {
    let s = signals_of("vllm-metrics.txt", Engine::Vllm);
    assert_eq!(
        s,
        Signals {
            up: true,
            queue_size: Some(0.0),
            running_requests: Some(0.0),
            kv_cache_utilization: Some(0.0011764705882353343),
            lora: None,
        }
    );
}

#[test]
fn sglang_capture() {
    let s = signals_of("sglang-metrics.txt", Engine::Sglang);
    assert_eq!(
        (s.queue_size, s.running_requests, s.kv_cache_utilization),
        (Some(2826.0), Some(162.0), Some(0.28))
    );
}

#[test]
fn triton_capture() {
    let s = signals_of("triton-trtllm-metrics.txt", Engine::Triton);
    assert_eq!(
        (s.queue_size, s.running_requests, s.kv_cache_utilization),
        (Some(1.0), Some(1.0), Some(0.4875))
    );
}

#[test]
fn the_older_vllm_kv_name_is_read_when_the_newer_is_absent() {
    let body =
        fixture("vllm-metrics.txt").replace("vllm:kv_cache_usage_perc", "vllm:dropped_metric");
    let scrape = parse_all(&body);
    let s = engine::signals(Engine::Vllm, &scrape.samples);
    assert_eq!(
        s.kv_cache_utilization,
        Some(0.0011764705882353343),
        "from vllm:gpu_cache_usage_perc"
    );
}

#[test]
fn the_newest_lora_series_wins() {
    let body = "\
# TYPE vllm:lora_requests_info gauge
vllm:lora_requests_info{max_lora=\"4\",running_lora_adapters=\"old\",waiting_lora_adapters=\"\"} 1.7e9
vllm:lora_requests_info{max_lora=\"4\",running_lora_adapters=\"sql,chat\",waiting_lora_adapters=\"x\"} 1.8e9
vllm:lora_requests_info{max_lora=\"4\",running_lora_adapters=\"older\",waiting_lora_adapters=\"\"} 1.6e9
";
    let scrape = parse_all(body);
    let lora = engine::signals(Engine::Vllm, &scrape.samples).lora.unwrap();
    assert_eq!(
        (lora.running, lora.waiting, lora.max),
        (
            vec!["sql".to_owned(), "chat".to_owned()],
            vec!["x".to_owned()],
            4
        )
    );
}

#[test]
fn dcgm_series_join_by_hostname_and_by_pod() {
    let body = fixture("dcgm-metrics.txt");
    let scrape = parse_all(&body);
    assert!(scrape.errors.is_empty(), "{:?}", scrape.errors);
    let mine: Vec<_> = engine::dcgm_for(&scrape.samples, "424773df46e0", "").collect();
    assert!(
        mine.iter().any(|(_, s)| s.name == "DCGM_FI_DEV_GPU_UTIL"),
        "joined by Hostname"
    );
    assert!(
        engine::dcgm_for(&scrape.samples, "another-pod", "")
            .next()
            .is_none()
    );

    let k8s = "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",hostname=\"node-1\",pod=\"llama-0\",namespace=\"models\"} 87\n";
    let scrape = parse_all(k8s);
    assert_eq!(
        engine::dcgm_for(&scrape.samples, "llama-0", "models").count(),
        1
    );
    assert_eq!(
        engine::dcgm_for(&scrape.samples, "llama-0", "other").count(),
        0,
        "namespace must match"
    );
    assert_eq!(
        engine::dcgm_for(&scrape.samples, "node-1", "models").count(),
        0,
        "a pod label wins over hostname"
    );
}

#[test]
fn the_allowlist_forwards_raw_series_with_their_kind() {
    let body = fixture("vllm-metrics.txt");
    let scrape = parse_all(&body);
    let allow = engine::allowlist(&[
        "vllm:prompt_tokens_total".into(),
        "vllm:num_requests_.*".into(),
    ])
    .unwrap();
    let raw = engine::raw(&scrape.samples, &allow);
    let names: Vec<_> = raw.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vllm:num_requests_running",
            "vllm:num_requests_waiting",
            "vllm:prompt_tokens_total"
        ]
    );
    assert_eq!(raw[2].kind, RawKind::Counter);
    assert_eq!(raw[2].value, 246.0);
    assert!(
        raw[0]
            .labels
            .contains(&("engine".to_owned(), "0".to_owned()))
    );
    assert!(
        engine::allowlist(&["vllm:prompt".into()])
            .unwrap()
            .matches("vllm:prompt_tokens_total")
            .matched_any()
            .then_some(())
            .is_none(),
        "anchored"
    );
}

#[test]
fn only_ready_pods_with_an_ip_are_targets() {
    use k8s_openapi::api::core::v1::Pod;

    use crate::config::{Discovery, Target};
    use crate::discovery::targets_of;

    let d = Discovery {
        selector: [("app".to_owned(), "llama".to_owned())].into(),
        target_ports: vec![8000],
        inference_pool: None,
        metrics_path: "/metrics".into(),
    };
    let pod = |status: serde_json::Value, deleting: bool| -> Pod {
        let mut meta = serde_json::json!({ "name": "llama-0" });
        if deleting {
            meta["deletionTimestamp"] = "2026-11-28T00:00:00Z".into();
        }
        serde_json::from_value(serde_json::json!({ "metadata": meta, "status": status })).unwrap()
    };
    let ready = serde_json::json!({ "podIP": "10.0.0.7", "conditions": [{ "type": "Ready", "status": "True" }] });
    assert_eq!(
        targets_of(&pod(ready.clone(), false), &d),
        [Target::Named {
            url: "http://10.0.0.7:8000/metrics".into(),
            pod: "llama-0".into()
        }]
    );
    assert!(
        targets_of(&pod(ready.clone(), true), &d).is_empty(),
        "terminating"
    );
    let unready = serde_json::json!({ "podIP": "10.0.0.7", "conditions": [{ "type": "Ready", "status": "False" }] });
    assert!(targets_of(&pod(unready, false), &d).is_empty(), "not ready");
    let no_ip = serde_json::json!({ "conditions": [{ "type": "Ready", "status": "True" }] });
    assert!(targets_of(&pod(no_ip, false), &d).is_empty(), "no IP yet");
    let two = Discovery {
        target_ports: vec![8000, 8001],
        ..d.clone()
    };
    let pods: Vec<_> = targets_of(&pod(ready, false), &two)
        .iter()
        .map(Target::pod)
        .collect();
    assert_eq!(pods, ["llama-0:8000", "llama-0:8001"]);
    let v6 = serde_json::json!({ "podIP": "fd00::7", "conditions": [{ "type": "Ready", "status": "True" }] });
    assert_eq!(
        targets_of(&pod(v6, false), &d)[0].url(),
        "http://[fd00::7]:8000/metrics"
    );
}

#[test]
fn an_inference_pool_objects_spec_gives_selector_and_ports() {
    use kube::api::DynamicObject;

    use crate::config::Discovery;
    use crate::discovery::pool_spec;

    let d = Discovery {
        selector: Default::default(),
        target_ports: Vec::new(),
        inference_pool: Some("llama".into()),
        metrics_path: "/metrics".into(),
    };
    let object: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
        "metadata": { "name": "llama" },
        "spec": { "selector": { "matchLabels": { "app": "llama" } }, "targetPorts": [{ "number": 8000 }],
                  "endpointPickerRef": { "name": "epp" } }
    }))
    .unwrap();
    let spec = pool_spec(&object, &d).unwrap();
    assert_eq!(
        spec.selector,
        [("app".to_owned(), "llama".to_owned())].into()
    );
    assert_eq!(spec.target_ports, [8000]);
    let empty: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
        "metadata": { "name": "llama" }, "spec": { "targetPorts": [{ "number": 8000 }] }
    }))
    .unwrap();
    assert_eq!(
        pool_spec(&empty, &d),
        None,
        "no selector: no members, never every Pod"
    );
}
