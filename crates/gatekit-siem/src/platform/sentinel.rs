//! Microsoft Sentinel: the Logs Ingestion API (default), the legacy HTTP Data Collector API,
//! Event Hubs over HTTPS, JSON (or CEF, or key=value syslog) to a file for the Azure Monitor
//! Agent (`log_analytics_agent`), or syslog to the agent's forwarder (`syslog`, Gatekit
//! addition: key=value in RFC 5424 for the Syslog table, or CEF for CommonSecurityLog).
//!
//! The requirements' keys keep working where the platform allows (docs/reference/sentinel.md):
//! `data_collector_api` signs with the workspace key; `event_hubs` takes the connection string
//! (plus `hub_name`); `auth: {method: service_principal, tenant_id, client_id, client_secret}`
//! is the Entra client-credentials grant; `schema.timestamp_field` becomes the Data Collector
//! `time-generated-field`. Credentials written in plain text load with a warning.

use gatekit_config::{Config, ConfigError};
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, KeyValueFormatter,
};

use super::{delivery, DestinationPlan, Warnings};
use crate::config::SyslogHeader;
use crate::config::{SentinelConfig, SentinelFormat, SentinelTransport, SiemConfig};
use crate::connector::syslog::{framing, syslog_wrap, tls_plan, wrap_with_defaults, SyslogPlan};
use crate::connector::ConnectorPlan;

pub(crate) fn plan(
    cfg: &Config,
    siem: &SiemConfig,
    s: &SentinelConfig,
    path: &str,
    warnings: &mut Warnings,
) -> Result<DestinationPlan, ConfigError> {
    let src = cfg.source.as_str();
    let body: Box<dyn Formatter> = match s.format {
        SentinelFormat::Json => Box::new(JsonFormatter),
        SentinelFormat::Cef => Box::new(
            CefFormatter::new(CefSettings::default())
                .map_err(|e| ConfigError::at(src, path, e.to_string()))?,
        ),
        // The Syslog table keeps MSG whole in `SyslogMessage`; key=value pairs there parse
        // with KQL `parse-kv`, and a body that is not `CEF:` is never routed to
        // CommonSecurityLog by the agent.
        SentinelFormat::Syslog => Box::new(KeyValueFormatter),
    };
    let (delivery, fail_closed) = delivery(cfg, siem, s.delivery.as_ref(), "azure_sentinel", path)?;
    let destination = |formatter: Box<dyn Formatter>, connector: ConnectorPlan| {
        let mut delivery = delivery;
        if let Some(limit) = body_limit(&connector, delivery.batch.max_events.get()) {
            // Full batches fit one request, rather than being split on every send.
            if delivery.batch.max_bytes.get() > limit {
                if let Some(l) = std::num::NonZeroUsize::new(limit) {
                    delivery.batch.max_bytes = l;
                }
            }
        }
        DestinationPlan {
            platform: "azure_sentinel",
            formatter,
            framing: Framing::None,
            connector,
            delivery,
            fail_closed,
            failover: Vec::new(),
            max_event_bytes: 0,
            rerender: None,
        }
    };
    match s.transport {
        SentinelTransport::LogAnalyticsAgent => {
            let file = s.log_analytics_agent.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{path}.log_analytics_agent.path"),
                    "the `log_analytics_agent` transport needs `log_analytics_agent: {path: ...}`",
                )
            })?;
            // `format: syslog` asks for syslog lines: key=value pairs in an RFC 5424 header
            // (it used to write a bare CEF body, then CEF in a header).
            let formatter = if s.format == SentinelFormat::Syslog {
                wrap_with_defaults(body, src, &format!("{path}.format"))?
            } else {
                body
            };
            let mut d = destination(formatter, ConnectorPlan::File(file.settings(cfg)));
            d.framing = Framing::Lf;
            Ok(d)
        }
        SentinelTransport::LogsIngestionApi => {
            // The stream declaration fixes the record shape: Sentinel columns, whatever
            // `format` says.
            json_only(s, path, "logs_ingestion_api", warnings);
            let plan = crate::connector::logs_ingestion::plan(cfg, s, path, warnings)?;
            Ok(destination(
                Box::new(gatekit_format::SentinelFormatter),
                ConnectorPlan::LogsIngestion(Box::new(plan)),
            ))
        }
        SentinelTransport::DataCollectorApi => {
            json_only(s, path, "data_collector_api", warnings);
            let (formatter, plan) = crate::connector::data_collector::plan(cfg, s, path, warnings)?;
            Ok(destination(
                formatter,
                ConnectorPlan::DataCollector(Box::new(plan)),
            ))
        }
        SentinelTransport::Syslog => {
            // The forwarder's syslog daemon hands records to the Azure Monitor Agent, whose DCR
            // routes them by facility: key=value (`format: syslog`) to the Syslog table, CEF to
            // CommonSecurityLog. RFC 5424 is the default header (the requirements' "RFC5424
            // format via Syslog table").
            let syslog_path = format!("{path}.syslog");
            let endpoint = s.syslog.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{syslog_path}.host"),
                    "the `syslog` transport needs `syslog: {host: ...}` (the forwarder running the Azure Monitor Agent)",
                )
            })?;
            let connector = if endpoint.tls.as_ref().is_some_and(|t| t.enabled) {
                ConnectorPlan::SyslogTls(tls_plan(cfg, endpoint, &syslog_path, warnings)?)
            } else {
                if !crate::checks::is_loopback(&endpoint.host) {
                    warnings.add(
                        format!("{syslog_path}.host"),
                        "syslog to another host over plain TCP: events cross the network unencrypted; add a `tls` block",
                    );
                }
                let plan = SyslogPlan {
                    host: endpoint.host.clone(),
                    port: endpoint.port.unwrap_or(514),
                };
                ConnectorPlan::SyslogTcp(plan)
            };
            let formatter = syslog_wrap(
                body,
                endpoint,
                SyslogHeader::Rfc5424,
                "gatekit",
                None,
                src,
                &syslog_path,
            )?;
            let mut d = destination(formatter, connector);
            d.framing = framing(src, &syslog_path, endpoint)?;
            Ok(d)
        }
        SentinelTransport::Relp => {
            // RELP to the forwarder's rsyslog (`imrelp`): the same RFC 5424 messages as
            // `syslog`, each acknowledged by rsyslog (docs/reference/relp.md). No framing: a
            // RELP frame carries its own length.
            let syslog_path = format!("{path}.syslog");
            let endpoint = s.syslog.as_ref().ok_or_else(|| {
                ConfigError::at(
                    src,
                    format!("{syslog_path}.host"),
                    "the `relp` transport needs `syslog: {host: ..., port: ...}` (the forwarder's rsyslog imrelp listener)",
                )
            })?;
            crate::connector::syslog::no_ignored_tls(cfg, endpoint, &syslog_path, warnings)?;
            if !crate::checks::is_loopback(&endpoint.host) {
                warnings.add(
                    format!("{syslog_path}.host"),
                    "RELP to another host over plain TCP: events cross the network unencrypted",
                );
            }
            if endpoint.framing.is_some() {
                warnings.add(
                    format!("{syslog_path}.framing"),
                    "RELP frames carry their own length; `framing` is ignored",
                );
            }
            let plan = SyslogPlan {
                host: endpoint.host.clone(),
                port: endpoint.port.unwrap_or(RELP_PORT),
            };
            let formatter = syslog_wrap(
                body,
                endpoint,
                SyslogHeader::Rfc5424,
                "gatekit",
                None,
                src,
                &syslog_path,
            )?;
            Ok(destination(formatter, ConnectorPlan::Relp(plan)))
        }
        SentinelTransport::EventHubs => {
            let plan = crate::connector::event_hubs::plan(cfg, s, path, warnings)?;
            Ok(destination(body, ConnectorPlan::EventHubs(Box::new(plan))))
        }
    }
}

/// Default port of the forwarder's `imrelp` listener (RELP has no registered port; rsyslog's
/// documentation uses 2514).
const RELP_PORT: u16 = 2514;

/// The most record bytes (`batch_max_bytes`) a batch of up to `events` records may carry so
/// that its request body stays within the endpoint's limit: a JSON array adds a comma per
/// record and two brackets; an Event Hubs batch also wraps each record in `{"Body":...}` and
/// escapes its quotes, counted here as a fifth more plus 12 bytes per record.
pub(super) fn body_limit(connector: &ConnectorPlan, events: usize) -> Option<usize> {
    match connector {
        ConnectorPlan::LogsIngestion(p) => {
            Some(p.settings.max_request_bytes.saturating_sub(events + 2))
        }
        ConnectorPlan::EventHubs(p) => {
            Some((p.max_batch_bytes / 6 * 5).saturating_sub(12 * events + 2))
        }
        _ => None,
    }
}

fn json_only(s: &SentinelConfig, path: &str, transport: &str, warnings: &mut Warnings) {
    if s.format != SentinelFormat::Json {
        warnings.add(
            format!("{path}.format"),
            format!("the `{transport}` transport sends Sentinel JSON records; `format: {}` is ignored (use `log_analytics_agent` for CEF through the Azure Monitor Agent)", s.format),
        );
    }
}
