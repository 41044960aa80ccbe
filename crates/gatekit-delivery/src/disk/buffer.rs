//! The disk buffer: segments, the write head, the read cursor and the persisted ack.
//!
//! Job: see `crate::disk` (format, recovery, guarantees). This file implements the write
//! side, acknowledgement and maintenance; `buffer/read.rs` the read side (counting at open,
//! reading batches, skipping unreadable segments, `drop_oldest`).
//!
//! Invariants (checked by the model-based property test):
//! - `ack <= read`: records before `ack` were acknowledged by the destination; records in
//!   `[ack, read)` are handed out (in flight); records after `read` are unread.
//! - `segments[i].len` is the end of the bytes known to be fully written in this process (or
//!   the file size for segments found at startup); the reader never goes past it.
//! - A segment file is deleted only after an ack position beyond it has been persisted.
//! - After an I/O error the active segment is sealed at its last good length and never
//!   written again; the next append starts a new segment.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

// Tokio's clock (the plain monotonic clock outside a paused test runtime): the worker's
// timers and these "is an fsync / ack write due" checks then agree, also under paused time.
use tokio::time::Instant;

use super::format::{
    decode_ack, encode_ack, encode_record, encoded_len, fits_format, parse_segment_name,
    segment_name, SEGMENT_HEADER_LEN, SEGMENT_MAGIC,
};
use super::fs::{FileSystem, SegmentFile, StdFs};
use super::lock::DirLock;
use super::reader::SegmentReader;
use super::tail::{HotTail, Pos};
use super::types::{
    io_err, AckDone, AckJob, AppendStop, Appended, DiskError, DiskStats, RecoveryReport, SyncJob,
};
use crate::config::{DiskSettings, FsyncPolicy};
use crate::record::Record;

mod read;
mod recover;

/// Memory for the hot tail of recently appended records.
const TAIL_BYTES: usize = 4 << 20;

#[derive(Debug)]
struct Segment {
    seq: u64,
    len: u64,
    /// Could not be read when the buffer was opened: its records were counted as unreadable
    /// then, and the reader passes over it.
    skip: bool,
    /// Records written to it, when known (written in this process, or found intact at open
    /// with an entry in the seal index); feeds the seal index.
    records: Option<u64>,
}

#[derive(Debug)]
struct Writer {
    seq: u64,
    file: Box<dyn SegmentFile>,
    dirty: bool,
}

/// A durable FIFO of records in segment files. See `crate::disk`.
pub struct DiskBuffer {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    settings: DiskSettings,
    segments: VecDeque<Segment>,
    writer: Option<Writer>,
    next_seq: u64,
    cursor: Option<SegmentReader>,
    /// A record read from disk that did not fit the last batch, with its end position.
    stash: Option<(Record, Pos)>,
    /// Segment whose last read failed and how many times in a row (see `read.rs`).
    read_failures: Option<(u64, u32)>,
    read: Pos,
    ack: Pos,
    persisted_ack: Option<Pos>,
    in_flight: bool,
    /// End of the records handed out by the last `read_batch` (meaningful while `in_flight`).
    in_flight_end: Pos,
    total_bytes: u64,
    last_sync: Instant,
    last_ack_write: Instant,
    stats: DiskStats,
    buf: Vec<u8>,
    /// Recently appended records, to skip reading them back (see `tail.rs`).
    tail: HotTail,
    /// Positions of the records committed by the last `append`, in order.
    last_positions: Vec<(Pos, Pos)>,
    /// Held for the buffer's lifetime; dropped last (fields drop in declaration order).
    _lock: DirLock,
}

/// Summarised: never dumps the write buffer or a stashed payload.
impl std::fmt::Debug for DiskBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskBuffer")
            .field("dir", &self.dir)
            .field("read", &self.read)
            .field("ack", &self.ack)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl DiskBuffer {
    /// Opens (or creates) the buffer in `settings.path` on the real file system, recovering
    /// whatever a previous process left.
    pub fn open(settings: DiskSettings) -> Result<(Self, RecoveryReport), DiskError> {
        Self::open_with(settings, Arc::new(StdFs))
    }

    /// Like [`DiskBuffer::open`] with an injected file system (tests).
    pub fn open_with(
        settings: DiskSettings,
        fs: Arc<dyn FileSystem>,
    ) -> Result<(Self, RecoveryReport), DiskError> {
        let dir = settings.path.clone();
        crate::private::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let mut tightened = u64::from(crate::private::tighten(&dir, crate::private::DIR_MODE));
        let lock = DirLock::acquire(&dir).map_err(io_err("lock directory", &dir))?;
        let mut seqs = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_err("list directory", &dir))? {
            let entry = entry.map_err(io_err("list directory", &dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(seq) = parse_segment_name(&name) {
                tightened += u64::from(crate::private::tighten(
                    &entry.path(),
                    crate::private::FILE_MODE,
                ));
                seqs.push(seq);
            } else if name == "ack" || name == "lock" || name == super::seals::SEALS_FILE {
                tightened += u64::from(crate::private::tighten(
                    &entry.path(),
                    crate::private::FILE_MODE,
                ));
            } else if name.ends_with(".tmp") {
                // A torn ack write from a crash: the previous ack file is still intact.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        seqs.sort_unstable();
        let ack_path = dir.join("ack");
        let mut ack = match std::fs::read(&ack_path) {
            Ok(bytes) => decode_ack(&bytes).map(|(seq, offset)| Pos { seq, offset }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("read ack", &ack_path)(e)),
        };
        let mut found = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let path = dir.join(segment_name(seq));
            let len = std::fs::metadata(&path)
                .map_err(io_err("stat segment", &path))?
                .len();
            found.push((seq, len));
        }
        let mut report = RecoveryReport {
            permissions_tightened: tightened,
            ..RecoveryReport::default()
        };
        if let Some(a) = ack {
            if let Some(why) = recover::refuse_ack(a, &found, &*fs, &dir) {
                // Obeying it would delete or skip records nobody acknowledged.
                tracing::error!(dir = %dir.display(), segment = a.seq, offset = a.offset, reason = %why, "Disk buffer ack file refused; keeping the whole backlog (it is re-sent: duplicates, never loss).");
                report.ack_refused = true;
                ack = None;
            }
        }
        report.ack_missing = ack.is_none() && !found.is_empty();
        let mut segments = VecDeque::new();
        let mut total_bytes = 0;
        for (seq, len) in found {
            if ack.is_some_and(|a| seq < a.seq) {
                // Fully acknowledged before the crash; its deletion just did not happen yet.
                let path = dir.join(segment_name(seq));
                fs.remove(&path).map_err(io_err("remove segment", &path))?;
                continue;
            }
            total_bytes += len;
            segments.push_back(Segment {
                seq,
                len,
                skip: false,
                records: None,
            });
        }
        let kept: Vec<u64> = segments.iter().map(|s| s.seq).collect();
        report.losses = recover::missing_segments(ack.map(|a| a.seq), &kept, &dir);
        let next_seq = segments
            .back()
            .map_or(ack.map_or(0, |a| a.seq + 1), |s| s.seq + 1);
        let start = match (ack, segments.front()) {
            (Some(a), Some(first)) if a.seq == first.seq && a.offset <= first.len => a,
            (_, Some(first)) => Pos {
                seq: first.seq,
                offset: SEGMENT_HEADER_LEN,
            },
            (_, None) => Pos {
                seq: next_seq,
                offset: SEGMENT_HEADER_LEN,
            },
        };
        report.segments = segments.len();
        let now = Instant::now();
        let mut me = Self {
            dir,
            fs,
            settings,
            segments,
            writer: None,
            next_seq,
            cursor: None,
            stash: None,
            read_failures: None,
            read: start,
            ack: start,
            persisted_ack: ack,
            in_flight: false,
            in_flight_end: start,
            total_bytes,
            last_sync: now,
            last_ack_write: now,
            stats: DiskStats::default(),
            buf: Vec::new(),
            tail: HotTail::new(TAIL_BYTES),
            last_positions: Vec::new(),
            _lock: lock,
        };
        let (events, bytes, corrupt) = me.count_unread(&mut report.losses);
        me.check_seals(&mut report.losses);
        report.events = events;
        report.corrupt_regions = corrupt;
        report.unreadable_segments = me.stats.unreadable_segments;
        me.stats.unread_events = events;
        me.stats.unread_bytes = bytes;
        me.refresh_gauges();
        Ok((me, report))
    }

    fn refresh_gauges(&mut self) {
        self.stats.bytes = self.total_bytes;
        self.stats.segments = self.segments.len();
    }

    /// Current counters.
    pub fn stats(&self) -> DiskStats {
        self.stats
    }

    /// Whether there are unread records.
    pub fn has_unread(&self) -> bool {
        self.stats.unread_events > 0 || self.stash.is_some()
    }

    /// Whether the periodic jobs ([`DiskBuffer::begin_sync`], [`DiskBuffer::begin_ack`],
    /// [`DiskBuffer::maintain`]) have nothing left to do now or later: no appended data waits
    /// for an interval fsync and the acknowledged position is persisted. A caller that runs
    /// those jobs on a timer may then sleep until something is appended.
    pub fn is_quiescent(&self) -> bool {
        let sync_pending = matches!(self.settings.fsync, FsyncPolicy::Every(_))
            && self.writer.as_ref().is_some_and(|w| w.dirty);
        !sync_pending && self.persisted_ack == Some(self.ack)
    }

    fn seg_path(&self, seq: u64) -> PathBuf {
        self.dir.join(segment_name(seq))
    }

    /// Stops writing to the active segment (after an error, on rotation or for drop_oldest).
    fn seal(&mut self) {
        if let Some(mut w) = self.writer.take() {
            if w.dirty && self.settings.fsync != FsyncPolicy::Never {
                if let Err(e) = w.file.sync() {
                    self.stats.sync_errors += 1;
                    tracing::error!(error = %e, "Disk buffer fsync failed while sealing a segment.");
                }
            }
            self.write_seals();
        }
    }

    fn open_writer(&mut self) -> Result<(), DiskError> {
        let seq = self.next_seq;
        let path = self.seg_path(seq);
        let mut file = self
            .fs
            .create_segment(&path)
            .map_err(io_err("create segment", &path))?;
        self.next_seq += 1;
        // Registered before the header write: if that fails the file exists with length 0
        // in our books and is deleted when acknowledged like any other segment.
        self.segments.push_back(Segment {
            seq,
            len: 0,
            skip: false,
            records: Some(0),
        });
        if let Err(e) = file.write_all(SEGMENT_MAGIC) {
            self.stats.write_errors += 1;
            return Err(io_err("write segment header", &path)(e));
        }
        if let Some(s) = self.segments.back_mut() {
            s.len = SEGMENT_HEADER_LEN;
        }
        self.total_bytes += SEGMENT_HEADER_LEN;
        self.writer = Some(Writer {
            seq,
            file,
            dirty: true,
        });
        Ok(())
    }

    fn writer_len(&self) -> u64 {
        match (&self.writer, self.segments.back()) {
            (Some(w), Some(s)) if s.seq == w.seq => s.len,
            _ => 0,
        }
    }

    /// Appends records in order until done, the size cap is reached, or an I/O error.
    /// Under `FsyncPolicy::Always` accepted records are durable when this returns.
    pub fn append(&mut self, records: &[Record]) -> Appended {
        self.last_positions.clear();
        let mut accepted = 0;
        while accepted < records.len() {
            if !fits_format(&records[accepted]) {
                return Appended {
                    accepted,
                    stop: Some(AppendStop::TooLarge),
                };
            }
            if self.writer.is_none() {
                if self.total_bytes + SEGMENT_HEADER_LEN + encoded_len(&records[accepted]) as u64
                    > self.settings.max_bytes
                {
                    return Appended {
                        accepted,
                        stop: Some(AppendStop::Full),
                    };
                }
                if let Err(e) = self.open_writer() {
                    return Appended {
                        accepted,
                        stop: Some(AppendStop::Io(e)),
                    };
                }
            }
            // Fill one write from as many records as fit in this segment and under the cap.
            let base = self.writer_len();
            let seq = self.writer.as_ref().map_or(0, |w| w.seq);
            let first_pos = self.last_positions.len();
            self.buf.clear();
            let mut n = 0;
            let mut rec_bytes = 0u64;
            let mut full = false;
            let mut too_large = false;
            for r in &records[accepted..] {
                if !fits_format(r) {
                    too_large = true;
                    break;
                }
                let len = encoded_len(r) as u64;
                let seg_len = base + self.buf.len() as u64;
                if seg_len > SEGMENT_HEADER_LEN && seg_len + len > self.settings.segment_bytes {
                    break;
                }
                if self.total_bytes + self.buf.len() as u64 + len > self.settings.max_bytes {
                    full = true;
                    break;
                }
                let start = Pos {
                    seq,
                    offset: base + self.buf.len() as u64,
                };
                encode_record(r, &mut self.buf);
                let end = Pos {
                    seq,
                    offset: base + self.buf.len() as u64,
                };
                self.last_positions.push((start, end));
                n += 1;
                rec_bytes += r.size() as u64;
            }
            if n > 0 {
                if let Err(e) = self.commit(n as u64, rec_bytes) {
                    self.last_positions.truncate(first_pos);
                    return Appended {
                        accepted,
                        stop: Some(AppendStop::Io(e)),
                    };
                }
                accepted += n;
            }
            if full || too_large {
                self.last_positions.truncate(first_pos + n);
                let stop = if full {
                    AppendStop::Full
                } else {
                    AppendStop::TooLarge
                };
                return Appended {
                    accepted,
                    stop: Some(stop),
                };
            }
            // Records encoded but not committed (segment full) are re-encoded after rotation.
            self.last_positions.truncate(first_pos + n);
            if accepted < records.len() {
                self.seal(); // segment full: rotate
            }
        }
        Appended {
            accepted,
            stop: None,
        }
    }

    /// Like [`DiskBuffer::append`], taking ownership: accepted records are kept in the hot
    /// tail (so reading them back costs no I/O while the destination keeps up); the records
    /// not accepted are returned in order.
    pub fn append_vec(&mut self, records: Vec<Record>) -> (Appended, Vec<Record>) {
        let appended = self.append(&records);
        let mut rest = Vec::with_capacity(records.len() - appended.accepted);
        let mut positions = std::mem::take(&mut self.last_positions).into_iter();
        for (i, r) in records.into_iter().enumerate() {
            if i < appended.accepted {
                if let Some((start, end)) = positions.next() {
                    self.tail.push(start, end, r);
                }
            } else {
                rest.push(r);
            }
        }
        (appended, rest)
    }

    /// Writes `self.buf` (holding `events` records of `rec_bytes`) to the active segment.
    fn commit(&mut self, events: u64, rec_bytes: u64) -> Result<(), DiskError> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        // The path is only built for an error message: this runs for every spilled chunk.
        let dir = &self.dir;
        let seq = w.seq;
        let path = || dir.join(segment_name(seq));
        let mut result = w
            .file
            .write_all(&self.buf)
            .map_err(|e| io_err("write segment", &path())(e));
        if result.is_err() {
            self.stats.write_errors += 1;
        } else if self.settings.fsync == FsyncPolicy::Always {
            result = w
                .file
                .sync()
                .map_err(|e| io_err("fsync segment", &path())(e));
            if result.is_err() {
                self.stats.sync_errors += 1;
            }
        }
        if let Err(e) = result {
            // An unknown prefix may be on disk: never write after it, never read it in this
            // process. After a restart it is read as a torn region and skipped.
            self.writer = None;
            return Err(e);
        }
        w.dirty = self.settings.fsync != FsyncPolicy::Always;
        let n = self.buf.len() as u64;
        if let Some(s) = self.segments.back_mut() {
            s.len += n;
            s.records = s.records.map(|r| r + events);
        }
        self.total_bytes += n;
        self.stats.unread_events += events;
        self.stats.unread_bytes += rec_bytes;
        self.refresh_gauges();
        Ok(())
    }

    /// Periodic work: fsync under the interval policy and persist the ack position.
    /// Call it often (every worker wake-up); it does nothing when nothing is due.
    pub fn maintain(&mut self) -> Result<(), DiskError> {
        let mut first_err = None;
        if let (FsyncPolicy::Every(every), Some(w)) = (self.settings.fsync, self.writer.as_mut()) {
            if w.dirty && self.last_sync.elapsed() >= every {
                self.last_sync = Instant::now();
                w.dirty = false;
                let path = self.dir.join(segment_name(w.seq));
                if let Err(e) = w.file.sync() {
                    self.stats.sync_errors += 1;
                    // The data is readable but its durability is unknown: seal so that later
                    // records at least land in a file we can still sync.
                    self.writer = None;
                    first_err = Some(io_err("fsync segment", &path)(e));
                }
            }
        }
        if self.ack_due() {
            if let Err(e) = self.persist_ack() {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Whether the periodic ack write is due.
    fn ack_due(&self) -> bool {
        let every = match self.settings.fsync {
            FsyncPolicy::Always => Duration::ZERO,
            FsyncPolicy::Every(d) => d,
            FsyncPolicy::Never => Duration::from_secs(1),
        };
        self.persisted_ack != Some(self.ack) && self.last_ack_write.elapsed() >= every
    }

    /// When the periodic ack write is due, hands it out as an [`AckJob`] to run off the async
    /// thread (it writes and fsyncs a small file, which can take milliseconds); report the
    /// result with [`DiskBuffer::finish_ack`]. `maintain` then skips it.
    pub fn begin_ack(&mut self) -> Option<AckJob> {
        if !self.ack_due() {
            return None;
        }
        self.last_ack_write = Instant::now();
        Some(AckJob {
            fs: Arc::clone(&self.fs),
            path: self.dir.join("ack"),
            bytes: encode_ack(self.ack.seq, self.ack.offset),
            sync: self.settings.fsync != FsyncPolicy::Never,
            seq: self.ack.seq,
            offset: self.ack.offset,
        })
    }

    /// Records the result of an [`AckJob`]: on success the position counts as persisted and
    /// segments wholly before it are deleted.
    pub fn finish_ack(&mut self, done: AckDone) -> Result<(), DiskError> {
        let path = self.dir.join("ack");
        if let Err(e) = done.result {
            self.stats.ack_errors += 1;
            return Err(io_err("write ack", &path)(e));
        }
        let pos = Pos {
            seq: done.seq,
            offset: done.offset,
        };
        // Never move the persisted position backwards (a newer write may have finished first).
        if self.persisted_ack.is_none_or(|p| p < pos) {
            self.persisted_ack = Some(pos);
        }
        self.delete_acked_segments()
    }

    /// Under the interval policy, when an fsync is due, hands it out as a [`SyncJob`] the
    /// caller runs off the async thread (`spawn_blocking`), so a slow disk stalls no other
    /// task; report the result with [`DiskBuffer::finish_sync`]. Returns `None` when nothing
    /// is due or the file system cannot hand out a handle (then `maintain` syncs inline).
    pub fn begin_sync(&mut self) -> Option<SyncJob> {
        let FsyncPolicy::Every(every) = self.settings.fsync else {
            return None;
        };
        let w = self.writer.as_mut()?;
        if !w.dirty || self.last_sync.elapsed() < every {
            return None;
        }
        let file = w.file.sync_handle()?;
        w.dirty = false;
        self.last_sync = Instant::now();
        Some(SyncJob { seq: w.seq, file })
    }

    /// Records the result of a [`SyncJob`]. On failure the segment is sealed (as in
    /// `maintain`) and the error returned for reporting.
    pub fn finish_sync(&mut self, seq: u64, result: io::Result<()>) -> Result<(), DiskError> {
        let Err(e) = result else {
            return Ok(());
        };
        self.stats.sync_errors += 1;
        if self.writer.as_ref().is_some_and(|w| w.seq == seq) {
            self.writer = None;
        }
        Err(io_err("fsync segment", &self.seg_path(seq))(e))
    }

    /// Fsyncs the active segment and persists the ack position now.
    pub fn sync(&mut self) -> Result<(), DiskError> {
        if let Some(w) = self.writer.as_mut() {
            let path = self.dir.join(segment_name(w.seq));
            if let Err(e) = w.file.sync() {
                self.stats.sync_errors += 1;
                self.writer = None;
                return Err(io_err("fsync segment", &path)(e));
            }
            w.dirty = false;
            self.last_sync = Instant::now();
        }
        self.persist_ack()
    }

    fn persist_ack(&mut self) -> Result<(), DiskError> {
        let path = self.dir.join("ack");
        let bytes = encode_ack(self.ack.seq, self.ack.offset);
        self.last_ack_write = Instant::now();
        let sync = self.settings.fsync != FsyncPolicy::Never;
        if let Err(e) = self.fs.write_atomic(&path, &bytes, sync) {
            self.stats.ack_errors += 1;
            return Err(io_err("write ack", &path)(e));
        }
        self.persisted_ack = Some(self.ack);
        self.delete_acked_segments()
    }

    /// Deletes segments wholly before the persisted ack.
    fn delete_acked_segments(&mut self) -> Result<(), DiskError> {
        let Some(acked) = self.persisted_ack else {
            return Ok(());
        };
        while let Some(front) = self.segments.front() {
            let active = self.writer.as_ref().is_some_and(|w| w.seq == front.seq);
            if front.seq >= acked.seq || active {
                break;
            }
            let path = self.seg_path(front.seq);
            if let Err(e) = self.fs.remove(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    self.stats.ack_errors += 1;
                    return Err(io_err("remove segment", &path)(e));
                }
            }
            self.total_bytes = self.total_bytes.saturating_sub(front.len);
            self.segments.pop_front();
        }
        self.refresh_gauges();
        Ok(())
    }

    /// Acknowledges everything handed out by `read_batch` (and anything skipped since).
    /// Segments wholly before the new ack position are deleted once it is persisted.
    pub fn ack_read(&mut self) -> Result<(), DiskError> {
        self.in_flight = false;
        if self.read <= self.ack {
            return Ok(());
        }
        self.ack = self.read;
        let whole_segment_done = self.segments.front().is_some_and(|s| s.seq < self.ack.seq);
        if whole_segment_done || self.settings.fsync == FsyncPolicy::Always {
            self.persist_ack()?;
        }
        Ok(())
    }

    fn remove_segment_at(&mut self, idx: usize) -> Result<(), DiskError> {
        let Some(seg) = self.segments.get(idx) else {
            return Ok(());
        };
        let (seq, len) = (seg.seq, seg.len);
        let path = self.seg_path(seq);
        if let Err(e) = self.fs.remove(&path) {
            if e.kind() != io::ErrorKind::NotFound {
                self.stats.ack_errors += 1;
                return Err(io_err("remove segment", &path)(e));
            }
        }
        self.segments.remove(idx);
        self.total_bytes = self.total_bytes.saturating_sub(len);
        self.refresh_gauges();
        Ok(())
    }

    /// Seals the active segment, fsyncs and persists the ack (clean shutdown).
    pub fn close(mut self) -> Result<(), DiskError> {
        let r = self.sync();
        self.writer = None;
        self.write_seals();
        r
    }
}
