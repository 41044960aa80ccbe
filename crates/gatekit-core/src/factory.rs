//! Stamping new events with identity, sequence and time.
//!
//! Job: the gateway holds one [`EventFactory`] per process. Each call to
//! [`EventFactory::event`] gives a new [`AuditEvent`] with a fresh UUIDv7, the next
//! per-instance sequence number, the current time, and the instance's host and version.
//!
//! Invariants: sequence numbers are unique and increasing within one factory (an atomic
//! counter, so the factory is shared by reference across threads); `event_id` is
//! assigned here once and never regenerated on retry.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::{AuditEvent, EventId, EventType, Severity};
use crate::time::Timestamp;

/// Creates events for one gateway instance.
#[derive(Debug)]
pub struct EventFactory {
    host: String,
    gateway_version: String,
    next_sequence: AtomicU64,
}

impl EventFactory {
    /// A factory for events from `host`, written by Gatekit `gateway_version`.
    /// The first event gets sequence 1.
    pub fn new(host: impl Into<String>, gateway_version: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            gateway_version: gateway_version.into(),
            next_sequence: AtomicU64::new(1),
        }
    }

    /// The host name stamped on events.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A new event of `event_type` with the current time, a new UUIDv7 and the next
    /// sequence number. Fill the rest with the `with_*` methods of [`AuditEvent`].
    pub fn event(&self, event_type: EventType, severity: Severity) -> AuditEvent {
        // Relaxed is enough: only uniqueness and per-thread monotonicity are promised.
        let seq = self.next_sequence.fetch_add(1, Ordering::Relaxed);
        AuditEvent::new(
            event_type,
            severity,
            Timestamp::now(),
            EventId::new_v7(),
            seq,
        )
        .with_origin(self.host.clone(), self.gateway_version.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_increase_and_ids_differ() {
        let f = EventFactory::new("gk01", "0.1.0");
        let a = f.event(EventType::McpRequest, Severity::Info);
        let b = f.event(EventType::McpResponse, Severity::Info);
        assert_eq!((a.sequence, b.sequence), (1, 2));
        assert_ne!(a.event_id, b.event_id);
        assert_eq!(a.host, "gk01");
        assert_eq!(a.gateway_version, "0.1.0");
        assert!(b.timestamp >= a.timestamp);
    }
}
