//! The bounded memory queue between producers and a destination's worker.
//!
//! Job: hold records in enqueue order, bounded by an event count and a byte count, and apply
//! the non-waiting part of the overflow policy (`drop_oldest`, `drop_newest`, `fail_closed`).
//! `block` waiting is done by the producer handle around [`MemQueue::push`].
//!
//! Invariants:
//! - `bytes` equals the sum of [`Record::size`] over the queued records.
//! - After a successful `push` the queue is within both limits, except that a single record
//!   larger than the byte limit is still accepted into an empty queue (it must go somewhere;
//!   the batcher sends it alone).
//! - `push_front_all` (used when the disk refuses a chunk) may exceed the limits by at most
//!   that chunk; producers then see a full queue until the worker catches up.

use std::collections::VecDeque;

use crate::config::OverflowPolicy;
use crate::record::Record;

/// Result of [`MemQueue::push`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushResult {
    /// Queued; `dropped_oldest` older records were discarded to make room.
    Queued { dropped_oldest: u64 },
    /// Full and the policy discards the new record (`drop_newest`).
    DroppedNewest,
    /// Full and the policy wants the caller to wait or refuse; the record is handed back.
    Full(Record),
}

/// A FIFO of records with event and byte limits.
pub(crate) struct MemQueue {
    records: VecDeque<Record>,
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
}

/// Summarised, so a `Debug` print of a producer never dumps audit payloads.
impl std::fmt::Debug for MemQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemQueue")
            .field("events", &self.records.len())
            .field("bytes", &self.bytes)
            .field("max_events", &self.max_events)
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

impl MemQueue {
    pub(crate) fn new(max_events: usize, max_bytes: usize) -> Self {
        Self {
            records: VecDeque::new(),
            bytes: 0,
            max_events,
            max_bytes,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub(crate) fn front_enqueued_us(&self) -> Option<u64> {
        self.records.front().map(|r| r.enqueued_us)
    }

    fn fits(&self, size: usize) -> bool {
        self.records.is_empty()
            || (self.records.len() < self.max_events && self.bytes + size <= self.max_bytes)
    }

    /// Adds `record` under `policy`.
    pub(crate) fn push(&mut self, record: Record, policy: OverflowPolicy) -> PushResult {
        let size = record.size();
        if self.fits(size) {
            self.push_back(record);
            return PushResult::Queued { dropped_oldest: 0 };
        }
        match policy {
            OverflowPolicy::DropOldest => {
                let mut dropped = 0;
                while !self.fits(size) {
                    if self.pop_front().is_none() {
                        break;
                    }
                    dropped += 1;
                }
                self.push_back(record);
                PushResult::Queued {
                    dropped_oldest: dropped,
                }
            }
            OverflowPolicy::DropNewest => PushResult::DroppedNewest,
            OverflowPolicy::Block | OverflowPolicy::FailClosed => PushResult::Full(record),
        }
    }

    /// Whether a record of `size` bytes would be accepted without dropping or waiting.
    pub(crate) fn has_room(&self, size: usize) -> bool {
        self.fits(size)
    }

    fn push_back(&mut self, record: Record) {
        self.bytes += record.size();
        self.records.push_back(record);
    }

    fn pop_front(&mut self) -> Option<Record> {
        let r = self.records.pop_front()?;
        self.bytes -= r.size();
        Some(r)
    }

    /// Removes a batch from the front: at most `max_events`, and at most `max_bytes` unless the
    /// first record alone is larger (then it is returned alone).
    pub(crate) fn take_batch(&mut self, max_events: usize, max_bytes: usize) -> Vec<Record> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < max_events {
            let Some(front) = self.records.front() else {
                break;
            };
            let size = front.size();
            if !out.is_empty() && bytes + size > max_bytes {
                break;
            }
            bytes += size;
            if let Some(r) = self.pop_front() {
                out.push(r);
            }
        }
        out
    }

    /// Puts records back at the front, in order (used when the disk refused them).
    pub(crate) fn push_front_all(&mut self, records: Vec<Record>) {
        for r in records.into_iter().rev() {
            self.bytes += r.size();
            self.records.push_front(r);
        }
    }

    /// Empties the queue, returning everything in order.
    pub(crate) fn drain_all(&mut self) -> Vec<Record> {
        self.bytes = 0;
        self.records.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordId;

    fn rec(id: u128, len: usize) -> Record {
        Record {
            id: RecordId(id),
            enqueued_us: 0,
            payload: vec![0; len],
        }
    }

    #[test]
    fn drop_oldest_keeps_newest_within_limits() {
        let mut q = MemQueue::new(3, 1 << 20);
        for i in 0..5 {
            let r = q.push(rec(i, 1), OverflowPolicy::DropOldest);
            let expect = if i < 3 { 0 } else { 1 };
            assert_eq!(
                r,
                PushResult::Queued {
                    dropped_oldest: expect
                }
            );
        }
        let ids: Vec<u128> = q.drain_all().iter().map(|r| r.id.0).collect();
        assert_eq!(ids, vec![2, 3, 4]);
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn byte_limit_and_other_policies() {
        let mut q = MemQueue::new(100, 3 * (10 + 24));
        for i in 0..3 {
            q.push(rec(i, 10), OverflowPolicy::DropNewest);
        }
        assert_eq!(
            q.push(rec(9, 10), OverflowPolicy::DropNewest),
            PushResult::DroppedNewest
        );
        assert!(matches!(
            q.push(rec(9, 10), OverflowPolicy::FailClosed),
            PushResult::Full(_)
        ));
        assert!(matches!(
            q.push(rec(9, 10), OverflowPolicy::Block),
            PushResult::Full(_)
        ));
        assert_eq!(q.len(), 3);
        assert_eq!(q.bytes(), 3 * 34);
    }

    #[test]
    fn take_batch_respects_limits_but_never_starves_a_big_record() {
        let mut q = MemQueue::new(100, 1 << 20);
        q.push(rec(1, 1000), OverflowPolicy::DropNewest);
        q.push(rec(2, 10), OverflowPolicy::DropNewest);
        q.push(rec(3, 10), OverflowPolicy::DropNewest);
        assert_eq!(q.take_batch(10, 100).len(), 1);
        assert_eq!(q.take_batch(1, 100).len(), 1);
        let rest = q.take_batch(10, 100);
        assert_eq!(rest[0].id, RecordId(3));
        assert!(q.is_empty());
    }
}
