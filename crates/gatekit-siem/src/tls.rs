//! TLS client settings shared by every TLS connector (syslog over TLS, and HTTPS for HEC,
//! QRadar's HTTP Receiver, the Azure endpoints and Entra ID).
//!
//! * rustls with the ring provider; TLS 1.2 and 1.3; server verification on unless
//!   `verify_certs: false` (a warning at load, see `platform`).
//! * Trust: `ca_file`, else the operating system's trust store as `rustls-native-certs` finds
//!   it (the distribution's bundle wherever it lives, `SSL_CERT_FILE`/`SSL_CERT_DIR` when set,
//!   the macOS keychain, the Windows store), read once per process.
//! * Mutual TLS: `cert_file` + `key_file`. Optional pinning: the SHA-256 of the server's
//!   end-entity certificate must be one of `pins` (checked in addition to verification).
//! * [`ReloadingConfig`]: certificates and keys are re-read when their files change, before the
//!   next connection, so a rotation needs no restart. Every TLS client goes through it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use gatekit_config::Config;
use serde::Deserialize;

use crate::error::SiemError;

fn yes() -> bool {
    true
}

/// TLS options shared by the TLS transports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Use TLS.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Verify the server certificate (never turn off in production).
    #[serde(default = "yes")]
    pub verify_certs: bool,
    /// CA bundle (PEM).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// SHA-256 fingerprints of accepted server certificates: 64 hex digits, colons allowed as
    /// `openssl x509 -fingerprint -sha256` prints them; checked at load (Gatekit addition).
    #[serde(default)]
    pub pins: Vec<String>,
    /// Name to verify and send as SNI when it differs from `host` (Gatekit addition).
    #[serde(default)]
    pub server_name: Option<String>,
}

impl Default for TlsConfig {
    /// TLS on, certificates verified against the system roots.
    fn default() -> Self {
        TlsConfig {
            enabled: true,
            verify_certs: true,
            ca_file: None,
            cert_file: None,
            key_file: None,
            pins: Vec::new(),
            server_name: None,
        }
    }
}

impl TlsConfig {
    /// The settings these options describe, paths resolved against the configuration file.
    pub fn settings(&self, cfg: &Config) -> TlsSettings {
        let resolve = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| cfg.resolve_path(&p.display().to_string()))
        };
        TlsSettings {
            verify: self.verify_certs,
            ca_file: resolve(&self.ca_file),
            cert_file: resolve(&self.cert_file),
            key_file: resolve(&self.key_file),
            pins: self.pins.clone(),
            server_name: self.server_name.clone(),
        }
    }
}

/// The operating system's trust anchors, read once: `Ok` with at least one certificate, or
/// why there are none (no store found, or every certificate in it unusable).
fn system_roots() -> Result<Arc<RootCertStore>, String> {
    static ROOTS: std::sync::OnceLock<Result<Arc<RootCertStore>, String>> =
        std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (_, unusable) = roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let why: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                return Err(format!(
                    "no usable CA certificates in the system trust store{}{}; set `ca_file`, or SSL_CERT_FILE",
                    if unusable > 0 { format!(" ({unusable} unusable)") } else { String::new() },
                    if why.is_empty() { String::new() } else { format!(": {}", why.join("; ")) }
                ));
            }
            Ok(Arc::new(roots))
        })
        .clone()
}

/// The trust anchors in the PEM file `ca`.
fn file_roots(ca: &std::path::Path) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)
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
    Ok(Arc::new(roots))
}

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
    let roots = match &s.ca_file {
        Some(ca) => file_roots(ca)?,
        None => system_roots()?,
    };
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
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
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("cannot read client key {}: {e}", key.display()))?;
            let first = chain
                .first()
                .ok_or_else(|| format!("no certificate in {}", cert.display()))?;
            // A v1 or expired certificate is named as such, not blamed on the key.
            if let Some(problem) =
                crate::cert_info::client_certificate_problem(first, &cert.display().to_string())
            {
                return Err(problem);
            }
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                        format!(
                            "client certificate {} and key {} do not match: {e}",
                            cert.display(),
                            key.display()
                        )
                    }
                    other => format!(
                        "client certificate {} or key {} unusable: {other}",
                        cert.display(),
                        key.display()
                    ),
                })?
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

/// A built configuration and the modification times of the files it was built from.
type Built = (Arc<ClientConfig>, [Option<SystemTime>; 3]);

/// A client configuration that follows its files: [`ReloadingConfig::current`] rebuilds it
/// when the CA, certificate or key file changed since the last build (by modification time).
pub struct ReloadingConfig {
    settings: TlsSettings,
    label: String,
    state: Mutex<Option<Built>>,
}

impl std::fmt::Debug for ReloadingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingConfig")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl ReloadingConfig {
    /// Builds the configuration now (a bad file is an error at start, not at first send).
    pub fn new(settings: TlsSettings, label: &str) -> Result<Self, SiemError> {
        let files = file_times(&settings);
        let config = Arc::new(client_config(&settings).map_err(SiemError::Setup)?);
        Ok(ReloadingConfig {
            settings,
            label: label.to_string(),
            state: Mutex::new(Some((config, files))),
        })
    }

    /// The settings it was built from.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The configuration for the next connection, rebuilt if a file changed. A file that is
    /// being rewritten (unreadable or half written) keeps the previous configuration for now.
    pub fn current(&self) -> Result<Arc<ClientConfig>, SiemError> {
        let files = file_times(&self.settings);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((config, seen)) = state.as_ref() {
            if *seen == files {
                return Ok(Arc::clone(config));
            }
        }
        match client_config(&self.settings) {
            Ok(config) => {
                let config = Arc::new(config);
                if state.is_some() {
                    tracing::info!(client = %self.label, "TLS certificates reloaded.");
                }
                *state = Some((Arc::clone(&config), files));
                Ok(config)
            }
            Err(e) => match state.as_ref() {
                Some((config, _)) => {
                    tracing::warn!(client = %self.label, error = %e, "Changed TLS files could not be loaded; keeping the previous ones.");
                    Ok(Arc::clone(config))
                }
                None => Err(SiemError::Setup(e)),
            },
        }
    }

    /// The name to verify and send as SNI: `server_name`, else `host`.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, SiemError> {
        let name = self
            .settings
            .server_name
            .clone()
            .unwrap_or_else(|| host.to_string());
        ServerName::try_from(name.clone())
            .map_err(|e| SiemError::Setup(format!("invalid TLS server name {name}: {e}")))
    }
}

fn file_times(s: &TlsSettings) -> [Option<SystemTime>; 3] {
    [mtime(&s.ca_file), mtime(&s.cert_file), mtime(&s.key_file)]
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
