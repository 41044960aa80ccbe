//! Splunk: `sc4s` (CEF in RFC 5424 over TLS), `hec` (HTTP Event Collector) or `file` (for a
//! Universal Forwarder).

use gatekit_config::{Config, ConfigError};
use gatekit_format::{CefFormatter, CefSettings, Formatter, Framing, JsonFormatter};

use super::syslog::{framing, syslog_wrap, tls_plan, tls_settings};
use super::{delivery, file_settings, DestinationPlan, TransportPlan};
use crate::config::SiemConfig;

pub(crate) fn plan(
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
            let tls = hec.tls.clone().unwrap_or_default();
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
