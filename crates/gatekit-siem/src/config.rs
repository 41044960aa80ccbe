//! The `siem` section, exactly as the SIEM requirements write it, plus the keys Gatekit needs
//! for its transports.
//!
//! Shape: global settings (`enabled`, `buffer_size`, `flush_interval`, `retry_attempts`,
//! `retry_backoff`), the platforms under `siem.platforms.<name>` (with `priority`), and the
//! per-platform blocks `siem.splunk`, `siem.qradar`, `siem.azure_sentinel` also accepted. A
//! platform may be configured in one of the two places, not both. Every struct denies unknown
//! keys; validation is offline (no DNS, no connection). A block that could not deliver is
//! refused at load with a clear message, never silently ignored (an audit trail that quietly
//! goes nowhere is the worst outcome).

use std::path::PathBuf;

use gatekit_config::yaml;
use serde::Deserialize;

use crate::secret::Secret;

mod sentinel;
pub use sentinel::{
    DataCollectorConfig, EventHubsConfig, LogsIngestionConfig, SentinelAuthConfig,
    SentinelSchemaConfig,
};

fn yes() -> bool {
    true
}

/// The whole `siem` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiemConfig {
    /// Master switch.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Default memory queue size per platform, in events.
    #[serde(default)]
    pub buffer_size: Option<usize>,
    /// Default seconds before buffered events are sent.
    #[serde(default)]
    pub flush_interval: Option<f64>,
    /// Default retries before an event is dead-lettered.
    #[serde(default)]
    pub retry_attempts: Option<u32>,
    /// Default backoff multiplier.
    #[serde(default)]
    pub retry_backoff: Option<f64>,
    /// Seconds between checks of delivery metrics that report drops, dead letters and
    /// unreachable destinations as `system_event`s (Gatekit addition; default 5).
    #[serde(default)]
    pub monitor_interval: Option<f64>,
    /// Platforms with a priority.
    #[serde(default)]
    pub platforms: Platforms,
    /// Splunk, configured directly.
    #[serde(default)]
    pub splunk: Option<SplunkConfig>,
    /// QRadar, configured directly.
    #[serde(default)]
    pub qradar: Option<QRadarConfig>,
    /// Microsoft Sentinel, configured directly.
    #[serde(default)]
    pub azure_sentinel: Option<SentinelConfig>,
}

/// `siem.platforms`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platforms {
    /// Splunk.
    #[serde(default)]
    pub splunk: Option<SplunkConfig>,
    /// QRadar.
    #[serde(default)]
    pub qradar: Option<QRadarConfig>,
    /// Sentinel.
    #[serde(default)]
    pub azure_sentinel: Option<SentinelConfig>,
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

/// A syslog receiver.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogEndpoint {
    /// Host name or address.
    pub host: String,
    /// Port (default: 6514 for TLS, 514 otherwise).
    #[serde(default)]
    pub port: Option<u16>,
    /// Syslog facility name or number (default `local0`).
    #[serde(default)]
    pub facility: Option<yaml::Value>,
    /// Fixed syslog PRI severity for every event (`info`, `notice`, ... or 0-7); when absent,
    /// each event's own severity sets the PRI.
    #[serde(default)]
    pub severity: Option<String>,
    /// `lf` or `octet_counting` (default: LF, which SC4S's and QRadar's TLS listeners expect).
    #[serde(default)]
    pub framing: Option<String>,
    /// TLS options.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// A local file destination (Splunk Universal Forwarder, Azure Monitor Agent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEndpoint {
    /// The file; relative to the configuration file.
    pub path: String,
    /// Rotate when the file reaches this size (MiB; default 100; 0: never).
    #[serde(default = "default_file_max_mb")]
    pub max_size_mb: u64,
    /// Rotate when the file is this old (hours; default 24; 0: never).
    #[serde(default = "default_file_max_age_hours")]
    pub max_age_hours: f64,
    /// Rotated files kept (`path.1` ... `path.N`; default 5).
    #[serde(default = "default_file_backups")]
    pub backup_count: u32,
}

fn default_file_max_mb() -> u64 {
    100
}

fn default_file_max_age_hours() -> f64 {
    24.0
}

fn default_file_backups() -> u32 {
    5
}

/// Per-platform delivery options; any key of Gatekit's delivery settings (see
/// docs/delivery.md), the requirements' `batch_size`, `batch_timeout`, `retry_attempts` and
/// `retry_backoff` among them. Kept as YAML so that the global defaults can fill the gaps.
pub type DeliveryBlock = yaml::Mapping;

/// `siem.splunk`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplunkConfig {
    /// Switch.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Failover order among platforms (lower first); informational for now.
    #[serde(default)]
    pub priority: Option<u32>,
    /// `sc4s`, `hec` or `file`.
    #[serde(default = "sc4s")]
    pub transport: String,
    /// `cef`, `json` or `syslog`.
    #[serde(default = "cef")]
    pub format: String,
    /// SC4S (TLS syslog).
    #[serde(default)]
    pub sc4s: Option<SyslogEndpoint>,
    /// HTTP Event Collector.
    #[serde(default)]
    pub hec: Option<HecConfig>,
    /// File for the Universal Forwarder.
    #[serde(default)]
    pub file: Option<FileEndpoint>,
    /// Delivery options.
    #[serde(default)]
    pub delivery: Option<DeliveryBlock>,
}

fn sc4s() -> String {
    "sc4s".into()
}

fn cef() -> String {
    "cef".into()
}

/// `siem.splunk.hec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HecConfig {
    /// `https://splunk.example.com:8088`.
    pub endpoint: String,
    /// HEC token (a GUID; sent as `Authorization: Splunk <token>`).
    pub token: Secret,
    /// Index.
    #[serde(default)]
    pub index: Option<String>,
    /// Source.
    #[serde(default)]
    pub source: Option<String>,
    /// Sourcetype.
    #[serde(default)]
    pub sourcetype: Option<String>,
    /// TLS options for `https://` endpoints (Gatekit addition).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Indexer acknowledgement: a batch counts as delivered only when Splunk confirms it was
    /// indexed (the token needs `useACK = 1`; Gatekit addition, default off).
    #[serde(default)]
    pub use_ack: bool,
    /// Longest wait between two acknowledgement polls, in seconds (default 1).
    #[serde(default)]
    pub ack_poll_interval: Option<f64>,
    /// Seconds to wait for an acknowledgement before the batch is resent (default 60).
    #[serde(default)]
    pub ack_timeout: Option<f64>,
    /// The request channel, a GUID (default: a random one per gateway process).
    #[serde(default)]
    pub channel: Option<String>,
    /// `none` (default) or `gzip`.
    #[serde(default)]
    pub compression: Option<String>,
}

/// `siem.qradar`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QRadarConfig {
    /// Switch.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Failover order among platforms.
    #[serde(default)]
    pub priority: Option<u32>,
    /// `syslog_tls`, `syslog_tcp`, `syslog_udp` or `rest_api`.
    #[serde(default = "syslog_tls")]
    pub transport: String,
    /// `leef` (LEEF 2.0), `leef1`, `cef` or `json`.
    #[serde(default = "leef")]
    pub format: String,
    /// Syslog receiver.
    #[serde(default)]
    pub syslog: Option<SyslogEndpoint>,
    /// QRadar HTTP Receiver (the requirements' `rest_api`).
    #[serde(default)]
    pub rest_api: Option<QRadarRestApi>,
    /// DSM identity.
    #[serde(default)]
    pub dsm: Option<DsmConfig>,
    /// Delivery options.
    #[serde(default)]
    pub delivery: Option<DeliveryBlock>,
}

fn syslog_tls() -> String {
    "syslog_tls".into()
}

fn leef() -> String {
    "leef".into()
}

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
}

/// `siem.qradar.dsm`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsmConfig {
    /// LEEF vendor/product device type.
    #[serde(default)]
    pub device_type: Option<String>,
    /// Event category.
    #[serde(default)]
    pub event_category: Option<String>,
    /// Log source identifier (syslog HOSTNAME).
    #[serde(default)]
    pub log_source_identifier: Option<String>,
}

/// `siem.azure_sentinel`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// Switch.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Failover order among platforms.
    #[serde(default)]
    pub priority: Option<u32>,
    /// `logs_ingestion_api`, `data_collector_api`, `event_hubs` or `log_analytics_agent`.
    #[serde(default = "logs_ingestion_api")]
    pub transport: String,
    /// `json`, `cef` or `syslog`.
    #[serde(default = "json")]
    pub format: String,
    /// Legacy HTTP Data Collector API.
    #[serde(default)]
    pub data_collector_api: Option<DataCollectorConfig>,
    /// Event Hubs.
    #[serde(default)]
    pub event_hubs: Option<EventHubsConfig>,
    /// Logs Ingestion API (Gatekit addition).
    #[serde(default)]
    pub logs_ingestion_api: Option<LogsIngestionConfig>,
    /// File for the Azure Monitor Agent (the requirements' `log_analytics_agent`).
    #[serde(default)]
    pub log_analytics_agent: Option<FileEndpoint>,
    /// Entra ID / shared key authentication.
    #[serde(default)]
    pub auth: Option<SentinelAuthConfig>,
    /// Table schema.
    #[serde(default)]
    pub schema: Option<SentinelSchemaConfig>,
    /// Delivery options.
    #[serde(default)]
    pub delivery: Option<DeliveryBlock>,
}

fn logs_ingestion_api() -> String {
    "logs_ingestion_api".into()
}

fn json() -> String {
    "json".into()
}
