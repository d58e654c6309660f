//! Upstream side: header filtering, and the attempt loop (one retry on
//! `endpoints[1]` for connect failures and 5xx) over the worker's [`Pool`].

use std::error::Error as _;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, HOST, HeaderName, HeaderValue};
use hyper::http::uri::PathAndQuery;
use hyper::{HeaderMap, Method, Request, Response, StatusCode, Uri};

use super::errors::{ApiError, proxy_status};
use super::pool::{Lease, Pool, SendError};
use super::record::{InFlight, Tracker};
use super::types::Router;

/// Header naming the endpoint a request is sent to.
pub(crate) const DESTINATION: HeaderName =
    HeaderName::from_static("x-gateway-destination-endpoint");
/// Response header naming the endpoint that served.
pub(crate) const DESTINATION_SERVED: HeaderName =
    HeaderName::from_static("x-gateway-destination-endpoint-served");

/// At most this many endpoints are tried per request.
const MAX_TRIES: usize = 2;

/// Headers meaningful for one connection only (RFC 9110 section 7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-authenticate"),
    HeaderName::from_static("proxy-authorization"),
    HeaderName::from_static("te"),
    HeaderName::from_static("trailer"),
    HeaderName::from_static("transfer-encoding"),
    HeaderName::from_static("upgrade"),
];

/// Removes hop-by-hop headers, including those named by `Connection`.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// The client's headers as sent upstream (without `Host` and `Content-Length`,
/// which are set per attempt).
pub(crate) fn request_headers(mut headers: HeaderMap) -> HeaderMap {
    strip_hop_by_hop(&mut headers);
    headers.remove(HOST);
    headers.remove(CONTENT_LENGTH);
    headers
}

/// Upstream response headers as sent to the client.
pub(crate) fn response_headers(headers: &mut HeaderMap, endpoint: &str) {
    strip_hop_by_hop(headers);
    if let Ok(value) = HeaderValue::from_str(endpoint) {
        headers.insert(DESTINATION_SERVED, value);
    }
}

/// One request to forward.
pub(crate) struct Forward<'a> {
    pub pool: &'a Pool,
    pub router: &'a Arc<dyn Router>,
    pub method: Method,
    pub path_and_query: PathAndQuery,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub endpoints: &'a [String],
}

/// The upstream response headers arrived from `endpoint`.
pub(crate) struct Answer {
    pub response: Response<Incoming>,
    pub held: Held,
    pub endpoint: String,
}

/// What an upstream response holds until its body ends: its connection (idle
/// again then) and its endpoint's in-flight slot.
pub(crate) struct Held {
    _connection: Lease,
    _in_flight: InFlight,
}

/// Sends the request to `endpoints[0]`, then once to `endpoints[1]` after a
/// connect failure or a 5xx. Updates `endpoint`, `retried` and
/// `proxy_status` of the record as it goes.
pub(crate) async fn forward(
    mut fwd: Forward<'_>,
    tracker: &mut Tracker,
) -> Result<Answer, ApiError> {
    let tries = fwd.endpoints.len().min(MAX_TRIES);
    for (i, endpoint) in fwd.endpoints.iter().take(tries).enumerate() {
        let last = i + 1 == tries;
        tracker.record.endpoint = Some(endpoint.clone());
        tracker.record.retried = i > 0;
        // The headers are cloned only when another attempt may follow.
        let headers = if last {
            std::mem::take(&mut fwd.headers)
        } else {
            fwd.headers.clone()
        };
        let request = build_request(&fwd, endpoint, headers)?;
        let in_flight = InFlight::start(fwd.router, endpoint);
        match fwd.pool.send(endpoint, request).await {
            Ok((response, _)) if response.status().is_server_error() && !last => {
                let status = response.status().as_u16();
                tracing::debug!(endpoint, status, "upstream 5xx, retrying");
                tracker.record.proxy_status =
                    Some(proxy_status("destination_unavailable", None, Some(status)));
            }
            Ok((response, connection)) => {
                return Ok(Answer {
                    response,
                    held: Held {
                        _connection: connection,
                        _in_flight: in_flight,
                    },
                    endpoint: endpoint.clone(),
                });
            }
            Err(e) => {
                let failure = Failure::classify(&e);
                tracing::debug!(endpoint, error = %failure.details, "upstream request failed");
                tracker.record.proxy_status = Some(proxy_status(
                    failure.error_type,
                    Some(&failure.details),
                    None,
                ));
                if last || !failure.retryable {
                    return Err(ApiError::upstream(
                        failure.status,
                        failure.error_type,
                        &failure.details,
                    ));
                }
            }
        }
    }
    Err(ApiError::upstream(
        StatusCode::BAD_GATEWAY,
        "proxy_internal_error",
        "no endpoint to try",
    ))
}

fn build_request(
    fwd: &Forward<'_>,
    endpoint: &str,
    mut headers: HeaderMap,
) -> Result<Request<Full<Bytes>>, ApiError> {
    let internal = |details: String| {
        ApiError::upstream(StatusCode::BAD_GATEWAY, "proxy_internal_error", &details)
    };
    let destination = HeaderValue::from_str(endpoint)
        .map_err(|e| internal(format!("bad endpoint {endpoint:?}: {e}")))?;
    let mut request = Request::new(Full::new(fwd.body.clone()));
    *request.method_mut() = fwd.method.clone();
    *request.uri_mut() = Uri::from(fwd.path_and_query.clone());
    headers.insert(HOST, destination.clone());
    headers.insert(CONTENT_LENGTH, HeaderValue::from(fwd.body.len()));
    headers.insert(DESTINATION, destination);
    *request.headers_mut() = headers;
    Ok(request)
}

/// An upstream error sorted into an RFC 9209 error type.
struct Failure {
    status: StatusCode,
    error_type: &'static str,
    retryable: bool,
    details: String,
}

impl Failure {
    fn classify(e: &SendError) -> Self {
        let mut details = e.to_string();
        let mut io_kind = None;
        let mut source = e.source();
        while let Some(s) = source {
            details.push_str(": ");
            details.push_str(&s.to_string());
            if let Some(io) = s.downcast_ref::<io::Error>() {
                io_kind.get_or_insert(io.kind());
            }
            source = s.source();
        }
        let connect = matches!(e, SendError::Connect { .. });
        let (status, error_type, retryable) = match (connect, io_kind) {
            (true, Some(io::ErrorKind::ConnectionRefused)) => {
                (StatusCode::BAD_GATEWAY, "connection_refused", true)
            }
            (true, Some(io::ErrorKind::TimedOut)) => {
                (StatusCode::GATEWAY_TIMEOUT, "connection_timeout", true)
            }
            (true, _) => (StatusCode::BAD_GATEWAY, "destination_unavailable", true),
            (false, _) => (StatusCode::BAD_GATEWAY, "http_protocol_error", false),
        };
        Self {
            status,
            error_type,
            retryable,
            details,
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "close, x-private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "x"),
            ("host", "client"),
            ("content-length", "3"),
            ("authorization", "Bearer k"),
        ] {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let out = request_headers(h);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["authorization"]);
    }
}
