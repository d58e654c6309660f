//! The guard's local filters on 4 KB prompts (target p99 ≤ 100 µs per scan): a
//! criterion run, then p50/p99 over 10,000 scans of each.
//!
//! `cargo bench -p router --bench detect`
#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use router::guard::detect::{Detectors, DetectorsConfig};

#[path = "support/sample.rs"]
mod sample;

const SCANS: usize = 10_000;

fn bench(c: &mut Criterion) {
    let detectors = Detectors::new(&DetectorsConfig::default()).expect("default config builds");
    let mut out = Vec::new();
    for (name, text) in [
        ("benign_4k", sample::benign()),
        ("findings_4k", sample::with_findings()),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                detectors.scan(black_box(&text), &mut out);
                black_box(out.len())
            })
        });
        let mut nanos: Vec<u128> = (0..SCANS)
            .map(|_| {
                out.clear();
                let t = Instant::now();
                detectors.scan(black_box(&text), &mut out);
                t.elapsed().as_nanos()
            })
            .collect();
        nanos.sort_unstable();
        let pct = |p: usize| nanos[(nanos.len() * p / 100).min(nanos.len() - 1)] as f64 / 1e3;
        eprintln!(
            "{name}: {} findings; {SCANS} scans: p50 {:.1} µs, p99 {:.1} µs",
            out.len(),
            pct(50),
            pct(99)
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
