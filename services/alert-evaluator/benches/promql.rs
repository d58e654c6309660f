//! Evaluation time of the seed's four alert rules over one hour of 1 s
//! samples: 9,000 histogram bucket series (500 model pairs × 18 buckets),
//! 500 error and 500 request counters, 200 queue-size and 200 KV-cache
//! gauges (10,400 series, 3,600 points each), built once into the evaluator's
//! window. `all_four_rules` (and `rule_1`…`rule_4`) is the PromQL alone;
//! `seed_group` is one evaluation of the seed's rule group as the service runs it
//! (templates, alert states, `ALERTS` series appended), over the same window.
//!
//! Run: `cargo bench -p alert-evaluator --bench promql`. Before the timings it
//! prints the window's size as the storage counts it (`approx_bytes`) and as the
//! process's resident memory grew while building it (`VmRSS` from
//! `/proc/self/status` before and after, where the kernel has it).

/// The allocator the `poolpilot` binary uses, so the evaluation measured here
/// is the one shipped.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use alert_evaluator::promql::{Labels, Storage, Value, instant, parse};
use alert_evaluator::{Evaluator, Settings};
use criterion::{Criterion, criterion_group, criterion_main};

const START_MS: i64 = 1_700_000_000_000;
const POINTS: i64 = 3_600;
const STEP_MS: i64 = 1_000;
const MODELS: usize = 500;
const POOLS: usize = 200;
const BOUNDS: [&str; 18] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "15", "20",
    "30", "45", "60", "120", "+Inf",
];

const RULES: [&str; 4] = [
    "histogram_quantile(0.99, rate(inference_model_request_duration_seconds_bucket[5m])) > 10.0",
    "sum by (model_name) (rate(inference_model_request_error_total[5m])) / sum by (model_name) (rate(inference_model_request_total[5m])) > 0.05",
    "inference_pool_average_queue_size > 50",
    "inference_pool_average_kv_cache_utilization > 0.9",
];

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Appends a counter growing by random increments; one in a hundred
/// restarts (resets to zero) during the last five minutes.
fn counter(storage: &mut Storage, rng: &mut Rng, labels: &Labels, max_inc: u64) {
    let mut v = 0.0;
    let reset_at = (rng.below(100) == 0).then(|| POINTS - 1 - rng.below(300) as i64);
    for i in 0..POINTS {
        if Some(i) == reset_at {
            v = 0.0;
        }
        v += rng.below(max_inc + 1) as f64;
        let t = START_MS + i * STEP_MS;
        storage.append(labels, t, v).expect("ordered append");
    }
}

fn gauge(storage: &mut Storage, rng: &mut Rng, labels: &Labels, scale: f64) {
    for i in 0..POINTS {
        let v = rng.below(1_000) as f64 / 1_000.0 * scale;
        storage
            .append(labels, START_MS + i * STEP_MS, v)
            .expect("ordered append");
    }
}

fn build(storage: &mut Storage) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for m in 0..MODELS {
        let model = format!("model-{m}");
        let target = format!("target-{m}");
        // Cumulative buckets: each bucket's increment includes the lower ones'.
        let mut incs = [0u64; 18];
        let mut acc = 0;
        for inc in &mut incs {
            acc += rng.below(4);
            *inc = acc;
        }
        for (le, inc) in BOUNDS.iter().zip(incs) {
            let labels = Labels::from_pairs([
                (
                    "__name__",
                    "inference_model_request_duration_seconds_bucket",
                ),
                ("model_name", model.as_str()),
                ("target_model_name", target.as_str()),
                ("le", le),
            ]);
            counter(storage, &mut rng, &labels, inc);
        }
        for (name, inc) in [
            ("inference_model_request_error_total", 1),
            ("inference_model_request_total", 20),
        ] {
            let labels = Labels::from_pairs([("__name__", name), ("model_name", model.as_str())]);
            counter(storage, &mut rng, &labels, inc);
        }
    }
    for p in 0..POOLS {
        let pool = format!("pool-{p}");
        let q = Labels::from_pairs([
            ("__name__", "inference_pool_average_queue_size"),
            ("name", pool.as_str()),
        ]);
        gauge(storage, &mut rng, &q, 100.0);
        let kv = Labels::from_pairs([
            ("__name__", "inference_pool_average_kv_cache_utilization"),
            ("name", pool.as_str()),
        ]);
        gauge(storage, &mut rng, &kv, 1.0);
    }
}

/// The process's resident memory in KiB (`VmRSS` in `/proc/self/status`), where the
/// kernel reports it.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

fn bench(c: &mut Criterion) {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/rules/seed.rules.yaml"
    );
    let groups = alert_evaluator::rules::load(&[seed.into()], std::time::Duration::from_secs(1))
        .expect("the seed's rules load");
    let mut evaluator = Evaluator::new(
        groups,
        Settings {
            external_url: "http://localhost:9090".into(),
            resend_delay: std::time::Duration::from_secs(60),
            retention: std::time::Duration::from_secs(3600),
            ..Default::default()
        },
    );
    let rss_before = rss_kib();
    build(evaluator.storage_mut());
    let rss_after = rss_kib();
    let storage = evaluator.storage();
    let bytes = storage.approx_bytes();
    let points = storage.point_count();
    let mib = |b: f64| b / (1024.0 * 1024.0);
    eprintln!(
        "storage: {} series, {points} points, approx_bytes = {bytes} ({:.1} MiB, {:.2} bytes/point)",
        storage.series_count(),
        mib(bytes as f64),
        bytes as f64 / points as f64
    );
    match (rss_before, rss_after) {
        (Some(before), Some(after)) => {
            let grown = after.saturating_sub(before) as f64 * 1024.0;
            eprintln!(
                "VmRSS: {:.1} MiB before building the window, {:.1} MiB after: {:.1} MiB for the window ({:.2} bytes/point)",
                mib(before as f64 * 1024.0),
                mib(after as f64 * 1024.0),
                mib(grown),
                grown / points as f64
            );
        }
        _ => eprintln!("VmRSS: not reported by this system"),
    }
    let exprs: Vec<_> = RULES
        .iter()
        .map(|r| parse(r).expect("rule parses"))
        .collect();
    let t = START_MS + (POINTS - 1) * STEP_MS;
    for (rule, e) in RULES.iter().zip(&exprs) {
        match instant(storage, e, t) {
            Ok(Value::Vector(v)) => eprintln!("{:>5} samples  {rule}", v.len()),
            other => panic!("{rule}: {other:?}"),
        }
    }
    c.bench_function("all_four_rules", |b| {
        b.iter(|| {
            for e in &exprs {
                black_box(instant(storage, e, black_box(t)).expect("evaluates"));
            }
        })
    });
    for (i, e) in exprs.iter().enumerate() {
        c.bench_function(&format!("rule_{}", i + 1), |b| {
            b.iter(|| black_box(instant(storage, e, black_box(t)).expect("evaluates")))
        });
    }

    let first = evaluator.eval_all(t, &[0]);
    eprintln!(
        "seed group: {} alerts went pending, {} errors",
        first.transitions.len(),
        first.errors.len()
    );
    c.bench_function("seed_group", |b| {
        b.iter(|| black_box(evaluator.eval_all(black_box(t), &[0])))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
