//! The typed blocks of `siem.azure_sentinel`: the requirements' `data_collector_api`,
//! `event_hubs`, `auth` and `schema` keys, kept as written, plus the Logs Ingestion API block
//! and the keys Gatekit needs to reach the platform as it really is
//! (docs/reference/platform-facts.md §12-17). Every struct denies unknown keys; every
//! credential is a [`Secret`].

use serde::Deserialize;

use super::TlsConfig;
use crate::secret::Secret;

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
}

/// `siem.azure_sentinel.data_collector_api` (the requirements' legacy HTTP Data Collector
/// API; Microsoft retires it on 2026-09-14, docs/reference/sentinel.md §3).
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
}

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
}

/// `siem.azure_sentinel.auth`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelAuthConfig {
    /// `service_principal` (Entra ID client credentials), `managed_identity` (Gatekit
    /// addition: the instance metadata endpoint) or `shared_key` (the Data Collector
    /// workspace key / Event Hubs SAS key).
    #[serde(default)]
    pub method: Option<String>,
    /// Entra tenant (directory) id.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Application (client) id; with `managed_identity`, selects a user-assigned identity.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Client secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Certificate credential instead of `client_secret` (Gatekit addition): the
    /// application's certificate (PEM), registered on the app in Entra ID.
    #[serde(default)]
    pub certificate_file: Option<std::path::PathBuf>,
    /// The certificate's RSA private key (PEM, PKCS#8 or PKCS#1; Gatekit addition).
    #[serde(default)]
    pub private_key_file: Option<std::path::PathBuf>,
    /// Entra authority (Gatekit addition; default `https://login.microsoftonline.com`;
    /// `https://login.microsoftonline.us` / `https://login.chinacloudapi.cn` for sovereign
    /// clouds).
    #[serde(default)]
    pub authority_host: Option<String>,
    /// Token scope (Gatekit addition; default `https://monitor.azure.com//.default` for the
    /// Logs Ingestion API, `https://eventhubs.azure.net/.default` for Event Hubs).
    #[serde(default)]
    pub scope: Option<String>,
    /// Instance metadata endpoint for `managed_identity` (Gatekit addition; default
    /// `http://169.254.169.254`).
    #[serde(default)]
    pub metadata_endpoint: Option<String>,
    /// Seconds before retrying after an authentication failure (Gatekit addition; default
    /// 30): a refused credential or a missing role does not heal in a second.
    #[serde(default)]
    pub failure_retry_delay: Option<f64>,
}

/// `siem.azure_sentinel.schema`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelSchemaConfig {
    /// Table name (informational for the Logs Ingestion API, whose DCR decides the table;
    /// for the Data Collector API the table is `<log_type>_CL`).
    #[serde(default)]
    pub table_name: Option<String>,
    /// Data Collector API: the body field sent as `time-generated-field`. `TimeGenerated`
    /// itself is reserved in that API, so the event time travels as `EventTime` and the
    /// header names it.
    #[serde(default)]
    pub timestamp_field: Option<String>,
    /// Column names the table is expected to have (informational).
    #[serde(default)]
    pub custom_fields: Vec<String>,
}
