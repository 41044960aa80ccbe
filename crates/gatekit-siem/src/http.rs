//! Building blocks of the HTTP SIEM transports (Splunk HEC, QRadar HTTP Receiver, Sentinel
//! Logs Ingestion and Data Collector, Event Hubs): the one place that maps an HTTP answer to a
//! delivery outcome, and the Azure request signatures. The transports themselves come with the
//! HTTP client layer.

pub mod azure_auth;
pub mod client;
pub mod entra;
pub mod entra_assertion;
pub mod status;
