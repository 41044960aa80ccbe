//! Planning of the two other Azure HTTP transports: the legacy Data Collector API (with its
//! retirement warning) and Event Hubs (connection string, tier, SAS or Entra).

use std::sync::Arc;
use std::time::Duration;

use gatekit_config::{Config, ConfigError};
use gatekit_core::AuditEvent;
use gatekit_delivery::Transport;
use gatekit_format::{FormatError, Formatter, SentinelFormatter};

use super::{endpoint, entra_settings, seconds};
use crate::auth::{AuthMonitor, AuthReporter};
use crate::config::SentinelConfig;
use crate::http::client::{Endpoint, HttpClient};
use crate::http::entra::{self, TokenSettings, TokenSource};
use crate::transport::azure::AUTH_FAILURE_RETRY;
use crate::transport::data_collector::{
    valid_log_type, DataCollectorSettings, DataCollectorTransport,
};
use crate::transport::event_hubs::{
    parse_connection_string, EventHubsAuth, EventHubsSettings, EventHubsTransport, BASIC_MAX_BYTES,
    STANDARD_MAX_BYTES,
};
use crate::transport::tls::TlsSettings;

/// A Data Collector destination, ready to build.
#[derive(Debug, Clone)]
pub struct DataCollectorPlan {
    /// `https://<workspace>.ods.opinsights.azure.com` (or the configured endpoint).
    pub endpoint: Endpoint,
    /// TLS options.
    pub tls: TlsSettings,
    /// Time allowed per request.
    pub timeout: Duration,
    /// Workspace, key, log type.
    pub settings: DataCollectorSettings,
}

impl DataCollectorPlan {
    /// The transport, reporting authentication failures to `auth`.
    pub fn build(&self, auth: Arc<AuthMonitor>) -> Result<Arc<dyn Transport>, String> {
        let client = HttpClient::new(self.endpoint.clone(), &self.tls, self.timeout)?;
        let name = format!(
            "data_collector:{}:{}",
            self.endpoint.host, self.endpoint.port
        );
        Ok(Arc::new(DataCollectorTransport::new(
            client,
            self.settings.clone(),
            AuthReporter::new(&name, auth),
        )))
    }
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
    pub fn build(&self, auth: Arc<AuthMonitor>) -> Result<Arc<dyn Transport>, String> {
        let client = HttpClient::new(self.endpoint.clone(), &self.tls, self.timeout)?;
        let hub_auth = match (&self.entra, &self.sas) {
            (Some(token), _) => EventHubsAuth::Entra(Arc::new(TokenSource::new(token.clone())?)),
            (None, Some((key_name, key, ttl))) => EventHubsAuth::Sas {
                key_name: key_name.clone(),
                key: key.clone(),
                ttl: *ttl,
            },
            (None, None) => return Err("Event Hubs needs a SAS key or an Entra credential".into()),
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

/// Sentinel records for the Data Collector API: `TimeGenerated` is a reserved name there
/// (docs/reference/sentinel.md §3.2), so the event time travels as `time_field` (named by
/// `time-generated-field`).
#[derive(Debug, Clone)]
pub struct DataCollectorFormatter {
    /// Name of the event-time property.
    pub time_field: String,
}

impl Formatter for DataCollectorFormatter {
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        const FIRST: &[u8] = b"{\"TimeGenerated\":";
        let start = out.len();
        SentinelFormatter.format(event, out)?;
        // The Sentinel encoder writes TimeGenerated first (its column order).
        if out[start..].starts_with(FIRST) {
            let renamed = format!("{{\"{}\":", self.time_field);
            out.splice(start..start + FIRST.len(), renamed.into_bytes());
        }
        Ok(())
    }
}

/// Reserved property names of the Data Collector API.
const RESERVED: [&str; 3] = ["tenant", "TimeGenerated", "RawData"];

pub(super) fn data_collector(
    cfg: &Config,
    s: &SentinelConfig,
    path: &str,
) -> Result<(Box<dyn Formatter>, DataCollectorPlan), ConfigError> {
    let src = cfg.source.as_str();
    let block = format!("{path}.data_collector_api");
    let dc = s.data_collector_api.as_ref().ok_or_else(|| {
        ConfigError::at(
            src,
            format!("{block}.workspace_id"),
            "the `data_collector_api` transport needs `data_collector_api: {workspace_id: ..., shared_key: ..., log_type: ...}`",
        )
    })?;
    tracing::warn!(path = %block, "The HTTP Data Collector API is deprecated and Microsoft retires it on 2026-09-14; after that date nothing sent here arrives. Migrate to `transport: logs_ingestion_api` (a DCR-based custom table, a data collection rule with stream Custom-GatekitAudit, and an Entra app with the Monitoring Metrics Publisher role on the DCR).");
    let workspace = dc.workspace_id.trim();
    if workspace.is_empty()
        || !workspace
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-')
    {
        return Err(ConfigError::at(
            src,
            format!("{block}.workspace_id"),
            "expected the workspace id (a GUID)",
        ));
    }
    if crate::http::azure_auth::data_collector_authorization(
        workspace,
        dc.shared_key.expose(),
        0,
        "",
    )
    .is_err()
    {
        return Err(ConfigError::at(
            src,
            format!("{block}.shared_key"),
            "the workspace key must be Base64 (the primary or secondary key of the workspace)",
        ));
    }
    if dc.shared_key.plain_text {
        tracing::warn!(path = %format!("{block}.shared_key"), "The workspace key is written in the configuration file in plain text; use ${{ENV_VAR}} or {{file: PATH}}.");
    }
    let log_type = dc.log_type.clone().unwrap_or_else(|| "Gatekit".to_string());
    if !valid_log_type(&log_type) {
        return Err(ConfigError::at(src, format!("{block}.log_type"), "Log-Type takes letters, digits and `_` only, at most 100 characters (the table becomes <log_type>_CL)"));
    }
    let schema = s.schema.clone().unwrap_or_default();
    let (time_field, header) = match schema.timestamp_field.as_deref().map(str::trim) {
        None | Some("") => ("EventTime".to_string(), None),
        Some(f) if RESERVED.contains(&f) => {
            ("EventTime".to_string(), Some("EventTime".to_string()))
        }
        Some(f) => {
            if !(f.len() <= 45
                && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && f.as_bytes()[0].is_ascii_alphabetic())
            {
                return Err(ConfigError::at(
                    src,
                    format!("{path}.schema.timestamp_field"),
                    "a column name: a letter, then letters, digits or `_`, at most 45 characters",
                ));
            }
            let taken = gatekit_format::SENTINEL_COLUMNS
                .iter()
                .skip(1)
                .any(|c| c.name == f);
            if taken {
                return Err(ConfigError::at(
                    src,
                    format!("{path}.schema.timestamp_field"),
                    format!(
                        "`{f}` is already a Gatekit column; choose another name for the event time"
                    ),
                ));
            }
            (f.to_string(), Some(f.to_string()))
        }
    };
    let url = match dc.endpoint.as_deref() {
        // The requirements write the full URL; the path is added per request.
        Some(e) => e
            .trim_end_matches('/')
            .trim_end_matches("/api/logs")
            .to_string(),
        None => format!("https://{workspace}.ods.opinsights.azure.com"),
    };
    let (endpoint, tls) = endpoint(cfg, &url, dc.tls.as_ref(), &block, "endpoint")?;
    let auth_retry = s
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
    Ok((
        Box::new(DataCollectorFormatter { time_field }),
        DataCollectorPlan {
            endpoint,
            tls,
            timeout: seconds(src, format!("{block}.timeout"), dc.timeout, 30.0)?,
            settings: DataCollectorSettings {
                workspace_id: workspace.to_string(),
                shared_key: dc.shared_key.clone(),
                log_type,
                time_generated_field: header,
                azure_resource_id: dc.azure_resource_id.clone(),
                auth_retry,
            },
        },
    ))
}

pub(super) fn event_hubs(
    cfg: &Config,
    s: &SentinelConfig,
    path: &str,
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
        tracing::warn!(path = %format!("{block}.connection_string"), "The Event Hubs connection string (with its key) is written in the configuration file in plain text; use ${{ENV_VAR}} or {{file: PATH}}.");
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
    let (endpoint, tls) = endpoint(cfg, &url, eh.tls.as_ref(), &block, "endpoint")?;
    let method = s.auth.as_ref().and_then(|a| a.method.as_deref());
    let (entra, auth_retry) = match method {
        Some("service_principal" | "managed_identity") => {
            let (token, retry) =
                entra_settings(cfg, s.auth.as_ref(), path, entra::EVENT_HUBS_SCOPE)?;
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
