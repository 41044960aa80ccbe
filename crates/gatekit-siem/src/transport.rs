//! Transports that move formatted records to a SIEM: a local file, TCP syslog, UDP syslog.
//!
//! Each implements [`gatekit_delivery::Transport`]: it sends one batch and classifies the
//! result; retries, breakers and failover are the delivery manager's. What "delivered" proves
//! differs (siem-wire-reference §8.1): for a file, the lines were written; for TCP, the bytes
//! reached the local kernel buffer (RFC 6587 has no acknowledgement, so a reconnect may
//! resend and a SIEM must de-duplicate on `event_id`); for UDP, nothing at all.

pub mod azure;
pub mod data_collector;
pub mod event_hubs;
pub mod file;
pub mod hec;
pub mod logs_ingestion;
pub mod tcp;
pub mod tls;
pub mod udp;
