//! Start-up checks of a buffer directory that lose nothing they can keep: whether the ack
//! file can be trusted, which segments are missing, and how to describe damage found while
//! counting.
//!
//! Job: turn what the directory holds into a start position and a list of
//! [`RecoveryLoss`]es, each logged with its segment and offset: free functions over the
//! listing plus read-only scans (the buffer applies the result), and the comparison with the
//! seal index (`check_seals`), which turns a truncation's bytes into a record count. Also
//! keeps that index up to date (`write_seals`).
//!
//! Invariants:
//! - An ack position is obeyed only if it is somewhere acknowledged data can end: inside an
//!   existing segment at a record boundary (or its end), or at the start of the segment
//!   right after the last one (where `drop_oldest` leaves it after giving up the newest
//!   segment). Anything else is refused: nothing is deleted and everything is re-sent.
//! - Nothing here deletes or changes a segment or the ack file; only the advisory seal
//!   index (`seals.rs`) is written here.

use std::path::Path;

use super::super::format::{segment_name, SEGMENT_HEADER_LEN};
use super::super::fs::FileSystem;
use super::super::reader::{SegmentReader, Step};
use super::super::seals::{self, Sealed};
use super::super::tail::Pos;
use super::super::types::{LossKind, RecoveryLoss};
use super::DiskBuffer;

/// Why an ack position is refused, or `None` if it can be obeyed. `segments` are the
/// `(seq, len)` of every segment file, in order.
pub(super) fn refuse_ack(
    ack: Pos,
    segments: &[(u64, u64)],
    fs: &dyn FileSystem,
    dir: &Path,
) -> Option<String> {
    let (Some(&(first, _)), Some(&(last, _))) = (segments.first(), segments.last()) else {
        return None; // nothing on disk that the ack could make us skip
    };
    if let Some(&(_, len)) = segments.iter().find(|(s, _)| *s == ack.seq) {
        if ack.offset < SEGMENT_HEADER_LEN || ack.offset > len.max(SEGMENT_HEADER_LEN) {
            return Some(format!(
                "offset {} is outside segment {} ({len} bytes)",
                ack.offset,
                segment_name(ack.seq)
            ));
        }
        if !is_record_boundary(
            fs,
            &dir.join(segment_name(ack.seq)),
            ack.seq,
            ack.offset,
            len,
        ) {
            return Some(format!(
                "offset {} in segment {} is not the start of a record",
                ack.offset,
                segment_name(ack.seq)
            ));
        }
        return None;
    }
    if ack.seq > last.saturating_add(1)
        || (ack.seq == last.saturating_add(1) && ack.offset != SEGMENT_HEADER_LEN)
    {
        return Some(format!(
            "segment {} offset {} is past the end of the data (last segment {})",
            ack.seq,
            ack.offset,
            segment_name(last)
        ));
    }
    if ack.seq > first && ack.seq <= last {
        return Some(format!(
            "segment {} does not exist, but segments before it do",
            segment_name(ack.seq)
        ));
    }
    None
}

/// Whether some record (or the end of the data) ends exactly at `offset`. A segment that
/// cannot be read is given the benefit of the doubt: it is skipped and counted anyway.
fn is_record_boundary(fs: &dyn FileSystem, path: &Path, seq: u64, offset: u64, len: u64) -> bool {
    if offset <= SEGMENT_HEADER_LEN || offset >= len {
        return true;
    }
    let Ok(mut r) = SegmentReader::open(fs, path, seq, SEGMENT_HEADER_LEN) else {
        return true;
    };
    loop {
        match r.next(len) {
            Ok(Step::End) | Err(_) => return false,
            Ok(_) if r.pos() == offset => return true,
            Ok(_) if r.pos() > offset => return false,
            Ok(_) => {}
        }
    }
}

/// Gaps in the sequence of segment files still to be read (`seqs`, in order), starting
/// from the acknowledged segment `from` when there is one. Each gap is logged.
pub(super) fn missing_segments(from: Option<u64>, seqs: &[u64], dir: &Path) -> Vec<RecoveryLoss> {
    let mut out = Vec::new();
    let mut expect = from;
    for &seq in seqs {
        if let Some(e) = expect.filter(|e| *e < seq) {
            let last = seq - 1;
            tracing::error!(dir = %dir.display(), first = %segment_name(e), last = %segment_name(last), "Disk buffer segments are missing (deleted outside Gatekit, or dropped by drop_oldest just before a crash); their records cannot be recovered or counted.");
            out.push(RecoveryLoss {
                kind: LossKind::MissingSegments,
                segment: e,
                last_segment: last,
                offset: 0,
                bytes: 0,
                records: None,
            });
        }
        expect = Some(seq.saturating_add(1));
    }
    out
}

/// Describes a damaged region `[at, at + bytes)` of segment `seq` (`len` bytes) found while
/// counting, and logs it.
pub(super) fn damaged_region(path: &Path, seq: u64, at: u64, bytes: u64, len: u64) -> RecoveryLoss {
    let kind = if len == 0 {
        LossKind::EmptySegment
    } else if at == 0 {
        LossKind::DamagedHeader
    } else if at + bytes >= len {
        LossKind::Truncated
    } else {
        LossKind::Corrupt
    };
    match kind {
        LossKind::EmptySegment => {
            tracing::error!(segment = %path.display(), "Disk buffer segment is empty (0 bytes); whatever it held cannot be recovered or counted.");
        }
        LossKind::DamagedHeader => {
            tracing::error!(segment = %path.display(), offset = 0, bytes, "Disk buffer segment header is damaged; reading the records after it.");
        }
        _ => {
            tracing::error!(segment = %path.display(), offset = at, bytes, ?kind, "Disk buffer region cannot be recovered; skipped to the next valid record.");
        }
    }
    RecoveryLoss {
        kind,
        segment: seq,
        last_segment: seq,
        offset: at,
        bytes,
        // A damaged header costs no record: the records after it are read.
        records: (kind == LossKind::DamagedHeader).then_some(0),
    }
}

impl DiskBuffer {
    /// Rewrites the seal index with every sealed segment whose record count is known. Not
    /// fsynced: the index is advisory (a stale one after a power loss only means a
    /// truncation is reported in bytes), and sealing already fsyncs the segment itself.
    pub(super) fn write_seals(&self) {
        let active = self.writer.as_ref().map(|w| w.seq);
        let entries: Vec<Sealed> = self
            .segments
            .iter()
            .filter(|s| Some(s.seq) != active && !s.skip)
            .filter_map(|s| {
                Some(Sealed {
                    seq: s.seq,
                    len: s.len,
                    records: s.records?,
                })
            })
            .collect();
        if let Err(e) = seals::write(&self.dir, &entries, false) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "Could not write the disk buffer seal index; truncated segments will be reported in bytes only.");
        }
    }

    /// At open: compares the segments found with the seal index. A segment shorter than when
    /// it was sealed lost the records counted in the index minus those still readable; that
    /// count is added to its `Truncated` or `EmptySegment` loss (or a new `Truncated` one,
    /// when the cut fell exactly on a record boundary and reading saw nothing wrong). Intact segments get their record count
    /// back, so the next index keeps them.
    pub(super) fn check_seals(&mut self, losses: &mut Vec<RecoveryLoss>) {
        let index = seals::read(&self.dir);
        for i in 0..self.segments.len() {
            let (seq, len) = (self.segments[i].seq, self.segments[i].len);
            let Some(entry) = index.iter().find(|e| e.seq == seq) else {
                continue;
            };
            if len == entry.len {
                self.segments[i].records = Some(entry.records);
                continue;
            }
            if len > entry.len || self.segments[i].skip {
                continue;
            }
            let path = self.seg_path(seq);
            let Ok((readable, _, _)) =
                self.count_segment(&path, seq, SEGMENT_HEADER_LEN, len, None)
            else {
                continue;
            };
            let lost = entry.records.saturating_sub(readable);
            match losses.iter_mut().find(|l| {
                l.segment == seq && matches!(l.kind, LossKind::Truncated | LossKind::EmptySegment)
            }) {
                Some(l) => {
                    l.records = Some(lost);
                    l.bytes = entry.len.saturating_sub(l.offset);
                }
                None => losses.push(RecoveryLoss {
                    kind: LossKind::Truncated,
                    segment: seq,
                    last_segment: seq,
                    offset: len,
                    bytes: entry.len - len,
                    records: Some(lost),
                }),
            }
            tracing::error!(segment = %path.display(), sealed_bytes = entry.len, found_bytes = len, lost_records = lost, "Disk buffer segment is shorter than when it was sealed; its lost records are counted.");
        }
        // Missing segments the index still describes: their records are known too (if every
        // one of them is described). A segment `drop_oldest` removed just before a crash can
        // be among them; its records were then counted as dropped already.
        for l in losses
            .iter_mut()
            .filter(|l| l.kind == LossKind::MissingSegments)
        {
            let described: Vec<&Sealed> = index
                .iter()
                .filter(|e| (l.segment..=l.last_segment).contains(&e.seq))
                .collect();
            if described.len() as u64 == l.last_segment - l.segment + 1 {
                l.records = Some(described.iter().map(|e| e.records).sum());
                l.bytes = described.iter().map(|e| e.len).sum();
            }
        }
        losses.sort_by_key(|l| (l.segment, l.offset));
    }
}
