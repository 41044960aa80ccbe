//! Transports that move formatted records to a SIEM: a local file; TCP, UDP and TLS syslog;
//! and over HTTP(S) Splunk HEC, QRadar's HTTP Receiver, Sentinel's Logs Ingestion and Data
//! Collector APIs and Azure Event Hubs.
//!
//! Each implements [`gatekit_delivery::Transport`]: it sends one batch and classifies the
//! result; retries, breakers and failover are the delivery manager's. What "delivered" proves
//! differs (docs/reference/delivery-semantics.md §1): for a file, the lines were written; for TCP,
//! the bytes reached the local kernel buffer (RFC 6587 has no acknowledgement, so a reconnect may
//! resend and a SIEM must de-duplicate on `event_id`); for UDP, nothing at all; for HTTP, the
//! endpoint's success answer (for HEC with indexer acknowledgement, the ack itself).

pub mod azure;
pub mod data_collector;
pub mod event_hubs;
pub mod file;
pub mod hec;
pub mod logs_ingestion;
pub mod qradar_http;
pub mod tcp;
pub mod tls;
pub mod udp;

/// The batch's records back to back, as one buffer: how every stream transport (file, TCP,
/// TLS, HEC, the QRadar HTTP Receiver) puts a batch on the wire in a single write.
pub fn concatenated(batch: &[gatekit_delivery::Record]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(batch.iter().map(|r| r.payload.len()).sum());
    for record in batch {
        buf.extend_from_slice(&record.payload);
    }
    buf
}
