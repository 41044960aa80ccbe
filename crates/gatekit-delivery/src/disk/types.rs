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

/// What recovery found when the buffer was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
