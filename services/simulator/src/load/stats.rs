//! From what each request measured ([`Sample`]) to the [`Report`]: counts, rates and
//! latency percentiles, and the text table. Pure: the run's duration is an argument.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one request measured.
#[derive(Clone, Debug, PartialEq)]
pub enum Sample {
    /// It answered 2xx and its body ended well.
    Completed(Completed),
    /// It did not: the HTTP status (`"429"`) or one of the transport kinds `"timeout"`,
    /// `"connect"`, `"stream"` (the body broke, was malformed or carried an error) and
    /// `"request"` (any other client failure).
    Failed(String),
}

/// The timings and token counts of a completed request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completed {
    /// Send to the first chunk with text (the whole response without streaming).
    pub ttft: Duration,
    /// Every gap between successive chunks with text.
    pub itl: Vec<Duration>,
    /// Send to `data: [DONE]` or the end of the body.
    pub e2e: Duration,
    /// `usage.prompt_tokens`, else the prompt length we built.
    pub input_tokens: u64,
    /// `usage.completion_tokens`, else the chunks with text.
    pub output_tokens: u64,
}

/// Accumulates samples as they arrive, for the progress line and the report.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    completed: u64,
    failed: u64,
    errors: BTreeMap<String, u64>,
    input_tokens: u64,
    output_tokens: u64,
    ttft: Vec<f64>,
    itl: Vec<f64>,
    ntpot: Vec<f64>,
    e2e: Vec<f64>,
}

impl Tally {
    /// Counts one sample.
    pub fn add(&mut self, sample: Sample) {
        match sample {
            Sample::Failed(kind) => {
                self.failed += 1;
                *self.errors.entry(kind).or_default() += 1;
            }
            Sample::Completed(c) => {
                self.completed += 1;
                self.input_tokens += c.input_tokens;
                self.output_tokens += c.output_tokens;
                self.ttft.push(c.ttft.as_secs_f64());
                self.itl.extend(c.itl.iter().map(Duration::as_secs_f64));
                self.e2e.push(c.e2e.as_secs_f64());
                // NTPOT as inference-perf: end-to-end time over output tokens.
                if c.output_tokens > 0 {
                    self.ntpot
                        .push(c.e2e.as_secs_f64() / c.output_tokens as f64);
                }
            }
        }
    }

    /// Requests completed so far.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Requests failed so far.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// Output tokens of completed requests so far.
    pub fn output_tokens(&self) -> u64 {
        self.output_tokens
    }

    /// The report of a run that sent `sent` requests and lasted `duration`.
    pub fn report(&self, sent: u64, duration: Duration) -> Report {
        let seconds = duration.as_secs_f64();
        let per_second = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        Report {
            duration_seconds: seconds,
            requests_sent: sent,
            requests_completed: self.completed,
            requests_failed: self.failed,
            errors: self.errors.clone(),
            requests_per_second: per_second(self.completed),
            output_tokens_per_second: per_second(self.output_tokens),
            input_tokens_total: self.input_tokens,
            output_tokens_total: self.output_tokens,
            ttft_seconds: Summary::of(&self.ttft),
            itl_seconds: Summary::of(&self.itl),
            ntpot_seconds: Summary::of(&self.ntpot),
            e2e_seconds: Summary::of(&self.e2e),
        }
    }
}

/// The `q` quantile (0–1) of ascending `sorted` values by linear interpolation between
/// closest ranks (Hyndman–Fan type 7, numpy's default, as vLLM's benchmark_serving
/// reports); 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let h = q.clamp(0.0, 1.0) * last as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(last);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The distribution of one latency, in seconds. With no values every field is 0 and
/// `count` says so (0, not NaN, so reports stay comparable and JSON-clean).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many values: requests, or gaps for inter-token latency.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile: the tail an SLO is written against.
    pub p99: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// The worst value.
    pub max: f64,
}

impl Summary {
    /// Summarises `values` (any order).
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Self {
            count: sorted.len() as u64,
            p50: percentile(&sorted, 0.50),
            p90: percentile(&sorted, 0.90),
            p99: percentile(&sorted, 0.99),
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
            max: sorted.last().copied().unwrap_or_default(),
        }
    }
}

/// The outcome of a run: what `--json` prints and tests compare.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// From the start until the last request finished.
    pub duration_seconds: f64,
    /// Requests sent.
    pub requests_sent: u64,
    /// Requests that answered 2xx and ended well.
    pub requests_completed: u64,
    /// Requests that did not.
    pub requests_failed: u64,
    /// Failures by HTTP status (`"429"`) or transport kind (`"timeout"`, `"connect"`,
    /// `"stream"`, `"request"`).
    pub errors: BTreeMap<String, u64>,
    /// Completed requests over the duration.
    pub requests_per_second: f64,
    /// Output tokens of completed requests over the duration.
    pub output_tokens_per_second: f64,
    /// Prompt tokens of completed requests.
    pub input_tokens_total: u64,
    /// Output tokens of completed requests.
    pub output_tokens_total: u64,
    /// Time to first token.
    pub ttft_seconds: Summary,
    /// Inter-token latency: every gap between chunks with text.
    pub itl_seconds: Summary,
    /// Normalized time per output token: end-to-end latency over output tokens.
    pub ntpot_seconds: Summary,
    /// End-to-end latency.
    pub e2e_seconds: Summary,
}

impl Report {
    /// The report as a text table for the terminal: a header with counts and rates, one
    /// row per latency in milliseconds, then the errors.
    pub fn table(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "duration {:.2} s   sent {}   completed {}   failed {}",
            self.duration_seconds,
            self.requests_sent,
            self.requests_completed,
            self.requests_failed
        );
        let _ = writeln!(
            out,
            "requests/s {:.2}   output tokens/s {:.1}   input tokens {}   output tokens {}",
            self.requests_per_second,
            self.output_tokens_per_second,
            self.input_tokens_total,
            self.output_tokens_total
        );
        let _ = writeln!(
            out,
            "\n{:<8}{:>11}{:>11}{:>11}{:>11}{:>11}{:>9}",
            "metric", "p50 ms", "p90 ms", "p99 ms", "mean ms", "max ms", "n"
        );
        for (name, s) in [
            ("TTFT", &self.ttft_seconds),
            ("ITL", &self.itl_seconds),
            ("NTPOT", &self.ntpot_seconds),
            ("E2E", &self.e2e_seconds),
        ] {
            let _ = writeln!(
                out,
                "{name:<8}{:>11.2}{:>11.2}{:>11.2}{:>11.2}{:>11.2}{:>9}",
                s.p50 * 1e3,
                s.p90 * 1e3,
                s.p99 * 1e3,
                s.mean * 1e3,
                s.max * 1e3,
                s.count
            );
        }
        if !self.errors.is_empty() {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect();
            let _ = writeln!(out, "\nerrors: {}", list.join(", "));
        }
        out
    }
}
