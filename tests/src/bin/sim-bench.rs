//! How much simulated fleet one core sustains, so later benchmarks know their headroom.
//!
//! `cargo run --release -p poolpilot-tests --bin sim-bench`
//!
//! 1. The engine alone: simulated seconds of one busy server per CPU second, i.e. how
//!    many servers one core could model in real time without HTTP.
//! 2. Over HTTP: a fleet of `--servers` pods on ONE runtime thread (one core), loaded
//!    by the load generator on the other core at rising rates, streaming. A sustained
//!    rate completes everything with TTFT near its unloaded value; the fleet thread's
//!    CPU use (from /proc) says how close to the core's limit it ran.

#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::time::{Duration, Instant};

use clap::Parser;
use poolpilot_tests::{this_thread_task, thread_cpu};
use simulator::load::{LoadArgs, run};
use simulator::{Config, Engine, Fleet, Output, ServerSpec, Submit};

#[derive(Parser)]
struct Args {
    /// Simulated pods on the one fleet thread.
    #[arg(long, default_value_t = 50)]
    servers: u32,
    /// Offered rates to try, requests/s over the whole fleet.
    #[arg(long, value_delimiter = ',', default_value = "100,200,400,800")]
    rates: Vec<f64>,
    /// Seconds per rate.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

fn engine_only() -> f64 {
    let mut e = Engine::new(ServerSpec::default(), 1.0);
    let horizon = Duration::from_secs(600);
    let gap = Duration::from_millis(125); // 8 requests/s: about 80% busy
    let start = Instant::now();
    let (mut now, mut next, mut id) = (Duration::ZERO, Duration::ZERO, 0);
    while now < horizon {
        let step = e.next_wakeup().unwrap_or(Duration::MAX);
        now = step.min(next);
        let outputs: Vec<Output> = e.advance(now);
        std::hint::black_box(outputs);
        if now == next {
            e.submit(
                now,
                Submit {
                    id,
                    model: e.spec().model.clone(),
                    prompt_tokens: 300,
                    max_tokens: 100,
                    block_hashes: Vec::new(),
                    stops: false,
                },
            )
            .unwrap();
            id += 1;
            next += gap;
        }
    }
    horizon.as_secs_f64() / start.elapsed().as_secs_f64()
}

fn main() {
    let args = Args::parse();
    println!(
        "engine alone: {:.0} simulated server-seconds per CPU second (1 server at ~80% load)",
        engine_only()
    );

    // The fleet on one current-thread runtime, on its own OS thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let servers = args.servers;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let fleet = Fleet::start(Config {
                servers,
                ..Config::default()
            })
            .await
            .unwrap();
            let task = this_thread_task();
            tx.send((fleet.pods(), task)).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let (pods, task) = rx.recv().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{servers} pods on one thread, streaming, 256 prompt + 32 output tokens, {}s per rate",
        args.seconds
    );
    println!(
        "{:>10} {:>10} {:>8} {:>10} {:>10} {:>9}",
        "offered/s", "done/s", "failed", "ttft p50", "e2e p50", "fleet cpu"
    );
    for rate in &args.rates {
        let cpu0 = thread_cpu(&task);
        let wall = Instant::now();
        let reports = rt.block_on(async {
            let runs = pods.iter().map(|p| {
                let per_pod = rate / pods.len() as f64;
                let args = LoadArgs::from_flags([
                    "--url",
                    &p.url(),
                    "--rate",
                    &per_pod.to_string(),
                    "--duration",
                    &format!("{}s", args.seconds),
                    "--input-tokens",
                    "fixed:256",
                    "--output-tokens",
                    "fixed:32",
                    "--seed",
                    &p.addr.port().to_string(),
                ])
                .unwrap();
                run(args, false)
            });
            futures::future::join_all(runs).await
        });
        let cpu = (thread_cpu(&task) - cpu0) / wall.elapsed().as_secs_f64();
        let ok: Vec<_> = reports.into_iter().map(Result::unwrap).collect();
        let done: u64 = ok.iter().map(|r| r.requests_completed).sum();
        let failed: u64 = ok.iter().map(|r| r.requests_failed).sum();
        let median = |f: fn(&simulator::load::Report) -> f64| {
            let mut v: Vec<f64> = ok.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "{rate:>10.0} {:>10.1} {failed:>8} {:>8.1}ms {:>8.1}ms {:>8.0}%",
            done as f64 / wall.elapsed().as_secs_f64(),
            median(|r| r.ttft_seconds.p50) * 1e3,
            median(|r| r.e2e_seconds.p50) * 1e3,
            cpu * 100.0
        );
    }
}
