//! The webhook sender against local receivers: headers, signature, retries,
//! the drop-oldest queue, and shutdown.

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::support::{Receiver, T0, TestResult, black_hole, firing, free_addr};
use crate::notify::NotifyMetrics;
use crate::notify::metrics::Outcome;
use crate::notify::webhook::{
    Dispatcher, Message, SIGNATURE_HEADER, Sender, Status, TIMESTAMP_HEADER, WebhookConfig,
};

fn config(url: &str) -> WebhookConfig {
    WebhookConfig {
        name: Some("ops".into()),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..WebhookConfig::new(url)
    }
}

/// A minimal message told apart by its group key.
fn message(n: usize) -> Message {
    Message {
        receiver: "ops".into(),
        status: Status::Firing,
        alerts: Vec::new(),
        group_labels: BTreeMap::new(),
        common_labels: BTreeMap::new(),
        common_annotations: BTreeMap::new(),
        external_url: String::new(),
        version: "4".into(),
        group_key: format!("g{n}"),
        truncated_alerts: 0,
    }
}

fn group_keys(bodies: &[super::support::Captured]) -> Result<Vec<String>, Box<dyn Error>> {
    bodies
        .iter()
        .map(|c| Ok(serde_json::from_slice::<Message>(&c.body)?.group_key))
        .collect()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[tokio::test]
async fn delivers_with_bearer_token_and_a_verifiable_signature() -> TestResult {
    let receiver = Receiver::start(&[]).await?;
    let config = WebhookConfig {
        bearer_token: Some("t0ken".into()),
        hmac_secret: Some("s3cret".into()),
        ..config(&receiver.url)
    };
    let mut dispatcher = Dispatcher::new(&config, "http://eval.example");
    let mut messages = dispatcher.update(T0, &[firing(&[("alertname", "Down")], T0)]);
    let message = messages.pop().ok_or("the dispatcher sent nothing")?;
    let metrics = NotifyMetrics::default();
    let sender = Sender::spawn(config, metrics.clone());
    sender.send(message.clone());
    let captured = receiver.wait_for(1).await?;
    sender.close().await;

    let request = &captured[0];
    assert_eq!(request.body, message.to_body()?);
    assert_eq!(request.header("authorization"), "Bearer t0ken");
    assert_eq!(request.header("content-type"), "application/json");
    assert!(request.header("user-agent").starts_with("poolpilot/"));

    // What a receiver does: HMAC-SHA256 over "<timestamp>.<raw body>", constant-time compare.
    let timestamp = request.header(TIMESTAMP_HEADER);
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>()?;
    assert!(
        (0..60).contains(&age),
        "timestamp {timestamp} is {age}s old"
    );
    let hex = request
        .header(SIGNATURE_HEADER)
        .strip_prefix("sha256=")
        .ok_or("no sha256= prefix")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret")?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    mac.verify_slice(&decode_hex(hex).ok_or("not hex")?)?;

    assert_eq!(metrics.count("ops", Outcome::Sent), 1);
    assert_eq!(metrics.count("ops", Outcome::Retried), 0);
    Ok(())
}

#[tokio::test]
async fn retries_503_and_429_then_delivers_on_attempt_three() -> TestResult {
    let receiver = Receiver::start(&[503, 429]).await?;
    let metrics = NotifyMetrics::default();
    let sender = Sender::spawn(config(&receiver.url), metrics.clone());
    sender.send(message(1));
    let captured = receiver.wait_for(3).await?;
    sender.close().await;

    assert_eq!(captured.len(), 3);
    assert!(captured.iter().all(|c| c.body == captured[0].body));
    assert_eq!(metrics.count("ops", Outcome::Retried), 2);
    assert_eq!(metrics.count("ops", Outcome::Sent), 1);
    assert_eq!(metrics.count("ops", Outcome::Failed), 0);
    Ok(())
}

#[tokio::test]
async fn a_400_is_not_retried() -> TestResult {
    let receiver = Receiver::start(&[400]).await?;
    let metrics = NotifyMetrics::default();
    let sender = Sender::spawn(config(&receiver.url), metrics.clone());
    sender.send(message(1));
    sender.send(message(2));
    let captured = receiver.wait_for(2).await?;
    sender.close().await;

    assert_eq!(
        group_keys(&captured)?,
        ["g1", "g2"],
        "g1 once, then on to g2"
    );
    assert_eq!(metrics.count("ops", Outcome::Failed), 1);
    assert_eq!(metrics.count("ops", Outcome::Retried), 0);
    assert_eq!(metrics.count("ops", Outcome::Sent), 1);
    Ok(())
}

#[tokio::test]
async fn a_dead_receiver_is_tried_max_attempts_times_then_counted_failed() -> TestResult {
    let url = format!("http://{}/hook", free_addr()?);
    let metrics = NotifyMetrics::default();
    let config = WebhookConfig {
        max_attempts: 3,
        ..config(&url)
    };
    let sender = Sender::spawn(config, metrics.clone());
    sender.send(message(1));
    sender.close().await;

    assert_eq!(metrics.count("ops", Outcome::Retried), 2);
    assert_eq!(metrics.count("ops", Outcome::Failed), 1);
    assert_eq!(metrics.count("ops", Outcome::Sent), 0);
    Ok(())
}

#[tokio::test]
async fn send_never_blocks_on_a_hanging_receiver_and_close_is_bounded() -> TestResult {
    let url = black_hole().await?;
    let metrics = NotifyMetrics::default();
    let config = WebhookConfig {
        timeout: Duration::from_millis(200),
        max_attempts: 2,
        queue: 5,
        ..config(&url)
    };
    let sender = Sender::spawn(config, metrics.clone());
    sender.send(message(0));
    wait_until_taken(&metrics).await?;

    let started = std::time::Instant::now();
    for n in 1..=1000 {
        sender.send(message(n));
    }
    let sending = started.elapsed();
    assert!(
        sending < Duration::from_millis(500),
        "1000 sends took {sending:?}"
    );
    assert_eq!(metrics.count("ops", Outcome::Dropped), 995);

    let started = std::time::Instant::now();
    sender.close().await;
    let closing = started.elapsed();
    assert!(
        closing < Duration::from_secs(2),
        "close took {closing:?} (bound 400ms)"
    );
    // Every message is accounted for exactly once.
    let failed = metrics.count("ops", Outcome::Failed);
    let dropped = metrics.count("ops", Outcome::Dropped);
    assert!(failed >= 1, "the one in flight timed out");
    assert_eq!(failed + dropped, 1001);
    assert_eq!(metrics.count("ops", Outcome::Sent), 0);
    assert_eq!(metrics.queue_length("ops"), 0);
    Ok(())
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest() -> TestResult {
    let receiver = Receiver::start_held().await?;
    let metrics = NotifyMetrics::default();
    let config = WebhookConfig {
        queue: 3,
        ..config(&receiver.url)
    };
    let sender = Sender::spawn(config, metrics.clone());
    sender.send(message(0));
    receiver.wait_for(1).await?;
    for n in 1..=5 {
        sender.send(message(n));
    }
    assert_eq!(metrics.count("ops", Outcome::Dropped), 2);
    assert_eq!(metrics.queue_length("ops"), 3);
    receiver.release();
    let captured = receiver.wait_for(4).await?;
    sender.close().await;

    assert_eq!(group_keys(&captured)?, ["g0", "g3", "g4", "g5"]);
    assert_eq!(metrics.count("ops", Outcome::Sent), 4);
    Ok(())
}

/// Waits until the worker took the first message off the queue.
async fn wait_until_taken(metrics: &NotifyMetrics) -> TestResult {
    for _ in 0..500 {
        if metrics.queue_length("ops") == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("the worker never took the message".into())
}
