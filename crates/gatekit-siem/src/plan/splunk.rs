//! Splunk: `sc4s` (CEF in RFC 5424 over TLS), `hec` (HTTP Event Collector) or `file` (for a
//! Universal Forwarder).

use std::time::Duration;

use gatekit_config::{yaml, Config, ConfigError};
use gatekit_format::{CefFormatter, CefSettings, Formatter, Framing, JsonFormatter};

use super::syslog::{framing, syslog_wrap, tls_plan, tls_settings};
use super::{delivery_with, file_settings, DestinationPlan, TransportPlan};
use crate::config::SiemConfig;
use crate::transport::hec::{AckSettings, HecSettings};

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
    let (delivery, fail_closed) = delivery_with(
        cfg,
        siem,
        s.delivery.as_ref(),
        "splunk",
        path,
        &hec_delivery_defaults(s),
    )?;
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
            // SC4S: CEF:0 in RFC 5424 over TLS, LF framing on 6514 (platform-facts.md §11, §20).
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
            // JSON, with Splunk's metadata around it (docs/reference/splunk-hec.md §3).
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
                    settings: hec_settings(src, hec, &format!("{path}.hec"), &delivery)?,
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

/// Seconds to wait for an indexer acknowledgement by default (Vector gives up after 30 polls
/// 10 s apart; a minute keeps the one batch in flight from stalling delivery for long).
const DEFAULT_ACK_TIMEOUT: f64 = 60.0;

/// HEC's delivery defaults: requests under 1 MB (Splunk Cloud's documented content length,
/// docs/reference/splunk-hec.md §4), and with acknowledgement on, a send deadline long enough for
/// the POST, the acknowledgement wait and the last poll.
fn hec_delivery_defaults(s: &crate::config::SplunkConfig) -> Vec<(&'static str, yaml::Value)> {
    let Some(hec) = s.hec.as_ref().filter(|_| s.transport == "hec") else {
        return Vec::new();
    };
    let mut defaults = vec![("batch_max_bytes", yaml::Value::from(1_000_000u64))];
    if hec.use_ack {
        let ack_timeout = hec.ack_timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
        defaults.push(("request_timeout", yaml::Value::from(ack_timeout + 60.0)));
    }
    defaults
}

fn seconds(
    src: &str,
    key: String,
    value: Option<f64>,
    default: f64,
) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(ConfigError::at(
            src,
            key,
            "must be a number of seconds above 0 and at most 86400",
        ))
    }
}

fn hec_settings(
    src: &str,
    hec: &crate::config::HecConfig,
    path: &str,
    delivery: &gatekit_delivery::DeliverySettings,
) -> Result<HecSettings, ConfigError> {
    let channel = match &hec.channel {
        Some(c) if is_guid(c) => c.clone(),
        Some(_) => {
            return Err(ConfigError::at(
                src,
                format!("{path}.channel"),
                "must be a GUID such as 0c4a8f2e-5b1d-4f7a-9e3c-2d6b8a1f0e57 (Splunk answers code 11 otherwise)",
            ))
        }
        None => crate::transport::hec::new_channel(),
    };
    let gzip = match hec.compression.as_deref() {
        None | Some("none") => false,
        Some("gzip") => true,
        Some(_) => {
            return Err(ConfigError::at(
                src,
                format!("{path}.compression"),
                "must be `none` or `gzip` (HEC answers 415 to deflate)",
            ))
        }
    };
    let ack = if hec.use_ack {
        let ack = AckSettings {
            max_poll_interval: seconds(
                src,
                format!("{path}.ack_poll_interval"),
                hec.ack_poll_interval,
                1.0,
            )?,
            timeout: seconds(
                src,
                format!("{path}.ack_timeout"),
                hec.ack_timeout,
                DEFAULT_ACK_TIMEOUT,
            )?,
        };
        if ack.timeout >= delivery.request_timeout {
            return Err(ConfigError::at(
                src,
                format!("{path}.ack_timeout"),
                format!(
                    "must be shorter than delivery.request_timeout ({:.0} s), which bounds the whole send including the acknowledgement wait",
                    delivery.request_timeout.as_secs_f64()
                ),
            ));
        }
        Some(ack)
    } else {
        None
    };
    Ok(HecSettings {
        token: hec.token.clone(),
        channel,
        ack,
        gzip,
    })
}

/// 8-4-4-4-12 hex digits.
fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}
