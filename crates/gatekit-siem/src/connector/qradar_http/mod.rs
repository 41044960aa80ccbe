//! QRadar's HTTP Receiver log source (the requirements' `rest_api`; QRadar's Ariel API is a
//! search API and cannot take events): its block, its plan and its transport
//! ([`transport::QRadarHttpTransport`], clients authenticated by TLS certificate only).

pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use gatekit_config::{Config, ConfigError};
use serde::Deserialize;

use crate::auth::AuthMonitor;
use crate::checks::Warnings;
use crate::error::SiemError;
use crate::http::client::{Endpoint, HttpClient};
use crate::secret::Secret;
use crate::tls::{TlsConfig, TlsSettings};
use transport::QRadarHttpTransport;

/// `siem.qradar.rest_api` (delivered through QRadar's HTTP Receiver log-source protocol; the
/// Ariel API is a search API and cannot take events). The requirements' `auth_method`,
/// `client_id`, `client_secret` and `api_key` load but are never sent: the HTTP Receiver
/// authenticates clients by certificate only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QRadarRestApi {
    /// Receiver URL.
    pub endpoint: String,
    /// `oauth2` or `api_key`.
    #[serde(default)]
    pub auth_method: Option<String>,
    /// OAuth client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// OAuth client secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// API key.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// TLS options, the client certificate among them (Gatekit addition).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Accept `http://` to a host that is not this machine (Gatekit addition; default off:
    /// events would cross the network unencrypted).
    #[serde(default)]
    pub allow_insecure: bool,
}

/// A QRadar HTTP Receiver destination, ready to build.
#[derive(Debug, Clone)]
pub struct QRadarHttpPlan {
    /// `https://event-collector:12469[/path]`.
    pub endpoint: Endpoint,
    /// TLS options for https (client certificate for mutual TLS).
    pub tls: TlsSettings,
}

impl QRadarHttpPlan {
    /// The transport, reporting authentication failures to `auth`.
    pub fn build(&self, auth: Arc<AuthMonitor>) -> Result<QRadarHttpTransport, SiemError> {
        let client = HttpClient::new(self.endpoint.clone(), &self.tls, Duration::from_secs(30))?;
        Ok(QRadarHttpTransport::new(client, auth))
    }
}

/// The `rest_api` block as a QRadar HTTP Receiver endpoint (docs/reference/qradar.md §2).
pub(crate) fn plan(
    cfg: &Config,
    rest: Option<&QRadarRestApi>,
    path: &str,
    warnings: &mut Warnings,
) -> Result<QRadarHttpPlan, ConfigError> {
    let src = cfg.source.as_str();
    let rest = rest.ok_or_else(|| {
        ConfigError::at(
            src,
            format!("{path}.endpoint"),
            "the `rest_api` transport needs `rest_api: {endpoint: https://<event collector>:12469}` (QRadar's HTTP Receiver log source)",
        )
    })?;
    if rest.endpoint.contains("/api/ariel") {
        return Err(ConfigError::at(
            src,
            format!("{path}.endpoint"),
            "`/api/ariel` is QRadar's search API and cannot take events; create an HTTP Receiver log source (default port 12469) and use its URL, e.g. https://qradar-ec.example.com:12469 (see docs/siem/qradar.md)",
        ));
    }
    if rest.auth_method.is_some()
        || rest.client_id.is_some()
        || rest.client_secret.is_some()
        || rest.api_key.is_some()
    {
        // Accepted so the requirements' files load, but never sent: the HTTP Receiver
        // authenticates clients by TLS certificate only, and a credential sent where nothing
        // checks it is a credential leaked to whatever answers.
        warnings.add(path, "QRadar's HTTP Receiver does not take OAuth or API keys: `auth_method`, `client_id`, `client_secret` and `api_key` are ignored and never sent; authenticate with a client certificate (`rest_api.tls.cert_file`/`key_file`, the log source's \"HTTPs and Client Authentication\")");
    }
    let (endpoint, tls) = crate::checks::endpoint(
        cfg,
        &rest.endpoint,
        rest.tls.as_ref(),
        rest.allow_insecure,
        path,
        "endpoint",
        warnings,
    )?;
    Ok(QRadarHttpPlan { endpoint, tls })
}
