//! The whole-event size limit of each destination (`max_event_bytes`).
//!
//! Job: pick the limit a destination's receiver takes as one message (the defaults below,
//! from docs/reference/event-size-limits.md), let the platform block override it, check the
//! override, and put [`SizeLimited`] around the destination's formatter, inside its data
//! minimisation, so the shrink sees the event as it will be sent and the redactors see whole
//! values. Rendering (and so shrinking) happens once per destination on the SIEM render
//! thread (`intake/`).
//!
//! The limit counts the message as the receiver sees it (syslog header and body, or the HTTP
//! record), without the framing around it (the octet-count prefix or the LF), which is how
//! rsyslog and syslog-ng count their message-size limits.

use gatekit_config::ConfigError;
use gatekit_format::{Formatter, SizeLimited, MIN_EVENT_BYTES};

use crate::connector::syslog::udp::MAX_DATAGRAM;
use crate::connector::ConnectorPlan;

/// Stock rsyslog's `maxMessageSize` (8 KiB, 8,096 bytes as built by Debian): over it the
/// message is cut and the rest parsed as a new message (reference §1). Also within RFC 5425's
/// "should accept 8,192 octets". The default for every syslog receiver that is not QRadar.
pub const SYSLOG_DEFAULT: usize = 8096;
/// QRadar's TCP syslog payload limit, 4,096 bytes by default (reference §3).
pub const QRADAR_SYSLOG_DEFAULT: usize = 4096;
/// QRadar's UDP syslog payload limit, 1,024 bytes by default (reference §3).
pub const QRADAR_UDP_DEFAULT: usize = 1024;
/// QRadar HTTP Receiver's default Max Payload Length, 8,192 bytes (reference §3).
pub const QRADAR_HTTP_DEFAULT: usize = 8192;
/// Splunk's default `TRUNCATE` (10,000 bytes per event) for HEC and forwarded files
/// (reference §4): a longer event is cut, and cut JSON no longer extracts.
pub const SPLUNK_DEFAULT: usize = 10_000;
/// Log Analytics keeps field values up to 64 KB; a file line for the Azure Monitor Agent
/// lands in such fields (reference §5).
pub const AZURE_FILE_DEFAULT: usize = 65_536;
/// The HTTP Data Collector takes 30 MB per post; Gatekit keeps one event within its own
/// default batch size, 1 MiB (reference §5).
pub const DATA_COLLECTOR_DEFAULT: usize = 1 << 20;

/// The default limit of `platform` sending through `connector`.
pub(crate) fn default_limit(platform: &str, connector: &ConnectorPlan) -> usize {
    match connector {
        ConnectorPlan::SyslogTcp(_) | ConnectorPlan::SyslogTls(_) if platform == "qradar" => {
            QRADAR_SYSLOG_DEFAULT
        }
        ConnectorPlan::SyslogUdp(_) if platform == "qradar" => QRADAR_UDP_DEFAULT,
        ConnectorPlan::SyslogTcp(_) | ConnectorPlan::SyslogTls(_) | ConnectorPlan::Relp(_) => {
            SYSLOG_DEFAULT
        }
        ConnectorPlan::SyslogUdp(_) => SYSLOG_DEFAULT.min(MAX_DATAGRAM),
        ConnectorPlan::QRadarHttp(_) => QRADAR_HTTP_DEFAULT,
        ConnectorPlan::Hec(_) => SPLUNK_DEFAULT,
        ConnectorPlan::File(_) if platform == "splunk" => SPLUNK_DEFAULT,
        ConnectorPlan::File(_) => AZURE_FILE_DEFAULT,
        ConnectorPlan::DataCollector(_) => DATA_COLLECTOR_DEFAULT,
        ConnectorPlan::LogsIngestion(_) | ConnectorPlan::EventHubs(_) => {
            hard_cap(connector).unwrap_or(DATA_COLLECTOR_DEFAULT)
        }
    }
}

/// The largest event the connector can carry at all, if it has such a limit: one record
/// alone in a Logs Ingestion request or an Event Hubs send, one UDP datagram.
fn hard_cap(connector: &ConnectorPlan) -> Option<usize> {
    match connector {
        ConnectorPlan::SyslogUdp(_) => Some(MAX_DATAGRAM),
        ConnectorPlan::LogsIngestion(_) | ConnectorPlan::EventHubs(_) => {
            super::sentinel::body_limit(connector, 1)
        }
        _ => None,
    }
}

/// The limit for a destination: `configured` (the block's `max_event_bytes`, checked) or the
/// default. `path` is the platform block's path, for errors.
pub(crate) fn limit(
    source: &str,
    path: &str,
    platform: &str,
    connector: &ConnectorPlan,
    configured: Option<usize>,
) -> Result<usize, ConfigError> {
    let Some(n) = configured else {
        return Ok(default_limit(platform, connector));
    };
    let at = || format!("{path}.max_event_bytes");
    if n < MIN_EVENT_BYTES {
        return Err(ConfigError::at(
            source,
            at(),
            format!("must be at least {MIN_EVENT_BYTES} bytes (the identity fields and headers of an event need that much)"),
        ));
    }
    if let Some(cap) = hard_cap(connector) {
        if n > cap {
            return Err(ConfigError::at(
                source,
                at(),
                format!("must be at most {cap} bytes: a larger event cannot be sent over this transport"),
            ));
        }
    }
    Ok(n)
}

/// `formatter` behind the size limit `max_bytes` (already checked by [`limit`]).
pub(crate) fn wrap(
    source: &str,
    path: &str,
    formatter: Box<dyn Formatter>,
    max_bytes: usize,
) -> Result<Box<dyn Formatter>, ConfigError> {
    SizeLimited::new(formatter, max_bytes)
        .map(|f| Box::new(f) as Box<dyn Formatter>)
        .map_err(|e| ConfigError::at(source, format!("{path}.max_event_bytes"), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::syslog::SyslogPlan;

    fn tcp() -> ConnectorPlan {
        ConnectorPlan::SyslogTcp(SyslogPlan {
            host: "127.0.0.1".into(),
            port: 514,
        })
    }

    #[test]
    fn defaults_follow_the_receiver() {
        assert_eq!(default_limit("splunk", &tcp()), 8096);
        assert_eq!(default_limit("azure_sentinel", &tcp()), 8096);
        assert_eq!(default_limit("qradar", &tcp()), 4096);
    }

    #[test]
    fn configured_values_are_checked() {
        assert_eq!(
            limit("f", "siem.splunk", "splunk", &tcp(), Some(2000)).unwrap(),
            2000
        );
        let e = limit("f", "siem.splunk", "splunk", &tcp(), Some(10)).unwrap_err();
        assert!(e.to_string().contains("siem.splunk.max_event_bytes"), "{e}");
        let udp = ConnectorPlan::SyslogUdp(SyslogPlan {
            host: "127.0.0.1".into(),
            port: 514,
        });
        assert!(limit("f", "siem.qradar", "qradar", &udp, Some(70_000)).is_err());
    }
}
