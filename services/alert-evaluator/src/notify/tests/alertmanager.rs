//! The Alertmanager client against the real `/usr/bin/prometheus-alertmanager`:
//! batching, what Alertmanager stores, and the webhook Alertmanager sends on.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::Deserialize;
use tokio::net::TcpListener;

use super::support::{AlertmanagerProcess, Receiver, TestResult, labels};
use crate::notify::alertmanager::{AlertmanagerConfig, Client};
use crate::notify::metrics::Outcome;
use crate::notify::webhook::{Message, Status};
use crate::notify::{Alert, NotifyMetrics};

/// Sits between the client and Alertmanager, recording each POST's batch size.
#[derive(Clone)]
struct Proxy {
    target: String,
    http: reqwest::Client,
    batches: Arc<Mutex<Vec<(usize, String)>>>,
}

impl Proxy {
    async fn start(target: &str) -> Result<(Self, String), Box<dyn Error>> {
        let proxy = Self {
            target: format!("{target}/api/v2/alerts"),
            http: reqwest::Client::new(),
            batches: Arc::default(),
        };
        let app = Router::new()
            .route("/api/v2/alerts", post(forward))
            .with_state(proxy.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((proxy, url))
    }

    /// Batch sizes and user agents seen so far.
    fn batches(&self) -> Vec<(usize, String)> {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn forward(State(proxy): State<Proxy>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let size = serde_json::from_slice::<Vec<serde_json::Value>>(&body).map_or(0, |v| v.len());
    let agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    proxy
        .batches
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((size, agent));
    let response = proxy
        .http
        .post(&proxy.target)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) => StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

/// The parts of Alertmanager's `gettableAlert` these tests look at.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    labels: BTreeMap<String, String>,
    ends_at: String,
    fingerprint: String,
}

async fn stored_alerts(am: &AlertmanagerProcess) -> Result<Vec<Stored>, Box<dyn Error>> {
    let url = format!("{}/api/v2/alerts", am.url);
    Ok(reqwest::get(url).await?.json().await?)
}

/// Polls `check` every 100 ms for up to 15 s.
async fn eventually<T>(
    what: &str,
    mut check: impl AsyncFnMut() -> Result<Option<T>, Box<dyn Error>>,
) -> Result<T, Box<dyn Error>> {
    for _ in 0..150 {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("timed out waiting for {what}").into())
}

fn webhook_messages(receiver: &Receiver) -> Result<Vec<Message>, Box<dyn Error>> {
    receiver
        .captured()
        .iter()
        .map(|c| Ok(serde_json::from_slice::<Message>(&c.body)?))
        .collect()
}

fn alert(pairs: &[(&str, &str)], now_ms: i64, ends_at_ms: Option<i64>) -> Alert {
    Alert {
        labels: labels(pairs),
        annotations: labels(&[("summary", "from the h-notify tests")]),
        starts_at_ms: now_ms,
        ends_at_ms,
        generator_url: "http://eval.example/rules".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_a_real_alertmanager_in_batches_and_come_back_as_webhooks() -> TestResult {
    let webhook = Receiver::start(&[]).await?;
    let am = AlertmanagerProcess::start(&webhook.url, "poolpilot.test").await?;
    let (proxy, proxy_url) = Proxy::start(&am.url).await?;
    let metrics = NotifyMetrics::default();
    let client = Client::spawn(AlertmanagerConfig::new(&proxy_url), metrics.clone());
    let now = chrono::Utc::now().timestamp_millis();
    let valid_until = Some(now + 600_000);

    // 130 alerts in one call: Prometheus's batches of at most 64.
    let bulk: Vec<Alert> = (0..130)
        .map(|i| {
            alert(
                &[("alertname", "Bulk"), ("idx", &format!("{i:03}"))],
                now,
                valid_until,
            )
        })
        .collect();
    client.send(bulk);
    let batches = eventually("3 batches", async || {
        let batches = proxy.batches();
        Ok((batches.len() >= 3).then_some(batches))
    })
    .await?;
    let sizes: Vec<usize> = batches.iter().map(|(size, _)| *size).collect();
    assert_eq!(sizes, [64, 64, 2]);
    assert!(
        batches
            .iter()
            .all(|(_, agent)| agent.starts_with("poolpilot/"))
    );

    // Alertmanager stores them (its fingerprints are ours)...
    let stored = eventually("130 stored alerts", async || {
        let bulk: Vec<Stored> = stored_alerts(&am)
            .await?
            .into_iter()
            .filter(|a| a.labels["alertname"] == "Bulk")
            .collect();
        Ok((bulk.len() == 130).then_some(bulk))
    })
    .await?;
    for a in &stored {
        let ours = alert(
            &[("alertname", "Bulk"), ("idx", &a.labels["idx"])],
            now,
            None,
        );
        assert_eq!(a.fingerprint, format!("{:016x}", ours.fingerprint()));
    }

    // ...and sends them on to its webhook, in the body format `Message` reads.
    let notified = eventually("the Bulk webhook", async || {
        let idx: BTreeSet<String> = webhook_messages(&webhook)?
            .iter()
            .filter(|m| m.group_key == r#"{}:{alertname="Bulk"}"#)
            .flat_map(|m| &m.alerts)
            .filter(|a| a.status == Status::Firing)
            .map(|a| a.labels["idx"].clone())
            .collect();
        Ok((idx.len() == 130).then_some(idx))
    })
    .await?;
    assert_eq!(notified.len(), 130);
    let messages = webhook_messages(&webhook)?;
    // Alertmanager 0.25 passes the receiver name through regexp.QuoteMeta.
    assert!(messages.iter().all(|m| m.receiver == r"poolpilot\.test"));
    assert!(
        messages
            .iter()
            .all(|m| m.external_url == "http://am.example:9093")
    );
    let captured = webhook.captured();
    assert!(
        captured
            .iter()
            .all(|c| c.header("user-agent") == "Alertmanager/0.25.0")
    );

    // An open-ended alert gets Alertmanager's resolve_timeout (5m) as its end.
    client.send(vec![alert(&[("alertname", "OpenEnded")], now, None)]);
    let open = eventually("the open-ended alert", async || {
        Ok(stored_alerts(&am)
            .await?
            .into_iter()
            .find(|a| a.labels["alertname"] == "OpenEnded"))
    })
    .await?;
    let ends_at = chrono::DateTime::parse_from_rfc3339(&open.ends_at)?.timestamp_millis();
    assert!(
        (4 * 60_000..6 * 60_000).contains(&(ends_at - now)),
        "endsAt {}",
        open.ends_at
    );

    // A firing alert, then the same alert resolved (endsAt in the past).
    let firing = alert(&[("alertname", "ResolveMe")], now, valid_until);
    client.send(vec![firing.clone()]);
    let status_of = |wanted: Status| {
        let webhook = &webhook;
        async move || {
            let found = webhook_messages(webhook)?.into_iter().any(|m| {
                m.group_key == r#"{}:{alertname="ResolveMe"}"#
                    && m.alerts.iter().any(|a| a.status == wanted)
            });
            Ok(found.then_some(()))
        }
    };
    eventually("ResolveMe firing", status_of(Status::Firing)).await?;
    let resolved_at = chrono::Utc::now().timestamp_millis() - 1_000;
    client.send(vec![Alert {
        ends_at_ms: Some(resolved_at),
        ..firing
    }]);
    eventually("ResolveMe resolved", status_of(Status::Resolved)).await?;
    let last = webhook_messages(&webhook)?
        .into_iter()
        .rfind(|m| m.group_key == r#"{}:{alertname="ResolveMe"}"#)
        .ok_or("no ResolveMe message")?;
    assert_eq!(last.status, Status::Resolved);
    let ends_at = last.alerts[0].ends_at.map(|t| t.timestamp_millis());
    assert_eq!(ends_at, Some(resolved_at));
    // Resolved alerts leave the API's list.
    let still_listed = stored_alerts(&am)
        .await?
        .iter()
        .any(|a| a.labels["alertname"] == "ResolveMe");
    assert!(!still_listed);

    client.close().await;
    assert_eq!(metrics.count(&proxy_url, Outcome::Sent), 133);
    assert_eq!(metrics.count(&proxy_url, Outcome::Failed), 0);
    assert_eq!(metrics.count(&proxy_url, Outcome::Dropped), 0);
    Ok(())
}

#[tokio::test]
async fn a_failed_post_is_not_retried_and_counts_every_alert() -> TestResult {
    let receiver = Receiver::start(&[500]).await?;
    let metrics = NotifyMetrics::default();
    let base = receiver.url.trim_end_matches("/hook").to_owned();
    let client = Client::spawn(AlertmanagerConfig::new(&base), metrics.clone());
    let now = chrono::Utc::now().timestamp_millis();
    client.send(
        (0..3)
            .map(|i| alert(&[("i", &i.to_string())], now, None))
            .collect(),
    );
    let captured = receiver.wait_for(1).await?;
    client.close().await;

    assert_eq!(receiver.captured().len(), 1, "no retry");
    let body: serde_json::Value = serde_json::from_slice(&captured[0].body)?;
    assert_eq!(body.as_array().map(Vec::len), Some(3));
    assert_eq!(metrics.count(&base, Outcome::Failed), 3);
    assert_eq!(metrics.count(&base, Outcome::Sent), 0);
    Ok(())
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest_alerts() -> TestResult {
    let receiver = Receiver::start_held().await?;
    let metrics = NotifyMetrics::default();
    let base = receiver.url.trim_end_matches("/hook").to_owned();
    let config = AlertmanagerConfig {
        queue: 100,
        ..AlertmanagerConfig::new(&base)
    };
    let client = Client::spawn(config, metrics.clone());
    let now = chrono::Utc::now().timestamp_millis();
    let batch = |from: usize, to: usize| -> Vec<Alert> {
        (from..to)
            .map(|i| alert(&[("i", &i.to_string())], now, None))
            .collect()
    };
    client.send(batch(0, 1));
    receiver.wait_for(1).await?;
    client.send(batch(1, 151));
    assert_eq!(metrics.count(&base, Outcome::Dropped), 50);
    receiver.release();
    let captured = receiver.wait_for(3).await?;
    client.close().await;

    let first: Vec<serde_json::Value> = serde_json::from_slice(&captured[1].body)?;
    assert_eq!(first.len(), 64);
    assert_eq!(first[0]["labels"]["i"], "51", "1..=50 were dropped");
    assert_eq!(metrics.count(&base, Outcome::Sent), 101);
    Ok(())
}
