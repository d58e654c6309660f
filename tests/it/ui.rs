//! The `poolpilot up` web page, rendered by headless Chromium (Debian's `chromium`).
//!
//! The page marks itself for tests: every chart `<canvas>` has `data-chart="<signal>"` and,
//! after each render, `data-points="<finite points drawn>"`; `<body>` gets `data-ready="1"`
//! once a poll of `/api/state` succeeded and some chart has >= 2 points.
//!
//! Chromium runs with `--virtual-time-budget`: page timers are fast-forwarded, but each fetch
//! of `/api/state` waits for the real server, so one run takes about a second of wall time
//! and sees the data the server has *now*. Hence the retry loop while the series fill up.
//! Blocking (std::process): call it from `tokio::task::spawn_blocking` in async tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use regex::Regex;

/// Every chart the page draws, by its `data-chart` name.
const CHARTS: [&str; 5] = [
    "kv_cache",
    "queue",
    "replicas",
    "requests_per_second",
    "p90_latency_seconds",
];

/// Flags proven to load the page, let it poll and render, then dump/screenshot.
const CHROMIUM_FLAGS: [&str; 7] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--window-size=1280,1600",
    "--virtual-time-budget=5000",
    "--no-first-run",
];

#[allow(clippy::disallowed_methods)] // a test waits on a deadline
fn page_renders_in_chromium(base: &str, out_dir: &std::path::Path) {
    let chromium = find_chromium()
        .unwrap_or_else(|| panic!("chromium is missing: dev/infra installs Debian's chromium"));
    std::fs::create_dir_all(out_dir).unwrap();
    let out_dir = out_dir.canonicalize().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);

    // 1. Dump the DOM until the page says it is ready and every chart has >= 2 points.
    let dom_path = out_dir.join("poolpilot-up.html");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let dump = run_chromium(
            &chromium,
            &["--dump-dom", base],
            &dom_path,
            &out_dir,
            deadline,
        )
        .and_then(|()| std::fs::read_to_string(&dom_path).map_err(|e| e.to_string()));
        let problem = match dump {
            Ok(dom) => match check_dom(&dom) {
                Ok(()) => break,
                Err(problem) => problem,
            },
            Err(problem) => problem,
        };
        if Instant::now() + Duration::from_secs(15) > deadline {
            panic!(
                "the page at {base} did not render after {attempt} chromium runs: {problem}\n\
                 (last DOM dump: {})",
                dom_path.display()
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    }

    // 2. Screenshot, for people (and CI artifacts).
    let png = out_dir.join("poolpilot-up.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    let log = out_dir.join("poolpilot-up.screenshot.log");
    if let Err(problem) = run_chromium(&chromium, &[&shot, base], &log, &out_dir, deadline) {
        panic!("chromium screenshot of {base} failed: {problem}");
    }
    let size = std::fs::metadata(&png)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()))
        .len();
    assert!(
        size > 10 * 1024,
        "screenshot {} is only {size} bytes",
        png.display()
    );
}

/// `chromium` or `chromium-browser` on PATH.
fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Runs chromium with the proven flags plus `args`, stdout into `stdout_to`, killing it at
/// `deadline` (or after 30 s). A fresh profile per run, so parallel runs never share one.
#[allow(clippy::disallowed_methods)] // waits on a deadline
fn run_chromium(
    chromium: &Path,
    args: &[&str],
    stdout_to: &Path,
    out_dir: &Path,
    deadline: Instant,
) -> Result<(), String> {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let profile = out_dir.join(format!(
        "chromium-profile-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let stdout = std::fs::File::create(stdout_to).map_err(|e| e.to_string())?;
    let mut child = Command::new(chromium)
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null()) // chromium logs dbus noise there
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
    let kill_at = deadline.min(Instant::now() + Duration::from_secs(30));
    let result = loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break Ok(()),
            Ok(Some(status)) => break Err(format!("chromium exited with {status}")),
            Ok(None) if Instant::now() >= kill_at => {
                let _ = child.kill();
                let _ = child.wait();
                break Err("chromium did not finish in time (killed)".to_string());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let _ = std::fs::remove_dir_all(&profile);
    result
}

/// Ok when `<body>` has `data-ready="1"` and every chart canvas has `data-points` >= 2.
fn check_dom(dom: &str) -> Result<(), String> {
    if !Regex::new(r#"<body\b[^>]*\sdata-ready="1""#)
        .unwrap()
        .is_match(dom)
    {
        return Err("<body> has no data-ready=\"1\" yet".to_string());
    }
    let canvas = Regex::new(r"<canvas\b[^>]*>").unwrap();
    // [a-z0-9_] skips the `${ch.key}` template literal in the page's own script text.
    let chart = Regex::new(r#"\sdata-chart="([a-z0-9_]+)""#).unwrap();
    let points = Regex::new(r#"\sdata-points="(\d+)""#).unwrap();
    let mut seen = Vec::new();
    for tag in canvas.find_iter(dom).map(|m| m.as_str()) {
        if let Some(name) = chart.captures(tag) {
            let n: u64 = points
                .captures(tag)
                .and_then(|c| c[1].parse().ok())
                .unwrap_or(0);
            seen.push((name[1].to_string(), n));
        }
    }
    for want in CHARTS {
        match seen.iter().find(|(name, _)| name == want) {
            None => return Err(format!("no canvas data-chart=\"{want}\"; saw {seen:?}")),
            Some((_, n)) if *n < 2 => {
                return Err(format!("chart {want} drew {n} points (< 2); all: {seen:?}"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// `poolpilot up` with the demo load: the page at `--ui-listen` renders with data
/// in every chart; the screenshot lands in the test's temp directory (and in
/// `$POOLPILOT_ARTIFACTS` when set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_renders_with_data_in_headless_chromium() {
    let dir = std::env::temp_dir().join(poolpilot_tests::unique("ui"));
    std::fs::create_dir_all(&dir).unwrap();
    let ui = format!("127.0.0.1:{}", poolpilot_tests::free_port());
    let _up = poolpilot_tests::Process::spawn(
        Command::new(poolpilot_tests::binary())
            .args(["up", "--duration", "120s", "--ui-listen", &ui])
            .args([
                "--admin-listen",
                &format!("127.0.0.1:{}", poolpilot_tests::free_port()),
            ])
            .args([
                "--router-listen",
                &format!("127.0.0.1:{}", poolpilot_tests::free_port()),
            ])
            .current_dir(&dir),
    );
    let base = format!("http://{ui}/");
    let out = std::env::var_os("POOLPILOT_ARTIFACTS").map_or_else(|| dir.clone(), PathBuf::from);
    std::fs::create_dir_all(&out).unwrap();
    tokio::task::spawn_blocking(move || page_renders_in_chromium(&base, &out))
        .await
        .unwrap();
}
