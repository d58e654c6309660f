//! The pool gauges with explicit times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shared::wire::{Aggregates, PodSamples, RawKind, RawSample, Signals};

use crate::core::Pools;

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_800_000_000_000 + ms)
}

fn sample(pod: &str, time: SystemTime, kv: f64, queue: f64, running: f64) -> PodSamples {
    PodSamples {
        pool: "llama3".into(),
        pod: pod.into(),
        namespace: "models".into(),
        endpoint: String::new(),
        engine: "vllm".into(),
        time,
        signals: Signals {
            up: true,
            queue_size: Some(queue),
            running_requests: Some(running),
            kv_cache_utilization: Some(kv),
            lora: None,
        },
        raw: Vec::new(),
    }
}

fn value(a: &[Aggregates], name: &str, pod: Option<&str>) -> Option<f64> {
    a.iter()
        .flat_map(|a| &a.series)
        .find(|s| {
            s.name == name
                && pod.is_none_or(|p| {
                    s.labels
                        .iter()
                        .any(|(k, v)| k == "model_server_pod" && v == p)
                })
        })
        .map(|s| s.value)
}

#[test]
fn averages_are_over_fresh_pods_only() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(0), 0.2, 2.0, 10.0));
    pools.ingest(&sample("b", at(500), 0.6, 4.0, 20.0));
    let now = pools.tick(at(1000));
    assert_eq!(value(&now, "inference_pool_ready_pods", None), Some(2.0));
    assert_eq!(
        value(&now, "inference_pool_average_kv_cache_utilization", None),
        Some(0.4)
    );
    assert_eq!(
        value(&now, "inference_pool_average_queue_size", None),
        Some(3.0)
    );
    assert_eq!(
        value(&now, "inference_pool_average_running_requests", None),
        Some(15.0)
    );
    assert_eq!(
        value(&now, "inference_pool_per_pod_queue_size", Some("b")),
        Some(4.0)
    );
    assert!(
        now[0]
            .series
            .iter()
            .all(|s| s.labels[0] == ("name".to_owned(), "llama3".to_owned()))
    );

    // `a` stops reporting: after 2 s it no longer counts.
    pools.ingest(&sample("b", at(2100), 0.8, 6.0, 30.0));
    let later = pools.tick(at(2500));
    assert_eq!(value(&later, "inference_pool_ready_pods", None), Some(1.0));
    assert_eq!(
        value(&later, "inference_pool_average_kv_cache_utilization", None),
        Some(0.8)
    );
    assert_eq!(
        value(&later, "inference_pool_per_pod_queue_size", Some("a")),
        None
    );

    // Nobody fresh: ready_pods 0 and no averages, rather than stale ones.
    let silent = pools.tick(at(10_000));
    assert_eq!(value(&silent, "inference_pool_ready_pods", None), Some(0.0));
    assert_eq!(
        value(&silent, "inference_pool_average_kv_cache_utilization", None),
        None
    );
}

#[test]
fn a_pod_that_is_down_drops_out_at_once() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(0), 0.2, 2.0, 10.0));
    pools.ingest(&sample("b", at(0), 0.6, 4.0, 20.0));
    let mut down = sample("b", at(100), 0.0, 0.0, 0.0);
    down.signals = Signals::default();
    pools.ingest(&down);
    let now = pools.tick(at(200));
    assert_eq!(value(&now, "inference_pool_ready_pods", None), Some(1.0));
    assert_eq!(
        value(&now, "inference_pool_average_kv_cache_utilization", None),
        Some(0.2)
    );
}

#[test]
fn an_older_sample_changes_nothing() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(1000), 0.5, 1.0, 1.0));
    pools.ingest(&sample("a", at(900), 0.9, 9.0, 9.0)); // redelivered, out of order
    let now = pools.tick(at(1100));
    assert_eq!(
        value(&now, "inference_pool_average_kv_cache_utilization", None),
        Some(0.5)
    );
}

#[test]
fn gpu_utilisation_averages_dcgm_series() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(0), 0.1, 0.0, 1.0));
    let gpu = |value| RawSample {
        name: "DCGM_FI_DEV_GPU_UTIL".into(),
        labels: vec![],
        kind: RawKind::Gauge,
        value,
    };
    let dcgm = PodSamples {
        engine: "dcgm".into(),
        raw: vec![gpu(80.0), gpu(60.0)],
        signals: Signals {
            up: true,
            ..Default::default()
        },
        ..sample("a", at(100), 0.0, 0.0, 0.0)
    };
    pools.ingest(&dcgm);
    let now = pools.tick(at(200));
    assert_eq!(
        value(&now, "poolpilot_pool_average_gpu_utilization", None),
        Some(70.0)
    );
    assert_eq!(
        value(&now, "inference_pool_average_kv_cache_utilization", None),
        Some(0.1),
        "a DCGM message leaves the signals alone"
    );
}

#[test]
fn silent_pods_are_forgotten_after_five_minutes() {
    let mut pools = Pools::new(Duration::from_secs(2));
    pools.ingest(&sample("a", at(0), 0.1, 0.0, 1.0));
    assert_eq!(pools.tick(at(299_000)).len(), 1);
    assert!(pools.tick(at(301_000)).is_empty());
}

fn event(
    id: &str,
    model: &str,
    status: u16,
    duration: f64,
    output_tokens: u64,
) -> shared::wire::RequestEvent {
    shared::wire::RequestEvent {
        schema: 1,
        id: id.into(),
        time: "2027-01-15T08:00:00Z".parse().unwrap(),
        pool: "llama3".into(),
        model_name: model.into(),
        target_model_name: format!("{model}-v1"),
        endpoint: "10.0.0.7:8000".into(),
        status,
        error_code: String::new(),
        proxy_status: String::new(),
        duration_seconds: duration,
        ttft_seconds: Some(0.1),
        input_tokens: 100,
        output_tokens,
        request_bytes: 700,
        response_bytes: 3000,
        criticality: "Standard".into(),
        guard: "allowed".into(),
    }
}

#[test]
fn events_from_two_routers_sum_and_a_redelivery_counts_once() {
    use shared::models::{ModelKey, Outcome, Requests};
    let mut r = Requests::new(Duration::from_secs(600));
    assert_eq!(
        r.ingest(at(0), &event("router-a-1", "llama3", 200, 1.5, 100)),
        Outcome::Counted
    );
    assert_eq!(
        r.ingest(at(10), &event("router-b-1", "llama3", 200, 0.3, 10)),
        Outcome::Counted
    );
    assert_eq!(
        r.ingest(at(20), &event("router-a-1", "llama3", 200, 1.5, 100)),
        Outcome::Duplicate
    );
    let mut failed = event("router-b-2", "llama3", 503, 0.01, 0);
    failed.error_code = "no_endpoint".into();
    assert_eq!(r.ingest(at(30), &failed), Outcome::Counted);
    assert_eq!(
        r.ingest(at(40), &event("router-b-3", "llama3", 429, 0.002, 0)),
        Outcome::Counted
    );
    let key = ModelKey {
        model_name: "llama3".into(),
        target_model_name: "llama3-v1".into(),
    };
    let m = &r.models()[&key];
    assert_eq!(m.total, 4);
    assert_eq!(
        m.errors,
        [("429".to_owned(), 1), ("no_endpoint".to_owned(), 1)].into()
    );
    assert_eq!(m.duration.count, 4);
    let cumulative: Vec<_> = m.duration.cumulative().take(5).collect();
    assert_eq!(
        cumulative,
        [(0.005, 1), (0.025, 2), (0.05, 2), (0.1, 2), (0.2, 2)]
    );
    assert_eq!(
        m.output_tokens.count, 2,
        "no output tokens, no observation (as the picker does)"
    );
    assert_eq!(m.ntpot.count, 2);
    assert!((m.ntpot.sum - (1.5 / 100.0 + 0.3 / 10.0)).abs() < 1e-12);
}

#[test]
fn an_id_is_forgotten_after_the_window() {
    use shared::models::{Outcome, Requests};
    let mut r = Requests::new(Duration::from_secs(60));
    assert_eq!(
        r.ingest(at(0), &event("x", "m", 200, 1.0, 1)),
        Outcome::Counted
    );
    assert_eq!(
        r.ingest(at(59_000), &event("x", "m", 200, 1.0, 1)),
        Outcome::Duplicate
    );
    assert_eq!(
        r.ingest(at(61_000), &event("x", "m", 200, 1.0, 1)),
        Outcome::Counted
    );
}

#[test]
fn bad_events_are_not_counted() {
    use shared::models::{Outcome, Requests};
    let mut r = Requests::new(Duration::from_secs(60));
    assert_eq!(
        r.ingest(at(0), &event("n", "m", 200, -1.0, 1)),
        Outcome::Invalid("bad_duration")
    );
    assert_eq!(
        r.ingest(at(0), &event("n", "m", 200, f64::NAN, 1)),
        Outcome::Invalid("bad_duration")
    );
    assert_eq!(
        r.ingest(at(0), &event("", "m", 200, 1.0, 1)),
        Outcome::Invalid("missing_field")
    );
    assert!(r.models().is_empty());
    assert_eq!(
        r.ingest(at(0), &event("n", "m", 200, 1.0, 1)),
        Outcome::Counted,
        "a rejected id was not remembered"
    );
}

#[test]
fn burn_rates_over_each_window_match_a_hand_computed_example() {
    use crate::config::{Slo, SloKind};
    use crate::slo::Slos;

    let slo = Slo {
        name: "availability".into(),
        objective: 99.0,
        kind: SloKind::Availability,
        latency_threshold: Duration::ZERO,
        models: vec![],
    };
    let mut slos = Slos::new(vec![slo]);
    let ratio = |series: &[RawSample], window: &str| {
        series
            .iter()
            .find(|s| s.name == format!("slo:sli_error:ratio_rate{window}"))
            .map(|s| s.value)
    };
    // The first hour: 100 requests, 1 error.
    for i in 0..100 {
        slos.record(&event(
            &format!("a{i}"),
            "llama3",
            if i == 0 { 503 } else { 200 },
            0.5,
            10,
        ));
    }
    slos.tick(at(0));
    // The next five minutes: 10 requests, 5 errors.
    for i in 0..10 {
        slos.record(&event(
            &format!("b{i}"),
            "llama3",
            if i < 5 { 500 } else { 200 },
            0.5,
            10,
        ));
    }
    let series = slos.tick(at(300_000));
    // 5m: since the baseline at t=0 (the first tick), 110 requests, 6 bad.
    assert_eq!(ratio(&series, "5m"), Some(6.0 / 110.0));
    // 1h: history is shorter than the window, so from the oldest snapshot: the same.
    assert_eq!(ratio(&series, "1h"), Some(6.0 / 110.0));
    let get = |name: &str| {
        series
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value)
            .unwrap()
    };
    assert_eq!(get("slo:objective:ratio"), 0.99);
    assert!((get("slo:error_budget:ratio") - 0.01).abs() < 1e-12);
    // 30 days so far: 6 bad of 110, 5.45x the budget: 4.45 budgets overspent.
    assert!(
        (get("slo:period_error_budget_remaining:ratio") - (1.0 - (6.0 / 110.0) / 0.01)).abs()
            < 1e-9
    );
    assert!(series.iter().all(|s| s.labels
        == [
            ("slo".to_owned(), "availability".to_owned()),
            ("model_name".to_owned(), "llama3".to_owned())
        ]));

    // Another hour of good traffic, 10 s snapshots on the way: the 5m window is clean,
    // the 1h window still sees the five errors.
    let mut t = 300_000;
    for i in 0..360 {
        t += 10_000;
        slos.record(&event(&format!("c{i}"), "llama3", 200, 0.5, 10));
        slos.tick(at(t));
    }
    let series = slos.tick(at(t));
    assert_eq!(ratio(&series, "5m"), Some(0.0));
    let hour = ratio(&series, "1h").unwrap();
    assert!(
        (hour - 0.0).abs() < 1e-12,
        "the errors before t=300 s left the 1 h window at t=3,900 s: {hour}"
    );
    let three_days = ratio(&series, "3d").unwrap();
    assert!((three_days - 6.0 / 470.0).abs() < 1e-12, "{three_days}");
}

#[test]
fn a_latency_slo_counts_slow_requests_and_only_its_models() {
    use crate::config::{Slo, SloKind};
    use crate::slo::Slos;

    let slo = Slo {
        name: "latency".into(),
        objective: 95.0,
        kind: SloKind::Latency,
        latency_threshold: Duration::from_secs(2),
        models: vec!["llama3".into()],
    };
    let mut slos = Slos::new(vec![slo]);
    slos.tick(at(0));
    for (i, d) in [0.5, 1.9, 2.5, 10.0].into_iter().enumerate() {
        slos.record(&event(&format!("l{i}"), "llama3", 200, d, 10));
        slos.record(&event(&format!("q{i}"), "qwen", 200, d, 10));
    }
    let series = slos.tick(at(60_000));
    let r5m: Vec<_> = series
        .iter()
        .filter(|s| s.name == "slo:sli_error:ratio_rate5m")
        .collect();
    assert_eq!(r5m.len(), 1, "only llama3 is covered");
    assert_eq!(r5m[0].value, 0.5);
}

#[test]
fn request_counters_round_trip_through_their_stored_state() {
    use shared::models::{Outcome, Requests, RequestsState};
    let mut r = Requests::new(Duration::from_secs(600));
    r.ingest(at(0), &event("s1", "llama3", 200, 1.5, 100));
    r.ingest(at(5), &event("s2", "llama3", 500, 0.5, 0));
    let json = serde_json::to_vec(&r.state()).unwrap();
    let state: RequestsState = serde_json::from_slice(&json).unwrap();
    let mut back = Requests::restore(Duration::from_secs(600), state);
    assert_eq!(back.models(), r.models());
    assert_eq!(
        back.ingest(at(10), &event("s1", "llama3", 200, 1.5, 100)),
        Outcome::Duplicate,
        "seen ids survive"
    );
}

#[test]
fn a_database_that_does_not_open_is_moved_aside() {
    use shared::store::{SledStore, Store};
    let dir = std::env::temp_dir().join(format!("pp-store-{}-{}", std::process::id(), line!()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state");
    // Not a sled database: a plain file where its directory should be.
    std::fs::write(&path, b"garbage").unwrap();
    let store = SledStore::open(&path).unwrap();
    store.save("k", b"v").unwrap();
    assert_eq!(store.load("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(
        std::fs::read(dir.join("state.broken-0")).unwrap(),
        b"garbage",
        "the old one is kept aside"
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn model_series_flatten_as_prometheus_scrapes_them() {
    use shared::models::Requests;
    let mut r = Requests::new(Duration::from_secs(600));
    r.ingest(at(0), &event("f1", "llama3", 200, 0.3, 10));
    r.ingest(at(1), &event("f2", "llama3", 503, 2.5, 10));
    let series = r.series();
    let find = |name: &str, le: Option<&str>| {
        series
            .iter()
            .find(|s| {
                s.name == name
                    && le.is_none_or(|le| s.labels.iter().any(|(k, v)| k == "le" && v == le))
            })
            .map(|s| s.value)
    };
    assert_eq!(find("inference_model_request_total", None), Some(2.0));
    assert_eq!(find("inference_model_request_error_total", None), Some(1.0));
    assert_eq!(
        find(
            "inference_model_request_duration_seconds_bucket",
            Some("0.4")
        ),
        Some(1.0)
    );
    assert_eq!(
        find(
            "inference_model_request_duration_seconds_bucket",
            Some("+Inf")
        ),
        Some(2.0)
    );
    assert_eq!(
        find("inference_model_request_duration_seconds_sum", None),
        Some(2.8)
    );
    assert!(series.iter().all(|s| s.kind == RawKind::Counter));
}
