//! A small HTTP/1.1 server for the strict receivers: it runs on its own thread and runtime,
//! binds 127.0.0.1 on a free port, optionally speaks TLS, un-gzips request bodies, and stops
//! (joining its thread) when dropped, so a test never leaves a listener behind.
//!
//! A receiver is a plain function from [`Request`] to [`Reply`]; the reply may ask for a delay
//! (a slow receiver) or for the connection to be dropped without an answer, which is how the
//! receivers inject the faults the transports must survive.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// One request, read whole.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query string without `?` (empty when absent).
    pub query: String,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body, already un-gzipped when `Content-Encoding: gzip` was sent.
    pub body: Bytes,
    /// Size of the body as it was on the wire (compressed size when gzipped).
    pub wire_len: usize,
}

impl Request {
    /// The first header called `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query parameter `name`, percent-decoding not applied (receivers compare raw values).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Close the connection without answering.
    pub drop_connection: bool,
}

impl Reply {
    /// A reply with `status` and a JSON body.
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: None,
            drop_connection: false,
        }
    }

    /// A reply with `status` and no body.
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: None,
            drop_connection: false,
        }
    }

    /// No answer: the connection is closed.
    pub fn hang_up() -> Reply {
        Reply {
            drop_connection: true,
            ..Reply::empty(0)
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Adds `Retry-After: <seconds>` when `seconds` is given.
    pub fn with_retry_after(self, seconds: Option<u64>) -> Reply {
        match seconds {
            Some(s) => self.with_header("retry-after", s.to_string()),
            None => self,
        }
    }

    /// Answers after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }
}

/// Locks a receiver's state, ignoring poisoning (a panicking test thread must not hide what
/// the receiver saw).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The function a receiver implements.
pub type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

/// A running server; stops when dropped.
pub struct HttpServer {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("port", &self.port)
            .finish()
    }
}

/// Requests whose body is larger than this are answered 413 before the handler sees them
/// (a bound for the receivers' memory, far above any endpoint's own limit).
const MAX_REQUEST: usize = 64 * 1024 * 1024;

impl HttpServer {
    /// Serves `handler` over plain HTTP on a free port.
    pub fn start(handler: Handler) -> std::io::Result<HttpServer> {
        Self::spawn(0, handler, None)
    }

    /// Serves `handler` over HTTPS with `tls` on a free port.
    pub fn start_tls(handler: Handler, tls: rustls::ServerConfig) -> std::io::Result<HttpServer> {
        Self::spawn(0, handler, Some(Arc::new(tls)))
    }

    /// Serves `handler` on `port` (0: a free one), over HTTPS when `tls` is given.
    pub fn start_at(
        port: u16,
        handler: Handler,
        tls: Option<rustls::ServerConfig>,
    ) -> std::io::Result<HttpServer> {
        Self::spawn(port, handler, tls.map(Arc::new))
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(
        port: u16,
        handler: Handler,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<HttpServer> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("receiver-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                    loop {
                        tokio::select! {
                            _ = &mut stop_rx => return,
                            accepted = listener.accept() => {
                                let Ok((tcp, _)) = accepted else { continue };
                                let _ = tcp.set_nodelay(true);
                                let handler = Arc::clone(&handler);
                                let acceptor = acceptor.clone();
                                tokio::spawn(async move {
                                    match acceptor {
                                        Some(acceptor) => {
                                            if let Ok(stream) = acceptor.accept(tcp).await {
                                                serve(TokioIo::new(stream), handler).await;
                                            }
                                        }
                                        None => serve(TokioIo::new(tcp), handler).await,
                                    }
                                });
                            }
                        }
                    }
                });
            })?;
        Ok(HttpServer {
            port,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve<S>(io: TokioIo<S>, handler: Handler)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let handler = Arc::clone(&handler);
        async move {
            let reply = match read(req).await {
                Ok(request) => handler(request),
                Err(reply) => reply,
            };
            if let Some(delay) = reply.delay {
                tokio::time::sleep(delay).await;
            }
            if reply.drop_connection {
                return Err("dropping the connection as scripted".to_string());
            }
            let mut response = hyper::Response::builder().status(reply.status);
            for (name, value) in &reply.headers {
                response = response.header(name.as_str(), value.as_str());
            }
            response
                .body(Full::new(Bytes::from(reply.body)))
                .map_err(|e| e.to_string())
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

async fn read(req: hyper::Request<Incoming>) -> Result<Request, Reply> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let limited = http_body_util::Limited::new(req.into_body(), MAX_REQUEST);
    let wire = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(Reply::empty(413)),
    };
    let wire_len = wire.len();
    let gzipped = headers
        .iter()
        .any(|(n, v)| n == "content-encoding" && v.eq_ignore_ascii_case("gzip"));
    let body = if gzipped {
        use std::io::Read;
        let mut out = Vec::new();
        let decoder = flate2::read::GzDecoder::new(&wire[..]);
        if decoder
            .take(MAX_REQUEST as u64)
            .read_to_end(&mut out)
            .is_err()
        {
            return Err(Reply::json(
                400,
                &serde_json::json!({"error": "body is not valid gzip"}),
            ));
        }
        Bytes::from(out)
    } else {
        wire
    };
    Ok(Request {
        method,
        path,
        query,
        headers,
        body,
        wire_len,
    })
}
