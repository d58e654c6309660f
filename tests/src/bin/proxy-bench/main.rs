//! Proxy overhead and throughput (issue 8): the same simulated servers called
//! directly, through poolpilot's router, and through nginx (Debian's, round-robin with
//! upstream keep-alive), side by side in one run. The fleet, the router (with its
//! scraper) and nginx each run in their own processes; the load generator runs here.
//!
//! - latency: one request outstanding, so the added time is the proxy's alone;
//! - throughput: a closed loop with `--concurrency` outstanding, requests/s, over
//!   `--rounds` rounds that run every proxy in a rotated order (this machine is
//!   shared: a slow spell then falls on all of them), with each proxy process's
//!   CPU time per request (nginx: master and workers) from `/proc`.
//!
//! A third router runs with the guard's default chain (prompts and responses checked
//! by every local filter): the guard's cost, on vs. off. A bare hyper proxy
//! (`bare.rs`) is the floor: what the HTTP library costs with nothing else done.
//!
//! The servers answer fast (instant prefill, 1 ms decode steps, one output token, no
//! streaming) so the
//! proxies, not the servers, are what is measured.
//!
//! `cargo run --release -p poolpilot-tests --bin proxy-bench -- [--seconds 10]
//! [--concurrency 64] [--servers 2] [--rounds 3]`
#![allow(clippy::disallowed_methods)] // a benchmark measures time

mod bare;

/// The allocator the `poolpilot` binary uses, so the router measured here is
/// the one shipped.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Throughput rounds: each runs every proxy once, in a rotated order, so that
    /// a slow spell of this shared machine falls on all of them alike.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    #[command(subcommand)]
    serve: Option<Serve>,
}

/// The child processes this binary starts of itself.
#[derive(Subcommand)]
enum Serve {
    /// Serve a fast simulated fleet; print each server's address, then "ready".
    #[command(name = "serve-fleet")]
    Fleet { servers: u32 },
    /// Serve the router and its scraper over these servers.
    #[command(name = "serve-router")]
    Router {
        listen: SocketAddr,
        picker: String,
        /// With the guard's default chain (prompt and response checks).
        #[arg(long)]
        guard: bool,
        servers: Vec<SocketAddr>,
    },
    /// Serve the bare hyper proxy over these servers.
    #[command(name = "serve-bare")]
    Bare {
        listen: SocketAddr,
        servers: Vec<SocketAddr>,
    },
}

/// A child process stopped when dropped: killed, or sent `stop` (nginx's master
/// must be asked, or its workers outlive it).
struct Kid {
    child: Child,
    stop: Option<&'static str>,
}

impl Kid {
    fn new(child: Child) -> Self {
        Self { child, stop: None }
    }

    /// CPU seconds used so far by the process and its children's processes
    /// (nginx's workers), from `/proc`.
    fn cpu_seconds(&self) -> f64 {
        fn ticks(pid: &str) -> u64 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command's closing parenthesis; utime and stime are
            // the 14th and 15th of the whole line.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = rest.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            n(11) + n(12) + children.split_whitespace().map(ticks).sum::<u64>()
        }
        // USER_HZ is 100 on Linux.
        ticks(&self.child.id().to_string()) as f64 / 100.0
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        match self.stop {
            Some(signal) => {
                let _ = Command::new("kill")
                    .args([signal, &self.child.id().to_string()])
                    .status();
            }
            None => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
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
        Serve::Bare { listen, servers } => bare::serve(listen, servers),
        Serve::Fleet { servers } => {
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
        Serve::Router {
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
    (Kid::new(child), addrs)
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
    (Kid::new(child), format!("http://{listen}"))
}

fn spawn_bare(servers: &[SocketAddr]) -> (Kid, String) {
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut args = vec!["serve-bare".to_owned(), listen.to_string()];
    args.extend(servers.iter().map(ToString::to_string));
    let child = Command::new(this_binary()).args(args).spawn().unwrap();
    (Kid::new(child), format!("http://{listen}"))
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
    let kid = Kid {
        child,
        stop: Some("-TERM"),
    };
    (kid, format!("http://127.0.0.1:{port}"))
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

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.serve {
        Some(what) => runtime.block_on(serve(what)),
        None => runtime.block_on(bench(args)),
    }
}

async fn bench(args: Args) {
    let dir = std::env::temp_dir().join(format!("proxy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_fleet, servers) = spawn_fleet(args.servers);
    let direct = format!("http://{}", servers[0]);
    let (epp_kid, epp) = spawn_router("endpoint_picker", false, &servers);
    let (rr_kid, rr) = spawn_router("round_robin", false, &servers);
    let (guarded_kid, guarded) = spawn_router("endpoint_picker", true, &servers);
    let (bare_kid, bare) = spawn_bare(&servers);
    let (nginx_kid, nginx) = spawn_nginx(&dir, &servers);
    for url in [&direct, &epp, &rr, &guarded, &bare, &nginx] {
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
        ("bare hyper proxy (floor)", &bare),
        ("nginx, round-robin", &nginx),
    ];
    const N: usize = 5;
    const NGINX: usize = N - 1;
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

    println!(
        "-- throughput, {} outstanding, {} rounds",
        args.concurrency, args.rounds
    );
    let kids = [&epp_kid, &rr_kid, &guarded_kid, &bare_kid, &nginx_kid];
    let mut done = [0u64; N];
    let mut seconds = [0f64; N];
    let mut cpu = [0f64; N];
    let mut ratios = Vec::new();
    for round in 0..args.rounds as usize {
        let mut rates = [0f64; N];
        for k in 0..N {
            let i = (round + k) % N;
            let before = kids[i].cpu_seconds();
            let r = load(proxies[i].1, args.concurrency, args.seconds).await;
            cpu[i] += kids[i].cpu_seconds() - before;
            done[i] += r.requests_completed;
            seconds[i] += r.duration_seconds;
            rates[i] = r.requests_per_second;
            assert_eq!(r.requests_failed, 0, "{}: requests failed", proxies[i].0);
        }
        let each: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "round {}: {} req/s (router/nginx {:.2}×)",
            round + 1,
            each.join(" / "),
            rates[0] / rates[NGINX]
        );
        ratios.push(rates[0] / rates[NGINX]);
    }
    let mut rates = [0f64; N];
    for (i, (name, _)) in proxies.iter().enumerate() {
        rates[i] = done[i] as f64 / seconds[i];
        println!(
            "{name:<28} {:>9.0} req/s   proxy CPU {:>5.1} µs/request",
            rates[i],
            cpu[i] / done[i] as f64 * 1e6
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "router/nginx requests/s: endpoint picker {:.2}× (rounds {:.2}–{:.2}×), round-robin {:.2}×, picker + guard {:.2}×, bare hyper {:.2}×; guard on/off {:.2}×",
        rates[0] / rates[NGINX],
        ratios[0],
        ratios[ratios.len() - 1],
        rates[1] / rates[NGINX],
        rates[2] / rates[NGINX],
        rates[3] / rates[NGINX],
        rates[2] / rates[0],
    );
    let _ = std::fs::remove_dir_all(&dir);
}
