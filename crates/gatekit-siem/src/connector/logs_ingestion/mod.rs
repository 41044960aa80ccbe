//! Microsoft Sentinel through the Azure Monitor Logs Ingestion API (the default Sentinel
//! connector): its `logs_ingestion_api` block, its plan, and its transport
//! ([`transport::LogsIngestionTransport`]). Records are Sentinel JSON rows posted as arrays to
//! a data collection rule's stream with an Entra ID bearer token
//! (docs/reference/sentinel.md).

pub mod transport;

use serde::Deserialize;

use std::sync::Arc;
use std::time::Duration;

use gatekit_config::{Config, ConfigError};
use gatekit_delivery::Transport;

use crate::auth::{AuthMonitor, AuthReporter};
use crate::azure::entra::TokenSettings;
use crate::azure::entra::{self, TokenSource};
use crate::azure::plan::{entra_settings, seconds};
use crate::checks::endpoint;
use crate::checks::Warnings;
use crate::config::SentinelConfig;
use crate::error::SiemError;
use crate::http::client::{Endpoint, HttpClient};
use crate::tls::{TlsConfig, TlsSettings};
use transport::{LogsIngestionSettings, LogsIngestionTransport, MAX_REQUEST_BYTES};

/// `siem.azure_sentinel.logs_ingestion_api` (Gatekit addition: the current Azure Monitor
/// ingestion path, docs/reference/sentinel.md §1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsIngestionConfig {
    /// The DCR's logs ingestion endpoint or a Data Collection Endpoint, e.g.
    /// `https://my-dce-5kyl.eastus-1.ingest.monitor.azure.com`.
    pub endpoint: String,
    /// The DCR immutable id (`dcr-` followed by 32 hex digits).
    pub dcr_immutable_id: String,
    /// The DCR input stream (default `Custom-GatekitAudit`).
    #[serde(default)]
    pub stream_name: Option<String>,
    /// `none` (default) or `gzip`. The 1 MiB limit is counted on the uncompressed body
    /// either way (docs/decisions/0301-azure-size-cap-and-auth-retries.md).
    #[serde(default)]
    pub compression: Option<String>,
    /// Largest request body in bytes (default and maximum 1,048,576).
    #[serde(default)]
    pub max_request_bytes: Option<usize>,
    /// Seconds to wait for an answer (default 30).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// TLS options (for a private CA or pinning; Gatekit addition).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Accept `http://` to a host that is not this machine (Gatekit addition; default off:
    /// the credential and events would cross the network in clear text).
    #[serde(default)]
    pub allow_insecure: bool,
}

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
    pub fn build(&self, auth: Arc<AuthMonitor>) -> Result<Arc<dyn Transport>, SiemError> {
        let client = HttpClient::new(self.endpoint.clone(), &self.tls, self.timeout)?;
        let tokens = Arc::new(TokenSource::new(self.token.clone()).map_err(SiemError::Setup)?);
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

/// The plan for `siem.azure_sentinel.logs_ingestion_api` at `path`.
pub(crate) fn plan(
    cfg: &Config,
    s: &SentinelConfig,
    path: &str,
    warnings: &mut Warnings,
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
    let (endpoint, tls) = endpoint(
        cfg,
        &li.endpoint,
        li.tls.as_ref(),
        li.allow_insecure,
        &block,
        "endpoint",
        warnings,
    )?;
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
    let (token, auth_retry) =
        entra_settings(cfg, s.auth.as_ref(), path, entra::MONITOR_SCOPE, warnings)?;
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
