//! Upstream connections: each proxy worker keeps its own pool of HTTP/1.1
//! connections, idle ones by endpoint. A request takes an idle connection (or
//! opens one), sends on it in its own task, and holds it as a [`Lease`] until
//! the response body ends; then the connection is idle again.
//!
//! This is hyper's `client::conn` used directly, as nginx's upstream keep-alive
//! cache works: no pool shared between threads, no task or channel per request
//! to hand the connection back.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections kept per endpoint; more are closed when they come back.
const MAX_IDLE_PER_ENDPOINT: usize = 256;

/// A connection idle this long is closed.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Why a request got no response from its endpoint.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// No connection could be opened (refused, timed out, unresolvable).
    #[error("connect to {endpoint}")]
    Connect {
        endpoint: String,
        #[source]
        source: io::Error,
    },
    /// The connection opened, but the exchange failed.
    #[error("request to {endpoint}")]
    Request {
        endpoint: String,
        #[source]
        source: hyper::Error,
    },
}

/// One worker's upstream connections. Cloning shares the pool.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    connect_timeout: Duration,
    idle: Mutex<HashMap<Box<str>, Vec<Idle>>>,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// A connection in use: it goes back to its pool when dropped, unless closed.
pub(crate) struct Lease {
    pool: Pool,
    endpoint: Box<str>,
    sender: Option<Sender>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            self.pool.put(&self.endpoint, sender);
        }
    }
}

impl Pool {
    /// A pool whose connections open within `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                connect_timeout,
                idle: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Sends `request` (origin-form URI, `Host` set) to `endpoint` on an idle
    /// connection, or a new one. A request that an idle connection closed
    /// before it was written is sent again, on another one.
    pub async fn send(
        &self,
        endpoint: &str,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease), SendError> {
        loop {
            let (mut sender, reused) = match self.take_ready(endpoint).await {
                Some(sender) => (sender, true),
                None => (self.connect(endpoint).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let lease = Lease {
                        pool: self.clone(),
                        endpoint: endpoint.into(),
                        sender: Some(sender),
                    };
                    return Ok((response, lease));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => {
                        return Err(SendError::Request {
                            endpoint: endpoint.to_owned(),
                            source: e.into_error(),
                        });
                    }
                },
            }
        }
    }

    /// The newest idle connection to `endpoint` that is still open.
    async fn take_ready(&self, endpoint: &str) -> Option<Sender> {
        loop {
            let Idle { mut sender, .. } = self.lock().get_mut(endpoint)?.pop()?;
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self, endpoint: &str) -> Result<Sender, SendError> {
        let connect_err = |source| SendError::Connect {
            endpoint: endpoint.to_owned(),
            source,
        };
        let stream = tokio::time::timeout(self.inner.connect_timeout, TcpStream::connect(endpoint))
            .await
            .map_err(|_| {
                connect_err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection within {:?}", self.inner.connect_timeout),
                ))
            })?
            .map_err(connect_err)?;
        stream.set_nodelay(true).map_err(connect_err)?;
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|source| SendError::Request {
                    endpoint: endpoint.to_owned(),
                    source,
                })?;
        let endpoint = endpoint.to_owned();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(endpoint, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    fn put(&self, endpoint: &str, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let since = Instant::now();
        let mut idle = self.lock();
        match idle.get_mut(endpoint) {
            Some(list) if list.len() < MAX_IDLE_PER_ENDPOINT => list.push(Idle { sender, since }),
            Some(_) => {}
            None => {
                idle.insert(endpoint.into(), vec![Idle { sender, since }]);
            }
        }
    }

    /// Closes connections idle for [`IDLE_TIMEOUT`] at `now` or closed by
    /// their server, and forgets endpoints with none left.
    pub fn sweep(&self, now: Instant) {
        self.lock().retain(|_, list| {
            list.retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < IDLE_TIMEOUT);
            !list.is_empty()
        });
    }

    /// Idle connections to `endpoint`.
    #[cfg(test)]
    pub fn idle(&self, endpoint: &str) -> usize {
        self.lock().get(endpoint).map_or(0, Vec::len)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Box<str>, Vec<Idle>>> {
        // The map stays consistent whatever a panicking holder did.
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use hyper::header::HOST;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

    /// A server answering `per_connection` requests on each connection it
    /// accepts, then closing it; counts connections.
    async fn upstream(per_connection: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    for _ in 0..per_connection {
                        // Each request here is one small read (no body).
                        if stream.read(&mut buf).await.unwrap_or(0) == 0 {
                            return;
                        }
                        stream.write_all(REPLY).await.unwrap();
                    }
                });
            }
        });
        (endpoint, accepted)
    }

    fn get(endpoint: &str) -> Request<Full<Bytes>> {
        Request::get("/")
            .header(HOST, endpoint)
            .body(Full::default())
            .unwrap()
    }

    async fn round_trip(pool: &Pool, endpoint: &str) {
        let (response, lease) = pool.send(endpoint, get(endpoint)).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "ok");
        drop(lease);
    }

    #[tokio::test]
    async fn a_connection_serves_request_after_request_and_idles_out() {
        let (endpoint, accepted) = upstream(usize::MAX).await;
        let pool = Pool::new(Duration::from_secs(1));
        for _ in 0..5 {
            round_trip(&pool, &endpoint).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle(&endpoint), 1);
        let now = Instant::now();
        pool.sweep(now);
        assert_eq!(pool.idle(&endpoint), 1, "swept before its idle timeout");
        pool.sweep(now + IDLE_TIMEOUT);
        assert_eq!(pool.idle(&endpoint), 0);
    }

    #[tokio::test]
    async fn a_connection_its_server_closed_is_not_used_again() {
        let (endpoint, accepted) = upstream(1).await;
        let pool = Pool::new(Duration::from_secs(1));
        round_trip(&pool, &endpoint).await;
        // The server closes after one answer; once the pool sees it, the
        // connection is gone and the next request opens another.
        while pool.idle(&endpoint) > 0 {
            tokio::task::yield_now().await;
            pool.sweep(Instant::now());
        }
        round_trip(&pool, &endpoint).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_requests_get_connections_of_their_own() {
        let (endpoint, accepted) = upstream(usize::MAX).await;
        let pool = Pool::new(Duration::from_secs(1));
        let (a, b) = tokio::join!(
            pool.send(&endpoint, get(&endpoint)),
            pool.send(&endpoint, get(&endpoint))
        );
        drop((a.unwrap(), b.unwrap()));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let endpoint = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().to_string()
        };
        let pool = Pool::new(Duration::from_secs(1));
        let err = pool.send(&endpoint, get(&endpoint)).await.err().unwrap();
        match err {
            SendError::Connect { source, .. } => {
                assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
            }
            other => panic!("{other}"),
        }
    }
}
