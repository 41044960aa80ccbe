//! QRadar: LEEF 2.0 (or LEEF 1.0, CEF, JSON) in RFC 5424 over TLS, TCP or UDP syslog, with the
//! DSM's log source identifier as the syslog HOSTNAME.

use gatekit_config::{Config, ConfigError};
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, LeefFormatter, LeefSettings,
    LeefVersion,
};

use super::syslog::tls_settings;
use super::syslog::{framing, syslog_wrap, tls_plan};
use super::{delivery, DestinationPlan, TransportPlan};
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
            // The HTTP Receiver takes the bare LEEF/CEF/JSON lines; the log source is named in
            // QRadar's log source configuration, not in a syslog header.
            return Ok(DestinationPlan {
                platform: "qradar",
                formatter: body,
                framing: Framing::Lf,
                transport: http_receiver(cfg, q, &format!("{path}.rest_api"))?,
                delivery,
                fail_closed,
            });
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

/// The `rest_api` block as a QRadar HTTP Receiver endpoint (docs/reference/qradar.md §2).
fn http_receiver(
    cfg: &Config,
    q: &crate::config::QRadarConfig,
    path: &str,
) -> Result<TransportPlan, ConfigError> {
    let src = cfg.source.as_str();
    let rest = q.rest_api.as_ref().ok_or_else(|| {
        ConfigError::at(
            src,
            format!("{path}.endpoint"),
            "the `rest_api` transport needs `rest_api: {endpoint: https://<event collector>:12469}` (QRadar's HTTP Receiver log source)",
        )
    })?;
    if rest.endpoint.contains("/api/ariel") {
        return Err(ConfigError::at(
            src,
            format!("{path}.endpoint"),
            "`/api/ariel` is QRadar's search API and cannot take events; create an HTTP Receiver log source (default port 12469) and use its URL, e.g. https://qradar-ec.example.com:12469 (see docs/siem/qradar.md)",
        ));
    }
    let endpoint = crate::http::client::Endpoint::parse(&rest.endpoint)
        .map_err(|e| ConfigError::at(src, format!("{path}.endpoint"), e))?;
    if rest.auth_method.is_some()
        || rest.client_id.is_some()
        || rest.client_secret.is_some()
        || rest.api_key.is_some()
    {
        // Accepted so the requirements' files load, but never sent: the HTTP Receiver
        // authenticates clients by TLS certificate only, and a credential sent where nothing
        // checks it is a credential leaked to whatever answers.
        tracing::warn!(path, "QRadar's HTTP Receiver does not take OAuth or API keys: `auth_method`, `client_id`, `client_secret` and `api_key` are ignored and never sent. Authenticate with a client certificate (`rest_api.tls.cert_file`/`key_file`, the log source's \"HTTPs and Client Authentication\").");
    }
    let tls = tls_settings(cfg, &rest.tls.clone().unwrap_or_default());
    if endpoint.tls {
        crate::transport::tls::client_config(&tls)
            .map_err(|e| ConfigError::at(src, format!("{path}.tls"), e))?;
    } else {
        tracing::warn!(path, "The QRadar HTTP Receiver endpoint is plain http://: audit events cross the network unencrypted.");
    }
    Ok(TransportPlan::QRadarHttp { endpoint, tls })
}
