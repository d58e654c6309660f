//! OpenAI-style error bodies and RFC 9209 `Proxy-Status` values.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;

/// Error of a streamed response body.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Body of every response the proxy sends.
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

/// Name of this intermediary in `Proxy-Status`.
const PROXY_NAME: &str = "poolpilot";

/// A complete in-memory body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// An error the proxy answers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: &'static str,
    /// Extra `Proxy-Status` value, for errors about the upstream.
    pub proxy_status: Option<String>,
    /// `Retry-After` seconds, for 429.
    pub retry_after_s: Option<u32>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: String,
    ) -> Self {
        Self {
            status,
            message,
            kind,
            code,
            proxy_status: None,
            retry_after_s: None,
        }
    }

    pub fn invalid(status: StatusCode, code: &'static str, message: String) -> Self {
        Self::new(status, "invalid_request_error", code, message)
    }

    pub fn unknown_url(method: &str, path: &str) -> Self {
        Self::invalid(
            StatusCode::NOT_FOUND,
            "unknown_url",
            format!("Invalid URL ({method} {path})"),
        )
    }

    pub fn model_not_found(model: &str) -> Self {
        Self::invalid(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
    }

    pub fn shed(retry_after_s: u32) -> Self {
        Self {
            retry_after_s: Some(retry_after_s),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limit_exceeded",
                "The server is overloaded; retry later.".to_owned(),
            )
        }
    }

    pub fn no_endpoint(model: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "no_endpoint",
            format!("No endpoint is available for model `{model}`."),
        )
    }

    /// An upstream failure classified per RFC 9209.
    pub fn upstream(status: StatusCode, error_type: &'static str, details: &str) -> Self {
        Self {
            proxy_status: Some(proxy_status(error_type, Some(details), None)),
            ..Self::new(
                status,
                "server_error",
                error_type,
                format!("Upstream request failed: {error_type}"),
            )
        }
    }

    /// The response sent to the client.
    pub fn into_response(self) -> Response<ProxyBody> {
        let body = json!({
            "error": { "message": self.message, "type": self.kind, "code": self.code }
        });
        let mut resp = json_response(self.status, &body);
        let headers = resp.headers_mut();
        if let Some(secs) = self.retry_after_s {
            headers.insert(hyper::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(value) = self
            .proxy_status
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert("proxy-status", value);
        }
        resp
    }
}

/// A `Proxy-Status` member for this proxy (RFC 9209 section 2).
pub(crate) fn proxy_status(
    error_type: &str,
    details: Option<&str>,
    received_status: Option<u16>,
) -> String {
    let mut out = format!("{PROXY_NAME}; error={error_type}");
    if let Some(status) = received_status {
        out.push_str(&format!("; received-status={status}"));
    }
    if let Some(details) = details {
        let escaped: String = details
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        out.push_str(&format!("; details=\"{escaped}\""));
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn proxy_status_escapes_details() {
        assert_eq!(
            proxy_status("connection_refused", Some("a \"b\" \\ é"), None),
            r#"poolpilot; error=connection_refused; details="a \"b\" \\ ""#
        );
        assert_eq!(
            proxy_status("destination_unavailable", None, Some(503)),
            "poolpilot; error=destination_unavailable; received-status=503"
        );
    }
}
