//! Streamed responses under the guard: the upstream's server-sent events are held
//! until complete, their text (`choices[].delta.content`, `choices[].text`) is
//! scanned, and they pass on — or the stream is cut with an OpenAI-style error event
//! and `[DONE]`. Text sent before the finding's last piece has reached the client.

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use super::core::{Outcome, ResponseStream};

/// What to send after a piece of upstream bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// These complete events passed (possibly none yet).
    Pass(Bytes),
    /// Send `send` (the events that passed, then the error event and `[DONE]`) and
    /// end the stream.
    Cut { send: Bytes, outcome: Outcome },
}

/// One streamed response's guard.
pub struct SseGuard {
    check: ResponseStream,
    pending: BytesMut,
}

impl SseGuard {
    pub fn new(check: ResponseStream) -> Self {
        Self {
            check,
            pending: BytesMut::new(),
        }
    }

    /// Takes upstream bytes; returns what may go to the client.
    pub fn feed(&mut self, data: &[u8]) -> Step {
        self.pending.extend_from_slice(data);
        let mut pass = BytesMut::new();
        while let Some(end) = event_end(&self.pending) {
            let event = self.pending.split_to(end);
            if let Some(outcome) = self.check.push(&event_text(&event)) {
                pass.extend_from_slice(&self.cut(&outcome));
                return Step::Cut {
                    send: pass.freeze(),
                    outcome,
                };
            }
            pass.extend_from_slice(&event);
        }
        Step::Pass(pass.freeze())
    }

    /// The upstream ended: the rest (an unterminated last event), checked too.
    pub fn end(&mut self) -> Step {
        let rest = self.pending.split();
        if rest.is_empty() {
            return Step::Pass(Bytes::new());
        }
        match self.check.push(&event_text(&rest)) {
            Some(outcome) => Step::Cut {
                send: self.cut(&outcome),
                outcome,
            },
            None => Step::Pass(rest.freeze()),
        }
    }

    /// How the stream went when it was not cut.
    pub fn finish(&self) -> Outcome {
        self.check.finish()
    }

    /// The error event and `[DONE]` that end a cut stream.
    fn cut(&self, outcome: &Outcome) -> Bytes {
        let (_, code, message) = self.check.refusal(outcome);
        let error = serde_json::json!({
            "error": { "message": message, "type": "invalid_request_error", "code": code, "param": null }
        });
        Bytes::from(format!("data: {error}\n\ndata: [DONE]\n\n"))
    }
}

/// End (exclusive) of the first complete event in `buf`: after `\n\n` or
/// `\r\n\r\n`.
fn event_end(buf: &[u8]) -> Option<usize> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The generated text of one event: every `data:` line's
/// `choices[].delta.content` and `choices[].text`, joined.
fn event_text(event: &[u8]) -> String {
    let mut text = String::new();
    for line in event.split(|&b| b == b'\n') {
        let Some(payload) = line.strip_prefix(b"data:") else {
            continue;
        };
        let Ok(value) = serde_json::from_slice::<Value>(payload.trim_ascii()) else {
            continue;
        };
        for choice in value["choices"].as_array().into_iter().flatten() {
            for piece in [&choice["delta"]["content"], &choice["text"]] {
                if let Some(s) = piece.as_str() {
                    text.push_str(s);
                }
            }
        }
    }
    text
}

/// The generated text of a whole (non-streamed) completion or chat response:
/// `choices[].text` and `choices[].message.content`.
pub fn response_text(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let mut text = String::new();
    for choice in value["choices"].as_array().into_iter().flatten() {
        for piece in [&choice["text"], &choice["message"]["content"]] {
            if let Some(s) = piece.as_str() {
                text.push_str(s);
                text.push('\n');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_end_at_a_blank_line_of_either_kind() {
        assert_eq!(event_end(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(event_end(b"data: a\r\n\r\nx"), Some(11));
        assert_eq!(event_end(b"data: a\n"), None);
    }

    #[test]
    fn text_comes_from_deltas_and_completions() {
        let chat = br#"data: {"choices":[{"delta":{"content":"he"}}]}"#;
        assert_eq!(event_text(chat), "he");
        let completion = b"data: {\"choices\":[{\"text\":\"llo\"}]}\n\n";
        assert_eq!(event_text(completion), "llo");
        assert_eq!(event_text(b"data: [DONE]\n\n"), "");
        let whole = br#"{"choices":[{"message":{"content":"a"}},{"text":"b"}]}"#;
        assert_eq!(response_text(whole), "a\nb\n");
    }
}
