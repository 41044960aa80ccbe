//! The connectors: one folder each, holding the connector's configuration block, its plan
//! (settings checked at load) and its transport.
//!
//! | connector | folder | wire |
//! |---|---|---|
//! | file | [`file`] | one line per event in a local file |
//! | syslog TCP / UDP / TLS | [`syslog`] | RFC 6587 / 5426 / 5425 |
//! | Splunk HEC | [`hec`] | HTTP Event Collector, indexer acknowledgement |
//! | QRadar HTTP Receiver | [`qradar_http`] | HTTPS with client certificates |
//! | Sentinel Logs Ingestion | [`logs_ingestion`] | Azure Monitor DCR stream, Entra ID |
//! | Sentinel Data Collector | [`data_collector`] | legacy API, shared key |
//! | Event Hubs | [`event_hubs`] | HTTPS send, SAS or Entra ID |
//!
//! [`ConnectorPlan`] is the closed set: a new connector is a new folder, a variant here, and a
//! platform arm in `platform/` that chooses it (docs/contributing/new-connector.md). Each
//! transport implements [`gatekit_delivery::Transport`]: it sends one batch and classifies the
//! result; retries, breakers and failover belong to the delivery manager. What "delivered"
//! proves differs per connector (docs/delivery.md): for a file, the lines were written; for
//! TCP, the bytes reached the local kernel buffer; for UDP, nothing at all; for HTTP, the
//! endpoint's success answer (for HEC with indexer acknowledgement, the ack itself).

pub mod batch;
pub mod data_collector;
pub mod event_hubs;
pub mod file;
pub mod hec;
pub mod logs_ingestion;
pub mod qradar_http;
pub mod syslog;

use std::sync::Arc;

use gatekit_delivery::Transport;

use crate::auth::AuthMonitor;
use crate::error::SiemError;

/// How one destination reaches its SIEM: a connector and its checked settings.
#[derive(Debug, Clone)]
pub enum ConnectorPlan {
    /// Append lines to a file.
    File(file::FileSettings),
    /// TCP syslog.
    SyslogTcp(syslog::SyslogPlan),
    /// UDP syslog.
    SyslogUdp(syslog::SyslogPlan),
    /// TLS syslog.
    SyslogTls(syslog::TlsPlan),
    /// Syslog over RELP (rsyslog `imrelp`), plain TCP.
    Relp(syslog::SyslogPlan),
    /// Splunk HEC.
    Hec(Box<hec::HecPlan>),
    /// QRadar HTTP Receiver.
    QRadarHttp(qradar_http::QRadarHttpPlan),
    /// Sentinel Logs Ingestion API.
    LogsIngestion(Box<logs_ingestion::LogsIngestionPlan>),
    /// Sentinel (Log Analytics) HTTP Data Collector API.
    DataCollector(Box<data_collector::DataCollectorPlan>),
    /// Azure Event Hubs over HTTPS.
    EventHubs(Box<event_hubs::EventHubsPlan>),
}

impl ConnectorPlan {
    /// The transport, counting and reporting authentication failures to `auth`.
    pub fn build(&self, auth: Arc<AuthMonitor>) -> Result<Arc<dyn Transport>, SiemError> {
        Ok(match self {
            ConnectorPlan::File(settings) => Arc::new(file::FileTransport::new(settings.clone())),
            ConnectorPlan::SyslogTcp(p) => {
                Arc::new(syslog::tcp::TcpTransport::new(&p.host, p.port))
            }
            ConnectorPlan::SyslogUdp(p) => {
                Arc::new(syslog::udp::UdpTransport::new(&p.host, p.port))
            }
            ConnectorPlan::Relp(p) => Arc::new(syslog::relp::RelpTransport::new(&p.host, p.port)),
            ConnectorPlan::SyslogTls(p) => Arc::new(
                syslog::tls::TlsTransport::new(&p.host, p.port, p.settings.clone())?
                    .with_auth_monitor(auth),
            ),
            ConnectorPlan::Hec(p) => Arc::new(p.build(auth)?),
            ConnectorPlan::QRadarHttp(p) => Arc::new(p.build(auth)?),
            ConnectorPlan::LogsIngestion(p) => p.build(auth)?,
            ConnectorPlan::DataCollector(p) => p.build(auth)?,
            ConnectorPlan::EventHubs(p) => p.build(auth)?,
        })
    }

    /// The platform's own health check, where the connector has one (Splunk HEC's health
    /// endpoint): `Some(Ok(text))` healthy, `Some(Err(text))` not, `None` no such check. The
    /// check authenticates like the transport does and reports the attempt to `auth`.
    /// QRadar's HTTP Receiver has no health endpoint: its check is the test event itself,
    /// sent through a transport built with the same monitor.
    pub async fn health_check(&self, auth: Arc<AuthMonitor>) -> Option<Result<String, String>> {
        match self {
            ConnectorPlan::Hec(p) => Some(p.health(auth).await),
            ConnectorPlan::File(_)
            | ConnectorPlan::SyslogTcp(_)
            | ConnectorPlan::SyslogUdp(_)
            | ConnectorPlan::SyslogTls(_)
            | ConnectorPlan::Relp(_)
            | ConnectorPlan::QRadarHttp(_)
            | ConnectorPlan::LogsIngestion(_)
            | ConnectorPlan::DataCollector(_)
            | ConnectorPlan::EventHubs(_) => None,
        }
    }
}
