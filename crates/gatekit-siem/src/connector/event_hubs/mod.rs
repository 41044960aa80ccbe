//! Azure Event Hubs over HTTPS (a Sentinel route through an Event Hubs data connector): its
//! `event_hubs` block, its plan and its transport ([`transport::EventHubsTransport`], SAS or
//! Entra ID).

pub mod transport;

use serde::Deserialize;

use std::sync::Arc;
use std::time::Duration;

use gatekit_config::{Config, ConfigError};
use gatekit_delivery::Transport;

use crate::auth::{AuthMonitor, AuthReporter};
use crate::azure::body::AUTH_FAILURE_RETRY;
use crate::azure::entra::{self, TokenSettings, TokenSource};
use crate::azure::plan::{entra_settings, seconds};
use crate::checks::endpoint;
use crate::checks::Warnings;
use crate::config::SentinelConfig;
use crate::error::SiemError;
use crate::http::client::{Endpoint, HttpClient};
use crate::secret::Secret;
use crate::tls::{TlsConfig, TlsSettings};
use transport::{
    parse_connection_string, EventHubsAuth, EventHubsSettings, EventHubsTransport, BASIC_MAX_BYTES,
    STANDARD_MAX_BYTES,
};

/// `siem.azure_sentinel.event_hubs` (HTTPS send, docs/reference/sentinel.md §4).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventHubsConfig {
    /// `Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=..;SharedAccessKey=..`
    /// (optionally `;EntityPath=<hub>`). With `auth.method: service_principal`, only
    /// `Endpoint` is needed.
    pub connection_string: Secret,
    /// The event hub; may instead come from the connection string's `EntityPath`.
    #[serde(default)]
    pub hub_name: Option<String>,
    /// `basic` (256 KiB per batch), `standard` (default) or `premium` (1 MiB) (Gatekit
    /// addition).
    #[serde(default)]
    pub tier: Option<String>,
    /// Send to this base URL instead of `https://<namespace>` (a proxy, or a local test
    /// receiver); the SAS token still names the namespace (Gatekit addition).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Lifetime of generated SAS tokens in seconds (default 3600; Gatekit addition).
    #[serde(default)]
    pub sas_ttl: Option<u64>,
    /// Seconds to wait for an answer (default 30).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// TLS options (Gatekit addition).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Accept `http://` to a host that is not this machine (Gatekit addition; default off:
    /// the credential and events would cross the network in clear text).
    #[serde(default)]
    pub allow_insecure: bool,
}

/// An Event Hubs destination, ready to build.
#[derive(Debug, Clone)]
pub struct EventHubsPlan {
    /// `https://<namespace>` (or the configured override).
    pub endpoint: Endpoint,
    /// TLS options.
    pub tls: TlsSettings,
    /// Time allowed per request.
    pub timeout: Duration,
    /// Namespace, hub, size limit.
    pub namespace: String,
    /// Event hub.
    pub hub: String,
    /// Largest batch body.
    pub max_batch_bytes: usize,
    /// SAS key (name, key, token lifetime), when not Entra.
    pub sas: Option<(String, crate::secret::Secret, Duration)>,
    /// Entra token settings, when `auth.method` asks for them.
    pub entra: Option<TokenSettings>,
    /// Delay before retrying after an authentication failure.
    pub auth_retry: Duration,
}

impl EventHubsPlan {
    /// The transport, reporting authentication failures to `auth`.
    pub fn build(&self, auth: Arc<AuthMonitor>) -> Result<Arc<dyn Transport>, SiemError> {
        let client = HttpClient::new(self.endpoint.clone(), &self.tls, self.timeout)?;
        let hub_auth = match (&self.entra, &self.sas) {
            (Some(token), _) => EventHubsAuth::Entra(Arc::new(
                TokenSource::new(token.clone()).map_err(SiemError::Setup)?,
            )),
            (None, Some((key_name, key, ttl))) => EventHubsAuth::Sas {
                key_name: key_name.clone(),
                key: key.clone(),
                ttl: *ttl,
            },
            (None, None) => {
                return Err(SiemError::Setup(
                    "Event Hubs needs a SAS key or an Entra credential".into(),
                ))
            }
        };
        let name = format!("event_hubs:{}/{}", self.namespace, self.hub);
        Ok(Arc::new(EventHubsTransport::new(
            client,
            EventHubsSettings {
                namespace: self.namespace.clone(),
                hub: self.hub.clone(),
                auth: hub_auth,
                max_batch_bytes: self.max_batch_bytes,
                auth_retry: self.auth_retry,
            },
            AuthReporter::new(&name, auth),
        )))
    }
}

/// The plan for `siem.azure_sentinel.event_hubs` at `path`.
pub(crate) fn plan(
    cfg: &Config,
    s: &SentinelConfig,
    path: &str,
    warnings: &mut Warnings,
) -> Result<EventHubsPlan, ConfigError> {
    let src = cfg.source.as_str();
    let block = format!("{path}.event_hubs");
    let eh = s.event_hubs.as_ref().ok_or_else(|| {
        ConfigError::at(
            src,
            format!("{block}.connection_string"),
            "the `event_hubs` transport needs `event_hubs: {connection_string: ..., hub_name: ...}`",
        )
    })?;
    let conn = parse_connection_string(eh.connection_string.expose())
        .map_err(|e| ConfigError::at(src, format!("{block}.connection_string"), e))?;
    if eh.connection_string.plain_text && conn.key.is_some() {
        warnings.add(format!("{block}.connection_string"), "the Event Hubs connection string (with its key) is written in the configuration file in plain text; use ${ENV_VAR} or {file: PATH}");
    }
    let hub = match (eh.hub_name.as_deref(), conn.entity_path.as_deref()) {
        (Some(h), Some(p)) if h != p => {
            return Err(ConfigError::at(
                src,
                format!("{block}.hub_name"),
                format!("`{h}` differs from the connection string's EntityPath `{p}`"),
            ))
        }
        (Some(h), _) | (None, Some(h)) => h.to_string(),
        (None, None) => {
            return Err(ConfigError::at(
                src,
                format!("{block}.hub_name"),
                "name the event hub with `hub_name` (or EntityPath in the connection string)",
            ))
        }
    };
    if hub.is_empty()
        || !hub
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(ConfigError::at(
            src,
            format!("{block}.hub_name"),
            "an event hub name takes letters, digits, `-`, `_` and `.`",
        ));
    }
    let max_batch_bytes = match eh.tier.as_deref().unwrap_or("standard") {
        "basic" => BASIC_MAX_BYTES,
        "standard" | "premium" | "dedicated" => STANDARD_MAX_BYTES,
        other => {
            return Err(ConfigError::at(
                src,
                format!("{block}.tier"),
                format!("unknown tier `{other}`; use basic, standard or premium"),
            ))
        }
    };
    let url = eh
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("https://{}", conn.namespace));
    let (endpoint, tls) = endpoint(
        cfg,
        &url,
        eh.tls.as_ref(),
        eh.allow_insecure,
        &block,
        "endpoint",
        warnings,
    )?;
    let method = s.auth.as_ref().and_then(|a| a.method.as_deref());
    let (entra, auth_retry) = match method {
        Some("service_principal" | "managed_identity") => {
            let (token, retry) = entra_settings(
                cfg,
                s.auth.as_ref(),
                path,
                entra::EVENT_HUBS_SCOPE,
                warnings,
            )?;
            (Some(token), retry)
        }
        _ => {
            let retry = s
                .auth
                .as_ref()
                .map(|a| {
                    seconds(
                        src,
                        format!("{path}.auth.failure_retry_delay"),
                        a.failure_retry_delay,
                        AUTH_FAILURE_RETRY.as_secs_f64(),
                    )
                })
                .transpose()?
                .unwrap_or(AUTH_FAILURE_RETRY);
            (None, retry)
        }
    };
    let sas = match (conn.key_name, conn.key) {
        (Some(name), Some(key)) => {
            let ttl = eh.sas_ttl.unwrap_or(3600);
            if !(60..=7 * 86_400).contains(&ttl) {
                return Err(ConfigError::at(src, format!("{block}.sas_ttl"), "between 60 seconds and 7 days"));
            }
            Some((name, key, Duration::from_secs(ttl)))
        }
        _ if entra.is_some() => None,
        _ => {
            return Err(ConfigError::at(src, format!("{block}.connection_string"), "the connection string has no SharedAccessKeyName/SharedAccessKey; add them, or set `auth.method: service_principal`"))
        }
    };
    Ok(EventHubsPlan {
        endpoint,
        tls,
        timeout: seconds(src, format!("{block}.timeout"), eh.timeout, 30.0)?,
        namespace: conn.namespace,
        hub,
        max_batch_bytes,
        sas,
        entra,
        auth_retry,
    })
}
