//! The unit of delivery: an opaque, already-encoded record.
//!
//! Job: carry the bytes a connector produced, a stable id and the enqueue time through
//! queues, the disk buffer, retries and failover without ever looking inside the bytes.
//!
//! Invariants:
//! - `id` never changes once the record exists, so a SIEM can de-duplicate the
//!   duplicates that at-least-once delivery allows (docs/reference/delivery-semantics.md §1).
//! - `enqueued_us` is wall-clock time (microseconds since the Unix epoch) because it must
//!   survive a restart; in-process timing decisions use `tokio::time::Instant` instead.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Fixed per-record bookkeeping bytes counted on top of the payload: 16 id + 8 time.
///
/// Byte limits (queue, batch, disk cap) count `payload.len() + RECORD_OVERHEAD` so a flood of
/// empty payloads cannot bypass them.
pub const RECORD_OVERHEAD: usize = 24;

/// A stable record identifier (a UUIDv7 from the event model fits exactly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub u128);

impl fmt::Display for RecordId {
    /// Hyphenated UUID layout, so dead-letter lines match the `event_id` a SIEM shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            (v & 0xffff_ffff_ffff) as u64
        )
    }
}

/// One encoded record waiting for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Stable id, unchanged across retries, failover and restarts.
    pub id: RecordId,
    /// When the record was handed to the pipeline, microseconds since the Unix epoch.
    pub enqueued_us: u64,
    /// The encoded bytes exactly as the transport will send them.
    pub payload: Vec<u8>,
}

impl Record {
    /// Builds a record stamped with the current wall-clock time.
    pub fn new(id: RecordId, payload: Vec<u8>) -> Self {
        Self {
            id,
            enqueued_us: now_unix_us(),
            payload,
        }
    }

    /// Size counted against byte limits (payload plus [`RECORD_OVERHEAD`]).
    pub fn size(&self) -> usize {
        self.payload.len() + RECORD_OVERHEAD
    }
}

/// Wall-clock microseconds since the Unix epoch; 0 if the clock is before 1970.
pub fn now_unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_displays_as_uuid() {
        let id = RecordId(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(id.to_string(), "01234567-89ab-cdef-0011-223344556677");
    }

    #[test]
    fn size_counts_overhead() {
        let r = Record::new(RecordId(1), vec![0; 10]);
        assert_eq!(r.size(), 10 + RECORD_OVERHEAD);
    }
}
