//! TLS syslog (RFC 5425 transport, framing per destination): SC4S on 6514 and QRadar's TLS
//! Syslog log source.
//!
//! * rustls with the ring provider; TLS 1.2 and 1.3; server verification on unless
//!   `verify_certs: false` (logged loudly at start-up).
//! * Trust: `ca_file`, else the system bundle (`/etc/ssl/certs/ca-certificates.crt`).
//! * Mutual TLS: `cert_file` + `key_file`. Optional pinning: the SHA-256 of the server's
//!   end-entity certificate must be one of `pins` (checked in addition to verification).
//! * Certificates and keys are re-read when their files change, at the next connection, so a
//!   rotation needs no restart.
//! * After the handshake the transport waits briefly for the peer to hang up: GnuTLS-based
//!   rsyslog accepts a handshake without the client certificate it requires and then closes
//!   the connection silently (docs/reference/real-peers.md §4), and writes into such a connection
//!   would appear to succeed under TLS 1.3.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::auth::{AuthMonitor, AuthReporter};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to watch a fresh connection for an immediate hang-up by the peer.
const CLOSE_PROBE: Duration = Duration::from_millis(100);
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// TLS settings, checked at load.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Verify the server's certificate chain and name.
    pub verify: bool,
    /// Trust anchors (PEM); the system bundle when `None`.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// Client private key (PEM).
    pub key_file: Option<PathBuf>,
    /// Allowed SHA-256 fingerprints (lower-case hex) of the server certificate.
    pub pins: Vec<String>,
    /// Name checked against the certificate (SNI); the host when `None`.
    pub server_name: Option<String>,
}

impl Default for TlsSettings {
    /// Verification on against the system roots, no client certificate, no pins.
    fn default() -> Self {
        TlsSettings {
            verify: true,
            ca_file: None,
            cert_file: None,
            key_file: None,
            pins: Vec::new(),
            server_name: None,
        }
    }
}

struct Connection {
    stream: TlsStream<TcpStream>,
}

struct State {
    conn: Option<Connection>,
    config: Option<(Arc<ClientConfig>, Vec<Option<SystemTime>>)>,
}

/// A TLS syslog peer.
pub struct TlsTransport {
    name: String,
    host: String,
    port: u16,
    settings: TlsSettings,
    state: Mutex<State>,
    auth: AuthReporter,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn mtime(path: &Option<PathBuf>) -> Option<SystemTime> {
    path.as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A pin as the verifier compares it: a SHA-256 fingerprint as 64 lower-case hex digits.
/// Colons are accepted (`openssl x509 -fingerprint -sha256` prints `AB:CD:...`); anything
/// else is an error at load, not a handshake that fails for every batch.
pub fn normalize_pin(pin: &str) -> Result<String, String> {
    let hex: String = pin
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(format!(
            "pin {pin:?} is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed)"
        ))
    }
}

/// Builds the client configuration from the files as they are now.
pub fn client_config(s: &TlsSettings) -> Result<ClientConfig, String> {
    let pins = s
        .pins
        .iter()
        .map(|p| normalize_pin(p))
        .collect::<Result<Vec<_>, _>>()?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let ca = s
        .ca_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(SYSTEM_BUNDLE));
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&ca)
        .map_err(|e| format!("cannot read CA file {}: {e}", ca.display()))?
    {
        let cert = cert.map_err(|e| format!("bad certificate in {}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("unusable CA certificate in {}: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("no CA certificates in {}", ca.display()));
    }
    let webpki =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| e.to_string())?;
    let verifier = Arc::new(Verifier {
        inner: webpki,
        verify: s.verify,
        pins,
    });
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&s.cert_file, &s.key_file) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("cannot read client certificate {}: {e}", cert.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("bad client certificate {}: {e}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("cannot read client key {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate and key do not match: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("mutual TLS needs both cert_file and key_file".into()),
    };
    Ok(config)
}

/// Verification with optional certificate pinning on top of WebPKI.
#[derive(Debug)]
struct Verifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    verify: bool,
    pins: Vec<String>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.verify {
            self.inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        }
        if !self.pins.is_empty() {
            let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
            let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            if !self.pins.contains(&hex) {
                return Err(rustls::Error::General(format!(
                    "server certificate sha256 {hex} matches no configured pin"
                )));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

impl TlsTransport {
    /// A transport to `host:port`; the configuration is built (and checked) now.
    pub fn new(host: &str, port: u16, settings: TlsSettings) -> Result<Self, String> {
        client_config(&settings)?;
        Ok(TlsTransport {
            name: format!("tls:{host}:{port}"),
            host: host.to_string(),
            port,
            settings,
            state: Mutex::new(State {
                conn: None,
                config: None,
            }),
            auth: AuthReporter::detached(&format!("tls:{host}:{port}")),
        })
    }

    /// Reports authentication failures to `monitor`.
    pub fn with_auth_monitor(mut self, monitor: Arc<AuthMonitor>) -> Self {
        self.auth = AuthReporter::new(&self.name, monitor);
        self
    }

    fn files(&self) -> Vec<Option<SystemTime>> {
        vec![
            mtime(&self.settings.ca_file),
            mtime(&self.settings.cert_file),
            mtime(&self.settings.key_file),
        ]
    }

    async fn connect(&self, state: &mut State) -> Result<(), String> {
        let files = self.files();
        let config = match &state.config {
            Some((config, seen)) if *seen == files => Arc::clone(config),
            _ => {
                // First use, or a certificate/key file changed: (re)load it.
                let config = Arc::new(client_config(&self.settings)?);
                if state.config.is_some() {
                    tracing::info!(transport = %self.name, "TLS certificates reloaded.");
                }
                state.config = Some((Arc::clone(&config), files));
                config
            }
        };
        let name = self
            .settings
            .server_name
            .clone()
            .unwrap_or_else(|| self.host.clone());
        let server_name = ServerName::try_from(name.clone())
            .map_err(|e| format!("invalid TLS server name {name}: {e}"))?;
        let addr = format!("{}:{}", self.host, self.port);
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(format!("cannot connect to {addr}: {e}")),
            Err(_) => return Err(format!("connecting to {addr} timed out")),
        };
        let _ = tcp.set_nodelay(true);
        let mut stream = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            TlsConnector::from(config).connect(server_name, tcp),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("TLS handshake with {addr} failed: {e}")),
            Err(_) => return Err(format!("TLS handshake with {addr} timed out")),
        };
        // A syslog receiver never sends application data; anything readable right after the
        // handshake is a close or an alert (for example "certificate required").
        let mut probe = [0u8; 1];
        match tokio::time::timeout(CLOSE_PROBE, stream.read(&mut probe)).await {
            Err(_) => {}
            Ok(Ok(0)) => return Err(format!("{addr} closed the TLS connection right after the handshake (client certificate refused?)")),
            Ok(Ok(_)) => return Err(format!("{addr} sent unexpected data after the TLS handshake")),
            Ok(Err(e)) => return Err(format!("{addr} rejected the TLS connection: {e}")),
        }
        state.conn = Some(Connection { stream });
        Ok(())
    }
}

impl Transport for TlsTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut state = self.state.lock().await;
            // An idle connection the peer has closed would swallow the next batch (see tcp.rs).
            let dead = match state.conn.as_ref() {
                Some(c) => crate::transport::tcp::peer_hung_up(c.stream.get_ref().0).await,
                None => false,
            };
            if dead {
                state.conn = None;
            }
            if state.conn.is_none() {
                match self.connect(&mut state).await {
                    Ok(()) => {
                        self.auth.succeeded();
                    }
                    Err(reason) => {
                        tracing::warn!(transport = %self.name, %reason, "TLS connection failed.");
                        // Certificate, pin and client-certificate trouble (not plain network
                        // errors) are authentication failures worth a system_event.
                        self.auth.connection_failed(&reason);
                        return BatchOutcome::Retry {
                            reason,
                            retry_after: None,
                        };
                    }
                }
            }
            let Some(conn) = state.conn.as_mut() else {
                return BatchOutcome::Retry {
                    reason: "no connection".into(),
                    retry_after: None,
                };
            };
            let buf = super::concatenated(batch);
            match conn
                .stream
                .write_all(&buf)
                .await
                .and(conn.stream.flush().await)
            {
                Ok(()) => BatchOutcome::Delivered,
                Err(e) => {
                    state.conn = None;
                    BatchOutcome::Retry {
                        reason: format!("TLS write to {}:{} failed: {e}", self.host, self.port),
                        retry_after: None,
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_pin;

    #[test]
    fn pins_are_checked_and_normalised_at_load() {
        let hex = "ab".repeat(32);
        assert_eq!(normalize_pin(&hex), Ok(hex.clone()));
        let openssl_style = vec!["AB"; 32].join(":");
        assert_eq!(normalize_pin(&openssl_style), Ok(hex));
        for bad in [
            "",
            "ab",
            &"ab".repeat(31),
            &"zz".repeat(32),
            &"ab".repeat(33),
        ] {
            assert!(normalize_pin(bad).is_err(), "{bad:?}");
        }
    }
}
