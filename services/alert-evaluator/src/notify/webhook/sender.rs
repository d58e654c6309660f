//! The I/O shell for one webhook: a worker task fed through a bounded
//! drop-oldest queue, so a slow or dead receiver never blocks the caller.
//!
//! Each message is one POST of [`Message::to_body`] with `Content-Type:
//! application/json`, `User-Agent: poolpilot/<version>` and, when configured,
//! `Authorization: Bearer <token>`. Connection errors, timeouts, 5xx and 429 are
//! retried with exponential backoff (`initial_backoff`, doubling, capped at
//! `max_backoff`, at least `Retry-After` seconds when the receiver sends one) up
//! to `max_attempts`; any other status is final.
//!
//! # Signature
//!
//! With `hmac_secret` set, every attempt carries
//!
//! ```text
//! X-Poolpilot-Timestamp: <unix seconds when the attempt was made>
//! X-Poolpilot-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//! ```
//!
//! A receiver verifies by computing HMAC-SHA256 with the shared secret over the
//! timestamp header's value, a `.`, and the raw request body bytes (before any
//! JSON parsing), comparing it in constant time with the hex after `sha256=`,
//! and rejecting timestamps more than a few minutes from its own clock, which
//! stops replays. [`signature`] computes the header value.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::header::RETRY_AFTER;
use reqwest::{StatusCode, Url};
use sha2::Sha256;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Message, WebhookConfig};
use crate::notify::NotifyMetrics;
use crate::notify::http::{self, Endpoint};
use crate::notify::metrics::Outcome;
use crate::notify::queue::Queue;

pub const TIMESTAMP_HEADER: &str = "X-Poolpilot-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Poolpilot-Signature";

/// Delivers the messages of one webhook in the background.
pub struct Sender {
    queue: Arc<Queue<Message>>,
    worker: Option<JoinHandle<()>>,
    receiver: String,
    /// How long `close` waits for the queue to drain.
    close_bound: Duration,
    metrics: NotifyMetrics,
}

impl Sender {
    /// Starts the worker on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub fn spawn(config: WebhookConfig, metrics: NotifyMetrics) -> Self {
        let receiver = config.receiver_name();
        metrics.init(&receiver);
        let queue = Arc::new(Queue::new(config.queue));
        let close_bound = config.timeout.saturating_mul(config.max_attempts.max(1));
        let delivery = Delivery::new(config, receiver.clone(), metrics.clone());
        let worker = tokio::spawn(run(Arc::clone(&queue), delivery));
        Self {
            queue,
            worker: Some(worker),
            receiver,
            close_bound,
            metrics,
        }
    }

    /// Queues `message`; when the queue is full the oldest queued one is dropped.
    pub fn send(&self, message: Message) {
        let dropped = self
            .queue
            .push_counted([message], &self.metrics, &self.receiver);
        if dropped > 0 {
            tracing::warn!(
                receiver = %self.receiver,
                dropped,
                "Webhook queue is full; dropped the oldest notification."
            );
        }
    }

    /// Delivers (or gives up on) what is queued, waiting at most `timeout ×
    /// max_attempts`; what is left then is counted failed (in flight) or dropped.
    pub async fn close(mut self) {
        self.queue.close();
        let Some(mut worker) = self.worker.take() else {
            return;
        };
        if tokio::time::timeout(self.close_bound, &mut worker)
            .await
            .is_ok()
        {
            return;
        }
        worker.abort();
        // The result is the cancellation just asked for.
        let _ = worker.await;
        let abandoned = self.queue.abandon();
        self.metrics
            .add(&self.receiver, Outcome::Failed, abandoned.in_flight as u64);
        self.metrics
            .add(&self.receiver, Outcome::Dropped, abandoned.queued as u64);
        self.metrics.set_queue_length(&self.receiver, 0);
        tracing::warn!(
            receiver = %self.receiver,
            in_flight = abandoned.in_flight,
            dropped = abandoned.queued,
            waited = ?self.close_bound,
            "Webhook did not drain in time on shutdown; gave up on the rest."
        );
    }
}

impl Drop for Sender {
    /// A sender dropped without `close` lets its worker finish the queue and end.
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// `sha256=<hex>` of HMAC-SHA256 over `"<timestamp>.<body>"` (the signature header's value).
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    // Proven: HMAC accepts keys of any length (`new_from_slice` only fails for
    // fixed-size-key MACs, never for `Hmac`), so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

async fn run(queue: Arc<Queue<Message>>, delivery: Delivery) {
    while let Some((batch, queued)) = queue.next_batch(1).await {
        delivery
            .metrics
            .set_queue_length(&delivery.receiver, queued);
        for message in batch {
            delivery.deliver(&message).await;
        }
        queue.done();
    }
}

/// Why one attempt did not deliver.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("webhook {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("webhook {url}: receiver answered {status}")]
    Status {
        url: String,
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    #[error("webhook {url}: {reason}")]
    Setup { url: String, reason: String },
}

impl AttemptError {
    fn retryable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            Self::Setup { .. } => false,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(status.as_u16()),
            _ => None,
        }
    }
}

struct Delivery {
    endpoint: Endpoint,
    receiver: String,
    config: WebhookConfig,
    metrics: NotifyMetrics,
}

impl Delivery {
    fn new(config: WebhookConfig, receiver: String, metrics: NotifyMetrics) -> Self {
        let url = Url::parse(&config.url).map_err(|e| format!("URL: {e}"));
        Self {
            endpoint: Endpoint::new(url, &config.url),
            receiver,
            config,
            metrics,
        }
    }

    async fn deliver(&self, message: &Message) {
        let body = match message.to_body() {
            Ok(body) => body,
            Err(e) => {
                self.metrics.add(&self.receiver, Outcome::Failed, 1);
                tracing::error!(receiver = %self.receiver, error = %e, "Webhook message could not be encoded; dropped it.");
                return;
            }
        };
        let attempts = self.config.max_attempts.max(1);
        for attempt in 1..=attempts {
            let started = Instant::now();
            let result = self.attempt(&body).await;
            self.metrics
                .observe_duration(&self.receiver, started.elapsed().as_secs_f64());
            let error = match result {
                Ok(()) => {
                    self.metrics.add(&self.receiver, Outcome::Sent, 1);
                    tracing::debug!(receiver = %self.receiver, attempt, group_key = %message.group_key, "Webhook accepted the notification.");
                    return;
                }
                Err(error) => error,
            };
            if !error.retryable() || attempt == attempts {
                self.metrics.add(&self.receiver, Outcome::Failed, 1);
                tracing::error!(
                    receiver = %self.receiver, status = error.status(), attempt, error = %error,
                    group_key = %message.group_key,
                    "Webhook did not take the notification; gave up."
                );
                return;
            }
            self.metrics.add(&self.receiver, Outcome::Retried, 1);
            tracing::warn!(
                receiver = %self.receiver, status = error.status(), attempt, error = %error,
                "Webhook refused the notification; retrying."
            );
            tokio::time::sleep(self.backoff(attempt, &error)).await;
        }
    }

    /// `initial_backoff × 2^(attempt-1)`, at least `Retry-After`, at most `max_backoff`.
    fn backoff(&self, attempt: u32, error: &AttemptError) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1));
        let mut wait = self.config.initial_backoff.saturating_mul(doubling);
        if let AttemptError::Status {
            retry_after: Some(retry_after),
            ..
        } = error
        {
            wait = wait.max(*retry_after);
        }
        wait.min(self.config.max_backoff)
    }

    async fn attempt(&self, body: &[u8]) -> Result<(), AttemptError> {
        let url = || self.endpoint.shown_url().to_owned();
        let mut request = self
            .endpoint
            .post_json(self.config.timeout, self.config.bearer_token.as_deref())
            .map_err(|reason| AttemptError::Setup { url: url(), reason })?
            .body(body.to_vec());
        if let Some(secret) = &self.config.hmac_secret {
            #[allow(clippy::disallowed_methods, reason = "the sender is an I/O shell")]
            let timestamp = chrono::Utc::now().timestamp().to_string();
            request = request
                .header(SIGNATURE_HEADER, signature(secret, &timestamp, body))
                .header(TIMESTAMP_HEADER, timestamp);
        }
        let response = http::send(request)
            .await
            .map_err(|source| AttemptError::Transport { url: url(), source })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(AttemptError::Status {
            url: url(),
            status,
            retry_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_reference() {
        // printf '1700000000.{"a":1}\n' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            signature("s3cret", "1700000000", b"{\"a\":1}\n"),
            "sha256=eac365a53cd85d00e88716246d8e08175abad40e8a30e95418816eabe90b0428"
        );
    }

    #[test]
    fn backoff_doubles_honours_retry_after_and_is_capped() {
        let config = WebhookConfig::new("http://127.0.0.1:9/hook");
        let delivery = Delivery::new(config, "r".into(), NotifyMetrics::default());
        let status = |retry_after| AttemptError::Status {
            url: String::new(),
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after,
        };
        let waits: Vec<u64> = (1..=8)
            .map(|attempt| delivery.backoff(attempt, &status(None)).as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
        let after = |secs| delivery.backoff(1, &status(Some(Duration::from_secs(secs))));
        assert_eq!(after(10), Duration::from_secs(10));
        assert_eq!(after(600), Duration::from_secs(30));
        assert_eq!(
            delivery.backoff(u32::MAX, &status(None)),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn retries_only_what_may_succeed_later() {
        let status = |code| AttemptError::Status {
            url: String::new(),
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
            retry_after: None,
        };
        for (code, retry) in [
            (500, true),
            (503, true),
            (429, true),
            (400, false),
            (404, false),
            (301, false),
        ] {
            assert_eq!(status(code).retryable(), retry, "{code}");
        }
    }
}
