//! Delivery of alerts from the evaluator: (a) as Alertmanager-v4-format
//! webhooks, grouped and deduplicated the way Alertmanager does it, and (b) with
//! Prometheus's own client protocol to a real Alertmanager.
//!
//! # Layout
//! - `alert.rs`: [`Alert`], what the evaluator hands over.
//! - `fingerprint.rs`: Alertmanager's label-set fingerprint and `String()` form.
//! - `queue.rs`: the bounded drop-oldest queue between callers and workers.
//! - `http.rs`: the user agent, HTTP client and log-safe URLs both shells use.
//! - `metrics.rs`: [`NotifyMetrics`].
//! - `webhook/`: config, the v4 message, the pure [`webhook::Dispatcher`] and the
//!   [`webhook::Sender`] I/O shell.
//! - `alertmanager.rs`: [`alertmanager::Client`], Prometheus's notifier.
//! - `tests.rs`, `tests/`: scenario tests, including against a real Alertmanager.

mod alert;
pub mod alertmanager;
mod fingerprint;
mod http;
mod metrics;
mod queue;
pub mod webhook;

#[cfg(test)]
mod tests;

pub use alert::Alert;
pub use fingerprint::{fingerprint, fingerprint_hex, label_set_string};
pub use metrics::NotifyMetrics;
