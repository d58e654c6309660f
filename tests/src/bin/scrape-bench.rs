//! The CPU one scraper needs for `--targets` simulated servers scraped every
//! `--interval`: the simulated fleet runs on one thread, the scraper on another (a
//! current-thread runtime, so its CPU is one thread's), a consumer drains the
//! embedded bus on a third. Reports scrapes/s and the scraper thread's share of a core.
//!
//! `cargo run --release -p poolpilot-tests --bin scrape-bench -- --targets 1000`

#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use poolpilot_tests::{this_thread_task, thread_cpu};
use scraper::{Config, EngineChoice, Pool, Target};
use shared::Deps;
use shared::bus::embedded::EmbeddedBus;
use shared::bus::{Bus, EmbeddedConfig, StartFrom, Subscribe};
use shared::config::validate;
use shared::wire::{Topic, Topics};

#[derive(Parser)]
struct Args {
    /// Simulated servers to scrape.
    #[arg(long, default_value_t = 1000)]
    targets: u32,
    /// Scrape interval.
    #[arg(long, default_value = "1s", value_parser = shared::config::duration::parse)]
    interval: Duration,
    /// Seconds to measure, after one interval of warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn main() {
    let args = Args::parse();
    let targets = args.targets;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let config = simulator::Config {
                servers: targets,
                ..Default::default()
            };
            let fleet = simulator::Fleet::start(config).await.unwrap();
            tx.send(fleet.pods()).unwrap();
            std::future::pending::<()>().await;
        })
    });
    let pods = rx.recv().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(EmbeddedBus::new(EmbeddedConfig {
        capacity: 65_536,
        partitions: 4,
    }));
    let topics = Topics::default();
    let received = Arc::new(AtomicU64::new(0));
    {
        let (bus, topic, received) = (bus.clone(), topics.name(Topic::Samples), received.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut sub = bus
                    .subscribe(Subscribe::new("bench", [topic]).start(StartFrom::Latest))
                    .unwrap();
                loop {
                    let m = sub.next().await.unwrap();
                    sub.commit(&m).unwrap();
                    received.fetch_add(1, Ordering::Relaxed);
                }
            })
        });
    }
    let config = Config {
        interval: args.interval,
        timeout: args.interval,
        pools: vec![Pool {
            name: "bench".into(),
            namespace: "sim".into(),
            engine: EngineChoice::Auto,
            targets: pods
                .iter()
                .map(|p| Target::Named {
                    url: format!("{}/metrics", p.url()),
                    pod: p.name.clone(),
                })
                .collect(),
            dcgm: Vec::new(),
            kubernetes: None,
        }],
        ..Config::default()
    };
    let (bus2, topics2) = (bus.clone(), topics.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tx.send(this_thread_task()).unwrap();
        rt.block_on(scraper::run(
            validate(config).unwrap(),
            Deps::new(bus2, topics2),
            std::future::pending::<()>(),
        ))
        .unwrap();
    });
    let task = rx.recv().unwrap();
    std::thread::sleep(args.interval + Duration::from_secs(1));
    let (cpu0, n0, t0) = (
        thread_cpu(&task),
        received.load(Ordering::Relaxed),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(args.seconds));
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (thread_cpu(&task) - cpu0) / wall;
    let rate = (received.load(Ordering::Relaxed) - n0) as f64 / wall;
    println!(
        "{} targets every {:?}: {rate:.0} scrapes/s published (expected {:.0}), scraper thread {:.1}% of one core",
        args.targets,
        args.interval,
        f64::from(args.targets) / args.interval.as_secs_f64(),
        cpu * 100.0
    );
    std::process::exit(0);
}
