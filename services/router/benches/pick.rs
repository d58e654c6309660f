//! Pick latency at scale: 1,000 endpoints with varied loads, 20 LoRA
//! adapters, ~2,000-char prompts sharing 200 system prefixes, and 100,000
//! prior `routed` calls (to random endpoints, the worst case for the
//! prefix index) filling the LRUs.
//!
//! Also the block hashing of a 16 KiB prompt, the most the prefix scorer reads.
//!
//! `cargo bench -p router --bench pick`
#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use router::pick::{
    Criticality, Endpoint, ModelConfig, Picker, PickerConfig, Request, RoundRobin, TargetModel,
    block_hashes,
};

const NOW: i64 = 1_000_000;
const ENDPOINTS: usize = 1_000;
const ADAPTERS: usize = 20;
const PREFIXES: usize = 200;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn adapter(i: usize) -> String {
    format!("adapter-{i:02}")
}

fn endpoints(rng: &mut u64) -> Vec<Endpoint> {
    (0..ENDPOINTS)
        .map(|i| {
            let r = xorshift(rng);
            Endpoint {
                address: format!("10.{}.{}.{}:8000", i / 65_536, (i / 256) % 256, i % 256),
                pod: format!("vllm-{i}"),
                up: !r.is_multiple_of(50),
                sampled_at_ms: NOW - (r % 2_500) as i64,
                queue: (r >> 8) as f64 % 8.0,
                running: (r >> 16) as f64 % 64.0,
                kv: ((r >> 24) % 1000) as f64 / 1000.0,
                lora_running: (0..(r >> 34) % 4)
                    .map(|k| adapter((i + k as usize) % ADAPTERS))
                    .collect(),
                lora_waiting: (0..(r >> 36) % 2)
                    .map(|k| adapter((i + 7 + k as usize) % ADAPTERS))
                    .collect(),
                lora_max: 4,
                in_flight: ((r >> 40) % 3) as u32,
            }
        })
        .collect()
}

fn prompt(prefixes: &[String], rng: &mut u64) -> String {
    let g = (xorshift(rng) % PREFIXES as u64) as usize;
    let tail = xorshift(rng);
    let mut p = prefixes[g].clone();
    while p.len() < 2_000 {
        p.push_str(&format!("{tail:016x}-{} ", p.len()));
    }
    p
}

fn setup() -> (Picker, Vec<Endpoint>, Vec<String>) {
    let mut rng = 0x9e37_79b9_7f4a_7c15;
    let eps = endpoints(&mut rng);
    let prefixes: Vec<String> = (0..PREFIXES)
        .map(|g| format!("system prompt #{g}: ").repeat(60)[..1_000].to_owned())
        .collect();
    let config = PickerConfig {
        // 20 adapters over two models (InferenceModel allows 10 targets).
        models: ["chat-a", "chat-b"]
            .iter()
            .enumerate()
            .map(|(m, name)| ModelConfig {
                name: (*name).into(),
                criticality: Criticality::Standard,
                targets: (m * 10..m * 10 + 10)
                    .map(|i| TargetModel {
                        name: adapter(i),
                        weight: 1 + i as u32,
                        lora: true,
                    })
                    .collect(),
            })
            .collect(),
        ..PickerConfig::default()
    };
    let Ok(mut picker) = Picker::new(config) else {
        panic!("bench config rejected");
    };
    for _ in 0..100_000 {
        let p = prompt(&prefixes, &mut rng);
        let e = (xorshift(&mut rng) % ENDPOINTS as u64) as usize;
        picker.routed(&eps[e].address, &p);
    }
    let prompts = (0..1_000).map(|_| prompt(&prefixes, &mut rng)).collect();
    (picker, eps, prompts)
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn bench(c: &mut Criterion) {
    let started = Instant::now();
    let (picker, eps, prompts) = setup();
    eprintln!("setup (100,000 routed) took {:?}", started.elapsed());
    let reqs: Vec<Request> = prompts
        .iter()
        .enumerate()
        .map(|(k, p)| Request {
            model: if k % 2 == 0 { "chat-a" } else { "chat-b" },
            objective: None,
            prompt: p,
        })
        .collect();

    let mut rng = 42;
    let mut i = 0;
    c.bench_function("pick/1000-endpoints", |b| {
        b.iter(|| {
            i = (i + 1) % reqs.len();
            black_box(picker.pick(NOW, black_box(&eps), &reqs[i], &mut rng))
        })
    });
    // The longest prompt the prefix scorer reads: 256 blocks of 64 bytes.
    let long = prompts[0].repeat(16_384 / prompts[0].len() + 1);
    c.bench_function("block_hashes/16KiB-prompt", |b| {
        b.iter(|| black_box(block_hashes(black_box(&long), 64)))
    });
    let rr = RoundRobin::new(2_000);
    c.bench_function("round_robin/1000-endpoints", |b| {
        b.iter(|| black_box(rr.pick(NOW, black_box(&eps), &reqs[0])))
    });

    let mut samples: Vec<u128> = (0..100_000)
        .map(|k| {
            let t = Instant::now();
            black_box(picker.pick(NOW, &eps, &reqs[k % reqs.len()], &mut rng));
            t.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    eprintln!(
        "manual loop, 100,000 picks: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        percentile(&samples, 0.50) as f64 / 1e3,
        percentile(&samples, 0.99) as f64 / 1e3,
        percentile(&samples, 1.0) as f64 / 1e3,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
