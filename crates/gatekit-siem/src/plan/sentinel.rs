//! Microsoft Sentinel: JSON (or CEF) to a file for the Azure Monitor Agent; the HTTP
//! ingestion APIs are refused at load until they are built.

use gatekit_config::{Config, ConfigError};
use gatekit_format::{CefFormatter, CefSettings, Formatter, Framing, JsonFormatter};

use super::{delivery, file_settings, unavailable, DestinationPlan, TransportPlan};
use crate::config::SiemConfig;

pub(crate) fn plan(
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
