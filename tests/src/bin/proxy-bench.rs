//! Proxy overhead and throughput (issue 8): the same simulated servers called
//! directly, through poolpilot's router, and through nginx (Debian's, round-robin with
//! upstream keep-alive), side by side in one run. The fleet, the router (with its
//! scraper) and nginx each run in their own processes; the load generator runs here.
//!
//! - latency: one request outstanding, so the added time is the proxy's alone;
//! - throughput: a closed loop with `--concurrency` outstanding, requests/s.
//!
//! A third router runs with the guard's default chain (prompts and responses checked
//! by every local filter): the guard's cost, on vs. off.
//!
//! The servers answer fast (instant prefill, 1 ms decode steps, one output token, no
//! streaming) so the
//! proxies, not the servers, are what is measured.
//!
//! `cargo run --release -p poolpilot-tests --bin proxy-bench -- [--seconds 10]
//! [--concurrency 64] [--servers 2]`
#![allow(clippy::disallowed_methods)] // a benchmark measures time

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::{Parser, Subcommand};
use poolpilot::{Config, Part, start};
use poolpilot_tests::free_port;
use router::PickerKind;
use shared::config::validate;
use simulator::PodInfo;
use simulator::load::{LoadArgs, Report};

#[derive(Parser)]
struct Args {
    /// Length of each measured run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests outstanding in the throughput runs.
    #[arg(long, default_value_t = 64)]
    concurrency: u32,
    /// Simulated servers behind the proxies.
    #[arg(long, default_value_t = 2)]
    servers: u32,
    #[command(subcommand)]
    serve: Option<Serve>,
}

/// The child processes this binary starts of itself.
#[derive(Subcommand)]
enum Serve {
    /// Serve a fast simulated fleet; print each server's address, then "ready".
    ServeFleet { servers: u32 },
    /// Serve the router and its scraper over these servers.
    ServeRouter {
        listen: SocketAddr,
        picker: String,
        /// With the guard's default chain (prompt and response checks).
        #[arg(long)]
        guard: bool,
        servers: Vec<SocketAddr>,
    },
}

/// A child process killed when dropped.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fast_fleet(servers: u32) -> simulator::Config {
    simulator::Config {
        servers,
        server: simulator::ServerSpec {
            max_num_seqs: 256,
            prefill_tokens_per_second: 1e9,
            decode_step: Duration::from_millis(1),
            decode_step_full_batch: Duration::from_millis(1),
            dcgm: false,
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn serve(what: Serve) {
    match what {
        Serve::ServeFleet { servers } => {
            let fleet = simulator::Fleet::start(fast_fleet(servers)).await.unwrap();
            let mut out = std::io::stdout().lock();
            for pod in fleet.pods() {
                writeln!(out, "{}", pod.addr).unwrap();
            }
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            drop(out);
            std::future::pending::<()>().await;
        }
        Serve::ServeRouter {
            listen,
            picker,
            guard,
            servers,
        } => {
            let pods: Vec<PodInfo> = servers
                .iter()
                .enumerate()
                .map(|(i, &addr)| PodInfo {
                    name: format!("sim-{i}"),
                    addr,
                })
                .collect();
            let mut config = Config::default();
            config.admin.listen = "127.0.0.1:0".parse().unwrap();
            config.scraper.interval = Duration::from_millis(250);
            config.scraper.timeout = Duration::from_millis(250);
            config.scraper.pools = vec![poolpilot::local::scrape_pool("bench", "sim", &pods)];
            config.router.listen = listen;
            config.router.picker = match picker.as_str() {
                "round_robin" => PickerKind::RoundRobin,
                _ => PickerKind::EndpointPicker,
            };
            config.router.access_log_sample_rate = 0;
            config.router.access_log_errors = false;
            if guard {
                config.router.guard =
                    serde_saphyr::from_str("chains:\n  - name: default\n").unwrap();
            }
            let running = start(&[Part::Scraper, Part::Router], validate(config).unwrap())
                .await
                .unwrap();
            std::future::pending::<()>().await;
            drop(running);
        }
    }
}

fn this_binary() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// Starts the fleet; returns it and its servers' addresses.
fn spawn_fleet(servers: u32) -> (Kid, Vec<SocketAddr>) {
    let mut child = Command::new(this_binary())
        .args(["serve-fleet", &servers.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut addrs = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        addrs.push(line.parse().unwrap());
    }
    (Kid(child), addrs)
}

fn spawn_router(picker: &str, guard: bool, servers: &[SocketAddr]) -> (Kid, String) {
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut args = vec![
        "serve-router".to_owned(),
        listen.to_string(),
        picker.to_owned(),
    ];
    if guard {
        args.push("--guard".to_owned());
    }
    args.extend(servers.iter().map(ToString::to_string));
    let child = Command::new(this_binary())
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    (Kid(child), format!("http://{listen}"))
}

fn spawn_nginx(dir: &Path, servers: &[SocketAddr]) -> (Kid, String) {
    let port = free_port();
    let upstreams: String = servers
        .iter()
        .map(|s| format!("    server {s};\n"))
        .collect();
    let conf = format!(
        "worker_processes auto;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n\
         upstream sim {{\n{upstreams}    keepalive 128;\n  }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
         proxy_pass http://sim;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n\
         proxy_buffering off;\n    }}\n  }}\n}}\n",
        dir = dir.display(),
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is missing: `dev/infra up` installs Debian's nginx-light");
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Kid(child), format!("http://127.0.0.1:{port}"))
}

/// Waits until a completion through `url` succeeds.
async fn until_serving(url: &str) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let ok = client
            .post(format!("{url}/v1/completions"))
            .json(&serde_json::json!({"model": "meta-llama/Llama-3.1-8B-Instruct", "prompt": "hi", "max_tokens": 1}))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never served a completion");
}

async fn load(url: &str, concurrency: u32, seconds: u64) -> Report {
    let flags = [
        "--url",
        url,
        "--no-stream",
        "--input-tokens",
        "fixed:32",
        "--output-tokens",
        "fixed:1",
        "--concurrency",
        &concurrency.to_string(),
        "--duration",
        &format!("{seconds}s"),
    ]
    .map(String::from);
    let args = LoadArgs::from_flags(flags.to_vec()).unwrap();
    simulator::load::run(args, false).await.unwrap()
}

fn row(name: &str, r: &Report) {
    println!(
        "{name:<28} {:>9.0} req/s  {:>4} failed  p50 {:>7.3} ms  p90 {:>7.3} ms  p99 {:>7.3} ms",
        r.requests_per_second,
        r.requests_failed,
        r.e2e_seconds.p50 * 1e3,
        r.e2e_seconds.p90 * 1e3,
        r.e2e_seconds.p99 * 1e3,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    if let Some(what) = args.serve {
        return serve(what).await;
    }
    let dir = std::env::temp_dir().join(format!("proxy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_fleet, servers) = spawn_fleet(args.servers);
    let direct = format!("http://{}", servers[0]);
    let (_epp, epp) = spawn_router("endpoint_picker", false, &servers);
    let (_rr, rr) = spawn_router("round_robin", false, &servers);
    let (_guarded, guarded) = spawn_router("endpoint_picker", true, &servers);
    let (_nginx, nginx) = spawn_nginx(&dir, &servers);
    for url in [&direct, &epp, &rr, &guarded, &nginx] {
        until_serving(url).await;
    }
    println!(
        "{} fast simulated servers; {} s per run; throughput runs with {} outstanding",
        args.servers, args.seconds, args.concurrency
    );

    println!("-- latency, one request outstanding");
    let base = load(&direct, 1, args.seconds).await;
    row("direct (server 0)", &base);
    let mut added = Vec::new();
    let proxies = [
        ("router, endpoint picker", &epp),
        ("router, round-robin", &rr),
        ("router, picker + guard", &guarded),
        ("nginx, round-robin", &nginx),
    ];
    for (name, url) in proxies {
        let r = load(url, 1, args.seconds).await;
        row(name, &r);
        added.push((
            name,
            r.e2e_seconds.p50 - base.e2e_seconds.p50,
            r.e2e_seconds.p99 - base.e2e_seconds.p99,
        ));
    }
    for (name, p50, p99) in added {
        println!(
            "added by {name}: p50 {:+.3} ms, p99 {:+.3} ms",
            p50 * 1e3,
            p99 * 1e3
        );
    }

    println!("-- throughput, {} outstanding", args.concurrency);
    let mut rates = Vec::new();
    for (name, url) in proxies {
        let r = load(url, args.concurrency, args.seconds).await;
        row(name, &r);
        rates.push(r.requests_per_second);
    }
    println!(
        "router/nginx requests/s: endpoint picker {:.2}×, round-robin {:.2}×, picker + guard {:.2}×; guard on/off {:.2}×",
        rates[0] / rates[3],
        rates[1] / rates[3],
        rates[2] / rates[3],
        rates[2] / rates[0],
    );
    let _ = std::fs::remove_dir_all(&dir);
}
