//! A small HTTP/1.1 client for the HTTP SIEM connectors: one persistent connection per
//! endpoint (re-established after any error), TLS through the shared [`crate::tls`] settings
//! (CA, client certificate, pinning, certificates re-read when their files change), a timeout
//! per request, and typed errors ([`SiemError`]): a TLS alert or a certificate that does not
//! verify is [`SiemError::TlsRejected`] whether it came during the handshake or (TLS 1.3)
//! with the first request. Plain `http://` is accepted where the platform layer allows it.
//!
//! Requests are sent one at a time per endpoint (the delivery manager keeps one batch in flight
//! per destination), so a single connection is enough and keeps the receiver's view ordered.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::error::{tls_error_in, SiemError};
use crate::tls::{ReloadingConfig, TlsSettings};

/// An endpoint URL, parsed once at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `true` for `https://`.
    pub tls: bool,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path prefix without a trailing `/` (may be empty).
    pub prefix: String,
    /// The forward proxy to tunnel through (`https://` only; set at load by
    /// [`crate::checks::endpoint`] from `siem.https_proxy` or `HTTPS_PROXY`).
    pub proxy: Option<crate::http::proxy::Proxy>,
}

impl Endpoint {
    /// Parses `http[s]://host[:port][/prefix]`.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!(
                "{url:?} must start with https:// (or http:// for a local receiver)"
            ));
        };
        let (authority, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("bad port in {url:?}"))?,
            ),
            _ => (authority, if tls { 443 } else { 80 }),
        };
        if host.is_empty() || host.contains(':') {
            return Err(format!(
                "no usable host in {url:?} (IPv6 literals are not supported; use a name)"
            ));
        }
        Ok(Endpoint {
            tls,
            host: host.to_string(),
            port,
            prefix: prefix.trim_end_matches('/').to_string(),
            proxy: None,
        })
    }

    /// The path for `path` under the prefix.
    pub fn path(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_string()
        } else {
            format!("/{}{path}", self.prefix)
        }
    }
}

/// One response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Retry-After`, raw.
    pub retry_after: Option<String>,
    /// Body (at most 64 KiB kept).
    pub body: Vec<u8>,
}

/// One open connection and the task driving it; the task ends with the connection's error,
/// which is the only place the real cause of a failed request can be (a TLS alert such as
/// "certificate required" arrives after the handshake under TLS 1.3).
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    task: tokio::task::JoinHandle<Option<SiemError>>,
}

impl Connection {
    /// `error`, or the connection's own error when that says more: a TLS rejection found by
    /// the connection task replaces the request's generic failure.
    async fn explain(self, error: SiemError) -> SiemError {
        match tokio::time::timeout(Duration::from_millis(200), self.task).await {
            Ok(Ok(Some(cause @ SiemError::TlsRejected { .. }))) => cause,
            Ok(Ok(Some(cause))) => {
                let (text, more) = (error.to_string(), cause.to_string());
                if text.contains(&more) {
                    error
                } else {
                    SiemError::Connection(format!("{text}: {more}"))
                }
            }
            _ => error,
        }
    }
}

/// The client for one endpoint.
pub struct HttpClient {
    endpoint: Endpoint,
    tls: Option<ReloadingConfig>,
    conn: Mutex<Option<Connection>>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

const MAX_BODY: usize = 64 * 1024;

/// `e` as a typed error: a TLS rejection when a `rustls::Error` is in its source chain,
/// otherwise a connection failure with the whole chain as text.
fn classify(peer: &str, e: &(dyn std::error::Error + 'static)) -> SiemError {
    match tls_error_in(e) {
        Some(tls) => SiemError::TlsRejected {
            peer: peer.to_string(),
            reason: format!("TLS with {peer} failed: {tls}"),
        },
        None => SiemError::Connection(format!("request to {peer} failed: {}", chain(e))),
    }
}

/// An error with its sources (hyper's own text is only "connection error"; the TLS alert that
/// says *why*, such as a refused client certificate, is in the source chain).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

impl HttpClient {
    /// A client for `endpoint`; TLS settings apply to `https://` endpoints.
    pub fn new(
        endpoint: Endpoint,
        tls: &TlsSettings,
        timeout: Duration,
    ) -> Result<HttpClient, SiemError> {
        let config = if endpoint.tls {
            let label = format!("https://{}:{}", endpoint.host, endpoint.port);
            Some(ReloadingConfig::new(tls.clone(), &label)?)
        } else {
            None
        };
        Ok(HttpClient {
            endpoint,
            tls: config,
            conn: Mutex::new(None),
            timeout,
        })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn connect(&self) -> Result<Connection, SiemError> {
        let addr = format!("{}:{}", self.endpoint.host, self.endpoint.port);
        let tcp = match &self.endpoint.proxy {
            Some(proxy) => {
                proxy
                    .connect(&self.endpoint.host, self.endpoint.port)
                    .await?
            }
            None => TcpStream::connect(&addr)
                .await
                .map_err(|e| SiemError::Connect {
                    addr: addr.clone(),
                    reason: e.to_string(),
                })?,
        };
        let _ = tcp.set_nodelay(true);
        let watch = |addr: String| {
            move |result: Result<(), hyper::Error>| result.err().map(|e| classify(&addr, &e))
        };
        let connection = if let Some(tls) = &self.tls {
            let server_name = tls.server_name(&self.endpoint.host)?;
            let stream = tokio_rustls::TlsConnector::from(tls.current()?)
                .connect(server_name, tcp)
                .await
                .map_err(|e| SiemError::from_io(&addr, "TLS handshake with", &e))?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| classify(&addr, &e))?;
            let done = watch(addr);
            Connection {
                sender,
                task: tokio::spawn(async move { done(conn.await) }),
            }
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| classify(&addr, &e))?;
            let done = watch(addr);
            Connection {
                sender,
                task: tokio::spawn(async move { done(conn.await) }),
            }
        };
        Ok(connection)
    }

    /// Sends one POST; any transport error drops the connection (the next call reconnects).
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, SiemError> {
        self.request(hyper::Method::POST, path, headers, body).await
    }

    /// Sends one GET (health checks, instance metadata).
    pub async fn get(&self, path: &str, headers: &[(&str, String)]) -> Result<Response, SiemError> {
        self.request(hyper::Method::GET, path, headers, Vec::new())
            .await
    }

    /// Sends one request; `path` may carry a query string. Any transport error drops the
    /// connection (the next call reconnects).
    pub async fn request(
        &self,
        method: hyper::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, SiemError> {
        let peer = format!("{}:{}", self.endpoint.host, self.endpoint.port);
        let mut guard = self.conn.lock().await;
        let result = tokio::time::timeout(self.timeout, async {
            if guard.as_ref().is_none_or(|c| c.sender.is_closed()) {
                *guard = Some(self.connect().await?);
            }
            let Some(Connection { sender, .. }) = guard.as_mut() else {
                return Err(SiemError::Connection("no connection".to_string()));
            };
            sender.ready().await.map_err(|e| classify(&peer, &e))?;
            let mut request = hyper::Request::builder()
                .method(method.clone())
                .uri(self.endpoint.path(path))
                .header(
                    hyper::header::HOST,
                    format!("{}:{}", self.endpoint.host, self.endpoint.port),
                );
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            let request = request
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| SiemError::Setup(format!("cannot build the request: {e}")))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| classify(&peer, &e))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut body = response.into_body();
            let mut kept = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| classify(&peer, &e))?;
                if let Some(data) = frame.data_ref() {
                    let room = MAX_BODY.saturating_sub(kept.len());
                    kept.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Ok(Response {
                status,
                retry_after,
                body: kept,
            })
        })
        .await
        .unwrap_or_else(|_| {
            Err(SiemError::Timeout {
                what: format!("no answer from {}", self.endpoint.host),
                after: self.timeout,
            })
        });
        match result {
            Ok(response) => Ok(response),
            Err(error) => match guard.take() {
                Some(connection) => Err(connection.explain(error).await),
                None => Err(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn parses_endpoints() {
        let e = Endpoint::parse("https://splunk.example.com:8088").unwrap();
        assert_eq!(
            (e.tls, e.host.as_str(), e.port, e.prefix.as_str()),
            (true, "splunk.example.com", 8088, "")
        );
        assert_eq!(
            e.path("/services/collector/event"),
            "/services/collector/event"
        );
        let e = Endpoint::parse("http://127.0.0.1/proxy/splunk/").unwrap();
        assert_eq!((e.tls, e.port), (false, 80));
        assert_eq!(
            e.path("/services/collector/event"),
            "/proxy/splunk/services/collector/event"
        );
        assert_eq!(Endpoint::parse("https://h").unwrap().port, 443);
        assert!(Endpoint::parse("ftp://h").is_err());
        assert!(Endpoint::parse("https://:80").is_err());
        assert!(Endpoint::parse("https://h:99999").is_err());
    }
}
