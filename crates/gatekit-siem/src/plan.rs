//! From the `siem` configuration to destinations: which formatter, which framing, which
//! transport and which delivery settings each enabled platform gets.
//!
//! Platform defaults follow the platforms (platform-corrections.md): Splunk `sc4s` is CEF in
//! RFC 5424 over TLS with LF framing; QRadar takes LEEF 2.0 in RFC 5424; the file transports
//! write one JSON object (or CEF line) per line. Transports that this build does not deliver
//! yet are errors at load that say so.

use std::path::PathBuf;

use gatekit_config::{yaml, Config, ConfigError};
use gatekit_delivery::{DeliveryConfig, DeliverySettings};
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, LeefFormatter, LeefSettings,
    LeefVersion, Syslog5424Formatter, SyslogSettings,
};

use crate::config::{SiemConfig, SyslogEndpoint};

/// How a destination reaches its SIEM.
#[derive(Debug, Clone)]
pub enum TransportPlan {
    /// Append lines to a file.
    File(crate::transport::file::FileSettings),
    /// TCP syslog.
    Tcp {
        /// Host.
        host: String,
        /// Port.
        port: u16,
    },
    /// TLS syslog.
    Tls {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Certificates, verification, pins.
        settings: crate::transport::tls::TlsSettings,
    },
    /// Splunk HEC.
    Hec {
        /// `https://host:8088`.
        endpoint: crate::http::client::Endpoint,
        /// HEC token.
        token: crate::secret::Secret,
        /// TLS options for https.
        tls: crate::transport::tls::TlsSettings,
    },
    /// UDP syslog.
    Udp {
        /// Host.
        host: String,
        /// Port.
        port: u16,
    },
}

/// One enabled platform, ready to build.
pub struct DestinationPlan {
    /// `splunk`, `qradar` or `azure_sentinel`.
    pub platform: &'static str,
    /// Renders one event.
    pub formatter: Box<dyn Formatter>,
    /// Frames one event on the wire.
    pub framing: Framing,
    /// Where it goes.
    pub transport: TransportPlan,
    /// Queue, batching, retry, disk buffer.
    pub delivery: DeliverySettings,
    /// Whether a full queue refuses tool calls (`overflow: fail_closed`).
    pub fail_closed: bool,
}

impl std::fmt::Debug for DestinationPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationPlan")
            .field("platform", &self.platform)
            .field("framing", &self.framing)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

fn file_settings(
    cfg: &Config,
    file: &crate::config::FileEndpoint,
) -> crate::transport::file::FileSettings {
    crate::transport::file::FileSettings {
        path: cfg.resolve_path(&file.path),
        max_bytes: file.max_size_mb.saturating_mul(1024 * 1024),
        max_age: (file.max_age_hours.is_finite() && file.max_age_hours > 0.0)
            .then(|| std::time::Duration::from_secs_f64(file.max_age_hours * 3600.0)),
        backups: file.backup_count,
    }
}

/// Parses and checks the `siem` section; `None` when there is none or it is disabled.
pub fn parse(cfg: &Config) -> Result<Option<SiemConfig>, ConfigError> {
    let Some(value) = cfg.file.siem.clone() else {
        return Ok(None);
    };
    let siem: SiemConfig = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ConfigError::at(
            &cfg.source,
            format!("siem.{path}").trim_end_matches('.'),
            e.into_inner().to_string(),
        )
    })?;
    Ok(siem.enabled.then_some(siem))
}

fn unavailable(source: &str, path: &str, what: &str, issue: &str) -> ConfigError {
    ConfigError::at(
        source,
        path,
        format!("{what} is not available in this version of Gatekit ({issue}); refusing to start rather than drop the audit trail"),
    )
}

fn facility(source: &str, path: &str, value: Option<&yaml::Value>) -> Result<u8, ConfigError> {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    match value {
        None => Ok(16),
        Some(v) => {
            if let Some(n) = v.as_u64().filter(|n| *n < 24) {
                return Ok(n as u8);
            }
            v.as_str()
                .and_then(|s| NAMES.iter().position(|n| *n == s))
                .map(|i| i as u8)
                .ok_or_else(|| {
                    ConfigError::at(
                        source,
                        format!("{path}.facility"),
                        "must be a syslog facility name (local0..local7, ...) or 0-23",
                    )
                })
        }
    }
}

fn syslog_wrap(
    body: Box<dyn Formatter>,
    endpoint: &SyslogEndpoint,
    app_name: &str,
    hostname: Option<String>,
    source: &str,
    path: &str,
) -> Result<Box<dyn Formatter>, ConfigError> {
    let mut settings = SyslogSettings {
        facility: facility(source, path, endpoint.facility.as_ref())?,
        app_name: app_name.to_string(),
        hostname,
        ..SyslogSettings::default()
    };
    // `severity` fixes the syslog PRI severity for every event, as the requirements' syslog
    // profile does ("Severity: Info (6)"); each event's own severity stays in the CEF/LEEF body.
    if let Some(name) = &endpoint.severity {
        const NAMES: [&str; 8] = [
            "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
        ];
        let code = match name.as_str() {
            "emergency" => Some(0),
            "critical" => Some(2),
            "error" => Some(3),
            "warn" => Some(4),
            other => NAMES.iter().position(|n| *n == other).or_else(|| other.parse::<usize>().ok().filter(|n| *n < 8)),
        }
        .ok_or_else(|| ConfigError::at(source, format!("{path}.severity"), "must be a syslog severity (emerg, alert, crit, err, warning, notice, info, debug) or 0-7"))?;
        settings.severity_map = gatekit_format::SeverityMap::new([code as u8; 8])
            .map_err(|e| ConfigError::at(source, format!("{path}.severity"), e.to_string()))?;
    }
    Syslog5424Formatter::new(settings, body)
        .map(|f| Box::new(f) as Box<dyn Formatter>)
        .map_err(|e| ConfigError::at(source, path, e.to_string()))
}

fn tls_settings(
    cfg: &Config,
    tls: &crate::config::TlsConfig,
) -> crate::transport::tls::TlsSettings {
    let resolve = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| cfg.resolve_path(&p.display().to_string()))
    };
    crate::transport::tls::TlsSettings {
        verify: tls.verify_certs,
        ca_file: resolve(&tls.ca_file),
        cert_file: resolve(&tls.cert_file),
        key_file: resolve(&tls.key_file),
        pins: tls.pins.clone(),
        server_name: tls.server_name.clone(),
    }
}

/// TLS settings for a TLS syslog endpoint; files are checked now (a missing CA file is a
/// load error, not a delivery failure hours later).
fn tls_plan(
    cfg: &Config,
    endpoint: &SyslogEndpoint,
    path: &str,
) -> Result<TransportPlan, ConfigError> {
    let src = cfg.source.as_str();
    let tls = endpoint.tls.clone().unwrap_or(crate::config::TlsConfig {
        enabled: true,
        verify_certs: true,
        ca_file: None,
        cert_file: None,
        key_file: None,
        pins: Vec::new(),
        server_name: None,
    });
    if !tls.enabled {
        return Err(ConfigError::at(
            src,
            format!("{path}.tls.enabled"),
            "a TLS transport cannot run with TLS disabled; use the tcp transport instead",
        ));
    }
    if !tls.verify_certs {
        tracing::warn!(path, "TLS certificate verification is OFF for this SIEM destination; events can be intercepted.");
    }
    let resolve = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| cfg.resolve_path(&p.display().to_string()))
    };
    let settings = crate::transport::tls::TlsSettings {
        verify: tls.verify_certs,
        ca_file: resolve(&tls.ca_file),
        cert_file: resolve(&tls.cert_file),
        key_file: resolve(&tls.key_file),
        pins: tls.pins.clone(),
        server_name: tls.server_name.clone(),
    };
    crate::transport::tls::client_config(&settings)
        .map_err(|e| ConfigError::at(src, format!("{path}.tls"), e))?;
    Ok(TransportPlan::Tls {
        host: endpoint.host.clone(),
        port: endpoint.port.unwrap_or(6514),
        settings,
    })
}

fn framing(source: &str, path: &str, endpoint: &SyslogEndpoint) -> Result<Framing, ConfigError> {
    match endpoint.framing.as_deref() {
        // LF is what SC4S's and QRadar's TCP/TLS listeners expect (platform-corrections 20).
        None => Ok(Framing::Lf),
        Some(f) => Framing::parse(f).map_err(|_| {
            ConfigError::at(
                source,
                format!("{path}.framing"),
                "must be `lf` or `octet_counting`",
            )
        }),
    }
}

/// The delivery settings of one platform: its `delivery` block over the global defaults.
fn delivery(
    cfg: &Config,
    siem: &SiemConfig,
    block: Option<&yaml::Mapping>,
    platform: &str,
    path: &str,
) -> Result<(DeliverySettings, bool), ConfigError> {
    let mut map = block.cloned().unwrap_or_default();
    let mut default = |key: &str, value: Option<yaml::Value>| {
        if let Some(v) = value {
            map.entry(yaml::Value::from(key)).or_insert(v);
        }
    };
    default(
        "buffer_size",
        siem.buffer_size.map(|v| yaml::Value::from(v as u64)),
    );
    default("flush_interval", siem.flush_interval.map(yaml::Value::from));
    default("retry_attempts", siem.retry_attempts.map(yaml::Value::from));
    default("retry_backoff", siem.retry_backoff.map(yaml::Value::from));
    // Dead letters need a home even without a disk buffer: next to the configuration.
    let dead_letter = cfg.resolve_path(&format!("logs/siem-{platform}-dead-letter.jsonl"));
    default(
        "dead_letter_path",
        Some(yaml::Value::from(dead_letter.display().to_string())),
    );
    let config: DeliveryConfig = serde_path_to_error::deserialize(yaml::Value::Mapping(map))
        .map_err(|e| {
            ConfigError::at(
                &cfg.source,
                format!("{path}.delivery.{}", e.path()),
                e.into_inner().to_string(),
            )
        })?;
    let fail_closed = config.overflow == gatekit_delivery::OverflowPolicy::FailClosed;
    let settings = config
        .validate(&format!("{path}.delivery"))
        .map_err(|e| ConfigError::at(&cfg.source, e.key, e.reason))?;
    Ok((settings, fail_closed))
}

/// A platform configured directly (`siem.<key>`) or under `siem.platforms.<key>`, with the
/// path it was found at; both at once is an error.
fn locate<'a, T>(
    src: &str,
    direct: &'a Option<T>,
    nested: &'a Option<T>,
    key: &str,
    label: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<(&'a T, String)> {
    match (direct, nested) {
        (Some(_), Some(_)) => {
            errors.push(ConfigError::at(
                src,
                format!("siem.{key}"),
                format!("configure {label} either here or under siem.platforms.{key}, not both"),
            ));
            None
        }
        (Some(t), None) => Some((t, format!("siem.{key}"))),
        (None, Some(t)) => Some((t, format!("siem.platforms.{key}"))),
        (None, None) => None,
    }
}

/// Every enabled platform as a destination plan.
pub fn plan(cfg: &Config, siem: &SiemConfig) -> Result<Vec<DestinationPlan>, Vec<ConfigError>> {
    let src = cfg.source.as_str();
    let mut plans = Vec::new();
    let mut errors = Vec::new();

    let splunk = locate(
        src,
        &siem.splunk,
        &siem.platforms.splunk,
        "splunk",
        "Splunk",
        &mut errors,
    )
    .filter(|(s, _)| s.enabled)
    .map(|(s, path)| splunk_plan(cfg, siem, s, &path));
    let qradar = locate(
        src,
        &siem.qradar,
        &siem.platforms.qradar,
        "qradar",
        "QRadar",
        &mut errors,
    )
    .filter(|(q, _)| q.enabled)
    .map(|(q, path)| qradar_plan(cfg, siem, q, &path));
    let sentinel_block = &siem.platforms.azure_sentinel;
    let sentinel = locate(
        src,
        &siem.azure_sentinel,
        sentinel_block,
        "azure_sentinel",
        "Sentinel",
        &mut errors,
    )
    .filter(|(s, _)| s.enabled)
    .map(|(s, path)| sentinel_plan(cfg, siem, s, &path));
    for planned in [splunk, qradar, sentinel].into_iter().flatten() {
        match planned {
            Ok(p) => plans.push(p),
            Err(e) => errors.push(e),
        }
    }

    if errors.is_empty() {
        Ok(plans)
    } else {
        Err(errors)
    }
}

fn splunk_plan(
    cfg: &Config,
    siem: &SiemConfig,
    s: &crate::config::SplunkConfig,
    path: &str,
) -> Result<DestinationPlan, ConfigError> {
    let src = cfg.source.as_str();
    let body: Box<dyn Formatter> = match s.format.as_str() {
        "cef" | "syslog" => Box::new(
            CefFormatter::new(CefSettings::default())
                .map_err(|e| ConfigError::at(src, path, e.to_string()))?,
        ),
        "json" => Box::new(JsonFormatter),
        other => {
            return Err(ConfigError::at(
                src,
                format!("{path}.format"),
                format!("unknown format `{other}`; use cef, json or syslog"),
            ))
        }
    };
    let (delivery, fail_closed) = delivery(cfg, siem, s.delivery.as_ref(), "splunk", path)?;
    match s.transport.as_str() {
        "file" => {
            let file = s.file.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{path}.file.path"),
                    "the `file` transport needs `file: {path: ...}`",
                )
            })?;
            Ok(DestinationPlan {
                platform: "splunk",
                formatter: body,
                framing: Framing::Lf,
                transport: TransportPlan::File(file_settings(cfg, file)),
                delivery,
                fail_closed,
            })
        }
        "sc4s" => {
            // SC4S: CEF:0 in RFC 5424 over TLS, LF framing on 6514 (platform-corrections 11, 20).
            let endpoint = s.sc4s.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{path}.sc4s.host"),
                    "the `sc4s` transport needs `sc4s: {host: ...}`",
                )
            })?;
            let transport = tls_plan(cfg, endpoint, &format!("{path}.sc4s"))?;
            let formatter = syslog_wrap(
                body,
                endpoint,
                "gatekit",
                None,
                src,
                &format!("{path}.sc4s"),
            )?;
            let framing = framing(src, &format!("{path}.sc4s"), endpoint)?;
            Ok(DestinationPlan {
                platform: "splunk",
                formatter,
                framing,
                transport,
                delivery,
                fail_closed,
            })
        }
        "hec" => {
            // HEC takes its own JSON envelope whatever `format` says: the event is the canonical
            // JSON, with Splunk's metadata around it (siem-wire-reference §4.3).
            let hec = s.hec.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{path}.hec.endpoint"),
                    "the `hec` transport needs `hec: {endpoint: ..., token: ...}`",
                )
            })?;
            let endpoint = crate::http::client::Endpoint::parse(&hec.endpoint)
                .map_err(|e| ConfigError::at(src, format!("{path}.hec.endpoint"), e))?;
            if hec.token.plain_text {
                tracing::warn!(path = %format!("{path}.hec.token"), "The HEC token is written in the configuration file in plain text; use ${{ENV_VAR}} or {{file: PATH}}.");
            }
            let default = gatekit_format::HecSettings::default();
            let settings = gatekit_format::HecSettings {
                host: None,
                source: hec.source.clone().unwrap_or(default.source),
                sourcetype: hec.sourcetype.clone().unwrap_or(default.sourcetype),
                index: hec.index.clone(),
                indexed_fields: default.indexed_fields,
            };
            let formatter = gatekit_format::HecFormatter::new(settings)
                .map_err(|e| ConfigError::at(src, format!("{path}.hec"), e.to_string()))?;
            let tls = hec.tls.clone().unwrap_or(crate::config::TlsConfig {
                enabled: true,
                verify_certs: true,
                ca_file: None,
                cert_file: None,
                key_file: None,
                pins: Vec::new(),
                server_name: None,
            });
            let tls = tls_settings(cfg, &tls);
            if endpoint.tls {
                crate::transport::tls::client_config(&tls)
                    .map_err(|e| ConfigError::at(src, format!("{path}.hec.tls"), e))?;
            }
            Ok(DestinationPlan {
                platform: "splunk",
                formatter: Box::new(formatter),
                framing: Framing::Lf,
                transport: TransportPlan::Hec {
                    endpoint,
                    token: hec.token.clone(),
                    tls,
                },
                delivery,
                fail_closed,
            })
        }
        other => Err(ConfigError::at(
            src,
            format!("{path}.transport"),
            format!("unknown transport `{other}`; use sc4s, hec or file"),
        )),
    }
}

fn qradar_plan(
    cfg: &Config,
    siem: &SiemConfig,
    q: &crate::config::QRadarConfig,
    path: &str,
) -> Result<DestinationPlan, ConfigError> {
    let src = cfg.source.as_str();
    let dsm = q.dsm.clone().unwrap_or(crate::config::DsmConfig {
        device_type: None,
        event_category: None,
        log_source_identifier: None,
    });
    let body: Box<dyn Formatter> = match q.format.as_str() {
        "leef" | "leef2" | "leef1" => {
            let version = if q.format == "leef1" {
                LeefVersion::V1
            } else {
                LeefVersion::V2 {
                    delimiter: "^".into(),
                }
            };
            let mut settings = LeefSettings {
                version,
                ..LeefSettings::default()
            };
            if let Some(product) = dsm.device_type.clone() {
                settings.product = product;
            }
            Box::new(
                LeefFormatter::new(settings)
                    .map_err(|e| ConfigError::at(src, format!("{path}.dsm"), e.to_string()))?,
            )
        }
        "cef" => Box::new(
            CefFormatter::new(CefSettings::default())
                .map_err(|e| ConfigError::at(src, path, e.to_string()))?,
        ),
        "json" => Box::new(JsonFormatter),
        other => {
            return Err(ConfigError::at(
                src,
                format!("{path}.format"),
                format!("unknown format `{other}`; use leef, leef1, cef or json"),
            ))
        }
    };
    let (delivery, fail_closed) = delivery(cfg, siem, q.delivery.as_ref(), "qradar", path)?;
    let transport_path = format!("{path}.transport");
    let endpoint = || {
        q.syslog.as_ref().ok_or_else(|| {
            ConfigError::at(
                src,
                format!("{path}.syslog.host"),
                "a syslog transport needs `syslog: {host: ...}`",
            )
        })
    };
    let (transport, endpoint) = match q.transport.as_str() {
        "syslog_tcp" => {
            let e = endpoint()?;
            (
                TransportPlan::Tcp {
                    host: e.host.clone(),
                    port: e.port.unwrap_or(514),
                },
                e,
            )
        }
        "syslog_udp" => {
            let e = endpoint()?;
            (
                TransportPlan::Udp {
                    host: e.host.clone(),
                    port: e.port.unwrap_or(514),
                },
                e,
            )
        }
        "syslog_tls" => {
            let e = endpoint()?;
            (tls_plan(cfg, e, &format!("{path}.syslog"))?, e)
        }
        "rest_api" => {
            return Err(unavailable(
                src,
                &transport_path,
                "`rest_api` (QRadar HTTP Receiver)",
                "HTTP transports are planned",
            ))
        }
        other => {
            return Err(ConfigError::at(
                src,
                transport_path,
                format!(
                "unknown transport `{other}`; use syslog_tls, syslog_tcp, syslog_udp or rest_api"
            ),
            ))
        }
    };
    // QRadar identifies the log source by the syslog HOSTNAME.
    let formatter = syslog_wrap(
        body,
        endpoint,
        "gatekit",
        dsm.log_source_identifier.clone(),
        src,
        &format!("{path}.syslog"),
    )?;
    let framing = match transport {
        TransportPlan::Udp { .. } => Framing::None,
        _ => framing(src, &format!("{path}.syslog"), endpoint)?,
    };
    Ok(DestinationPlan {
        platform: "qradar",
        formatter,
        framing,
        transport,
        delivery,
        fail_closed,
    })
}

fn sentinel_plan(
    cfg: &Config,
    siem: &SiemConfig,
    s: &crate::config::SentinelConfig,
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
    match s.transport.as_str() {
            "log_analytics_agent" => {
                let file = s.log_analytics_agent.as_ref().ok_or_else(|| ConfigError::at(src, format!("{path}.log_analytics_agent.path"), "the `log_analytics_agent` transport needs `log_analytics_agent: {path: ...}`"))?;
                Ok(DestinationPlan { platform: "azure_sentinel", formatter: body, framing: Framing::Lf, transport: TransportPlan::File(file_settings(cfg, file)), delivery, fail_closed })
            }
            "logs_ingestion_api" | "data_collector_api" | "event_hubs" => {
                Err(unavailable(src, &transport_path, &format!("`{}`", s.transport), "HTTP transports are planned"))
            }
            other => Err(ConfigError::at(src, transport_path, format!("unknown transport `{other}`; use logs_ingestion_api, data_collector_api, event_hubs or log_analytics_agent"))),
        }
}
