//! The syslog connectors: TCP ([`tcp`], RFC 6587), UDP ([`udp`], RFC 5426), TLS ([`tls`],
//! RFC 5425) and RELP ([`relp`], rsyslog's acknowledged protocol). What they share lives here: the endpoint block ([`SyslogEndpoint`]), facility
//! and severity names, the syslog header (RFC 5424 or RFC 3164) around a CEF/LEEF/JSON/
//! key=value body, and framing.
//!
//! Header defaults ([`default_header`]): RFC 5424 over TLS, because RFC 5425 §4 defines the
//! TLS transport for RFC 5424 messages (and the requirements say "RFC5424 format over TLS");
//! RFC 3164 over plain TCP and UDP to QRadar, which the requirements call "traditional syslog
//! (RFC3164)". `header:` on the endpoint block overrides either.

pub mod acked;
pub mod relp;
pub mod tcp;
pub mod tls;
pub mod udp;

use gatekit_config::{yaml, Config, ConfigError};
use gatekit_format::{
    Formatter, Framing, Syslog3164Formatter, Syslog5424Formatter, SyslogSettings,
};

use serde::Deserialize;

use crate::config::SyslogHeader;

/// The syslog transports, for choosing the default header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyslogTransport {
    /// RFC 5425.
    Tls,
    /// RFC 6587.
    Tcp,
    /// RFC 5426.
    Udp,
}

/// The header a transport uses when the block has no `header:` key: RFC 5424 over TLS
/// (RFC 5425 §4 carries RFC 5424 messages), RFC 3164 over plain TCP and UDP (the
/// requirements' "traditional syslog (RFC3164)" for QRadar's UDP/TCP transports; QRadar
/// accepts both headers on every syslog listener, wire reference §6.1).
pub(crate) fn default_header(transport: SyslogTransport) -> SyslogHeader {
    match transport {
        SyslogTransport::Tls => SyslogHeader::Rfc5424,
        SyslogTransport::Tcp | SyslogTransport::Udp => SyslogHeader::Rfc3164,
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
    /// `rfc5424` or `rfc3164` (Gatekit addition; default per transport: RFC 5424 over TLS,
    /// RFC 3164 over plain TCP/UDP, see [`default_header`]).
    #[serde(default)]
    pub header: Option<SyslogHeader>,
    /// TLS options.
    #[serde(default)]
    pub tls: Option<crate::tls::TlsConfig>,
    /// Accept settings that send events unprotected (a `tls` block under a plain transport);
    /// Gatekit addition, default off.
    #[serde(default)]
    pub allow_insecure: bool,
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

/// `body` in the endpoint's syslog header (`header:`, else `default`), with its facility,
/// severity and the given APP-NAME/TAG and HOSTNAME.
pub(crate) fn syslog_wrap(
    body: Box<dyn Formatter>,
    endpoint: &SyslogEndpoint,
    default: SyslogHeader,
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
    let built = match endpoint.header.unwrap_or(default) {
        SyslogHeader::Rfc5424 => {
            Syslog5424Formatter::new(settings, body).map(|f| Box::new(f) as Box<dyn Formatter>)
        }
        SyslogHeader::Rfc3164 => {
            Syslog3164Formatter::new(settings, body).map(|f| Box::new(f) as Box<dyn Formatter>)
        }
    };
    built.map_err(|e| ConfigError::at(source, path, e.to_string()))
}

/// `body` in an RFC 5424 header with the default facility (`local0`) and each event's own
/// severity: `format: syslog` for a destination that has no syslog block (a file).
pub(crate) fn wrap_with_defaults(
    body: Box<dyn Formatter>,
    source: &str,
    path: &str,
) -> Result<Box<dyn Formatter>, ConfigError> {
    Syslog5424Formatter::new(
        SyslogSettings {
            app_name: "gatekit".to_string(),
            ..SyslogSettings::default()
        },
        body,
    )
    .map(|f| Box::new(f) as Box<dyn Formatter>)
    .map_err(|e| ConfigError::at(source, path, e.to_string()))
}

/// A `tls:` block under a plain TCP or UDP transport would be silently ignored and the events
/// sent in clear text: an error, unless `allow_insecure: true` is set on the endpoint (then a
/// warning).
pub(crate) fn no_ignored_tls(
    cfg: &Config,
    endpoint: &SyslogEndpoint,
    path: &str,
    warnings: &mut crate::checks::Warnings,
) -> Result<(), ConfigError> {
    if endpoint.tls.as_ref().is_some_and(|t| t.enabled) {
        let message = "a `tls` block is set but this transport is plain syslog: events would be sent unencrypted; use the TLS transport (`syslog_tls`), remove the block, or set `allow_insecure: true`";
        if endpoint.allow_insecure {
            warnings.add(format!("{path}.tls"), message);
        } else {
            return Err(ConfigError::at(&cfg.source, format!("{path}.tls"), message));
        }
    }
    Ok(())
}

/// A TCP or UDP syslog peer.
#[derive(Debug, Clone)]
pub struct SyslogPlan {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// A TLS syslog peer.
#[derive(Debug, Clone)]
pub struct TlsPlan {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Certificates, verification, pins.
    pub settings: crate::tls::TlsSettings,
}

/// TLS settings for a TLS syslog endpoint; files are checked now (a missing CA file is a
/// load error, not a delivery failure hours later).
pub(crate) fn tls_plan(
    cfg: &Config,
    endpoint: &SyslogEndpoint,
    path: &str,
    warnings: &mut crate::checks::Warnings,
) -> Result<TlsPlan, ConfigError> {
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
        warnings.add(format!("{path}.tls.verify_certs"), crate::checks::NO_VERIFY);
    }
    let settings = tls.settings(cfg);
    crate::tls::client_config(&settings)
        .map_err(|e| ConfigError::at(src, format!("{path}.tls"), e))?;
    Ok(TlsPlan {
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
