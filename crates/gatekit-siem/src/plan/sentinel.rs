//! Microsoft Sentinel: the Logs Ingestion API (default), the legacy HTTP Data Collector API,
//! Event Hubs over HTTPS, or JSON (or CEF) to a file for the Azure Monitor Agent
//! (`log_analytics_agent`).
//!
//! The requirements' keys keep working where the platform allows (docs/reference/platform-facts.md
//! §12-17): `data_collector_api` signs with the workspace key; `event_hubs` takes the
//! connection string (plus `hub_name`); `auth: {method: service_principal, tenant_id,
//! client_id, client_secret}` is the Entra client-credentials grant; `schema.timestamp_field`
//! becomes the Data Collector `time-generated-field`. Credentials written in plain text load
//! with a warning.

use std::sync::Arc;
use std::time::Duration;

use gatekit_config::{Config, ConfigError};
use gatekit_delivery::Transport;
use gatekit_format::{CefFormatter, CefSettings, Formatter, Framing, JsonFormatter};

use super::syslog::tls_settings;
use super::{delivery, file_settings, DestinationPlan, TransportPlan};
use crate::auth::{AuthMonitor, AuthReporter};
use crate::config::{SentinelAuthConfig, SentinelConfig, SiemConfig, TlsConfig};
use crate::http::client::{Endpoint, HttpClient};
use crate::http::entra::{self, Credential, TokenSettings, TokenSource};
use crate::transport::azure::AUTH_FAILURE_RETRY;
use crate::transport::logs_ingestion::{
    LogsIngestionSettings, LogsIngestionTransport, MAX_REQUEST_BYTES,
};
use crate::transport::tls::TlsSettings;

mod azure;

pub use azure::{DataCollectorFormatter, DataCollectorPlan, EventHubsPlan};

/// A Logs Ingestion destination, ready to build.
#[derive(Debug, Clone)]
pub struct LogsIngestionPlan {
    /// DCE or DCR endpoint.
    pub endpoint: Endpoint,
    /// TLS options for it.
    pub tls: TlsSettings,
    /// Time allowed per request.
    pub timeout: Duration,
    /// DCR, stream, compression, size cap.
    pub settings: LogsIngestionSettings,
    /// Where tokens come from.
    pub token: TokenSettings,
}

impl LogsIngestionPlan {
    /// The transport, reporting authentication failures to `auth`.
    pub fn build(&self, auth: Arc<AuthMonitor>) -> Result<Arc<dyn Transport>, String> {
        let client = HttpClient::new(self.endpoint.clone(), &self.tls, self.timeout)?;
        let tokens = Arc::new(TokenSource::new(self.token.clone())?);
        let name = format!(
            "logs_ingestion:{}:{}",
            self.endpoint.host, self.endpoint.port
        );
        Ok(Arc::new(LogsIngestionTransport::new(
            client,
            tokens,
            self.settings.clone(),
            AuthReporter::new(&name, auth),
        )))
    }
}

pub(crate) fn plan(
    cfg: &Config,
    siem: &SiemConfig,
    s: &SentinelConfig,
    path: &str,
) -> Result<DestinationPlan, ConfigError> {
    let src = cfg.source.as_str();
    let body: Box<dyn Formatter> = match s.format.as_str() {
        "json" => Box::new(JsonFormatter),
        "cef" | "syslog" => Box::new(
            CefFormatter::new(CefSettings::default())
                .map_err(|e| ConfigError::at(src, path, e.to_string()))?,
        ),
        other => {
            return Err(ConfigError::at(
                src,
                format!("{path}.format"),
                format!("unknown format `{other}`; use json, cef or syslog"),
            ))
        }
    };
    let (delivery, fail_closed) = delivery(cfg, siem, s.delivery.as_ref(), "azure_sentinel", path)?;
    let transport_path = format!("{path}.transport");
    let destination = |formatter: Box<dyn Formatter>, transport: TransportPlan| {
        let mut delivery = delivery;
        if let Some(limit) = body_limit(&transport, delivery.batch.max_events.get()) {
            // Full batches fit one request, rather than being split on every send.
            if delivery.batch.max_bytes.get() > limit {
                if let Some(l) = std::num::NonZeroUsize::new(limit) {
                    delivery.batch.max_bytes = l;
                }
            }
        }
        DestinationPlan {
            platform: "azure_sentinel",
            formatter,
            framing: Framing::None,
            transport,
            delivery,
            fail_closed,
        }
    };
    match s.transport.as_str() {
        "log_analytics_agent" => {
            let file = s.log_analytics_agent.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{path}.log_analytics_agent.path"),
                    "the `log_analytics_agent` transport needs `log_analytics_agent: {path: ...}`",
                )
            })?;
            let mut d = destination(body, TransportPlan::File(file_settings(cfg, file)));
            d.framing = Framing::Lf;
            Ok(d)
        }
        "logs_ingestion_api" => {
            // The stream declaration fixes the record shape: Sentinel columns, whatever
            // `format` says (sentinel.md §1.2).
            json_only(s, path, "logs_ingestion_api");
            let plan = logs_ingestion(cfg, s, path)?;
            Ok(destination(
                Box::new(gatekit_format::SentinelFormatter),
                TransportPlan::LogsIngestion(Box::new(plan)),
            ))
        }
        "data_collector_api" => {
            json_only(s, path, "data_collector_api");
            let (formatter, plan) = azure::data_collector(cfg, s, path)?;
            Ok(destination(formatter, TransportPlan::DataCollector(Box::new(plan))))
        }
        "event_hubs" => {
            let plan = azure::event_hubs(cfg, s, path)?;
            Ok(destination(body, TransportPlan::EventHubs(Box::new(plan))))
        }
        other => Err(ConfigError::at(
            src,
            transport_path,
            format!("unknown transport `{other}`; use logs_ingestion_api, data_collector_api, event_hubs or log_analytics_agent"),
        )),
    }
}

/// The most record bytes (`batch_max_bytes`) a batch of up to `events` records may carry so
/// that its request body stays within the endpoint's limit: a JSON array adds a comma per
/// record and two brackets; an Event Hubs batch also wraps each record in `{"Body":...}` and
/// escapes its quotes, counted here as a fifth more plus 12 bytes per record.
fn body_limit(transport: &TransportPlan, events: usize) -> Option<usize> {
    match transport {
        TransportPlan::LogsIngestion(p) => {
            Some(p.settings.max_request_bytes.saturating_sub(events + 2))
        }
        TransportPlan::EventHubs(p) => {
            Some((p.max_batch_bytes / 6 * 5).saturating_sub(12 * events + 2))
        }
        _ => None,
    }
}

fn json_only(s: &SentinelConfig, path: &str, transport: &str) {
    if s.format != "json" {
        tracing::warn!(path = %format!("{path}.format"), "The `{transport}` transport sends Sentinel JSON records; `format: {}` is ignored (use `log_analytics_agent` for CEF through the Azure Monitor Agent).", s.format);
    }
}

/// Seconds from the configuration, or `default`.
pub(crate) fn seconds(
    src: &str,
    path: String,
    value: Option<f64>,
    default: f64,
) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
        return Err(ConfigError::at(
            src,
            path,
            "must be a number of seconds above 0 and at most 3600",
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// An `https://` (or local `http://`) endpoint with its TLS settings, checked now.
pub(crate) fn endpoint(
    cfg: &Config,
    url: &str,
    tls: Option<&TlsConfig>,
    path: &str,
    key: &str,
) -> Result<(Endpoint, TlsSettings), ConfigError> {
    let src = cfg.source.as_str();
    let endpoint =
        Endpoint::parse(url).map_err(|e| ConfigError::at(src, format!("{path}.{key}"), e))?;
    let tls = tls_settings(cfg, &tls.cloned().unwrap_or_default());
    if endpoint.tls {
        crate::transport::tls::client_config(&tls)
            .map_err(|e| ConfigError::at(src, format!("{path}.tls"), e))?;
    }
    Ok((endpoint, tls))
}

fn logs_ingestion(
    cfg: &Config,
    s: &SentinelConfig,
    path: &str,
) -> Result<LogsIngestionPlan, ConfigError> {
    let src = cfg.source.as_str();
    let block = format!("{path}.logs_ingestion_api");
    let li = s.logs_ingestion_api.as_ref().ok_or_else(|| {
        ConfigError::at(
            src,
            format!("{block}.endpoint"),
            "the `logs_ingestion_api` transport needs `logs_ingestion_api: {endpoint: ..., dcr_immutable_id: ...}` and `auth`",
        )
    })?;
    let (endpoint, tls) = endpoint(cfg, &li.endpoint, li.tls.as_ref(), &block, "endpoint")?;
    let dcr = li.dcr_immutable_id.trim();
    if !(dcr.starts_with("dcr-")
        && dcr.len() > 4
        && dcr.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(ConfigError::at(
            src,
            format!("{block}.dcr_immutable_id"),
            "expected the DCR immutable id, `dcr-` followed by hex digits (not the DCR's name or resource id)",
        ));
    }
    let stream = li
        .stream_name
        .clone()
        .unwrap_or_else(|| gatekit_format::SENTINEL_STREAM.to_string());
    let declared = stream
        .strip_prefix("Custom-")
        .or_else(|| stream.strip_prefix("Microsoft-"));
    if !declared
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return Err(ConfigError::at(
            src,
            format!("{block}.stream_name"),
            "expected the DCR input stream, `Custom-<Name>` (or `Microsoft-<Table>`)",
        ));
    }
    let gzip = match li.compression.as_deref() {
        None | Some("none") => false,
        Some("gzip") => true,
        Some(other) => {
            return Err(ConfigError::at(
                src,
                format!("{block}.compression"),
                format!("unknown compression `{other}`; use none or gzip"),
            ))
        }
    };
    let max = li.max_request_bytes.unwrap_or(MAX_REQUEST_BYTES);
    if max == 0 || max > MAX_REQUEST_BYTES {
        return Err(ConfigError::at(
            src,
            format!("{block}.max_request_bytes"),
            format!("must be between 1 and {MAX_REQUEST_BYTES} (the API's 1 MB limit)"),
        ));
    }
    let (token, auth_retry) = entra_settings(cfg, s.auth.as_ref(), path, entra::MONITOR_SCOPE)?;
    Ok(LogsIngestionPlan {
        endpoint,
        tls,
        timeout: seconds(src, format!("{block}.timeout"), li.timeout, 30.0)?,
        settings: LogsIngestionSettings {
            dcr_immutable_id: dcr.to_string(),
            stream,
            gzip,
            max_request_bytes: max,
            auth_retry,
        },
        token,
    })
}

/// Entra token settings from `auth` for `default_scope`, and the delay after an
/// authentication failure.
pub(crate) fn entra_settings(
    cfg: &Config,
    auth: Option<&SentinelAuthConfig>,
    path: &str,
    default_scope: &str,
) -> Result<(TokenSettings, Duration), ConfigError> {
    let src = cfg.source.as_str();
    let block = format!("{path}.auth");
    let auth = auth.ok_or_else(|| {
        ConfigError::at(
            src,
            format!("{block}.method"),
            "an Entra ID credential is needed: `auth: {method: service_principal, tenant_id: ..., client_id: ..., client_secret: ...}` (or `method: managed_identity`)",
        )
    })?;
    let need = |value: &Option<String>, key: &str| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{block}.{key}"),
                    format!("`{key}` is required for service_principal"),
                )
            })
    };
    let (credential, default_endpoint) = match auth.method.as_deref().unwrap_or("service_principal") {
        "service_principal" => {
            let tenant_id = need(&auth.tenant_id, "tenant_id")?;
            if !tenant_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
                return Err(ConfigError::at(src, format!("{block}.tenant_id"), "expected a directory id (GUID) or a tenant domain name"));
            }
            let client_id = need(&auth.client_id, "client_id")?;
            let credential = match (&auth.client_secret, &auth.certificate_file, &auth.private_key_file) {
                (Some(secret), None, None) => {
                    if secret.plain_text {
                        tracing::warn!(path = %format!("{block}.client_secret"), "The Entra client secret is written in the configuration file in plain text; use ${{ENV_VAR}} or {{file: PATH}}.");
                    }
                    Credential::ClientSecret {
                        tenant_id,
                        client_id,
                        secret: secret.clone(),
                    }
                }
                (None, Some(cert), Some(key)) => {
                    let resolve = |p: &std::path::Path| cfg.resolve_path(&p.display().to_string());
                    let certificate = crate::http::entra_assertion::ClientCertificate::load(&resolve(cert), &resolve(key))
                        .map_err(|e| ConfigError::at(src, format!("{block}.certificate_file"), e))?;
                    Credential::ClientCertificate {
                        tenant_id,
                        client_id,
                        certificate,
                    }
                }
                (None, None, None) => {
                    return Err(ConfigError::at(src, format!("{block}.client_secret"), "service_principal needs `client_secret`, or `certificate_file` and `private_key_file`"))
                }
                _ => {
                    return Err(ConfigError::at(src, format!("{block}.client_secret"), "use either `client_secret` or `certificate_file` with `private_key_file`, not both (and the certificate needs its key)"))
                }
            };
            (
                credential,
                auth.authority_host.clone().unwrap_or_else(|| entra::DEFAULT_AUTHORITY.to_string()),
            )
        }
        "managed_identity" => (
            Credential::ManagedIdentity {
                client_id: auth.client_id.clone(),
            },
            auth.metadata_endpoint.clone().unwrap_or_else(|| entra::DEFAULT_METADATA_ENDPOINT.to_string()),
        ),
        "shared_key" => {
            return Err(ConfigError::at(
                src,
                format!("{block}.method"),
                "this transport authenticates with Entra ID, not a shared key; use service_principal or managed_identity",
            ))
        }
        other => {
            return Err(ConfigError::at(
                src,
                format!("{block}.method"),
                format!("unknown method `{other}`; use service_principal, managed_identity or shared_key"),
            ))
        }
    };
    let key = if matches!(credential, Credential::ManagedIdentity { .. }) {
        "metadata_endpoint"
    } else {
        "authority_host"
    };
    let (endpoint, tls) = endpoint(
        cfg,
        default_endpoint.trim_end_matches('/'),
        None,
        &block,
        key,
    )?;
    let scope = auth
        .scope
        .clone()
        .unwrap_or_else(|| default_scope.to_string());
    if !scope.ends_with("/.default") {
        return Err(ConfigError::at(
            src,
            format!("{block}.scope"),
            "the client-credentials grant takes only `<resource>/.default` scopes",
        ));
    }
    let retry = seconds(
        src,
        format!("{block}.failure_retry_delay"),
        auth.failure_retry_delay,
        AUTH_FAILURE_RETRY.as_secs_f64(),
    )?;
    Ok((
        TokenSettings {
            credential,
            endpoint,
            scope,
            tls,
            timeout: Duration::from_secs(30),
        },
        retry,
    ))
}
