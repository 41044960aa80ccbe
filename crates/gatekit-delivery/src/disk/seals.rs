//! The seal index: the final length and record count of every sealed segment, so that a
//! segment found shorter at the next start reports how many records it lost, not only how
//! many bytes.
//!
//! Job: encode, decode, write and read the `seals` file. It is advisory: it only feeds the
//! recovery report. A missing, damaged or stale index changes nothing that is delivered; it
//! only means a truncation is reported in bytes instead of records.
//!
//! Format: magic `GKDSEAL1`, then one entry per sealed segment still on disk — seq (u64 LE),
//! length in bytes (u64 LE), records (u64 LE) — then a CRC32 of everything before it.
//! Replaced atomically (`seals.tmp` + rename, fsynced unless `fsync: never`) whenever a
//! segment is sealed (rotation, `drop_oldest`, clean close). The active segment of a
//! process that crashed has no entry: its torn tail is reported in bytes.
//!
//! Written with `std::fs`, not through the buffer's `FileSystem` seam: a failure here must
//! never count as an ack or segment error, and fault injection aimed at those must not be
//! consumed by it.

use std::io::Write;
use std::path::Path;

/// File name inside the buffer directory.
pub(crate) const SEALS_FILE: &str = "seals";
const MAGIC: &[u8; 8] = b"GKDSEAL1";
const ENTRY_LEN: usize = 24;

/// One sealed segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub(crate) seq: u64,
    pub(crate) len: u64,
    pub(crate) records: u64,
}

pub(crate) fn encode(entries: &[Sealed]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + entries.len() * ENTRY_LEN + 4);
    out.extend_from_slice(MAGIC);
    for e in entries {
        out.extend_from_slice(&e.seq.to_le_bytes());
        out.extend_from_slice(&e.len.to_le_bytes());
        out.extend_from_slice(&e.records.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// `None` if the bytes are not a complete, valid index.
pub(crate) fn decode(data: &[u8]) -> Option<Vec<Sealed>> {
    let body_len = data.len().checked_sub(4)?;
    let (body, crc) = data.split_at(body_len);
    if body.len() < 8 || &body[..8] != MAGIC || (body.len() - 8) % ENTRY_LEN != 0 {
        return None;
    }
    if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    let u64_at = |c: &[u8], i: usize| -> Option<u64> {
        Some(u64::from_le_bytes(c.get(i..i + 8)?.try_into().ok()?))
    };
    body[8..]
        .chunks_exact(ENTRY_LEN)
        .map(|c| {
            Some(Sealed {
                seq: u64_at(c, 0)?,
                len: u64_at(c, 8)?,
                records: u64_at(c, 16)?,
            })
        })
        .collect()
}

/// Reads the index of `dir`; empty if it is missing or damaged.
pub(crate) fn read(dir: &Path) -> Vec<Sealed> {
    std::fs::read(dir.join(SEALS_FILE))
        .ok()
        .and_then(|b| decode(&b))
        .unwrap_or_default()
}

/// Replaces the index of `dir` with `entries`.
pub(crate) fn write(dir: &Path, entries: &[Sealed], sync: bool) -> std::io::Result<()> {
    let path = dir.join(SEALS_FILE);
    let tmp = path.with_extension("tmp");
    let mut f = crate::private::file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    f.write_all(&encode(entries))?;
    if sync {
        f.sync_data()?;
    }
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let e = vec![
            Sealed {
                seq: 3,
                len: 4040,
                records: 42,
            },
            Sealed {
                seq: 4,
                len: 8,
                records: 0,
            },
        ];
        let b = encode(&e);
        assert_eq!(decode(&b), Some(e));
        assert_eq!(decode(&encode(&[])), Some(vec![]));
        for i in 0..b.len() {
            let mut bad = b.clone();
            bad[i] ^= 1;
            assert_eq!(decode(&bad), None, "flip at {i}");
        }
        assert_eq!(decode(&b[..b.len() - 1]), None);
        assert_eq!(decode(&[]), None);
    }
}
