//! The floor: a proxy of hyper alone, doing only what nginx does in the same run
//! (round-robin over the servers, upstream keep-alive, hop-by-hop `Connection`
//! dropped), with the router's worker model: one thread, event loop, reuse-port
//! listener and connection cache per CPU. The router's own work per request
//! (reading the body, picking, metrics, events, access log) is what it costs
//! above this line; the HTTP library's is what this line costs above nginx.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self as client, SendRequest};
use hyper::header::{CONNECTION, HOST, HeaderValue};
use hyper::server::conn::http1 as server;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};

type Sender = SendRequest<Incoming>;

/// Idle upstream connections of one worker, by server.
struct Cache {
    servers: Vec<SocketAddr>,
    next: AtomicUsize,
    idle: Vec<Mutex<Vec<Sender>>>,
}

/// Serves on `listen` with one worker per CPU, forever.
pub fn serve(listen: SocketAddr, servers: Vec<SocketAddr>) -> ! {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    for _ in 0..workers {
        let servers = servers.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(worker(listen, servers));
        });
    }
    loop {
        std::thread::park();
    }
}

async fn worker(listen: SocketAddr, servers: Vec<SocketAddr>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseport(true).unwrap();
    socket.bind(listen).unwrap();
    let listener = socket.listen(1024).unwrap();
    let cache = Arc::new(Cache {
        idle: servers.iter().map(|_| Mutex::new(Vec::new())).collect(),
        next: AtomicUsize::new(0),
        servers,
    });
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(true).unwrap();
        let cache = Arc::clone(&cache);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let cache = Arc::clone(&cache);
                async move { Ok::<_, Infallible>(forward(&cache, req).await) }
            });
            let _ = server::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn forward(cache: &Arc<Cache>, mut req: Request<Incoming>) -> Response<Returning> {
    let i = cache.next.fetch_add(1, Ordering::Relaxed) % cache.servers.len();
    let addr = cache.servers[i];
    req.headers_mut().remove(CONNECTION);
    req.headers_mut()
        .insert(HOST, HeaderValue::from_str(&addr.to_string()).unwrap());
    let mut sender = loop {
        let idle = cache.idle[i].lock().unwrap().pop();
        match idle {
            Some(mut s) => {
                if s.ready().await.is_ok() {
                    break s;
                }
            }
            None => {
                let stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (s, conn) = client::handshake(TokioIo::new(stream)).await.unwrap();
                tokio::spawn(conn);
                break s;
            }
        }
    };
    match sender.send_request(req).await {
        Ok(response) => response.map(|body| Returning {
            body: Some(body),
            back: Some((Arc::clone(cache), i, sender)),
        }),
        Err(_) => {
            let mut response = Response::new(Returning {
                body: None,
                back: None,
            });
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    }
}

/// The upstream body; its connection goes back to the cache when it is dropped.
struct Returning {
    body: Option<Incoming>,
    back: Option<(Arc<Cache>, usize, Sender)>,
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let Some((cache, i, sender)) = self.back.take() {
            cache.idle[i].lock().unwrap().push(sender);
        }
    }
}

impl Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.body {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
