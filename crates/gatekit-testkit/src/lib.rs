//! Strict test receivers for the SIEM endpoints that cannot be installed on a test machine
//! (Splunk HEC, Entra ID, Logs Ingestion, Data Collector, Event Hubs). Each is written from the documented behaviour in
//! the `docs/reference/` pages and their worked test vectors, says in its module doc exactly what
//! it checks, and can inject the faults a transport must survive (error statuses,
//! `Retry-After`, slow answers, dropped connections, lost acknowledgements).
//!
//! They are used by the integration tests and by the delivery benchmarks; they are not part
//! of the `gatekit` binary.

pub mod azure;
pub mod data_collector;
pub mod entra;
pub mod entra_jwt;
pub mod event_hubs;
pub mod hec;
pub mod logs_ingestion;
pub mod pki;
pub mod qradar;
pub mod server;
pub mod wait;
