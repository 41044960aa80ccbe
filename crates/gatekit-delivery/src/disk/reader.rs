//! Sequential reading of one segment file, skipping torn and corrupt regions.
//!
//! Job: yield valid records from `[pos, end)` of one segment and report corruption as a
//! skipped byte range instead of failing, so a damaged file never blocks the records after
//! the damage.
//!
//! Invariants:
//! - Never reads at or past `end` (the caller's limit: the bytes known to be fully written
//!   in this process, or the file size for segments found at startup).
//! - A corrupt region ends at the next offset where a complete record with a valid checksum
//!   starts, or at `end`.
//! - A damaged or missing 8-byte segment header is reported once, as a corrupt region at
//!   offset 0, when the reader starts at the beginning of the segment; the records after it
//!   are still read (each one carries its own length and checksum, so the header is not
//!   needed to trust them).

use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::format::{
    decode_parts, parse_header, resync, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN, SEGMENT_MAGIC,
};
use super::fs::{FileSystem, SegmentRead};
use crate::record::{Record, RECORD_OVERHEAD};

/// One step of reading.
#[derive(Debug)]
pub(crate) enum Step {
    /// A valid record; the reader advanced past it.
    Record(Record),
    /// Corrupt bytes `[at, at + skipped)` were skipped; the reader advanced past them.
    /// `at == 0` is the segment header.
    Corrupt { at: u64, skipped: u64 },
    /// Nothing more before `end`.
    End,
}

/// A read cursor over one segment.
#[derive(Debug)]
pub(crate) struct SegmentReader {
    seq: u64,
    file: BufReader<Box<dyn SegmentRead>>,
    pos: u64,
    /// The header is damaged and not yet reported (only when reading from the start).
    bad_header: bool,
}

impl SegmentReader {
    /// Opens segment `seq` at `path` positioned at `pos` (>= the header length).
    pub(crate) fn open(fs: &dyn FileSystem, path: &Path, seq: u64, pos: u64) -> io::Result<Self> {
        let mut file = fs.open_read(path)?;
        let mut magic = [0u8; 8];
        // A file too short for the header is corrupt; any other read error is an I/O
        // failure the caller must see (it retries, then gives the segment up and counts it).
        let header_ok = match file.read_exact(&mut magic) {
            Ok(()) => &magic == SEGMENT_MAGIC,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => false,
            Err(e) => return Err(e),
        };
        let bad_header = !header_ok && pos <= SEGMENT_HEADER_LEN;
        let pos = pos.max(SEGMENT_HEADER_LEN);
        file.seek(SeekFrom::Start(pos))?;
        Ok(Self {
            seq,
            file: BufReader::with_capacity(256 << 10, file),
            pos,
            bad_header,
        })
    }

    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Reads the next step before `end`.
    pub(crate) fn next(&mut self, end: u64) -> io::Result<Step> {
        if self.bad_header {
            // Reported once; reading goes on at the first record position. An empty file
            // reports a zero-byte region, so it is still seen (and logged) by the caller.
            self.bad_header = false;
            return Ok(Step::Corrupt {
                at: 0,
                skipped: end.min(SEGMENT_HEADER_LEN),
            });
        }
        if self.pos >= end {
            return Ok(Step::End);
        }
        let left = end - self.pos;
        if left >= RECORD_HEADER_LEN as u64 {
            let mut h = [0u8; RECORD_HEADER_LEN];
            self.file.read_exact(&mut h)?;
            if let Some((len, crc)) = parse_header(&h) {
                if (RECORD_HEADER_LEN + len) as u64 <= left {
                    // Read the fixed part and the payload separately so the payload lands in
                    // its final buffer without another copy; the CRC covers both.
                    let mut fixed = [0u8; RECORD_OVERHEAD];
                    self.file.read_exact(&mut fixed)?;
                    let mut payload = vec![0u8; len - RECORD_OVERHEAD];
                    self.file.read_exact(&mut payload)?;
                    if let Some(r) = decode_parts(&fixed, payload, crc) {
                        self.pos += (RECORD_HEADER_LEN + len) as u64;
                        return Ok(Step::Record(r));
                    }
                }
            }
        }
        self.skip_corrupt(end)
    }

    /// Loads the rest of the segment and moves to the next valid record (or `end`).
    fn skip_corrupt(&mut self, end: u64) -> io::Result<Step> {
        let start = self.pos;
        self.file.seek(SeekFrom::Start(start))?;
        let mut rest = Vec::new();
        (&mut self.file).take(end - start).read_to_end(&mut rest)?;
        let skip = resync(&rest).map_or(rest.len().max(1) as u64, |at| at as u64);
        let to = (start + skip).min(end);
        self.file.seek(SeekFrom::Start(to))?;
        self.pos = to;
        Ok(Step::Corrupt {
            at: start,
            skipped: to - start,
        })
    }
}
