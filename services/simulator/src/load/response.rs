//! Reading one OpenAI-compatible response, without I/O: bytes as they arrive →
//! [`SseDecoder`] → [`Payload`]s → [`Measure`] (given the time each arrived) →
//! [`Sample`]; and a whole JSON body → [`Sample`] for `--no-stream`.
//!
//! Each `data:` line is one payload, as vLLM's benchmark_serving reads them: OpenAI
//! servers put a JSON chunk on one line, and a server that forgets the blank line
//! between events still parses.

use std::time::Duration;

use serde_json::Value;

use super::stats::{Completed, Sample};

/// What one `data:` line carried.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// `data: [DONE]`: the stream is over.
    Done,
    /// A JSON chunk.
    Chunk(Chunk),
    /// Not JSON: the stream is broken.
    Malformed,
}

/// The parts of a JSON chunk we measure.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chunk {
    /// Whether it carries generated text (`choices[].text` for completions,
    /// `choices[].delta.content` for chat); a role-only or empty delta does not.
    pub text: bool,
    /// Its `usage`, when the server sends one (`stream_options.include_usage`).
    pub usage: Option<Usage>,
    /// Whether it is an error object (vLLM sends `{"error": …}` mid-stream).
    pub error: bool,
}

/// Token counts a server reported.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// `usage.prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// `usage.completion_tokens`.
    pub completion_tokens: Option<u64>,
}

/// Splits a byte stream into `data:` payloads, whatever the network's read boundaries:
/// partial lines wait in the buffer until their newline arrives.
#[derive(Clone, Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
}

impl SseDecoder {
    /// Takes the next bytes and appends the payloads of every line they complete.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Payload>) {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(n) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + n;
            if let Some(p) = line(&self.buf[start..end]) {
                out.push(p);
            }
            start = end + 1;
        }
        self.buf.drain(..start);
    }

    /// The end of the body: a last line without a newline still counts.
    pub fn finish(&mut self, out: &mut Vec<Payload>) {
        let rest = std::mem::take(&mut self.buf);
        if let Some(p) = line(&rest) {
            out.push(p);
        }
    }
}

/// One SSE line: a payload for `data:`, nothing for blank lines, comments (`:`) and
/// other fields (`event:`, `id:`, `retry:`).
fn line(raw: &[u8]) -> Option<Payload> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let data = raw.strip_prefix(b"data:")?;
    let data = data.strip_prefix(b" ").unwrap_or(data);
    if data.trim_ascii() == b"[DONE]" {
        return Some(Payload::Done);
    }
    match serde_json::from_slice::<Value>(data) {
        Ok(v) => Some(Payload::Chunk(chunk(&v))),
        Err(_) => Some(Payload::Malformed),
    }
}

fn chunk(v: &Value) -> Chunk {
    let choices = v.get("choices").and_then(Value::as_array);
    let text = choices.is_some_and(|cs| {
        cs.iter().any(|c| {
            non_empty(c.get("text")) || non_empty(c.get("delta").and_then(|d| d.get("content")))
        })
    });
    Chunk {
        text,
        usage: usage(v),
        error: v.get("error").is_some_and(|e| !e.is_null()),
    }
}

fn non_empty(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

fn usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    Some(Usage {
        prompt_tokens: u.get("prompt_tokens").and_then(Value::as_u64),
        completion_tokens: u.get("completion_tokens").and_then(Value::as_u64),
    })
}

/// The timings of one streamed response, fed payloads with the time (since the send)
/// they arrived.
#[derive(Clone, Debug, Default)]
pub struct Measure {
    first_text: Option<Duration>,
    last_text: Option<Duration>,
    itl: Vec<Duration>,
    text_chunks: u64,
    usage: Usage,
    done: Option<Duration>,
    broken: bool,
}

impl Measure {
    /// Takes one payload that arrived `at` after the send. Payloads after `[DONE]` or a
    /// broken one are ignored.
    pub fn on(&mut self, at: Duration, payload: Payload) {
        if self.is_over() {
            return;
        }
        match payload {
            Payload::Done => self.done = Some(at),
            Payload::Malformed => self.broken = true,
            Payload::Chunk(c) => {
                if c.error {
                    self.broken = true;
                    return;
                }
                if c.text {
                    if self.first_text.is_none() {
                        self.first_text = Some(at);
                    }
                    if let Some(last) = self.last_text {
                        self.itl.push(at.saturating_sub(last));
                    }
                    self.last_text = Some(at);
                    self.text_chunks += 1;
                }
                if let Some(u) = c.usage {
                    self.usage.prompt_tokens = u.prompt_tokens.or(self.usage.prompt_tokens);
                    self.usage.completion_tokens =
                        u.completion_tokens.or(self.usage.completion_tokens);
                }
            }
        }
    }

    /// Whether nothing more will count: `[DONE]` came, or the stream broke.
    pub fn is_over(&self) -> bool {
        self.done.is_some() || self.broken
    }

    /// The sample, for a body that ended `end` after the send; `prompt_tokens` is the
    /// input count to use when the server reported none.
    pub fn finish(self, end: Duration, prompt_tokens: u64) -> Sample {
        if self.broken {
            return Sample::Failed("stream".to_owned());
        }
        let e2e = self.done.unwrap_or(end);
        Sample::Completed(Completed {
            ttft: self.first_text.unwrap_or(e2e),
            itl: self.itl,
            e2e,
            input_tokens: self.usage.prompt_tokens.unwrap_or(prompt_tokens),
            output_tokens: self.usage.completion_tokens.unwrap_or(self.text_chunks),
        })
    }
}

/// The sample of a `--no-stream` response body that took `e2e`: TTFT is e2e, output
/// tokens are `usage.completion_tokens`, else the text's length over 4 (our prompts'
/// characters per token).
pub fn whole(body: &[u8], e2e: Duration, prompt_tokens: u64) -> Sample {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Sample::Failed("stream".to_owned());
    };
    if v.get("error").is_some_and(|e| !e.is_null()) {
        return Sample::Failed("stream".to_owned());
    }
    let usage = usage(&v).unwrap_or_default();
    let chars: usize = v
        .get("choices")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    c.get("text")
                        .or_else(|| c.get("message").and_then(|m| m.get("content")))
                        .and_then(Value::as_str)
                        .map_or(0, |s| s.chars().count())
                })
                .sum()
        })
        .unwrap_or(0);
    Sample::Completed(Completed {
        ttft: e2e,
        itl: Vec::new(),
        e2e,
        input_tokens: usage.prompt_tokens.unwrap_or(prompt_tokens),
        output_tokens: usage.completion_tokens.unwrap_or(chars.div_ceil(4) as u64),
    })
}
