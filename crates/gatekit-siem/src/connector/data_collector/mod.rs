//! Microsoft Sentinel through the legacy HTTP Data Collector API (retired by Microsoft on
//! 2026-09-14, loaded with a warning): its `data_collector_api` block, its plan, its record
//! formatter and its transport ([`transport::DataCollectorTransport`], shared-key signed).

pub mod transport;

use gatekit_core::AuditEvent;
use gatekit_format::{FormatError, Formatter, SentinelFormatter};
use serde::Deserialize;

use std::sync::Arc;
use std::time::Duration;

use gatekit_config::{Config, ConfigError};
use gatekit_delivery::Transport;

use crate::auth::{AuthMonitor, AuthReporter};
use crate::azure::body::AUTH_FAILURE_RETRY;
use crate::azure::plan::seconds;
use crate::checks::endpoint;
use crate::checks::Warnings;
use crate::config::SentinelConfig;
use crate::error::SiemError;
use crate::http::client::{Endpoint, HttpClient};
use crate::secret::Secret;
use crate::tls::{TlsConfig, TlsSettings};
use transport::{valid_log_type, DataCollectorSettings, DataCollectorTransport};

/// `siem.azure_sentinel.data_collector_api` (the requirements' legacy HTTP Data Collector
/// API; Microsoft retires it on 2026-09-14, docs/reference/sentinel.md §7c).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCollectorConfig {
    /// Log Analytics workspace id (a GUID).
    pub workspace_id: String,
    /// Primary or secondary workspace key (Base64).
    pub shared_key: Secret,
    /// `Log-Type`: letters, digits and `_`, at most 100 characters; the table becomes
    /// `<log_type>_CL` (default `Gatekit`).
    #[serde(default)]
    pub log_type: Option<String>,
    /// Default `https://<workspace_id>.ods.opinsights.azure.com`; a trailing `/api/logs`, as
    /// the requirements write it, is accepted.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `x-ms-AzureResourceId` for resource-context queries (Gatekit addition).
    #[serde(default)]
    pub azure_resource_id: Option<String>,
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
    pub fn build(&self, auth: Arc<AuthMonitor>) -> Result<Arc<dyn Transport>, SiemError> {
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

/// Sentinel records for the Data Collector API: `TimeGenerated` is a reserved name there
/// (docs/reference/sentinel.md §3.2), so the event time travels as `time_field` (named by `time-generated-field`).
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

/// The formatter and plan for `siem.azure_sentinel.data_collector_api` at `path`.
pub(crate) fn plan(
    cfg: &Config,
    s: &SentinelConfig,
    path: &str,
    warnings: &mut Warnings,
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
    warnings.add(&block, "the HTTP Data Collector API is deprecated and Microsoft retires it on 2026-09-14; after that date nothing sent here arrives. Migrate to `transport: logs_ingestion_api` (a DCR-based custom table, a data collection rule with stream Custom-GatekitAudit, and an Entra app with the Monitoring Metrics Publisher role on the DCR)");
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
    if crate::azure::signature::data_collector_authorization(
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
        warnings.add(format!("{block}.shared_key"), "the workspace key is written in the configuration file in plain text; use ${ENV_VAR} or {file: PATH}");
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
    let (endpoint, tls) = endpoint(
        cfg,
        &url,
        dc.tls.as_ref(),
        dc.allow_insecure,
        &block,
        "endpoint",
        warnings,
    )?;
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
