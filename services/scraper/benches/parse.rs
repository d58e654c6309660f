//! Parsing the vLLM capture, side by side (DESIGN §8: ours ≥ 600 MB/s, ≥ 10× the
//! working speed of `prometheus-parse`, ≥ half a bare line scanner):
//!
//! - `ours`: the streaming parser, touching every sample's name, value and labels;
//! - `ours_parse_all`: the same, collected with each family's type (what the scraper
//!   runs);
//! - `prometheus_parse`: `Scrape::parse` on the capture (it drops every `vllm:` series,
//!   so it does less work than we do);
//! - `prometheus_parse_colon_free`: the same on a copy with `:` in names replaced by
//!   `_`, its speed when it actually reads the series;
//! - `bare_scanner`: split lines, split name and value at the last blank, parse the
//!   float: no labels, no checks — the ceiling.
//!
//! Run with `cargo bench -p scraper --bench parse`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scraper::parse::{Entry, parse, parse_all};

fn capture() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/samples/vllm-metrics.txt"
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `body` with `:` replaced by `_` in metric names only (sample lines and the name of
/// `# HELP`/`# TYPE` lines), so label values and HELP text stay as they were.
fn colon_free(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    for line in body.lines() {
        let (head, tail) = if let Some(rest) = line.strip_prefix("# ") {
            let cut = rest
                .match_indices(' ')
                .nth(1)
                .map_or(rest.len(), |(i, _)| i);
            out.push_str("# ");
            rest.split_at(cut)
        } else {
            line.split_at(line.find(['{', ' ']).unwrap_or(line.len()))
        };
        out.push_str(&head.replace(':', "_"));
        out.push_str(tail);
        out.push('\n');
    }
    out
}

/// Ours: every sample, its name, value and every label.
fn ours(body: &str) -> f64 {
    let mut acc = 0.0;
    for entry in parse(body) {
        if let Ok(Entry::Sample(s)) = entry {
            acc += s.value + s.name.len() as f64;
            for (k, v) in s.labels() {
                acc += (k.len() + v.len()) as f64;
            }
        }
    }
    acc
}

/// Ours, collected with types, then every sample touched as above.
fn ours_parse_all(body: &str) -> f64 {
    let scrape = parse_all(body);
    let mut acc = scrape.errors.len() as f64;
    for (_, s) in &scrape.samples {
        acc += s.value + s.name.len() as f64;
        for (k, v) in s.labels() {
            acc += (k.len() + v.len()) as f64;
        }
    }
    acc
}

/// `prometheus-parse`: its API takes owned lines.
fn prometheus_parse(body: &str) -> usize {
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).map_or(0, |s| s.samples.len())
}

/// The ceiling: no labels, no validation.
fn bare_scanner(body: &str) -> f64 {
    let mut acc = 0.0;
    for line in body.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, value)) = line.rsplit_once(' ') {
            acc += value.parse::<f64>().unwrap_or(0.0) + name.len() as f64;
        }
    }
    acc
}

fn bench(c: &mut Criterion) {
    let body = capture();
    let plain = colon_free(&body);
    assert!(ours(&body) > 0.0 && parse_all(&body).errors.is_empty());
    assert!(
        prometheus_parse(&plain) > prometheus_parse(&body),
        "the colon-free copy is read"
    );

    let mut group = c.benchmark_group("parse_vllm");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("ours", |b| b.iter(|| ours(black_box(&body))));
    group.bench_function("ours_parse_all", |b| {
        b.iter(|| ours_parse_all(black_box(&body)))
    });
    group.bench_function("prometheus_parse", |b| {
        b.iter(|| prometheus_parse(black_box(&body)))
    });
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("prometheus_parse_colon_free", |b| {
        b.iter(|| prometheus_parse(black_box(&plain)))
    });
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("bare_scanner", |b| {
        b.iter(|| bare_scanner(black_box(&body)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
