//! The read side of the disk buffer: counting unread records at open, reading batches, and
//! giving up the oldest segment for `drop_oldest`.
//!
//! Job: hand out records in order without ever losing one that was gathered, and never let
//! one bad file stall the destination. A segment that cannot be opened or read is retried on
//! later calls (the worker backs off in between); after [`READ_ATTEMPTS`] consecutive
//! failures, or at once if the file is gone, it is skipped like corruption: an estimate of
//! the records it still held is counted in `DiskStats::unreadable_events` and reading moves
//! on to the next segment.
//!
//! Invariants:
//! - `read` only moves past a record when it is handed out (or stashed for the next batch),
//!   past corrupt bytes, or past a segment that was given up and counted.
//! - A read error never drops records already gathered into a batch: they are returned and
//!   the error comes back on the next call (unless it was transient).

use std::io;
use std::path::Path;

use super::super::format::{RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::super::reader::{SegmentReader, Step};
use super::super::tail::Pos;
use super::super::types::{io_err, DiskError, LossKind, Mark, RecoveryLoss};
use super::recover::damaged_region;
use super::DiskBuffer;
use crate::record::Record;

/// Consecutive failed reads of one segment before it is given up. A missing file is given up
/// at once: retrying cannot bring it back.
pub(super) const READ_ATTEMPTS: u32 = 3;
/// On-disk bytes assumed per record for the loss estimate when no record is known to average.
const FALLBACK_RECORD_LEN: u64 = 512;

/// Records, their [`Record::size`] bytes, and corrupt regions found by counting a segment.
type Counted = (u64, u64, u64);

impl DiskBuffer {
    /// Counts readable records from the read position without moving it. A segment that
    /// cannot be read is marked to be skipped and its records counted as unreadable (an
    /// estimate), so a bad file never prevents the buffer from opening.
    /// Every damaged region and unreadable segment is added to `losses` (and logged).
    pub(super) fn count_unread(&mut self, losses: &mut Vec<RecoveryLoss>) -> Counted {
        let (mut events, mut bytes, mut corrupt) = (0, 0, 0);
        let mut bad = Vec::new();
        for i in 0..self.segments.len() {
            let (seq, len) = (self.segments[i].seq, self.segments[i].len);
            let from = if i == 0 {
                self.read.offset
            } else {
                SEGMENT_HEADER_LEN
            };
            let path = self.seg_path(seq);
            match self.count_segment(&path, seq, from, len, Some(&mut *losses)) {
                Ok((e, b, c)) => {
                    events += e;
                    bytes += b;
                    corrupt += c;
                }
                Err(e) => {
                    self.stats.read_errors += 1;
                    tracing::error!(segment = %path.display(), error = %e, "Disk buffer segment unreadable at open; skipping it.");
                    bad.push((i, len.saturating_sub(from)));
                }
            }
        }
        for (i, left) in bad {
            let est = estimate_records(left, events, bytes);
            let seq = self.segments[i].seq;
            losses.push(RecoveryLoss {
                kind: LossKind::Unreadable,
                segment: seq,
                last_segment: seq,
                offset: self.segments[i].len.saturating_sub(left),
                bytes: left,
                records: Some(est),
            });
            self.segments[i].skip = true;
            self.stats.unreadable_segments += 1;
            self.stats.unreadable_events += est;
        }
        (events, bytes, corrupt)
    }

    /// Counts the records of segment `seq` in `[from, len)`; damaged regions are described
    /// in `losses` when given.
    pub(super) fn count_segment(
        &self,
        path: &Path,
        seq: u64,
        from: u64,
        len: u64,
        mut losses: Option<&mut Vec<RecoveryLoss>>,
    ) -> io::Result<Counted> {
        let (mut events, mut bytes, mut corrupt) = (0, 0, 0);
        let mut r = SegmentReader::open(&*self.fs, path, seq, from)?;
        loop {
            match r.next(len)? {
                Step::Record(r) => {
                    events += 1;
                    bytes += r.size() as u64;
                }
                Step::Corrupt { at, skipped } => {
                    corrupt += 1;
                    if let Some(l) = losses.as_deref_mut() {
                        l.push(damaged_region(path, seq, at, skipped, len));
                    }
                }
                Step::End => return Ok((events, bytes, corrupt)),
            }
        }
    }

    /// Reads the next batch: up to `max_events` records and `max_bytes` (counted as
    /// [`Record::size`]; a single larger record is returned alone). The records stay on disk
    /// until [`DiskBuffer::ack_read`].
    ///
    /// An error is returned only when no record was gathered; the caller should back off
    /// before calling again (the failing segment is retried, then skipped).
    pub fn read_batch(
        &mut self,
        max_events: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, DiskError> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while out.len() < max_events {
            let next = match self.next_record() {
                Ok(next) => next,
                // `read` is already past the gathered records: returning an error now would
                // lose them. The error is counted and comes back on the next call.
                Err(e) if !out.is_empty() => {
                    tracing::warn!(error = %e, events = out.len(), "Disk buffer read failed mid-batch; sending what was read.");
                    break;
                }
                Err(e) => return Err(e),
            };
            let Some((record, end)) = next else {
                // The end of the data: nothing is unread, whatever the counters say (they can
                // hold an estimate after a skipped segment). Zeroing them keeps the worker
                // from polling for records that do not exist.
                self.stats.unread_events = 0;
                self.stats.unread_bytes = 0;
                break;
            };
            if !out.is_empty() && bytes + record.size() > max_bytes {
                self.stash = Some((record, end));
                break;
            }
            bytes += record.size();
            self.read = end;
            self.stats.unread_events = self.stats.unread_events.saturating_sub(1);
            self.stats.unread_bytes = self.stats.unread_bytes.saturating_sub(record.size() as u64);
            out.push(record);
        }
        if !out.is_empty() {
            self.in_flight = true;
            self.in_flight_end = self.read;
        }
        Ok(out)
    }

    /// Where the last record taken by the latest `append` ends; `None` if it took none.
    pub fn last_appended(&self) -> Option<Mark> {
        self.last_positions.last().map(|&(_, end)| Mark(end))
    }

    /// Acknowledges every record before `mark` without reading it back: `events` records of
    /// `bytes` ([`Record::size`]) that the caller counted as it appended them. For a buffer
    /// whose writer learns by other means which records are safe (the SIEM spool settles
    /// records as their destinations take them); reading them back only to acknowledge them
    /// cost a copy and a CRC of every record. Not to be mixed with a batch from
    /// [`DiskBuffer::read_batch`] that is still in flight (nothing is done then).
    pub fn ack_through(&mut self, mark: Mark, events: u64, bytes: u64) -> Result<(), DiskError> {
        if self.in_flight || mark.0 <= self.read {
            return Ok(());
        }
        // The cursor and a stashed record describe the old read position.
        self.cursor = None;
        self.stash = None;
        self.read_failures = None;
        self.read = mark.0;
        self.stats.unread_events = self.stats.unread_events.saturating_sub(events);
        self.stats.unread_bytes = self.stats.unread_bytes.saturating_sub(bytes);
        self.ack_read()
    }

    /// The next valid record after `read` and its end position, without committing to it.
    fn next_record(&mut self) -> Result<Option<(Record, Pos)>, DiskError> {
        if let Some(s) = self.stash.take() {
            return Ok(Some(s));
        }
        loop {
            if let Some(hit) = self.tail.take_at(self.read) {
                return Ok(Some(hit));
            }
            let Some(idx) = self.segments.iter().position(|s| s.seq >= self.read.seq) else {
                return Ok(None);
            };
            let (seq, len, skip) = {
                let s = &self.segments[idx];
                (s.seq, s.len, s.skip)
            };
            if seq > self.read.seq {
                self.read = Pos {
                    seq,
                    offset: SEGMENT_HEADER_LEN,
                };
            }
            if skip {
                // Unreadable at open; its records are already counted as unreadable.
                self.read.offset = self.read.offset.max(len);
            }
            let active = self.writer.as_ref().is_some_and(|w| w.seq == seq);
            if self.read.offset >= len {
                if active || idx + 1 >= self.segments.len() {
                    return Ok(None);
                }
                self.read = Pos {
                    seq: self.segments[idx + 1].seq,
                    offset: SEGMENT_HEADER_LEN,
                };
                continue;
            }
            let path = self.seg_path(seq);
            match self.step(&path, seq, len) {
                Ok(Some(hit)) => return Ok(Some(hit)),
                Ok(None) => {}
                Err((op, e)) => {
                    self.cursor = None;
                    self.stats.read_errors += 1;
                    let failures = match self.read_failures {
                        Some((s, n)) if s == seq => n + 1,
                        _ => 1,
                    };
                    self.read_failures = Some((seq, failures));
                    if e.kind() == io::ErrorKind::NotFound || failures >= READ_ATTEMPTS {
                        self.give_up_segment(idx, &path, &e);
                        continue;
                    }
                    return Err(io_err(op, &path)(e));
                }
            }
        }
    }

    /// One read step in segment `seq`: a record, or `None` after skipping corrupt bytes or
    /// reaching `len` (`read` is moved either way).
    fn step(
        &mut self,
        path: &Path,
        seq: u64,
        len: u64,
    ) -> Result<Option<(Record, Pos)>, (&'static str, io::Error)> {
        let cursor = match self.cursor.take() {
            Some(c) if c.seq() == seq && c.pos() == self.read.offset => c,
            _ => SegmentReader::open(&*self.fs, path, seq, self.read.offset)
                .map_err(|e| ("open segment", e))?,
        };
        let cursor = self.cursor.insert(cursor);
        let step = cursor.next(len).map_err(|e| ("read segment", e))?;
        self.read_failures = None;
        match step {
            Step::Record(r) => Ok(Some((
                r,
                Pos {
                    seq,
                    offset: cursor.pos(),
                },
            ))),
            Step::Corrupt { at, skipped } => {
                self.stats.corrupt_regions += 1;
                self.stats.corrupt_bytes += skipped;
                tracing::warn!(segment = %path.display(), offset = at, bytes = skipped, "Skipped a corrupt region of the disk buffer.");
                self.read = Pos {
                    seq,
                    offset: cursor.pos(),
                };
                Ok(None)
            }
            Step::End => {
                self.read = Pos { seq, offset: len };
                Ok(None)
            }
        }
    }

    /// Skips the unread rest of segment `idx` after it could not be read, counting an
    /// estimate of the records it held. The file stays until the ack passes it, as usual.
    fn give_up_segment(&mut self, idx: usize, path: &Path, error: &io::Error) {
        let (seq, len) = (self.segments[idx].seq, self.segments[idx].len);
        let from = if self.read.seq == seq {
            self.read.offset
        } else {
            SEGMENT_HEADER_LEN
        };
        let left = len.saturating_sub(from);
        let (events, bytes) = (self.stats.unread_events, self.stats.unread_bytes);
        let est = estimate_records(left, events, bytes);
        // Records written in this process or counted at open are in `events`; never count
        // more than that as lost.
        let est = if events > 0 { est.min(events) } else { est };
        self.stats.unread_events = events.saturating_sub(est);
        self.stats.unread_bytes = bytes.saturating_sub(left);
        self.stats.unreadable_segments += 1;
        self.stats.unreadable_events += est;
        if self.writer.as_ref().is_some_and(|w| w.seq == seq) {
            // Appending to a file we cannot read back would lose those records too.
            self.writer = None;
        }
        self.read = Pos { seq, offset: len };
        self.read_failures = None;
        tracing::error!(segment = %path.display(), error = %error, estimated_events = est, "Disk buffer segment unreadable; skipped it and counted its records as lost.");
    }

    /// For `drop_oldest` when the cap is reached: gives up the unread rest of the oldest
    /// segment that still has unread records. Returns how many records were dropped (0 if
    /// there is nothing unread that could be dropped). If the segment cannot be read, the
    /// count is an estimate (it is dropped all the same).
    pub fn drop_oldest_segment(&mut self) -> Result<u64, DiskError> {
        let Some(idx) = self.segments.iter().position(|s| s.seq >= self.read.seq) else {
            return Ok(0);
        };
        let (seq, len, skip) = {
            let s = &self.segments[idx];
            (s.seq, s.len, s.skip)
        };
        if self.writer.as_ref().is_some_and(|w| w.seq == seq) {
            self.seal();
        }
        let stashed = self.stash.take().map(|(r, _)| r.size() as u64);
        let from = if seq == self.read.seq {
            self.read.offset
        } else {
            SEGMENT_HEADER_LEN
        };
        let path = self.seg_path(seq);
        let (mut dropped, mut dropped_bytes) = if skip {
            // Already counted as unreadable at open.
            (0, 0)
        } else {
            match self.count_segment(&path, seq, from, len, None) {
                Ok((e, b, _)) => (e, b),
                Err(e) => {
                    self.stats.read_errors += 1;
                    tracing::warn!(segment = %path.display(), error = %e, "Disk buffer segment unreadable while dropping it; the drop count is an estimate.");
                    let (events, bytes) = (self.stats.unread_events, self.stats.unread_bytes);
                    let left = len.saturating_sub(from);
                    (estimate_records(left, events, bytes).min(events), left)
                }
            }
        };
        // The stash (if any) starts at `from`, so the count above already includes it.
        if let Some(size) = stashed {
            if dropped == 0 {
                dropped = 1;
                dropped_bytes = size;
            }
        }
        self.cursor = None;
        self.read_failures = None;
        self.read = Pos {
            seq: seq + 1,
            offset: SEGMENT_HEADER_LEN,
        };
        self.stats.unread_events = self.stats.unread_events.saturating_sub(dropped);
        self.stats.unread_bytes = self.stats.unread_bytes.saturating_sub(dropped_bytes);
        if !self.in_flight {
            // The drop already happened: report the count even if persisting the ack fails
            // (it is counted in `ack_errors` and retried by `maintain`).
            if let Err(e) = self.ack_read() {
                tracing::error!(error = %e, "Disk buffer ack write failed after dropping a segment.");
            }
        } else if seq > self.in_flight_end.seq {
            // The segment holds no in-flight records, so its space can be freed now, out of
            // order. After a crash a missing middle segment is simply not read: its records
            // were dropped (and counted) anyway. Without this, a batch stuck in retry would
            // make every further `drop_oldest` call drop another segment without freeing any.
            self.remove_segment_at(idx)?;
        }
        Ok(dropped)
    }
}

/// Records likely held by `left` bytes of segment, from the average of `events` records of
/// `bytes` ([`Record::size`], 8 bytes less than on disk). Used only for loss counters.
fn estimate_records(left: u64, events: u64, bytes: u64) -> u64 {
    if left == 0 {
        return 0;
    }
    let per = match bytes.checked_div(events) {
        Some(avg) => avg + RECORD_HEADER_LEN as u64,
        None => FALLBACK_RECORD_LEN,
    };
    left.div_ceil(per.max(1))
}
