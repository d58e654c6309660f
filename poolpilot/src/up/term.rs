//! The terminal view of `poolpilot up`: a compact table per pool, redrawn every
//! second (in place on a terminal, appended otherwise).

use std::io::{IsTerminal, Write};

use super::dashboard::PoolNow;

fn num(v: Option<f64>, digits: usize) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

/// The table for `pools`, `elapsed` seconds after the start.
pub fn table(elapsed: f64, pools: &[PoolNow], page: Option<&str>) -> String {
    let mut out = format!(
        "poolpilot up — {:02}:{:02}{}\n",
        (elapsed / 60.0) as u64,
        (elapsed % 60.0) as u64,
        page.map(|p| format!("   live page: {p}"))
            .unwrap_or_default()
    );
    out.push_str(&format!(
        "{:<10} {:>8} {:>5} {:>6} {:>6} {:>6} {:>7}  {}\n",
        "POOL", "REPLICAS", "READY", "KV", "QUEUE", "REQ/S", "P90 S", "ALERTS FIRING"
    ));
    for p in pools {
        let alerts = if p.firing_alerts.is_empty() {
            "-".to_owned()
        } else {
            p.firing_alerts.join(", ")
        };
        out.push_str(&format!(
            "{:<10} {:>8} {:>5} {:>6} {:>6} {:>6} {:>7}  {}\n",
            p.name,
            p.replicas.map_or_else(|| "-".to_owned(), |r| r.to_string()),
            num(p.ready_pods, 0),
            num(p.kv_cache.map(|k| k * 100.0), 0) + "%",
            num(p.queue, 1),
            num(p.requests_per_second, 1),
            num(p.p90_latency_seconds, 2),
            alerts
        ));
        if let Some(d) = &p.last_decision {
            out.push_str(&format!(
                "           last scale: {} → {} at {:.0}s: {}\n",
                d.from, d.to, d.offset_seconds, d.reason
            ));
        }
    }
    out
}

/// Prints `table`: in place on a terminal.
pub fn draw(table: &str) {
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        let _ = write!(out, "\x1b[H\x1b[2J{table}");
    } else {
        let _ = write!(out, "{table}");
    }
    let _ = out.flush();
}
