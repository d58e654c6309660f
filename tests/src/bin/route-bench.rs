//! Routing quality (DESIGN §8: p90 latency ≥ 30% lower than round-robin at 80% load on
//! a heterogeneous fleet): a simulated fleet whose servers alternate full and half
//! speed, scraped every 250 ms, behind the router with the endpoint picker and then
//! behind the router with round-robin. The fleet's capacity is measured first: the sum
//! of each server's throughput under its own closed loop (twice `max_num_seqs`
//! outstanding), called directly. (Measuring it through round-robin would understate
//! it: an equal split saturates the slow servers first.) Each picker then gets the
//! same open-loop Poisson load at `--load` of it, with shared prompt prefixes.
//!
//! `cargo run --release -p poolpilot-tests --bin route-bench -- [--servers 4]
//! [--load 0.8] [--seconds 30]`
#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::time::Duration;

use clap::Parser;
use poolpilot::{Config, Part, start};
use poolpilot_tests::free_port;
use router::PickerKind;
use shared::config::validate;
use simulator::load::{LoadArgs, Report};

#[derive(Parser)]
struct Args {
    /// Simulated servers (speeds alternate 1.0 and 0.5).
    #[arg(long, default_value_t = 4)]
    servers: u32,
    /// Offered load as a fraction of the measured capacity.
    #[arg(long, default_value_t = 0.8)]
    load: f64,
    /// Length of each measured run.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

/// Starts the scraper and a router with `picker` over `fleet`; returns its base URL.
async fn router(fleet: &simulator::Fleet, picker: PickerKind) -> (poolpilot::Running, String) {
    let mut config = Config::default();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.scraper.interval = Duration::from_millis(250);
    config.scraper.timeout = Duration::from_millis(250);
    config.scraper.pools = vec![poolpilot::local::scrape_pool("bench", "sim", &fleet.pods())];
    config.router.listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    config.router.picker = picker;
    config.router.access_log_sample_rate = 0;
    config.router.access_log_errors = false;
    let base = format!("http://{}", config.router.listen);
    let running = start(&[Part::Scraper, Part::Router], validate(config).unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    (running, base)
}

async fn load(url: &str, extra: &[String]) -> Report {
    let mut flags: Vec<String> = vec![
        "--url".into(),
        url.into(),
        "--input-tokens".into(),
        "fixed:512".into(),
        "--output-tokens".into(),
        "fixed:128".into(),
        "--shared-prefix-ratio".into(),
        "0.5".into(),
        "--prefixes".into(),
        "8".into(),
    ];
    flags.extend(extra.iter().cloned());
    let args = LoadArgs::from_flags(flags).unwrap();
    simulator::load::run(args, false).await.unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let fleet = simulator::Fleet::start(simulator::Config {
        servers: args.servers,
        speeds: vec![1.0, 0.5],
        ..Default::default()
    })
    .await
    .unwrap();

    // Capacity: every server under its own closed loop, side by side.
    let outstanding = (2 * simulator::ServerSpec::default().max_num_seqs).to_string();
    let probes = futures::future::join_all(fleet.pods().iter().map(|pod| {
        let (url, outstanding) = (pod.url(), outstanding.clone());
        async move {
            load(
                &url,
                &[
                    "--concurrency".into(),
                    outstanding,
                    "--duration".into(),
                    "15s".into(),
                ],
            )
            .await
        }
    }))
    .await;
    let capacity: f64 = probes.iter().map(|p| p.requests_per_second).sum();
    let rate = capacity * args.load;
    println!(
        "capacity ≈ {capacity:.1} req/s (sum of per-server closed loops, {outstanding} outstanding each); offering {rate:.1} req/s"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;

    let mut results = Vec::new();
    for picker in [PickerKind::RoundRobin, PickerKind::EndpointPicker] {
        let (running, base) = router(&fleet, picker).await;
        let report = load(
            &base,
            &[
                "--rate".into(),
                format!("{rate:.3}"),
                "--duration".into(),
                format!("{}s", args.seconds),
            ],
        )
        .await;
        running.shutdown().await.unwrap();
        println!(
            "{picker:?}: {:.1} req/s completed, {} failed; TTFT p50 {:.3}s p90 {:.3}s p99 {:.3}s; e2e p50 {:.3}s p90 {:.3}s p99 {:.3}s",
            report.requests_per_second,
            report.requests_failed,
            report.ttft_seconds.p50,
            report.ttft_seconds.p90,
            report.ttft_seconds.p99,
            report.e2e_seconds.p50,
            report.e2e_seconds.p90,
            report.e2e_seconds.p99,
        );
        results.push(report);
        // Let the queues drain before the next picker.
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let (rr, epp) = (&results[0], &results[1]);
    println!(
        "endpoint picker vs round-robin at {:.0}% load: p90 TTFT {:+.0}%, p90 e2e {:+.0}%",
        args.load * 100.0,
        (epp.ttft_seconds.p90 / rr.ttft_seconds.p90 - 1.0) * 100.0,
        (epp.e2e_seconds.p90 / rr.e2e_seconds.p90 - 1.0) * 100.0,
    );
    fleet.shutdown().await;
}
