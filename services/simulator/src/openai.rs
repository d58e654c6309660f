//! The OpenAI request and response shapes a vLLM server speaks, and its error body
//! (`{"error": {"message", "type", "param", "code"}}`, `code` = the HTTP status, as
//! vLLM's `ErrorResponse`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// `POST /v1/completions`. Unknown fields (temperature, top_p, …) are accepted and
/// ignored, as vLLM does.
#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    /// The base model or an adapter; vLLM's default model when absent.
    pub model: Option<String>,
    /// A string, or a list whose strings are joined.
    pub prompt: Value,
    /// Completion length; vLLM's default for completions is 16.
    pub max_tokens: Option<u32>,
    /// SSE when true.
    #[serde(default)]
    pub stream: bool,
    /// `include_usage` adds a final usage chunk.
    pub stream_options: Option<StreamOptions>,
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// The base model or an adapter.
    pub model: Option<String>,
    /// The conversation; contents are joined into the prompt.
    pub messages: Vec<ChatMessage>,
    /// Completion length (`max_completion_tokens` is the newer name).
    pub max_tokens: Option<u32>,
    /// The newer name of `max_tokens`.
    pub max_completion_tokens: Option<u32>,
    /// SSE when true.
    #[serde(default)]
    pub stream: bool,
    /// `include_usage` adds a final usage chunk.
    pub stream_options: Option<StreamOptions>,
}

/// One chat message; only its text matters here.
#[derive(Debug, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, …
    pub role: String,
    /// A string, or a list of content parts whose `text` fields are joined.
    #[serde(default)]
    pub content: Value,
}

/// `stream_options`.
#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    /// Send a usage chunk before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

/// The text of a prompt or message content: a string, or strings/parts in a list.
pub fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("text").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join("")),
        _ => None,
    }
}

/// An error as vLLM sends it.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status, also the body's `code`.
    pub status: StatusCode,
    /// `BadRequestError`, `NotFoundError`, …
    pub kind: &'static str,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// A 400 `BadRequestError`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "BadRequestError",
            message: message.into(),
        }
    }

    /// vLLM's 404 for a model it does not serve.
    pub fn unknown_model(model: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            kind: "NotFoundError",
            message: format!("The model `{model}` does not exist."),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({ "error": { "message": self.message, "type": self.kind, "param": null, "code": self.status.as_u16() } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// Which API a request came in on; it decides the response shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `/v1/completions`.
    Completions,
    /// `/v1/chat/completions`.
    Chat,
}

/// What every response of one request shares.
#[derive(Clone, Debug)]
pub struct Head {
    /// The API.
    pub api: Api,
    /// `cmpl-…` or `chatcmpl-…`.
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// The model as requested.
    pub model: String,
    /// The prompt, when the server echoes it instead of generating words.
    pub echo: Option<String>,
}

impl Head {
    /// The text of generated token `index`.
    pub fn piece(&self, index: u32) -> &str {
        match &self.echo {
            Some(prompt) => crate::tokens::echoed(prompt, index),
            None => crate::tokens::text(index),
        }
    }

    fn object(&self, chunk: bool) -> &'static str {
        match (self.api, chunk) {
            (Api::Completions, _) => "text_completion",
            (Api::Chat, false) => "chat.completion",
            (Api::Chat, true) => "chat.completion.chunk",
        }
    }

    /// One SSE chunk carrying `text` (and `finish` on the last).
    pub fn chunk(&self, text: &str, first: bool, finish: Option<&str>) -> Value {
        let choice = match self.api {
            Api::Completions => {
                json!({ "index": 0, "text": text, "logprobs": null, "finish_reason": finish })
            }
            Api::Chat => {
                let delta = if first {
                    json!({ "role": "assistant", "content": text })
                } else {
                    json!({ "content": text })
                };
                json!({ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish })
            }
        };
        json!({ "id": self.id, "object": self.object(true), "created": self.created, "model": self.model, "choices": [choice] })
    }

    /// The usage chunk sent before `[DONE]` when asked for.
    pub fn usage_chunk(&self, prompt: u32, completion: u32) -> Value {
        json!({ "id": self.id, "object": self.object(true), "created": self.created, "model": self.model, "choices": [], "usage": usage(prompt, completion) })
    }

    /// The whole non-streamed response.
    pub fn response(&self, text: &str, finish: &str, prompt: u32, completion: u32) -> Value {
        let choice = match self.api {
            Api::Completions => {
                json!({ "index": 0, "text": text, "logprobs": null, "finish_reason": finish, "stop_reason": null })
            }
            Api::Chat => {
                json!({ "index": 0, "message": { "role": "assistant", "content": text }, "logprobs": null, "finish_reason": finish })
            }
        };
        json!({ "id": self.id, "object": self.object(false), "created": self.created, "model": self.model, "choices": [choice], "usage": usage(prompt, completion) })
    }
}

fn usage(prompt: u32, completion: u32) -> Value {
    json!({ "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion })
}
