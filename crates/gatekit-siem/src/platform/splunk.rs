//! Splunk: `sc4s` (CEF in RFC 5424 over TLS), `hec` (HTTP Event Collector) or `file` (for a
//! Universal Forwarder).
//!
//! `format: syslog` is the requirements' fallback "structured syslog with key=value pairs":
//! the event as `key="value"` pairs (`KeyValueFormatter`) in an RFC 5424 header (or RFC 3164
//! with `sc4s.header: rfc3164`), facility local0 and each event's own severity unless the
//! block sets `facility`/`severity`. Splunk extracts the pairs at search time.

use gatekit_config::{Config, ConfigError};
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, KeyValueFormatter,
};

use super::{delivery_with, DestinationPlan, Warnings};
use crate::config::{SiemConfig, SplunkConfig, SplunkFormat, SplunkTransport};
use crate::connector::syslog::{
    default_header, framing, syslog_wrap, tls_plan, wrap_with_defaults, SyslogTransport,
};
use crate::connector::ConnectorPlan;

pub(crate) fn plan(
    cfg: &Config,
    siem: &SiemConfig,
    s: &SplunkConfig,
    path: &str,
    warnings: &mut Warnings,
) -> Result<DestinationPlan, ConfigError> {
    let src = cfg.source.as_str();
    let body: Box<dyn Formatter> = match s.format {
        SplunkFormat::Cef => Box::new(
            CefFormatter::new(CefSettings::default())
                .map_err(|e| ConfigError::at(src, path, e.to_string()))?,
        ),
        SplunkFormat::Json => Box::new(JsonFormatter),
        SplunkFormat::Syslog => Box::new(KeyValueFormatter),
    };
    let hec_defaults = match (s.transport, &s.hec) {
        (SplunkTransport::Hec, Some(hec)) => crate::connector::hec::delivery_defaults(hec),
        _ => Vec::new(),
    };
    let (delivery, fail_closed) = delivery_with(
        cfg,
        siem,
        s.delivery.as_ref(),
        "splunk",
        path,
        &hec_defaults,
    )?;
    match s.transport {
        SplunkTransport::File => {
            let file = s.file.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{path}.file.path"),
                    "the `file` transport needs `file: {path: ...}`",
                )
            })?;
            // `format: syslog` asks for syslog lines: the RFC 5424 header around the
            // key=value body (it used to write a bare CEF body, then CEF in a header).
            let formatter = if s.format == SplunkFormat::Syslog {
                wrap_with_defaults(body, src, &format!("{path}.format"))?
            } else {
                body
            };
            Ok(DestinationPlan {
                platform: "splunk",
                formatter,
                framing: Framing::Lf,
                connector: ConnectorPlan::File(file.settings(cfg)),
                delivery,
                fail_closed,
                failover: Vec::new(),
                max_event_bytes: 0,
                rerender: None,
            })
        }
        SplunkTransport::Sc4s => {
            // SC4S: CEF:0 (or key=value) in RFC 5424 over TLS, LF framing on 6514
            // (docs/reference/syslog.md); `sc4s.header: rfc3164` for the BSD header.
            let endpoint = s.sc4s.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{path}.sc4s.host"),
                    "the `sc4s` transport needs `sc4s: {host: ...}`",
                )
            })?;
            let sc4s_path = format!("{path}.sc4s");
            let connector =
                ConnectorPlan::SyslogTls(tls_plan(cfg, endpoint, &sc4s_path, warnings)?);
            let formatter = syslog_wrap(
                body,
                endpoint,
                default_header(SyslogTransport::Tls),
                "gatekit",
                None,
                src,
                &sc4s_path,
            )?;
            let framing = framing(src, &sc4s_path, endpoint)?;
            Ok(DestinationPlan {
                platform: "splunk",
                formatter,
                framing,
                connector,
                delivery,
                fail_closed,
                failover: Vec::new(),
                max_event_bytes: 0,
                rerender: None,
            })
        }
        SplunkTransport::Hec => {
            let hec = s.hec.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{path}.hec.endpoint"),
                    "the `hec` transport needs `hec: {endpoint: ..., token: ...}`",
                )
            })?;
            if s.format == SplunkFormat::Syslog {
                // HEC takes JSON envelopes only: say so rather than ignore the key quietly.
                warnings.add(
                    format!("{path}.format"),
                    "the `hec` transport sends HEC JSON envelopes; `format: syslog` is ignored (use `sc4s` or `file` for syslog lines)",
                );
            }
            let (formatter, plan) =
                crate::connector::hec::plan(cfg, hec, &format!("{path}.hec"), &delivery, warnings)?;
            Ok(DestinationPlan {
                platform: "splunk",
                formatter,
                framing: Framing::Lf,
                connector: ConnectorPlan::Hec(Box::new(plan)),
                delivery,
                fail_closed,
                failover: Vec::new(),
                max_event_bytes: 0,
                rerender: None,
            })
        }
    }
}
