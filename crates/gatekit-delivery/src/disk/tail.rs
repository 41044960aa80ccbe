//! The hot tail: the most recently appended records, kept in memory so the reader can skip
//! reading them back from disk when the destination keeps up.
//!
//! Job: a bounded cache keyed by disk position. It changes speed, never results: a record is
//! served from here only when its start position equals the reader's position exactly, and it
//! was added only after its bytes were successfully written at that position. Anything not
//! here (evicted, after a restart, after a segment change) is read from disk as before.
//!
//! Invariants: entries are in position order; `bytes` is the sum of their `Record::size`;
//! `bytes <= cap` after every push (oldest entries are evicted first).

use std::collections::VecDeque;

use crate::record::Record;

/// A position in the buffer: segment sequence number and byte offset in that segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) seq: u64,
    pub(crate) offset: u64,
}

#[derive(Debug)]
struct Entry {
    start: Pos,
    end: Pos,
    record: Record,
}

/// Bounded in-memory copy of recently appended records.
#[derive(Debug)]
pub(crate) struct HotTail {
    entries: VecDeque<Entry>,
    bytes: usize,
    cap: usize,
}

impl HotTail {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            cap,
        }
    }

    /// Adds a record written at `[start, end)`.
    pub(crate) fn push(&mut self, start: Pos, end: Pos, record: Record) {
        let size = record.size();
        if size > self.cap {
            return;
        }
        while self.bytes + size > self.cap {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= e.record.size();
        }
        self.bytes += size;
        self.entries.push_back(Entry { start, end, record });
    }

    /// The record starting exactly at `read`, with its end position; drops entries before it.
    pub(crate) fn take_at(&mut self, read: Pos) -> Option<(Record, Pos)> {
        while self.entries.front().is_some_and(|e| e.start < read) {
            if let Some(e) = self.entries.pop_front() {
                self.bytes -= e.record.size();
            }
        }
        if self.entries.front().is_some_and(|e| e.start == read) {
            let e = self.entries.pop_front()?;
            self.bytes -= e.record.size();
            return Some((e.record, e.end));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordId;

    fn rec(id: u128) -> Record {
        Record {
            id: RecordId(id),
            enqueued_us: 0,
            payload: vec![0; 76],
        } // size 100
    }
    fn pos(offset: u64) -> Pos {
        Pos { seq: 1, offset }
    }

    #[test]
    fn serves_only_exact_positions_and_stays_bounded() {
        let mut t = HotTail::new(250);
        t.push(pos(8), pos(108), rec(1));
        t.push(pos(108), pos(208), rec(2));
        t.push(pos(208), pos(308), rec(3)); // evicts record 1
        assert!(
            t.take_at(pos(8)).is_none(),
            "evicted: read from disk instead"
        );
        assert!(t.take_at(pos(150)).is_none());
        let (r, end) = t.take_at(pos(208)).unwrap();
        assert_eq!((r.id, end), (RecordId(3), pos(308)));
        assert_eq!(t.bytes, 0, "stale entry 2 dropped on the way");
    }
}
