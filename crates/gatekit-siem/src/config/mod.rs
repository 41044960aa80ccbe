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

use gatekit_config::yaml;
use serde::Deserialize;

pub mod observe;
mod sentinel;
pub(crate) mod spool;
pub use crate::connector::data_collector::DataCollectorConfig;
pub use crate::connector::event_hubs::EventHubsConfig;
pub use crate::connector::file::FileEndpoint;
pub use crate::connector::hec::HecConfig;
pub use crate::connector::logs_ingestion::LogsIngestionConfig;
pub use crate::connector::qradar_http::QRadarRestApi;
pub use crate::connector::syslog::SyslogEndpoint;
pub use crate::tls::TlsConfig;
pub use sentinel::{SentinelAuthConfig, SentinelSchemaConfig};
pub use spool::SpoolConfig;

fn yes() -> bool {
    true
}

/// A closed set of names for a `transport` or `format` key: parsed once at load into an enum,
/// with the message the requirements' users expect for a name that is not in the set.
macro_rules! names {
    ($(#[$doc:meta])* $name:ident, $what:literal, default $default:ident, { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        #[serde(try_from = "String")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every accepted name, in documentation order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The name as written in the configuration.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(s: String) -> Result<Self, String> {
                match s.as_str() {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{other}`; use {}",
                        $what,
                        Self::NAMES.join(", ")
                    )),
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }
    };
}

names!(
    /// `siem.splunk.transport`.
    SplunkTransport, "transport", default Sc4s, {
        /// TLS syslog to Splunk Connect for Syslog.
        Sc4s = "sc4s",
        /// HTTP Event Collector.
        Hec = "hec",
        /// A file for a Universal Forwarder.
        File = "file",
    }
);
names!(
    /// `siem.splunk.format`.
    SplunkFormat, "format", default Cef, {
        /// CEF.
        Cef = "cef",
        /// Canonical JSON.
        Json = "json",
        /// Plain syslog: `key="value"` pairs in an RFC 5424 (or RFC 3164) header.
        Syslog = "syslog",
    }
);
names!(
    /// `header` of a syslog endpoint block: which syslog header wraps each event. The default
    /// depends on the transport (see `connector::syslog::default_header`), so the key is
    /// optional in the block.
    SyslogHeader, "syslog header", default Rfc5424, {
        /// RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`).
        Rfc5424 = "rfc5424",
        /// RFC 3164, "traditional" BSD syslog (`<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`).
        Rfc3164 = "rfc3164",
    }
);
names!(
    /// `data_minimization.parameters`: how much of the tool arguments a SIEM destination
    /// receives (docs/decisions/0103-siem-data-minimisation-default.md).
    ParameterMode, "parameters mode", default Names, {
        /// No parameters at all.
        Off = "off",
        /// Parameter names only; every value is replaced by `"[omitted]"`.
        Names = "names",
        /// Each value replaced by its keyed HMAC-SHA256 (`hmac-sha256:<hex>`), so equal
        /// values can be matched across events without being readable.
        Hashed = "hashed",
        /// Values as sent, after the secrets and PII detectors (`pii_filtering`).
        Full = "full",
    }
);

/// `data_minimization` (per platform, or under `siem` as the default for every platform):
/// what of each event a SIEM may see. The requirements ask for "PII filtering" and "data
/// minimization" before SIEM transmission; these are the keys that do it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataMinimization {
    /// `off`, `names` (default), `hashed` or `full`.
    #[serde(default)]
    pub parameters: ParameterMode,
    /// The HMAC key for `parameters: hashed` (at least 32 bytes; `${ENV_VAR}` or
    /// `{file: PATH}`).
    #[serde(default)]
    pub hash_key: Option<crate::secret::Secret>,
    /// Run the secrets and PII detectors on what is sent (parameter values, parameter names,
    /// messages, error messages, reasons) and redact what they find; never blocks. Default on.
    #[serde(default = "yes")]
    pub pii_filtering: bool,
    /// Optional fields never sent (`session_id`, `client_info.user`, `upstream_server.command`,
    /// `correlation_id`, `client_info`, `security_decision.reason`, `error.message`,
    /// `message`, `hash_chain`, `mcp_data.parameters`).
    #[serde(default)]
    pub exclude_fields: Vec<String>,
}

impl Default for DataMinimization {
    /// What a destination without any block gets: names only, detectors on.
    fn default() -> Self {
        DataMinimization {
            parameters: ParameterMode::default(),
            hash_key: None,
            pii_filtering: true,
            exclude_fields: Vec::new(),
        }
    }
}

names!(
    /// `siem.qradar.transport`.
    QRadarTransport, "transport", default SyslogTls, {
        /// TLS syslog.
        SyslogTls = "syslog_tls",
        /// TCP syslog.
        SyslogTcp = "syslog_tcp",
        /// UDP syslog.
        SyslogUdp = "syslog_udp",
        /// QRadar's HTTP Receiver.
        RestApi = "rest_api",
    }
);
names!(
    /// `siem.qradar.format`.
    QRadarFormat, "format", default Leef, {
        /// LEEF 2.0.
        Leef = "leef",
        /// LEEF 2.0, by version.
        Leef2 = "leef2",
        /// LEEF 1.0.
        Leef1 = "leef1",
        /// CEF.
        Cef = "cef",
        /// Canonical JSON.
        Json = "json",
    }
);
names!(
    /// `siem.azure_sentinel.transport`.
    SentinelTransport, "transport", default LogsIngestionApi, {
        /// Azure Monitor Logs Ingestion API.
        LogsIngestionApi = "logs_ingestion_api",
        /// Legacy HTTP Data Collector API.
        DataCollectorApi = "data_collector_api",
        /// Event Hubs over HTTPS.
        EventHubs = "event_hubs",
        /// A file for the Azure Monitor Agent.
        LogAnalyticsAgent = "log_analytics_agent",
        /// Syslog to the forwarder whose rsyslog/syslog-ng feeds the Azure Monitor Agent
        /// (Gatekit addition): TCP, or TLS with a `tls` block.
        Syslog = "syslog",
        /// Syslog over RELP to the forwarder's rsyslog (`imrelp`; Gatekit addition): every
        /// record acknowledged by rsyslog itself. Plain TCP.
        Relp = "relp",
    }
);
names!(
    /// `siem.azure_sentinel.format`.
    SentinelFormat, "format", default Json, {
        /// Sentinel JSON.
        Json = "json",
        /// CEF.
        Cef = "cef",
        /// Plain syslog: `key="value"` pairs in an RFC 5424 header, for the Syslog table.
        Syslog = "syslog",
    }
);

/// `siem.no_proxy`: a list of hosts, or one comma-separated string as `NO_PROXY` is written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NoProxy {
    /// `[a.example.com, 10.0.0.1]`.
    List(Vec<String>),
    /// `"a.example.com,10.0.0.1"`.
    Text(String),
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
    /// Link every event into a SHA-256 hash chain (`hash_chain` in every format), so `gatekit
    /// audit verify` finds a changed, removed or reordered event in a received JSON stream
    /// (Gatekit addition; default off).
    #[serde(default)]
    pub hash_chain: bool,
    /// Every destination of this file is a test target (Gatekit addition; default off):
    /// `gatekit siem load` may flood it with synthetic events without `--yes`. Without it,
    /// `siem load` refuses destinations that are not on this machine (a file, a loopback
    /// address), so a production SIEM is never load-tested by accident.
    #[serde(default)]
    pub test_target: bool,
    /// Forward proxy for every `https://` SIEM endpoint, `http://host:port` (Gatekit addition;
    /// default: `HTTPS_PROXY` from the environment; `""`: no proxy). See `http/proxy.rs`.
    #[serde(default)]
    pub https_proxy: Option<String>,
    /// Hosts reached without the proxy (Gatekit addition; default: `NO_PROXY`).
    #[serde(default)]
    pub no_proxy: Option<NoProxy>,
    /// Default data minimisation for every platform without its own block (Gatekit
    /// addition; default: parameter names only, detectors on).
    #[serde(default)]
    pub data_minimization: Option<DataMinimization>,
    /// Committed mode: every event spooled before the gateway answers (Gatekit addition;
    /// see `config/spool.rs` for the defaults).
    #[serde(default)]
    pub spool: Option<SpoolConfig>,
    /// The host agent (Gatekit addition; `config/observe.rs`).
    #[serde(default)]
    pub agent: Option<observe::AgentConfig>,
    /// Alert thresholds and the heartbeat (Gatekit addition; `config/observe.rs`).
    #[serde(default)]
    pub alerts: Option<observe::AlertsConfig>,
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
    /// Which platform's refusal the gateway reports first when several refuse
    /// (`overflow: fail_closed`), lower first (decision 0620).
    #[serde(default)]
    pub priority: Option<u32>,
    /// `sc4s`, `hec` or `file`.
    #[serde(default)]
    pub transport: SplunkTransport,
    /// `cef`, `json` or `syslog`.
    #[serde(default)]
    pub format: SplunkFormat,
    /// SC4S (TLS syslog).
    #[serde(default)]
    pub sc4s: Option<SyslogEndpoint>,
    /// HTTP Event Collector.
    #[serde(default)]
    pub hec: Option<HecConfig>,
    /// File for the Universal Forwarder.
    #[serde(default)]
    pub file: Option<FileEndpoint>,
    /// What of each event this platform may see (Gatekit addition).
    #[serde(default)]
    pub data_minimization: Option<DataMinimization>,
    /// Alternative endpoints tried in order when the one before is broken (Gatekit
    /// addition): each entry is the platform's connector keys (`transport` and that
    /// transport's block), checked like the primary; see `platform/failover.rs`.
    #[serde(default)]
    pub failover: Vec<yaml::Mapping>,
    /// Largest event, in bytes, this platform's receiver gets; a longer one is shortened
    /// (docs/formats.md §9). Default per transport (Gatekit addition).
    #[serde(default)]
    pub max_event_bytes: Option<usize>,
    /// Delivery options.
    #[serde(default)]
    pub delivery: Option<DeliveryBlock>,
}

/// `siem.qradar`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QRadarConfig {
    /// Switch.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// See [`SplunkConfig::priority`].
    #[serde(default)]
    pub priority: Option<u32>,
    /// `syslog_tls`, `syslog_tcp`, `syslog_udp` or `rest_api`.
    #[serde(default)]
    pub transport: QRadarTransport,
    /// `leef` (LEEF 2.0), `leef1`, `cef` or `json`.
    #[serde(default)]
    pub format: QRadarFormat,
    /// Syslog receiver.
    #[serde(default)]
    pub syslog: Option<SyslogEndpoint>,
    /// QRadar HTTP Receiver (the requirements' `rest_api`).
    #[serde(default)]
    pub rest_api: Option<QRadarRestApi>,
    /// DSM identity.
    #[serde(default)]
    pub dsm: Option<DsmConfig>,
    /// What of each event this platform may see (Gatekit addition).
    #[serde(default)]
    pub data_minimization: Option<DataMinimization>,
    /// Alternative endpoints tried in order when the one before is broken (Gatekit
    /// addition): each entry is the platform's connector keys (`transport` and that
    /// transport's block), checked like the primary; see `platform/failover.rs`.
    #[serde(default)]
    pub failover: Vec<yaml::Mapping>,
    /// Largest event, in bytes, this platform's receiver gets; a longer one is shortened
    /// (docs/formats.md §9). Default per transport (Gatekit addition).
    #[serde(default)]
    pub max_event_bytes: Option<usize>,
    /// Delivery options.
    #[serde(default)]
    pub delivery: Option<DeliveryBlock>,
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
    /// See [`SplunkConfig::priority`].
    #[serde(default)]
    pub priority: Option<u32>,
    /// `logs_ingestion_api`, `data_collector_api`, `event_hubs`, `log_analytics_agent`,
    /// `syslog` or `relp`.
    #[serde(default)]
    pub transport: SentinelTransport,
    /// `json`, `cef` or `syslog`.
    #[serde(default)]
    pub format: SentinelFormat,
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
    /// The forwarder's syslog listener, for `transport: syslog` or `relp` (Gatekit addition).
    #[serde(default)]
    pub syslog: Option<SyslogEndpoint>,
    /// Entra ID / shared key authentication.
    #[serde(default)]
    pub auth: Option<SentinelAuthConfig>,
    /// Table schema.
    #[serde(default)]
    pub schema: Option<SentinelSchemaConfig>,
    /// What of each event this platform may see (Gatekit addition).
    #[serde(default)]
    pub data_minimization: Option<DataMinimization>,
    /// Alternative endpoints tried in order when the one before is broken (Gatekit
    /// addition): each entry is the platform's connector keys (`transport` and that
    /// transport's block), checked like the primary; see `platform/failover.rs`.
    #[serde(default)]
    pub failover: Vec<yaml::Mapping>,
    /// Largest event, in bytes, this platform's receiver gets; a longer one is shortened
    /// (docs/formats.md §9). Default per transport (Gatekit addition).
    #[serde(default)]
    pub max_event_bytes: Option<usize>,
    /// Delivery options.
    #[serde(default)]
    pub delivery: Option<DeliveryBlock>,
}
