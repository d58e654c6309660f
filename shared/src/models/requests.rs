//! Per-model request metrics from `requests.v1`, summed over every router replica, in
//! the endpoint picker's names and bucket sets (its `pkg/epp/metrics/metrics.go`).
//! Events arrive at least once: an id seen within the window counts once. Pure: the
//! caller gives the time.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use crate::histogram::Histogram;
use crate::wire::RequestEvent;

/// `inference_model_request_duration_seconds`.
pub const DURATION: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 480.0, 600.0, 900.0,
    1200.0, 1800.0, 2700.0, 3600.0,
];
/// `inference_model_request_sizes`, bytes.
pub const REQUEST_SIZES: &[f64] = &[
    64.0,
    128.0,
    256.0,
    512.0,
    1024.0,
    2048.0,
    4096.0,
    8192.0,
    16384.0,
    32768.0,
    65536.0,
    131072.0,
    262144.0,
    524288.0,
    1048576.0,
    2097152.0,
    4194304.0,
    8388608.0,
    16777216.0,
    33554432.0,
    67108864.0,
    134217728.0,
    268435456.0,
    536870912.0,
    1073741824.0,
];
/// `inference_model_response_sizes`, bytes (the picker's 32778 kept as it is).
pub const RESPONSE_SIZES: &[f64] = &[
    1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0,
    32778.0, 65536.0,
];
/// `inference_model_input_tokens`.
pub const INPUT_TOKENS: &[f64] = &[
    1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0,
    32778.0, 65536.0, 131072.0, 262144.0, 524288.0, 1048576.0,
];
/// `inference_model_output_tokens`.
pub const OUTPUT_TOKENS: &[f64] = &[
    1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];
/// `inference_model_normalized_time_per_output_token_seconds`.
pub const NTPOT: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// `model_name`, `target_model_name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelKey {
    /// The model the client asked for.
    pub model_name: String,
    /// The model it was sent to.
    pub target_model_name: String,
}

/// One model pair's counters and histograms.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelStats {
    /// `inference_model_request_total`.
    pub total: u64,
    /// `inference_model_request_error_total{error_code}`.
    pub errors: BTreeMap<String, u64>,
    /// `inference_model_request_duration_seconds`.
    pub duration: Histogram,
    /// `inference_model_request_sizes`.
    pub request_sizes: Histogram,
    /// `inference_model_response_sizes`.
    pub response_sizes: Histogram,
    /// `inference_model_input_tokens`.
    pub input_tokens: Histogram,
    /// `inference_model_output_tokens`.
    pub output_tokens: Histogram,
    /// `inference_model_normalized_time_per_output_token_seconds`.
    pub ntpot: Histogram,
}

impl Default for ModelStats {
    fn default() -> Self {
        Self {
            total: 0,
            errors: BTreeMap::new(),
            duration: Histogram::new(DURATION),
            request_sizes: Histogram::new(REQUEST_SIZES),
            response_sizes: Histogram::new(RESPONSE_SIZES),
            input_tokens: Histogram::new(INPUT_TOKENS),
            output_tokens: Histogram::new(OUTPUT_TOKENS),
            ntpot: Histogram::new(NTPOT),
        }
    }
}

/// What became of one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Counted.
    Counted,
    /// Its id was already counted within the window.
    Duplicate,
    /// Not counted; the reason is a metric label.
    Invalid(&'static str),
}

/// Every model pair's stats, and the ids seen lately.
#[derive(Debug)]
pub struct Requests {
    window: Duration,
    seen: HashSet<String>,
    order: VecDeque<(SystemTime, String)>,
    models: BTreeMap<ModelKey, ModelStats>,
}

impl Requests {
    /// Stats that remember ids for `window` (redelivery comes within minutes).
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            seen: HashSet::new(),
            order: VecDeque::new(),
            models: BTreeMap::new(),
        }
    }

    /// Counts `e` at `now`, as the picker records a finished request: an error when
    /// it has an error code (or a status of 400 and above), sizes always, tokens and
    /// NTPOT only when positive.
    pub fn ingest(&mut self, now: SystemTime, e: &RequestEvent) -> Outcome {
        while let Some((t, id)) = self.order.front() {
            if now.duration_since(*t).unwrap_or(Duration::ZERO) <= self.window {
                break;
            }
            self.seen.remove(id);
            self.order.pop_front();
        }
        if let Some(reason) = invalid(e) {
            return Outcome::Invalid(reason);
        }
        if !self.seen.insert(e.id.clone()) {
            return Outcome::Duplicate;
        }
        self.order.push_back((now, e.id.clone()));
        self.tally(e);
        Outcome::Counted
    }

    /// Counts `e` as [`Requests::ingest`] does, without looking for a
    /// redelivery: for the event's own maker, which sees each request once.
    pub fn count(&mut self, e: &RequestEvent) -> Outcome {
        if let Some(reason) = invalid(e) {
            return Outcome::Invalid(reason);
        }
        self.tally(e);
        Outcome::Counted
    }

    fn tally(&mut self, e: &RequestEvent) {
        let key = ModelKey {
            model_name: e.model_name.clone(),
            target_model_name: e.target_model_name.clone(),
        };
        let m = self.models.entry(key).or_default();
        m.total += 1;
        let code = if !e.error_code.is_empty() {
            Some(e.error_code.clone())
        } else {
            (e.status >= 400).then(|| e.status.to_string())
        };
        if let Some(code) = code {
            *m.errors.entry(code).or_default() += 1;
        }
        m.duration.observe(e.duration_seconds);
        m.request_sizes.observe(e.request_bytes as f64);
        m.response_sizes.observe(e.response_bytes as f64);
        if e.input_tokens > 0 {
            m.input_tokens.observe(e.input_tokens as f64);
        }
        if e.output_tokens > 0 {
            m.output_tokens.observe(e.output_tokens as f64);
            if e.duration_seconds > 0.0 {
                m.ntpot.observe(e.duration_seconds / e.output_tokens as f64);
            }
        }
    }

    /// Every model pair's stats.
    pub fn models(&self) -> &BTreeMap<ModelKey, ModelStats> {
        &self.models
    }
}

/// What [`Requests`] stores across restarts.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RequestsState {
    models: Vec<ModelState>,
    /// Ids seen within the window, with when (Unix milliseconds).
    seen: Vec<(String, u64)>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct ModelState {
    key: (String, String),
    total: u64,
    errors: BTreeMap<String, u64>,
    /// Duration, request sizes, response sizes, input, output, NTPOT: counts and sum.
    histograms: Vec<(Vec<u64>, f64)>,
}

fn parts(m: &ModelStats) -> [&Histogram; 6] {
    [
        &m.duration,
        &m.request_sizes,
        &m.response_sizes,
        &m.input_tokens,
        &m.output_tokens,
        &m.ntpot,
    ]
}

/// Each histogram of `m` with its metric name and help, in one fixed order: what
/// `/metrics` and `aggregates.v1` both show.
pub fn histograms(m: &ModelStats) -> [(&'static str, &'static str, &Histogram); 6] {
    let [d, rq, rs, i, o, n] = parts(m);
    [
        (
            "inference_model_request_duration_seconds",
            "Response latency distribution in seconds for each model and target model",
            d,
        ),
        (
            "inference_model_request_sizes",
            "Request size distribution in bytes for each model and target model",
            rq,
        ),
        (
            "inference_model_response_sizes",
            "Response size distribution in bytes for each model and target model",
            rs,
        ),
        (
            "inference_model_input_tokens",
            "Input token count distribution for each model and target model",
            i,
        ),
        (
            "inference_model_output_tokens",
            "Output token count distribution for each model and target model",
            o,
        ),
        (
            "inference_model_normalized_time_per_output_token_seconds",
            "Latency divided by output tokens, in seconds",
            n,
        ),
    ]
}

impl Requests {
    /// The state to store.
    pub fn state(&self) -> RequestsState {
        let unix = |t: &SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        };
        RequestsState {
            models: self
                .models
                .iter()
                .map(|(k, m)| ModelState {
                    key: (k.model_name.clone(), k.target_model_name.clone()),
                    total: m.total,
                    errors: m.errors.clone(),
                    histograms: parts(m)
                        .iter()
                        .map(|h| (h.counts().to_vec(), h.sum))
                        .collect(),
                })
                .collect(),
            seen: self
                .order
                .iter()
                .map(|(t, id)| (id.clone(), unix(t)))
                .collect(),
        }
    }

    /// Stats continued from `state`; a model whose stored histograms do not fit the
    /// current bounds starts over (and says so).
    pub fn restore(window: Duration, state: RequestsState) -> Self {
        let mut r = Self::new(window);
        for (id, ms) in state.seen {
            r.seen.insert(id.clone());
            r.order
                .push_back((std::time::UNIX_EPOCH + Duration::from_millis(ms), id));
        }
        for m in state.models {
            let bounds = [
                DURATION,
                REQUEST_SIZES,
                RESPONSE_SIZES,
                INPUT_TOKENS,
                OUTPUT_TOKENS,
                NTPOT,
            ];
            let hs: Option<Vec<Histogram>> = m
                .histograms
                .into_iter()
                .zip(bounds)
                .map(|((counts, sum), b)| Histogram::from_parts(b, counts, sum))
                .collect();
            let Some(hs) = hs.filter(|h| h.len() == 6) else {
                tracing::warn!(model = %m.key.0, "Stored histograms do not fit the current buckets; this model starts over.");
                continue;
            };
            let [
                duration,
                request_sizes,
                response_sizes,
                input_tokens,
                output_tokens,
                ntpot,
            ]: [Histogram; 6] = hs.try_into().expect("six histograms, checked above");
            let key = ModelKey {
                model_name: m.key.0,
                target_model_name: m.key.1,
            };
            r.models.insert(
                key,
                ModelStats {
                    total: m.total,
                    errors: m.errors,
                    duration,
                    request_sizes,
                    response_sizes,
                    input_tokens,
                    output_tokens,
                    ntpot,
                },
            );
        }
        r
    }
}

impl Requests {
    /// Every model series as Prometheus would scrape it (counters `_total`,
    /// histograms as `_bucket{le}`, `_sum`, `_count`), for `aggregates.v1`.
    pub fn series(&self) -> Vec<crate::wire::RawSample> {
        use crate::wire::{RawKind, RawSample};
        let mut out = Vec::new();
        for (k, m) in &self.models {
            let labels = vec![
                ("model_name".to_owned(), k.model_name.clone()),
                ("target_model_name".to_owned(), k.target_model_name.clone()),
            ];
            let counter = |name: &str, labels: Vec<(String, String)>, value: f64| RawSample {
                name: name.to_owned(),
                labels,
                kind: RawKind::Counter,
                value,
            };
            out.push(counter(
                "inference_model_request_total",
                labels.clone(),
                m.total as f64,
            ));
            for (code, n) in &m.errors {
                let mut l = labels.clone();
                l.push(("error_code".to_owned(), code.clone()));
                out.push(counter("inference_model_request_error_total", l, *n as f64));
            }
            for (name, _, h) in histograms(m) {
                for (le, c) in h.cumulative() {
                    let mut l = labels.clone();
                    let le = if le.is_infinite() {
                        "+Inf".to_owned()
                    } else {
                        le.to_string()
                    };
                    l.push(("le".to_owned(), le));
                    out.push(counter(&format!("{name}_bucket"), l, c as f64));
                }
                out.push(counter(&format!("{name}_sum"), labels.clone(), h.sum));
                out.push(counter(
                    &format!("{name}_count"),
                    labels.clone(),
                    h.count as f64,
                ));
            }
        }
        out
    }
}

/// Why `e` cannot be counted: a duration that is not a finite, non-negative
/// number, or no id or model.
fn invalid(e: &RequestEvent) -> Option<&'static str> {
    if !(e.duration_seconds.is_finite() && e.duration_seconds >= 0.0) {
        Some("bad_duration")
    } else if e.id.is_empty() || e.model_name.is_empty() {
        Some("missing_field")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, model: &str, duration: f64) -> RequestEvent {
        RequestEvent {
            schema: 1,
            id: id.to_owned(),
            time: chrono::DateTime::default(),
            pool: "p".to_owned(),
            model_name: model.to_owned(),
            target_model_name: model.to_owned(),
            endpoint: String::new(),
            status: 200,
            error_code: String::new(),
            proxy_status: String::new(),
            duration_seconds: duration,
            ttft_seconds: None,
            input_tokens: 0,
            output_tokens: 0,
            request_bytes: 0,
            response_bytes: 0,
            criticality: "Standard".to_owned(),
            guard: "unchecked".to_owned(),
        }
    }

    fn total(r: &Requests) -> u64 {
        r.models().values().map(|m| m.total).sum()
    }

    #[test]
    fn count_skips_the_redelivery_check_but_not_the_validity_checks() {
        let now = SystemTime::UNIX_EPOCH;
        let mut deduped = Requests::new(Duration::from_secs(60));
        let mut counted = Requests::new(Duration::from_secs(60));
        for _ in 0..2 {
            deduped.ingest(now, &event("a", "m", 0.1));
            counted.count(&event("a", "m", 0.1));
        }
        assert_eq!((total(&deduped), total(&counted)), (1, 2));
        assert_eq!(
            counted.count(&event("b", "", 0.1)),
            Outcome::Invalid("missing_field")
        );
        assert_eq!(
            counted.count(&event("c", "m", f64::NAN)),
            Outcome::Invalid("bad_duration")
        );
        assert_eq!(total(&counted), 2);
    }
}
