//! OTLP encode/decode cost per sample: one `ExportMetricsServiceRequest` of 100 pods,
//! each with the 5 canonical signals and 50 raw series, as a scrape of a vLLM pod with
//! an allow-list would produce.
//!
//! `cargo bench -p shared --bench codec`
#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::time::SystemTime;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shared::wire::{LoraInfo, PodSamples, RawKind, RawSample, Signals, decode_batch, encode_batch};

const PODS: usize = 100;
const SERIES: usize = 50;

fn batch() -> Vec<PodSamples> {
    (0..PODS)
        .map(|p| PodSamples {
            pool: "llama3".into(),
            pod: format!("llama3-7d9f-{p}"),
            namespace: "models".into(),
            endpoint: format!("10.0.{}.{}:8000", p / 250, p % 250),
            engine: "vllm".into(),
            time: SystemTime::now(),
            signals: Signals {
                up: true,
                queue_size: Some(3.0),
                running_requests: Some(17.0),
                kv_cache_utilization: Some(0.42),
                lora: Some(LoraInfo {
                    running: vec!["sql-lora".into()],
                    waiting: vec![],
                    max: 4,
                }),
            },
            raw: (0..SERIES)
                .map(|s| RawSample {
                    name: format!("vllm:e2e_request_latency_seconds_bucket_{}", s / 10),
                    labels: vec![
                        (
                            "model_name".into(),
                            "meta-llama/Llama-3.1-8B-Instruct".into(),
                        ),
                        ("engine".into(), "0".into()),
                        ("le".into(), format!("{}", s as f64 * 0.25)),
                    ],
                    kind: RawKind::Counter,
                    value: s as f64 * 3.0,
                })
                .collect(),
        })
        .collect()
}

fn codec(c: &mut Criterion) {
    let batch = batch();
    let samples = (PODS * (SERIES + 5)) as u64;
    let bytes = encode_batch(&batch);
    let mut g = c.benchmark_group("otlp");
    g.throughput(Throughput::Elements(samples));
    g.bench_function("encode", |b| {
        b.iter(|| encode_batch(std::hint::black_box(&batch)))
    });
    g.bench_function("decode", |b| {
        b.iter(|| decode_batch(std::hint::black_box(&bytes)).unwrap())
    });
    g.finish();
    println!(
        "batch: {PODS} pods x {} samples = {samples} samples, {} bytes",
        SERIES + 5,
        bytes.len()
    );
}

criterion_group!(benches, codec);
criterion_main!(benches);
