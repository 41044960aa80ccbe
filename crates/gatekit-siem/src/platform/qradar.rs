//! QRadar: LEEF 2.0 (or LEEF 1.0, CEF, JSON) in RFC 5424 over TLS or RFC 3164 over TCP/UDP
//! syslog (the requirements' "traditional syslog"; `syslog.header` overrides), with the
//! DSM's log source identifier as the syslog HOSTNAME; or the bare lines to QRadar's HTTP
//! Receiver (`rest_api`).

use gatekit_config::{Config, ConfigError};
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, LeefFormatter, LeefSettings,
    LeefVersion,
};

use super::{delivery, DestinationPlan, Warnings};
use crate::config::{QRadarConfig, QRadarFormat, QRadarTransport, SiemConfig};
use crate::connector::syslog::{
    self, default_header, framing, syslog_wrap, tls_plan, SyslogPlan, SyslogTransport,
};
use crate::connector::ConnectorPlan;

pub(crate) fn plan(
    cfg: &Config,
    siem: &SiemConfig,
    q: &QRadarConfig,
    path: &str,
    warnings: &mut Warnings,
) -> Result<DestinationPlan, ConfigError> {
    let src = cfg.source.as_str();
    let dsm = q.dsm.clone().unwrap_or(crate::config::DsmConfig {
        device_type: None,
        event_category: None,
        log_source_identifier: None,
    });
    let body: Box<dyn Formatter> = match q.format {
        QRadarFormat::Leef | QRadarFormat::Leef2 | QRadarFormat::Leef1 => {
            let version = if q.format == QRadarFormat::Leef1 {
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
        QRadarFormat::Cef => Box::new(
            CefFormatter::new(CefSettings::default())
                .map_err(|e| ConfigError::at(src, path, e.to_string()))?,
        ),
        QRadarFormat::Json => Box::new(JsonFormatter),
    };
    let (delivery, fail_closed) = delivery(cfg, siem, q.delivery.as_ref(), "qradar", path)?;
    if q.transport == QRadarTransport::RestApi {
        // The HTTP Receiver takes the bare LEEF/CEF/JSON lines; the log source is named in
        // QRadar's log source configuration, not in a syslog header.
        let plan = crate::connector::qradar_http::plan(
            cfg,
            q.rest_api.as_ref(),
            &format!("{path}.rest_api"),
            warnings,
        )?;
        return Ok(DestinationPlan {
            platform: "qradar",
            formatter: body,
            framing: Framing::Lf,
            connector: ConnectorPlan::QRadarHttp(plan),
            delivery,
            fail_closed,
            failover: Vec::new(),
            max_event_bytes: 0,
            rerender: None,
        });
    }
    let syslog_path = format!("{path}.syslog");
    let endpoint = q.syslog.as_ref().ok_or_else(|| {
        ConfigError::at(
            src,
            format!("{syslog_path}.host"),
            "a syslog transport needs `syslog: {host: ...}`",
        )
    })?;
    let plain = || SyslogPlan {
        host: endpoint.host.clone(),
        port: endpoint.port.unwrap_or(514),
    };
    let (connector, transport) = match q.transport {
        QRadarTransport::SyslogTcp => {
            syslog::no_ignored_tls(cfg, endpoint, &syslog_path, warnings)?;
            (ConnectorPlan::SyslogTcp(plain()), SyslogTransport::Tcp)
        }
        QRadarTransport::SyslogUdp => {
            syslog::no_ignored_tls(cfg, endpoint, &syslog_path, warnings)?;
            (ConnectorPlan::SyslogUdp(plain()), SyslogTransport::Udp)
        }
        QRadarTransport::SyslogTls | QRadarTransport::RestApi => (
            ConnectorPlan::SyslogTls(tls_plan(cfg, endpoint, &syslog_path, warnings)?),
            SyslogTransport::Tls,
        ),
    };
    // QRadar identifies the log source by the syslog HOSTNAME (either header).
    let formatter = syslog_wrap(
        body,
        endpoint,
        default_header(transport),
        "gatekit",
        dsm.log_source_identifier.clone(),
        src,
        &syslog_path,
    )?;
    let framing = match connector {
        ConnectorPlan::SyslogUdp(_) => Framing::None,
        _ => framing(src, &syslog_path, endpoint)?,
    };
    Ok(DestinationPlan {
        platform: "qradar",
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
