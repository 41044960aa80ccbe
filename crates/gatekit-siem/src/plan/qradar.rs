//! QRadar: LEEF 2.0 (or LEEF 1.0, CEF, JSON) in RFC 5424 over TLS, TCP or UDP syslog, with the
//! DSM's log source identifier as the syslog HOSTNAME.

use gatekit_config::{Config, ConfigError};
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, LeefFormatter, LeefSettings,
    LeefVersion,
};

use super::syslog::{framing, syslog_wrap, tls_plan};
use super::{delivery, unavailable, DestinationPlan, TransportPlan};
use crate::config::SiemConfig;

pub(crate) fn plan(
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
