//! The pass-through response body: forwards upstream frames one by one and,
//! on the way, measures TTFT and bytes, counts tokens (SSE `data:` events or
//! the JSON `usage`), enforces the request deadline, and notices the client
//! going away (the body is dropped before its end). Under the guard, streamed
//! events pass only once checked.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use serde_json::Value;
use tokio::time::Sleep;

use super::errors::{BoxError, proxy_status};
use super::guarded::note;
use super::record::{CLIENT_CLOSED, InFlight, Tracker};
use super::types::RequestRecord;
use crate::guard::{SseGuard, Step};

/// Most bytes of a JSON response kept to read its `usage` at the end.
const JSON_CAP: usize = 4 << 20;
/// Longest SSE line kept while waiting for its end.
const LINE_CAP: usize = 1 << 20;

/// How the body is inspected, by content type.
#[derive(Debug)]
enum Mode {
    Sse { line: Vec<u8> },
    Json { buf: Vec<u8>, overflow: bool },
    Other,
}

/// Token and error bookkeeping over the bytes that pass.
#[derive(Debug)]
pub(crate) struct Meter {
    mode: Mode,
    input_tokens: Option<u64>,
    usage_output: Option<u64>,
    content_deltas: u64,
    error_code: Option<String>,
}

impl Meter {
    pub fn new(content_type: &str) -> Self {
        let ct = content_type.to_ascii_lowercase();
        let mode = if ct.starts_with("text/event-stream") {
            Mode::Sse { line: Vec::new() }
        } else if ct.starts_with("application/json") {
            Mode::Json {
                buf: Vec::new(),
                overflow: false,
            }
        } else {
            Mode::Other
        };
        Self {
            mode,
            input_tokens: None,
            usage_output: None,
            content_deltas: 0,
            error_code: None,
        }
    }

    pub fn observe(&mut self, data: &[u8]) {
        match &mut self.mode {
            Mode::Sse { line } => {
                let mut events = Vec::new();
                for &b in data {
                    if b == b'\n' {
                        events.push(std::mem::take(line));
                    } else if line.len() < LINE_CAP {
                        line.push(b);
                    }
                }
                for event in events {
                    self.sse_line(&event);
                }
            }
            Mode::Json { buf, overflow } => {
                if buf.len() + data.len() > JSON_CAP {
                    *overflow = true;
                    buf.clear();
                } else if !*overflow {
                    buf.extend_from_slice(data);
                }
            }
            Mode::Other => {}
        }
    }

    fn sse_line(&mut self, line: &[u8]) {
        let Some(payload) = line.strip_prefix(b"data:") else {
            return;
        };
        let payload = payload.trim_ascii();
        if payload == b"[DONE]" {
            return;
        }
        if let Ok(event) = serde_json::from_slice::<Value>(payload) {
            self.read_usage(&event);
            let deltas = event
                .get("choices")
                .and_then(Value::as_array)
                .map_or(0, |choices| {
                    choices
                        .iter()
                        .filter(|c| {
                            let text = c.pointer("/delta/content").or_else(|| c.get("text"));
                            text.and_then(Value::as_str).is_some_and(|t| !t.is_empty())
                        })
                        .count()
                });
            self.content_deltas += deltas as u64;
        }
    }

    fn read_usage(&mut self, v: &Value) {
        if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
            self.input_tokens = usage.get("prompt_tokens").and_then(Value::as_u64);
            self.usage_output = usage.get("completion_tokens").and_then(Value::as_u64);
        }
        if let Some(err) = v.get("error") {
            let code = err.get("code").filter(|c| !c.is_null()).or(err.get("type"));
            self.error_code = code.map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned));
        }
    }

    /// Writes what was learnt into `record`.
    pub fn finish(&mut self, record: &mut RequestRecord) {
        let mut streamed = false;
        match std::mem::replace(&mut self.mode, Mode::Other) {
            Mode::Sse { line } => {
                self.sse_line(&line);
                streamed = true;
            }
            Mode::Json {
                buf,
                overflow: false,
            } => {
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    self.read_usage(&v);
                }
            }
            Mode::Json { .. } | Mode::Other => {}
        }
        record.input_tokens = self.input_tokens;
        record.output_tokens = self
            .usage_output
            .or((streamed && self.content_deltas > 0).then_some(self.content_deltas));
        if record.error_code.is_none() {
            record.error_code = self.error_code.take();
        }
    }
}

/// The client's response body, streaming the upstream one (or the checked whole
/// one), through the guard's [`SseGuard`] when a chain checks streamed responses.
///
/// Field order is drop order: the upstream body goes first (cancelling the
/// upstream request), then the in-flight slot, then the record is reported.
pub(crate) struct PassThrough<B: Body> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
    meter: Meter,
    sse: Option<SseGuard>,
    ended: bool,
    _in_flight: InFlight,
    tracker: Tracker,
}

impl<B> PassThrough<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    pub fn new(
        inner: B,
        deadline: Pin<Box<Sleep>>,
        meter: Meter,
        in_flight: InFlight,
        tracker: Tracker,
        sse: Option<SseGuard>,
    ) -> Self {
        Self {
            inner,
            deadline,
            meter,
            sse,
            ended: false,
            _in_flight: in_flight,
            tracker,
        }
    }

    fn fail(&mut self, code: &str, error_type: &str, details: &str) {
        self.ended = true;
        let record = &mut self.tracker.record;
        record.error_code = Some(code.to_owned());
        record.proxy_status = Some(proxy_status(error_type, Some(details), None));
    }

    /// What the guard lets through of `step`; `None` when nothing is to be sent yet.
    fn guarded(&mut self, step: Step) -> Option<Bytes> {
        match step {
            Step::Pass(bytes) => (!bytes.is_empty()).then_some(bytes),
            Step::Cut { send, outcome } => {
                self.ended = true;
                let record = &mut self.tracker.record;
                note(record, &outcome);
                record.error_code = Some("content_blocked".to_owned());
                Some(send)
            }
        }
    }
}

impl<B> Body for PassThrough<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            // Checked first so that a steadily streaming upstream is cut too.
            if this.deadline.as_mut().poll(cx).is_ready() {
                this.fail(
                    "timeout",
                    "http_response_timeout",
                    "request timeout mid-stream",
                );
                return Poll::Ready(Some(Err("request timed out mid-stream".into())));
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(Some(Err(e))) => {
                    let e: BoxError = e.into();
                    this.fail("upstream_error", "http_protocol_error", &e.to_string());
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    let rest = this.sse.as_mut().map(SseGuard::end);
                    let rest = rest.and_then(|step| this.guarded(step));
                    if !this.ended
                        && let Some(sse) = &this.sse
                    {
                        note(&mut this.tracker.record, &sse.finish());
                    }
                    this.ended = true;
                    return Poll::Ready(rest.map(|bytes| Ok(Frame::data(bytes))));
                }
                Poll::Pending => return Poll::Pending,
            };
            let Some(data) = frame.data_ref().filter(|d| !d.is_empty()) else {
                return Poll::Ready(Some(Ok(frame)));
            };
            let elapsed = this.tracker.started().elapsed();
            let record = &mut this.tracker.record;
            record.ttft_seconds.get_or_insert(elapsed.as_secs_f64());
            record.response_bytes += data.len() as u64;
            this.meter.observe(data);
            let Some(step) = this.sse.as_mut().map(|sse| sse.feed(data)) else {
                return Poll::Ready(Some(Ok(frame)));
            };
            if let Some(bytes) = this.guarded(step) {
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.sse.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.sse.is_some() {
            SizeHint::default()
        } else {
            self.inner.size_hint()
        }
    }
}

impl<B: Body> Drop for PassThrough<B> {
    fn drop(&mut self) {
        let complete = self.ended || (self.sse.is_none() && self.inner.is_end_stream());
        let record = &mut self.tracker.record;
        if !complete {
            record.status = CLIENT_CLOSED;
        }
        self.meter.finish(record);
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn run(ct: &str, chunks: &[&[u8]]) -> RequestRecord {
        let mut meter = Meter::new(ct);
        chunks.iter().for_each(|c| meter.observe(c));
        let mut record = RequestRecord::default();
        meter.finish(&mut record);
        record
    }

    #[test]
    fn sse_counts_deltas_across_split_chunks() {
        let r = run(
            "text/event-stream",
            &[
                b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\nda",
                b"ta: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n",
                b"data: {\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
            ],
        );
        assert_eq!((r.input_tokens, r.output_tokens), (None, Some(2)));
    }

    #[test]
    fn sse_prefers_usage_chunk() {
        let r = run(
            "text/event-stream; charset=utf-8",
            &[
                b"data: {\"choices\":[{\"text\":\"a\"}]}\n\n",
                b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":5}}\n\ndata: [DONE]\n\n",
            ],
        );
        assert_eq!((r.input_tokens, r.output_tokens), (Some(7), Some(5)));
    }

    #[test]
    fn json_usage_and_error_code() {
        let r = run(
            "application/json",
            &[
                b"{\"usage\":{\"prompt_tokens\":3,",
                b"\"completion_tokens\":4}}",
            ],
        );
        assert_eq!((r.input_tokens, r.output_tokens), (Some(3), Some(4)));
        let r = run(
            "application/json",
            &[b"{\"error\":{\"message\":\"x\",\"type\":\"BadRequestError\",\"code\":400}}"],
        );
        assert_eq!(r.error_code.as_deref(), Some("400"));
    }
}
