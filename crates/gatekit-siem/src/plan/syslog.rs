//! Shared pieces of the syslog destinations: facility and severity names, the RFC 5424
//! wrapper, TLS settings checked at load, and framing.

use std::path::PathBuf;

use gatekit_config::{yaml, Config, ConfigError};
use gatekit_format::{Formatter, Framing, Syslog5424Formatter, SyslogSettings};

use super::TransportPlan;
use crate::config::SyslogEndpoint;

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

pub(crate) fn syslog_wrap(
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

pub(crate) fn tls_settings(
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
pub(crate) fn tls_plan(
    cfg: &Config,
    endpoint: &SyslogEndpoint,
    path: &str,
) -> Result<TransportPlan, ConfigError> {
    let src = cfg.source.as_str();
    let tls = endpoint.tls.clone().unwrap_or_default();
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
    let settings = tls_settings(cfg, &tls);
    crate::transport::tls::client_config(&settings)
        .map_err(|e| ConfigError::at(src, format!("{path}.tls"), e))?;
    Ok(TransportPlan::Tls {
        host: endpoint.host.clone(),
        port: endpoint.port.unwrap_or(6514),
        settings,
    })
}

pub(crate) fn framing(
    source: &str,
    path: &str,
    endpoint: &SyslogEndpoint,
) -> Result<Framing, ConfigError> {
    match endpoint.framing.as_deref() {
        // LF is what SC4S's and QRadar's TCP/TLS listeners expect
        // (docs/reference/platform-facts.md §20).
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
