//! TLS syslog (RFC 5425 transport, framing per destination): SC4S on 6514 and QRadar's TLS
//! Syslog log source.
//!
//! * TLS settings, pins and certificate reloading are the shared [`crate::tls`] ones.
//! * After the handshake the transport waits briefly for the peer to hang up: GnuTLS-based
//!   rsyslog accepts a handshake without the client certificate it requires and then closes
//!   the connection silently (docs/reference/real-peers.md), and writes into such a
//!   connection would appear to succeed under TLS 1.3. Such a hang-up is a
//!   [`SiemError::TlsRejected`], an authentication failure.
//! * That probe makes a connection cost at least [`CLOSE_PROBE`], so the pipeline opens the
//!   first connection as it starts ([`Transport::prepare`]) instead of on the first event.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gatekit_delivery::{BatchOutcome, PrepareFuture, Record, SendFuture, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::auth::{AuthMonitor, AuthReporter};
use crate::error::SiemError;
use crate::tls::{ReloadingConfig, TlsSettings};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to watch a fresh connection for an immediate hang-up by the peer.
const CLOSE_PROBE: Duration = Duration::from_millis(100);

/// A TLS syslog peer.
pub struct TlsTransport {
    name: String,
    host: String,
    port: u16,
    tls: ReloadingConfig,
    conn: Mutex<Option<TlsStream<TcpStream>>>,
    /// The connection in `conn` was opened by [`Transport::prepare`] and its successful
    /// authentication is not reported yet: that waits for the first batch, when the sink that
    /// turns the report into a system_event surely exists.
    success_unreported: AtomicBool,
    auth: AuthReporter,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsTransport {
    /// A transport to `host:port`; the configuration is built (and checked) now.
    pub fn new(host: &str, port: u16, settings: TlsSettings) -> Result<Self, SiemError> {
        let name = format!("tls:{host}:{port}");
        Ok(TlsTransport {
            tls: ReloadingConfig::new(settings, &name)?,
            auth: AuthReporter::detached(&name),
            name,
            host: host.to_string(),
            port,
            conn: Mutex::new(None),
            success_unreported: AtomicBool::new(false),
        })
    }

    /// Reports authentication failures to `monitor`.
    pub fn with_auth_monitor(mut self, monitor: Arc<AuthMonitor>) -> Self {
        self.auth = AuthReporter::new(&self.name, monitor);
        self
    }

    async fn connect(&self) -> Result<TlsStream<TcpStream>, SiemError> {
        let config = self.tls.current()?;
        let server_name = self.tls.server_name(&self.host)?;
        let addr = format!("{}:{}", self.host, self.port);
        let timed_out = |what: &str| SiemError::Timeout {
            what: format!("{what} {addr}"),
            after: CONNECT_TIMEOUT,
        };
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                return Err(SiemError::Connect {
                    addr,
                    reason: e.to_string(),
                })
            }
            Err(_) => return Err(timed_out("no connection to")),
        };
        let _ = tcp.set_nodelay(true);
        let mut stream = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            TlsConnector::from(config).connect(server_name, tcp),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(SiemError::from_io(&addr, "TLS handshake with", &e)),
            Err(_) => return Err(timed_out("no TLS handshake with")),
        };
        // A syslog receiver never sends application data; anything readable right after the
        // handshake is a close or an alert (for example "certificate required").
        let mut probe = [0u8; 1];
        let rejected = |reason: String| SiemError::TlsRejected {
            peer: addr.clone(),
            reason,
        };
        match tokio::time::timeout(CLOSE_PROBE, stream.read(&mut probe)).await {
            Err(_) => Ok(stream),
            Ok(Ok(0)) => Err(rejected(format!(
                "{addr} closed the TLS connection right after the handshake (client certificate refused?)"
            ))),
            Ok(Ok(_)) => Err(SiemError::Protocol(format!(
                "{addr} sent unexpected data after the TLS handshake"
            ))),
            Ok(Err(e)) => Err(rejected(format!("{addr} rejected the TLS connection: {e}"))),
        }
    }
}

impl Transport for TlsTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn prepare(&self) -> PrepareFuture<'_> {
        Box::pin(async move {
            let mut conn = self.conn.lock().await;
            if conn.is_some() {
                return;
            }
            match self.connect().await {
                Ok(stream) => {
                    *conn = Some(stream);
                    self.success_unreported.store(true, Ordering::Relaxed);
                }
                // Not reported here: the first batch connects again and reports what it meets
                // (an authentication failure becomes a system_event there, once).
                Err(error) => {
                    tracing::debug!(transport = %self.name, error = %crate::secret::log_safe(&error.to_string()), "TLS connection ahead of the first batch failed.")
                }
            }
        })
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut conn = self.conn.lock().await;
            // An idle connection the peer has closed would swallow the next batch (see tcp.rs).
            let dead = match conn.as_ref() {
                Some(c) => super::tcp::peer_hung_up(c.get_ref().0).await,
                None => false,
            };
            if dead {
                *conn = None;
            }
            if conn.is_some() && self.success_unreported.swap(false, Ordering::Relaxed) {
                self.auth.succeeded();
            }
            let stream = match conn.as_mut() {
                Some(stream) => stream,
                None => match self.connect().await {
                    Ok(stream) => {
                        self.success_unreported.store(false, Ordering::Relaxed);
                        self.auth.succeeded();
                        conn.insert(stream)
                    }
                    Err(error) => {
                        tracing::warn!(transport = %self.name, error = %crate::secret::log_safe(&error.to_string()), "TLS connection failed.");
                        // Certificate, pin and client-certificate trouble (not plain network
                        // errors) are authentication failures worth a system_event.
                        return self.auth.connection_failed(&error);
                    }
                },
            };
            let buf = crate::connector::batch::concatenated(batch);
            match stream.write_all(&buf).await.and(stream.flush().await) {
                // Delivered only once the peer's TCP stack has every byte (`acked.rs`).
                Ok(()) => {
                    let fd = stream.get_ref().0.as_raw_fd();
                    let peer = format!("{}:{}", self.host, self.port);
                    match super::acked::wait_acknowledged(fd, &peer).await {
                        Ok(()) => BatchOutcome::Delivered,
                        Err(error) => {
                            *conn = None;
                            error.retry()
                        }
                    }
                }
                Err(e) => {
                    *conn = None;
                    let peer = format!("{}:{}", self.host, self.port);
                    let error = SiemError::from_io(&peer, "TLS write to", &e);
                    self.auth.connection_failed(&error)
                }
            }
        })
    }
}
