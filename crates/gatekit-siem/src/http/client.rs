//! A small HTTP/1.1 client for the HTTP SIEM transports: one persistent connection per
//! endpoint (re-established after any error), TLS through the same rustls settings as the
//! syslog transports (CA, client certificate, pinning, reload on change), and a timeout per
//! request. Plain `http://` is accepted for local receivers.
//!
//! Requests are sent one at a time per endpoint (the delivery manager keeps one batch in flight
//! per destination), so a single connection is enough and keeps the receiver's view ordered.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::transport::tls::{client_config, TlsSettings};

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
    task: tokio::task::JoinHandle<Option<String>>,
}

impl Connection {
    /// `error` with the connection's own reason when it has one.
    async fn explain(self, error: String) -> String {
        match tokio::time::timeout(Duration::from_millis(200), self.task).await {
            Ok(Ok(Some(cause))) if !error.contains(&cause) => format!("{error}: {cause}"),
            _ => error,
        }
    }
}

/// The client for one endpoint.
pub struct HttpClient {
    endpoint: Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
    server_name: Option<String>,
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
    ) -> Result<HttpClient, String> {
        let config = if endpoint.tls {
            Some(Arc::new(client_config(tls)?))
        } else {
            None
        };
        Ok(HttpClient {
            endpoint,
            tls: config,
            server_name: tls.server_name.clone(),
            conn: Mutex::new(None),
            timeout,
        })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn connect(&self) -> Result<Connection, String> {
        let addr = format!("{}:{}", self.endpoint.host, self.endpoint.port);
        let tcp = TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let sender = if let Some(config) = &self.tls {
            let name = self
                .server_name
                .clone()
                .unwrap_or_else(|| self.endpoint.host.clone());
            let server_name = ServerName::try_from(name.clone())
                .map_err(|e| format!("invalid TLS server name {name}: {e}"))?;
            let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
                .connect(server_name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {addr} failed: {e}"))?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            Connection {
                sender,
                task: tokio::spawn(async move { conn.await.err().map(|e| chain(&e)) }),
            }
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| e.to_string())?;
            Connection {
                sender,
                task: tokio::spawn(async move { conn.await.err().map(|e| chain(&e)) }),
            }
        };
        Ok(sender)
    }

    /// Sends one POST; any transport error drops the connection (the next call reconnects).
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, String> {
        self.request(hyper::Method::POST, path, headers, body).await
    }

    /// Sends one GET (health checks, instance metadata).
    pub async fn get(&self, path: &str, headers: &[(&str, String)]) -> Result<Response, String> {
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
    ) -> Result<Response, String> {
        let mut guard = self.conn.lock().await;
        let result = tokio::time::timeout(self.timeout, async {
            if guard.as_ref().is_none_or(|c| c.sender.is_closed()) {
                *guard = Some(self.connect().await?);
            }
            let Some(Connection { sender, .. }) = guard.as_mut() else {
                return Err("no connection".to_string());
            };
            sender.ready().await.map_err(|e| chain(&e))?;
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
                .map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("request to {} failed: {}", self.endpoint.host, chain(&e)))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut body = response.into_body();
            let mut kept = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| chain(&e))?;
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
            Err(format!(
                "no answer from {} within {:.1} s",
                self.endpoint.host,
                self.timeout.as_secs_f64()
            ))
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
