//! The I/O shell: sends each request of the schedule at its time, reads the responses,
//! collects their samples and prints the progress line. The only part of the load
//! generator that reads the clock (tokio's).
//!
//! The dispatcher and every request task hold a clone of one channel's sender; the
//! collector knows the run is over when the last clone drops (mini-redis's shutdown).

use std::io::{IsTerminal, Write as _};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, sleep_until};

use super::LoadError;
use super::config::{Api, Plan};
use super::profile::{RequestSpec, schedule};
use super::response::{Measure, SseDecoder, whole};
use super::stats::{Report, Sample, Tally};

/// How long a request task keeps reading after `[DONE]` so its connection can go back
/// to the pool; the sample is already counted by then.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// What request tasks tell the collector.
enum Event {
    /// A request left.
    Sent,
    /// A request ended.
    Done(Sample),
}

/// Runs a checked plan to its end and reports.
pub async fn drive(plan: Plan, progress: bool) -> Result<Report, LoadError> {
    let client = reqwest::Client::builder()
        .build()
        .map_err(LoadError::Client)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let ((), (sent, tally)) = tokio::join!(
        dispatch(plan, client, start, tx),
        collect(rx, start, progress)
    );
    Ok(tally.report(sent, start.elapsed()))
}

/// Receives events until every sender is gone, printing a line each second.
async fn collect(
    mut rx: mpsc::UnboundedReceiver<Event>,
    start: Instant,
    progress: bool,
) -> (u64, Tally) {
    let mut sent = 0;
    let mut tally = Tally::default();
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let live = progress && std::io::stderr().is_terminal();
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(Event::Sent) => sent += 1,
                Some(Event::Done(sample)) => tally.add(sample),
                None => break,
            },
            _ = tick.tick(), if progress => {
                print_progress(start.elapsed(), sent, &tally, live);
            }
        }
    }
    if live {
        eprintln!();
    }
    (sent, tally)
}

/// One status line on stderr; on a terminal it rewrites itself in place.
fn print_progress(elapsed: Duration, sent: u64, tally: &Tally, live: bool) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let done = tally.completed() + tally.failed();
    let line = format!(
        "[{:>5.0}s] sent {sent}  completed {}  failed {}  in flight {}  {:.1} req/s  \
         {:.0} out tok/s",
        elapsed.as_secs_f64(),
        tally.completed(),
        tally.failed(),
        sent.saturating_sub(done),
        tally.completed() as f64 / secs,
        tally.output_tokens() as f64 / secs,
    );
    let mut err = std::io::stderr().lock();
    // A closed stderr must not stop the run.
    let _ = if live {
        write!(err, "\r{line}\x1b[K")
    } else {
        writeln!(err, "{line}")
    };
    let _ = err.flush();
}

/// Where and how requests go; shared by every request task.
struct Target {
    client: reqwest::Client,
    endpoint: String,
    api: Api,
    stream: bool,
    timeout: Duration,
}

/// Sends each arrival at `start + offset`, gated by `--concurrency`, until the schedule
/// or `--duration` ends.
async fn dispatch(
    plan: Plan,
    client: reqwest::Client,
    start: Instant,
    tx: mpsc::UnboundedSender<Event>,
) {
    let end = plan.duration.and_then(|d| start.checked_add(d));
    let gate = plan.concurrency.map(|n| Arc::new(Semaphore::new(n)));
    let target = Arc::new(Target {
        client,
        endpoint: plan.endpoint.clone(),
        api: plan.api,
        stream: plan.stream,
        timeout: plan.timeout,
    });
    for arrival in schedule(&plan) {
        let Some(at) = start.checked_add(arrival.offset) else {
            break;
        };
        if end.is_some_and(|end| at >= end) {
            break;
        }
        sleep_until(at).await;
        let permit = match &gate {
            None => None,
            Some(gate) => match acquire(gate, end).await {
                Some(permit) => Some(permit),
                None => break,
            },
        };
        // A closed loop's arrivals are all due at 0: the clock says when to stop.
        if end.is_some_and(|end| Instant::now() >= end) {
            break;
        }
        if tx.send(Event::Sent).is_err() {
            break;
        }
        let tx = tx.clone();
        let target = Arc::clone(&target);
        tokio::spawn(async move {
            let (sample, rest) = target.send(arrival.spec).await;
            let _ = tx.send(Event::Done(sample));
            drop((tx, permit));
            if let Some(rest) = rest {
                drain(rest).await;
            }
        });
    }
}

/// A slot under `--concurrency`, or `None` when `end` comes first.
async fn acquire(gate: &Arc<Semaphore>, end: Option<Instant>) -> Option<OwnedSemaphorePermit> {
    let permit = Arc::clone(gate).acquire_owned();
    match end {
        None => permit.await.ok(),
        Some(end) => tokio::select! {
            permit = permit => permit.ok(),
            () = sleep_until(end) => None,
        },
    }
}

/// Reads what follows `[DONE]` for a moment, so the connection can be reused.
async fn drain(mut response: reqwest::Response) {
    let _ = tokio::time::timeout(DRAIN_GRACE, async {
        while let Ok(Some(_)) = response.chunk().await {}
    })
    .await;
}

impl Target {
    /// Sends one request and measures it. The response comes back when its body is
    /// still unread: after `[DONE]` or an error status.
    async fn send(&self, spec: RequestSpec) -> (Sample, Option<reqwest::Response>) {
        let body = spec.body(self.api, self.stream);
        let prompt_tokens = u64::from(spec.prompt_tokens);
        let sent = Instant::now();
        match tokio::time::timeout(self.timeout, self.exchange(&body, sent, prompt_tokens)).await {
            Ok(outcome) => outcome,
            Err(_) => (Sample::Failed("timeout".to_owned()), None),
        }
    }

    async fn exchange(
        &self,
        body: &Value,
        sent: Instant,
        prompt_tokens: u64,
    ) -> (Sample, Option<reqwest::Response>) {
        let failed = |kind: &str| (Sample::Failed(kind.to_owned()), None);
        let mut response = match self.client.post(&self.endpoint).json(body).send().await {
            Ok(r) => r,
            Err(e) => return failed(transport_kind(&e)),
        };
        let status = response.status();
        if !status.is_success() {
            // Returned so its error body is drained and the connection reused.
            return (Sample::Failed(status.as_str().to_owned()), Some(response));
        }
        if !self.stream {
            return match response.bytes().await {
                Ok(bytes) => (whole(&bytes, sent.elapsed(), prompt_tokens), None),
                Err(e) => failed(transport_kind(&e)),
            };
        }
        let mut decoder = SseDecoder::default();
        let mut measure = Measure::default();
        let mut payloads = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    let at = sent.elapsed();
                    decoder.push(&bytes, &mut payloads);
                    for p in payloads.drain(..) {
                        measure.on(at, p);
                    }
                    if measure.is_over() {
                        let end = sent.elapsed();
                        return (measure.finish(end, prompt_tokens), Some(response));
                    }
                }
                Ok(None) => break,
                Err(e) => return failed(transport_kind(&e)),
            }
        }
        let end = sent.elapsed();
        decoder.finish(&mut payloads);
        for p in payloads.drain(..) {
            measure.on(end, p);
        }
        (measure.finish(end, prompt_tokens), None)
    }
}

/// The error label of a client failure, from a small fixed set.
fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "stream"
    } else {
        "request"
    }
}
