//! Prometheus's own notifier protocol to a real Alertmanager (`notifier/` in
//! Prometheus): a drop-oldest queue, batches of at most 64 alerts, each one POST
//! of postable alerts to `{url}/api/v2/alerts`, no retry (the rule manager
//! re-sends every alert anyway).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::alert::utc_from_ms;
use super::http::{self, Endpoint};
use super::metrics::Outcome;
use super::queue::Queue;
use super::{Alert, NotifyMetrics};

/// Prometheus's `maxBatchSize`.
pub const MAX_BATCH_SIZE: usize = 64;

/// Where and how to post alerts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URL, e.g. `http://127.0.0.1:9093` (a path prefix is kept).
    pub url: String,
    #[serde(default = "default_timeout", with = "shared::config::duration")]
    pub timeout: Duration,
    /// Alerts waiting to be posted before the oldest are dropped.
    #[serde(default = "default_queue")]
    pub queue: usize,
    #[serde(default)]
    pub bearer_token: Option<String>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_queue() -> usize {
    10_000
}

impl AlertmanagerConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: default_timeout(),
            queue: default_queue(),
            bearer_token: None,
        }
    }

    /// Everything wrong with this config, as (field, message); empty when valid.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        match self.alerts_url() {
            Err(e) => problems.push(("url".to_owned(), e)),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => problems.push((
                "url".to_owned(),
                format!("scheme must be http or https, not {:?}", url.scheme()),
            )),
            Ok(_) => {}
        }
        if self.timeout.is_zero() {
            problems.push(("timeout".into(), "must be greater than zero".into()));
        }
        if self.queue == 0 {
            problems.push(("queue".into(), "must be at least 1".into()));
        }
        if self.bearer_token.as_deref().is_some_and(str::is_empty) {
            problems.push(("bearer_token".into(), "must not be empty when set".into()));
        }
        problems
    }

    /// `{url}/api/v2/alerts`.
    fn alerts_url(&self) -> Result<Url, String> {
        let base = self.url.trim_end_matches('/');
        Url::parse(&format!("{base}/api/v2/alerts")).map_err(|e| format!("not a valid URL: {e}"))
    }
}

/// The v2 API's `postableAlert`, as Prometheus's `alertsToOpenAPIAlerts` fills it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert<'a> {
    labels: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
    starts_at: String,
    /// Left out when open: Alertmanager then applies its `resolve_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
}

impl<'a> PostableAlert<'a> {
    fn new(alert: &'a Alert) -> Self {
        // go-openapi's strfmt.DateTime: RFC 3339 with milliseconds.
        let time = |ms| utc_from_ms(ms).to_rfc3339_opts(SecondsFormat::Millis, true);
        Self {
            labels: &alert.labels,
            annotations: &alert.annotations,
            starts_at: time(alert.starts_at_ms),
            ends_at: alert.ends_at_ms.map(time),
            generator_url: &alert.generator_url,
        }
    }
}

/// Posts alerts to one Alertmanager in the background.
pub struct Client {
    queue: Arc<Queue<Alert>>,
    worker: Option<JoinHandle<()>>,
    receiver: String,
    metrics: NotifyMetrics,
}

impl Client {
    /// Starts the worker on the current tokio runtime. The metrics' `receiver`
    /// label is the configured URL.
    ///
    /// # Panics
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub fn spawn(config: AlertmanagerConfig, metrics: NotifyMetrics) -> Self {
        let receiver = config.url.clone();
        metrics.init(&receiver);
        let queue = Arc::new(Queue::new(config.queue));
        let poster = Poster::new(config, receiver.clone(), metrics.clone());
        let worker = tokio::spawn(run(Arc::clone(&queue), poster));
        Self {
            queue,
            worker: Some(worker),
            receiver,
            metrics,
        }
    }

    /// Queues `alerts`; when the queue is full the oldest queued alerts are dropped.
    pub fn send(&self, alerts: Vec<Alert>) {
        let dropped = self
            .queue
            .push_counted(alerts, &self.metrics, &self.receiver);
        if dropped > 0 {
            tracing::warn!(
                alertmanager = %self.receiver,
                dropped,
                "Alertmanager queue is full; dropped the oldest alerts."
            );
        }
    }

    /// Posts what is queued, batch by batch, each bounded by `timeout`; after
    /// the first failed batch the rest is dropped (and counted).
    pub async fn close(mut self) {
        self.queue.close();
        if let Some(worker) = self.worker.take() {
            // The worker never panics; a JoinError could only be a panic or abort.
            let _ = worker.await;
        }
    }
}

impl Drop for Client {
    /// A client dropped without `close` lets its worker post the queue and end.
    fn drop(&mut self) {
        self.queue.close();
    }
}

async fn run(queue: Arc<Queue<Alert>>, poster: Poster) {
    while let Some((batch, queued)) = queue.next_batch(MAX_BATCH_SIZE).await {
        poster.metrics.set_queue_length(&poster.receiver, queued);
        let posted = poster.post(&batch).await;
        queue.done();
        if !posted && queue.is_closed() {
            let abandoned = queue.abandon();
            poster
                .metrics
                .add(&poster.receiver, Outcome::Dropped, abandoned.queued as u64);
            poster.metrics.set_queue_length(&poster.receiver, 0);
            if abandoned.queued > 0 {
                tracing::warn!(
                    alertmanager = %poster.receiver,
                    dropped = abandoned.queued,
                    "Alertmanager did not take a batch while shutting down; dropped the alerts still queued."
                );
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum PostError {
    #[error("alertmanager {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("alertmanager {url}: answered {status}")]
    Status { url: String, status: StatusCode },
    #[error("alertmanager {url}: {reason}")]
    Setup { url: String, reason: String },
}

struct Poster {
    endpoint: Endpoint,
    receiver: String,
    config: AlertmanagerConfig,
    metrics: NotifyMetrics,
}

impl Poster {
    fn new(config: AlertmanagerConfig, receiver: String, metrics: NotifyMetrics) -> Self {
        Self {
            endpoint: Endpoint::new(config.alerts_url(), &config.url),
            receiver,
            config,
            metrics,
        }
    }

    /// One POST of `alerts`; counts them sent or failed. No retry.
    async fn post(&self, alerts: &[Alert]) -> bool {
        let started = Instant::now();
        let result = self.request(alerts).await;
        self.metrics
            .observe_duration(&self.receiver, started.elapsed().as_secs_f64());
        let count = alerts.len() as u64;
        match result {
            Ok(()) => {
                self.metrics.add(&self.receiver, Outcome::Sent, count);
                tracing::debug!(alertmanager = %self.receiver, count, "Alertmanager took the alerts.");
                true
            }
            Err(error) => {
                self.metrics.add(&self.receiver, Outcome::Failed, count);
                tracing::error!(alertmanager = %self.receiver, count, error = %error, "Alertmanager did not take the alerts; the rule manager will send them again.");
                false
            }
        }
    }

    async fn request(&self, alerts: &[Alert]) -> Result<(), PostError> {
        let url = || self.endpoint.shown_url().to_owned();
        let setup = |reason: String| PostError::Setup { url: url(), reason };
        let request = self
            .endpoint
            .post_json(self.config.timeout, self.config.bearer_token.as_deref())
            .map_err(setup)?;
        let body: Vec<PostableAlert<'_>> = alerts.iter().map(PostableAlert::new).collect();
        let body = serde_json::to_vec(&body).map_err(|e| setup(e.to_string()))?;
        let response = http::send(request.body(body))
            .await
            .map_err(|source| PostError::Transport { url: url(), source })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(PostError::Status { url: url(), status })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn postable_alert_json_is_prometheus_shaped() -> TestResult {
        let alert = Alert {
            labels: BTreeMap::from([("alertname".into(), "Down".into())]),
            annotations: BTreeMap::new(),
            starts_at_ms: 1_714_557_600_250,
            ends_at_ms: Some(1_714_557_900_000),
            generator_url: String::new(),
        };
        let open = Alert {
            ends_at_ms: None,
            generator_url: "http://eval/x".into(),
            annotations: BTreeMap::from([("summary".into(), "s".into())]),
            ..alert.clone()
        };
        let text = serde_json::to_string(&[PostableAlert::new(&alert), PostableAlert::new(&open)])?;
        assert_eq!(
            text,
            r#"[{"labels":{"alertname":"Down"},"startsAt":"2024-05-01T10:00:00.250Z","endsAt":"2024-05-01T10:05:00.000Z"},{"labels":{"alertname":"Down"},"annotations":{"summary":"s"},"startsAt":"2024-05-01T10:00:00.250Z","generatorURL":"http://eval/x"}]"#
        );
        Ok(())
    }

    #[test]
    fn config_defaults_and_problems() -> TestResult {
        let config: AlertmanagerConfig =
            serde_json::from_str(r#"{"url": "http://127.0.0.1:9093/"}"#)?;
        assert_eq!(config, AlertmanagerConfig::new("http://127.0.0.1:9093/"));
        assert_eq!(
            config.alerts_url()?.as_str(),
            "http://127.0.0.1:9093/api/v2/alerts"
        );
        let prefixed = AlertmanagerConfig::new("https://am.example/prefix");
        assert_eq!(
            prefixed.alerts_url()?.as_str(),
            "https://am.example/prefix/api/v2/alerts"
        );
        let bad = AlertmanagerConfig {
            timeout: Duration::ZERO,
            queue: 0,
            ..AlertmanagerConfig::new("nope")
        };
        let fields: Vec<String> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["url", "timeout", "queue"]);
        Ok(())
    }
}
