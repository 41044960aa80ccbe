//! The platform-level blocks of `siem.azure_sentinel`: the requirements' `auth` and `schema`
//! keys, kept as written, plus the keys Gatekit needs to reach the platform as it really is
//! (docs/reference/platform-facts.md §§12-17). The connector blocks (`logs_ingestion_api`,
//! `data_collector_api`, `event_hubs`) live with their connectors. Every struct denies
//! unknown keys; every credential is a [`Secret`].

use serde::Deserialize;

use crate::secret::Secret;

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
    /// TLS options for the token endpoint (Gatekit addition): `ca_file` for an authority
    /// behind a TLS-inspecting proxy or a private cloud; default: the system trust store.
    #[serde(default)]
    pub tls: Option<crate::tls::TlsConfig>,
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
