//! Reading a buffer directory without touching it (`gatekit siem replay`).
//!
//! Job: yield the unacknowledged records of a disk buffer (or of a spool, which has the same
//! format) in order, from a directory that may belong to a live or dead process, without
//! opening it as a buffer: no lock is taken, nothing is recovered, deleted, tightened or
//! rewritten.
//!
//! Invariants:
//! - Read-only: files are only opened for reading.
//! - Records before a valid `ack` position are skipped (they were delivered); a missing or
//!   damaged ack means everything is unacknowledged (duplicates, never loss), as at recovery.
//!   An ack that points at a segment that is not there (other than the one after the last)
//!   is ignored the same way.
//! - A damaged region is never skipped silently: it ends the scan with its segment file and
//!   byte offset ([`ScanError::Damaged`]), so the caller can refuse the input with that
//!   position. Damage cannot be told apart from a torn tail that a crashed writer left, so
//!   [`ScanOptions::allow_damage`] lets a caller skip and count such regions instead.

use std::path::{Path, PathBuf};

use super::format::{decode_ack, parse_segment_name};
use super::fs::StdFs;
use super::reader::{SegmentReader, Step};
use crate::record::Record;

/// How to scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    /// Also yield the records before the acknowledged position.
    pub include_acknowledged: bool,
    /// Skip damaged regions (counted in [`Scan::damaged`]) instead of failing.
    pub allow_damage: bool,
}

/// Why a buffer directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The directory or a segment could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds no segment file: not a buffer directory.
    #[error("{0} holds no buffer segments (*.seg)")]
    NotABuffer(PathBuf),
    /// Damaged bytes in a segment.
    #[error("{path}: damaged record data at byte offset {offset} ({bytes} bytes)")]
    Damaged {
        /// The segment file.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// How many bytes.
        bytes: u64,
    },
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct Scan {
    /// The records, in order.
    pub records: Vec<Record>,
    /// Damaged regions skipped (only with `allow_damage`), each as (segment, offset, bytes).
    pub damaged: Vec<(PathBuf, u64, u64)>,
}

/// Reads the records of the buffer in `dir` (see the module doc).
pub fn scan_dir(dir: &Path, options: ScanOptions) -> Result<Scan, ScanError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScanError::Io { path, source }
    };
    let mut segments: Vec<(u64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        if let Some(seq) = name.to_str().and_then(parse_segment_name) {
            segments.push((seq, entry.path()));
        }
    }
    if segments.is_empty() {
        return Err(ScanError::NotABuffer(dir.to_path_buf()));
    }
    segments.sort();
    let ack = if options.include_acknowledged {
        None
    } else {
        std::fs::read(dir.join("ack"))
            .ok()
            .and_then(|bytes| decode_ack(&bytes))
            // Inside a segment that is there, or at the start of the one after the last
            // (where `drop_oldest` leaves it): anything else is ignored, as at recovery.
            .filter(|(seq, _)| {
                segments.iter().any(|(s, _)| s == seq)
                    || segments.last().is_some_and(|(last, _)| *seq == last + 1)
            })
    };
    let mut scan = Scan::default();
    for (seq, path) in segments {
        let start = match ack {
            Some((acked, _)) if seq < acked => continue,
            Some((acked, offset)) if seq == acked => offset,
            _ => 0,
        };
        let end = std::fs::metadata(&path).map_err(io(&path))?.len();
        let mut reader = SegmentReader::open(&StdFs, &path, seq, start).map_err(io(&path))?;
        loop {
            match reader.next(end).map_err(io(&path))? {
                Step::Record(r) => scan.records.push(r),
                Step::Corrupt { at, skipped } if options.allow_damage => {
                    scan.damaged.push((path.clone(), at, skipped));
                }
                Step::Corrupt { at, skipped } => {
                    return Err(ScanError::Damaged {
                        path,
                        offset: at,
                        bytes: skipped,
                    })
                }
                Step::End => break,
            }
        }
    }
    Ok(scan)
}
