//! The pass-through response body: forwards upstream frames one by one and,
//! on the way, measures TTFT and bytes, counts tokens (SSE `data:` events or
//! the JSON `usage`), enforces the request deadline, and notices the client
//! going away (the body is dropped before its end). Under the guard, streamed
//! events pass only once checked.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use tokio::time::Sleep;

use super::errors::{BoxError, proxy_status};
use super::guarded::note;
use super::record::{CLIENT_CLOSED, Tracker};
use super::types::RequestRecord;
use super::upstream::Held;
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
    tally: Tally,
}

/// What the replies read so far said.
#[derive(Debug, Default)]
struct Tally {
    input_tokens: Option<u64>,
    usage_output: Option<u64>,
    content_deltas: u64,
    error_code: Option<String>,
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

impl Meter {
    pub fn new(content_type: &str) -> Self {
        let mode = if starts_with_ignore_case(content_type, "text/event-stream") {
            Mode::Sse { line: Vec::new() }
        } else if starts_with_ignore_case(content_type, "application/json") {
            Mode::Json {
                buf: Vec::new(),
                overflow: false,
            }
        } else {
            Mode::Other
        };
        Self {
            mode,
            tally: Tally::default(),
        }
    }

    pub fn observe(&mut self, data: &[u8]) {
        match &mut self.mode {
            Mode::Sse { line } => {
                let mut rest = data;
                while let Some(end) = rest.iter().position(|&b| b == b'\n') {
                    let head = &rest[..end];
                    if line.is_empty() {
                        self.tally.sse_line(head);
                    } else {
                        let room = LINE_CAP.saturating_sub(line.len());
                        line.extend_from_slice(&head[..head.len().min(room)]);
                        self.tally.sse_line(line);
                        line.clear();
                    }
                    rest = &rest[end + 1..];
                }
                let room = LINE_CAP.saturating_sub(line.len());
                line.extend_from_slice(&rest[..rest.len().min(room)]);
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

    /// Writes what was learnt into `record`.
    pub fn finish(&mut self, record: &mut RequestRecord) {
        let mut streamed = false;
        match std::mem::replace(&mut self.mode, Mode::Other) {
            Mode::Sse { line } => {
                self.tally.sse_line(&line);
                streamed = true;
            }
            Mode::Json {
                buf,
                overflow: false,
            } => {
                if let Ok(reply) = serde_json::from_slice::<Reply>(&buf) {
                    self.tally.read(&reply);
                }
            }
            Mode::Json { .. } | Mode::Other => {}
        }
        let tally = &mut self.tally;
        record.input_tokens = tally.input_tokens;
        record.output_tokens = tally
            .usage_output
            .or((streamed && tally.content_deltas > 0).then_some(tally.content_deltas));
        if record.error_code.is_none() {
            record.error_code = tally.error_code.take();
        }
    }
}

impl Tally {
    fn sse_line(&mut self, line: &[u8]) {
        let Some(payload) = line.strip_prefix(b"data:") else {
            return;
        };
        let payload = payload.trim_ascii();
        if payload == b"[DONE]" {
            return;
        }
        if let Ok(reply) = serde_json::from_slice::<Reply>(payload) {
            self.read(&reply);
            self.content_deltas += reply.choices.0;
        }
    }

    fn read(&mut self, reply: &Reply) {
        if let Some(usage) = &reply.usage {
            self.input_tokens = usage.prompt_tokens;
            self.usage_output = usage.completion_tokens;
        }
        if let Some(err) = &reply.error {
            let code = err.get("code").filter(|c| !c.is_null()).or(err.get("type"));
            self.error_code = code.map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned));
        }
    }
}

/// The parts of a completion, a chunk of one, or an error body that are counted;
/// the rest is validated and skipped.
#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    choices: Deltas,
}

#[derive(Debug, Deserialize)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

/// How many choices carry text (`delta.content` in chat chunks, `text` in
/// completions).
#[derive(Debug, Default)]
struct Deltas(u64);

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    text: Option<NonEmpty>,
}

#[derive(Debug, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<NonEmpty>,
}

/// Whether a string is non-empty, read without copying it.
#[derive(Debug)]
struct NonEmpty(bool);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NonEmpty;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, s: &str) -> Result<NonEmpty, E> {
                Ok(NonEmpty(!s.is_empty()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Deltas {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Deltas;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_unit<E>(self) -> Result<Deltas, E> {
                Ok(Deltas(0))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Deltas, A::Error> {
                let mut n = 0;
                while let Some(c) = seq.next_element::<Choice>()? {
                    let text = c.delta.and_then(|d| d.content).or(c.text);
                    n += u64::from(text.is_some_and(|t| t.0));
                }
                Ok(Deltas(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// The client's response body, streaming the upstream one (or the checked whole
/// one), through the guard's [`SseGuard`] when a chain checks streamed responses.
///
/// Field order is drop order: the upstream body goes first (cancelling the
/// upstream request), then the connection and in-flight slot, then the record
/// is reported.
pub(crate) struct PassThrough<B: Body> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
    meter: Meter,
    sse: Option<SseGuard>,
    ended: bool,
    _held: Held,
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
        held: Held,
        tracker: Tracker,
        sse: Option<SseGuard>,
    ) -> Self {
        Self {
            inner,
            deadline,
            meter,
            sse,
            ended: false,
            _held: held,
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
