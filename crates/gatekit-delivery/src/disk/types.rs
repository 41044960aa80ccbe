//! Public result, error and statistics types of the disk buffer.
//!
//! Job: the data the buffer hands out (`Appended`, `RecoveryReport`, `DiskStats`, `SyncJob`)
//! and its error type, kept apart from `buffer.rs` so that file holds only the buffer's logic.

use std::io;
use std::path::{Path, PathBuf};

/// A disk buffer failure that could not be absorbed.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// A file operation failed.
    #[error("disk buffer {op} failed for {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

pub(super) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> DiskError + 'a {
    move |source| DiskError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// The place just after one appended record ([`crate::disk::DiskBuffer::last_appended`]), for
/// acknowledging by position ([`crate::disk::DiskBuffer::ack_through`]). Marks of one buffer
/// order like the records they follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(pub(super) super::tail::Pos);

/// Why an append stopped before taking every record.
#[derive(Debug)]
pub enum AppendStop {
    /// The size cap was reached.
    Full,
    /// A write or fsync failed; the records after `accepted` were not stored.
    Io(DiskError),
    /// The record at `accepted` is larger than the format allows
    /// ([`MAX_PAYLOAD_LEN`](super::MAX_PAYLOAD_LEN)); it was not stored, nor anything after it.
    TooLarge,
}

/// Result of [`DiskBuffer::append`]: the first `accepted` records are stored.
#[derive(Debug)]
pub struct Appended {
    /// Records stored, from the front of the slice.
    pub accepted: usize,
    /// Why the rest was not stored, if any.
    pub stop: Option<AppendStop>,
}

/// The kind of damage recovery found in the buffer directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Bytes between valid records that are not a valid record (bit rot, overwritten data).
    Corrupt,
    /// The segment's 8-byte header is damaged; the valid records after it were kept.
    DamagedHeader,
    /// The segment ends inside a record: truncated, or torn by a crash or power loss.
    Truncated,
    /// The segment file is empty (0 bytes): whatever it held is gone, count unknown.
    EmptySegment,
    /// Segment files missing between others: deleted outside Gatekit, or given up by
    /// `drop_oldest` just before a crash (then already counted as dropped). Count unknown.
    MissingSegments,
    /// The segment file could not be opened or read; `records` is an estimate.
    Unreadable,
}

/// One place where records could not be recovered. Every one is also logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecoveryLoss {
    /// What was found.
    pub kind: LossKind,
    /// Segment sequence number (the file is `disk::segment_name(segment)`); for
    /// `MissingSegments` the first missing one.
    pub segment: u64,
    /// For `MissingSegments` the last missing segment; otherwise equal to `segment`.
    pub last_segment: u64,
    /// Byte offset of the damage in the segment.
    pub offset: u64,
    /// Bytes that could not be used (0 when unknown, as for a missing file).
    pub bytes: u64,
    /// Records lost, when that can be known (or estimated, for `Unreadable`); `None` when
    /// only the bytes are known.
    pub records: Option<u64>,
}

/// What recovery found when the buffer was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Unacknowledged records found (they will be delivered; some may be duplicates).
    pub events: u64,
    /// Segment files found.
    pub segments: usize,
    /// Corrupt or torn regions found while counting.
    pub corrupt_regions: u64,
    /// Segment files that could not be read; they are skipped and their records counted in
    /// [`DiskStats::unreadable_events`] (an estimate).
    pub unreadable_segments: u64,
    /// Whether the ack file was missing or invalid (everything on disk will be re-sent).
    pub ack_missing: bool,
    /// Whether the ack file had a valid checksum but pointed where no acknowledged data can
    /// be (past the end of the data, into a missing segment, or inside a record). It was not
    /// obeyed: nothing was deleted and everything on disk is re-sent (duplicates, never loss).
    pub ack_refused: bool,
    /// Every place where records could not be recovered, in file order. The gateway reports
    /// these (for example as `system_event`s); each is also logged with segment and offset.
    pub losses: Vec<RecoveryLoss>,
    /// Buffer files or the buffer directory found readable by other users and tightened to
    /// 0600 / 0700 (each logged as a warning).
    pub permissions_tightened: u64,
}

impl RecoveryReport {
    /// Records known (or, for unreadable segments, estimated) to be lost.
    pub fn lost_records(&self) -> u64 {
        self.losses.iter().filter_map(|l| l.records).sum()
    }

    /// Bytes that could not be recovered.
    pub fn lost_bytes(&self) -> u64 {
        self.losses.iter().map(|l| l.bytes).sum()
    }
}

/// Counters and gauges of a disk buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Records written and not yet read.
    pub unread_events: u64,
    /// Their size, counted as [`Record::size`] (payload + 24).
    pub unread_bytes: u64,
    /// Bytes of all segment files.
    pub bytes: u64,
    /// Segment files.
    pub segments: usize,
    /// Corrupt regions skipped by reads.
    pub corrupt_regions: u64,
    /// Bytes in those regions.
    pub corrupt_bytes: u64,
    /// Failed writes.
    pub write_errors: u64,
    /// Failed fsyncs.
    pub sync_errors: u64,
    /// Failed ack-file writes or segment deletions.
    pub ack_errors: u64,
    /// Failed segment opens or reads (each retried, then the segment is given up).
    pub read_errors: u64,
    /// Segment files given up because they could not be opened or read.
    pub unreadable_segments: u64,
    /// Estimated records lost in those segments (from the average record size; the exact
    /// number cannot be known without reading them).
    pub unreadable_events: u64,
}

/// An fsync to run off the async thread; see [`DiskBuffer::begin_sync`].
#[derive(Debug)]
pub struct SyncJob {
    pub(super) seq: u64,
    pub(super) file: std::fs::File,
}

impl SyncJob {
    /// Runs the fsync (blocking). Returns the segment it was for and the result.
    pub fn run(self) -> (u64, io::Result<()>) {
        (self.seq, self.file.sync_data())
    }
}

/// An ack-file write to run off the async thread; see `DiskBuffer::begin_ack`.
#[derive(Debug)]
pub struct AckJob {
    pub(super) fs: std::sync::Arc<dyn super::fs::FileSystem>,
    pub(super) path: PathBuf,
    pub(super) bytes: [u8; super::format::ACK_LEN],
    pub(super) sync: bool,
    pub(super) seq: u64,
    pub(super) offset: u64,
}

impl AckJob {
    /// Writes the ack file (blocking).
    pub fn run(self) -> AckDone {
        let result = self.fs.write_atomic(&self.path, &self.bytes, self.sync);
        AckDone {
            seq: self.seq,
            offset: self.offset,
            result,
        }
    }
}

/// The outcome of an [`AckJob`], for `DiskBuffer::finish_ack`.
#[derive(Debug)]
pub struct AckDone {
    pub(super) seq: u64,
    pub(super) offset: u64,
    pub(super) result: io::Result<()>,
}
