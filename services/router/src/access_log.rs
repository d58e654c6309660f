//! The access log: one JSON line per sampled request, on standard output or appended
//! to a file. Prompts and responses are never in it.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::proxy::RequestRecord;

/// Where access-log lines go.
pub enum AccessLog {
    Stdout,
    File(Mutex<LineWriter<File>>),
}

/// The access log's file could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("router access log {path}: {source}")]
pub struct OpenError {
    path: PathBuf,
    source: std::io::Error,
}

impl AccessLog {
    /// Standard output, or `path` opened for appending (created when missing).
    pub fn open(path: Option<&Path>) -> Result<Self, OpenError> {
        let Some(path) = path else {
            return Ok(Self::Stdout);
        };
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| OpenError {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self::File(Mutex::new(LineWriter::new(file))))
    }

    /// Writes `r`'s line; a failed write is reported and the request goes on.
    pub fn write(&self, r: &RequestRecord) {
        let Ok(json) = serde_json::to_string(&line(r)) else {
            return;
        };
        let written = match self {
            Self::Stdout => writeln!(std::io::stdout().lock(), "{json}"),
            Self::File(file) => writeln!(file.lock().unwrap_or_else(|e| e.into_inner()), "{json}"),
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, id = %r.id, "Access-log line not written.");
        }
    }
}

/// One access-log line.
#[derive(Serialize)]
struct AccessLine<'a> {
    log: &'static str,
    time: String,
    request_id: &'a str,
    method: &'a str,
    path: &'a str,
    status: u16,
    latency_seconds: f64,
    ttft_seconds: Option<f64>,
    model: &'a str,
    target_model: &'a str,
    endpoint: Option<&'a str>,
    request_bytes: u64,
    response_bytes: u64,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    proxy_status: Option<&'a str>,
    remote: &'a str,
    user_agent: &'a str,
    /// The guard's verdict and filter names (never the matched text).
    guard: Option<&'a str>,
    /// With `log_prompts` only: the prompt redacted by the guard's filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_length: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_hash: Option<&'a str>,
}

fn line(r: &RequestRecord) -> AccessLine<'_> {
    AccessLine {
        log: "access",
        time: chrono::DateTime::from_timestamp_millis(r.start_unix_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        request_id: &r.id,
        method: &r.method,
        path: &r.path,
        status: r.status,
        latency_seconds: r.duration_seconds,
        ttft_seconds: r.ttft_seconds,
        model: &r.model,
        target_model: &r.target_model,
        endpoint: r.endpoint.as_deref(),
        request_bytes: r.request_bytes,
        response_bytes: r.response_bytes,
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        proxy_status: r.proxy_status.as_deref(),
        remote: &r.remote,
        user_agent: &r.user_agent,
        guard: r.guard.as_deref(),
        prompt: r.prompt_log.as_ref().map(|p| p.redacted.as_str()),
        prompt_length: r.prompt_log.as_ref().map(|p| p.length),
        prompt_hash: r.prompt_log.as_ref().map(|p| p.hash.as_str()),
    }
}
