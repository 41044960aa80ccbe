//! Byte layout of segment files, records and the ack file (see `crate::disk` for the prose).
//!
//! Job: encode and decode; no I/O. Every decoder validates lengths and checksums and
//! never panics on arbitrary bytes.

use crate::record::{Record, RecordId, RECORD_OVERHEAD};

/// First bytes of every segment file; the trailing digits are the format version.
pub(super) const SEGMENT_MAGIC: &[u8; 8] = b"GKDSEG01";
/// Length of the segment header.
pub const SEGMENT_HEADER_LEN: u64 = 8;
/// Length prefix + CRC32.
pub(super) const RECORD_HEADER_LEN: usize = 8;
/// Largest accepted record body; anything larger in a length field is treated as corruption.
pub(super) const MAX_BODY_LEN: usize = 64 << 20;
/// Largest payload the disk buffer stores. `append` refuses larger records
/// (`AppendStop::TooLarge`): written, they would be read back as corruption (and past 4 GiB
/// the u32 length would wrap).
pub const MAX_PAYLOAD_LEN: usize = MAX_BODY_LEN - RECORD_OVERHEAD;
/// First bytes of the ack file.
pub(super) const ACK_MAGIC: &[u8; 8] = b"GKDACK01";
/// Full ack file length: magic, segment, offset, CRC32.
pub(super) const ACK_LEN: usize = 8 + 8 + 8 + 4;

/// Bytes one record occupies on disk.
pub fn encoded_len(record: &Record) -> usize {
    RECORD_HEADER_LEN + RECORD_OVERHEAD + record.payload.len()
}

/// Whether `record` can be stored (its body is at most [`MAX_BODY_LEN`]).
pub(super) fn fits_format(record: &Record) -> bool {
    record.payload.len() <= MAX_PAYLOAD_LEN
}

/// Appends the framed record to `out`. The caller checked [`fits_format`].
pub(super) fn encode_record(record: &Record, out: &mut Vec<u8>) {
    let body_len = RECORD_OVERHEAD + record.payload.len();
    debug_assert!(body_len <= MAX_BODY_LEN, "caller must check fits_format");
    let start = out.len();
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&record.id.0.to_le_bytes());
    out.extend_from_slice(&record.enqueued_us.to_le_bytes());
    out.extend_from_slice(&record.payload);
    let crc = crc32fast::hash(&out[start + RECORD_HEADER_LEN..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Parses a record header: `(body_len, crc)` if the length is plausible.
pub(super) fn parse_header(h: &[u8; RECORD_HEADER_LEN]) -> Option<(usize, u32)> {
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    (RECORD_OVERHEAD..=MAX_BODY_LEN)
        .contains(&len)
        .then_some((len, crc))
}

/// Decodes a body whose checksum must equal `crc` (the one-buffer form of [`decode_parts`]).
#[cfg(test)]
pub(super) fn decode_body(body: &[u8], crc: u32) -> Option<Record> {
    if body.len() < RECORD_OVERHEAD || crc32fast::hash(body) != crc {
        return None;
    }
    let id = u128::from_le_bytes(body[0..16].try_into().ok()?);
    let enqueued_us = u64::from_le_bytes(body[16..24].try_into().ok()?);
    Some(Record {
        id: RecordId(id),
        enqueued_us,
        payload: body[24..].to_vec(),
    })
}

/// Decodes a body given as its fixed 24-byte part and the payload; `crc` covers both.
pub(super) fn decode_parts(
    fixed: &[u8; RECORD_OVERHEAD],
    payload: Vec<u8>,
    crc: u32,
) -> Option<Record> {
    let mut h = crc32fast::Hasher::new();
    h.update(fixed);
    h.update(&payload);
    if h.finalize() != crc {
        return None;
    }
    let id = u128::from_le_bytes(fixed[0..16].try_into().ok()?);
    let enqueued_us = u64::from_le_bytes(fixed[16..24].try_into().ok()?);
    Some(Record {
        id: RecordId(id),
        enqueued_us,
        payload,
    })
}

/// Finds the first offset in `data` (after 0) where a complete valid record starts.
/// Used to resynchronise after corruption; `None` if no valid record follows.
pub(super) fn resync(data: &[u8]) -> Option<usize> {
    (1..data.len().saturating_sub(RECORD_HEADER_LEN - 1)).find(|&at| {
        let Ok(h) = <[u8; RECORD_HEADER_LEN]>::try_from(&data[at..at + RECORD_HEADER_LEN]) else {
            return false;
        };
        match parse_header(&h) {
            Some((len, crc)) => data
                .get(at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len)
                .is_some_and(|body| crc32fast::hash(body) == crc),
            None => false,
        }
    })
}

/// Encodes the ack position.
pub(super) fn encode_ack(segment: u64, offset: u64) -> [u8; ACK_LEN] {
    let mut out = [0u8; ACK_LEN];
    out[..8].copy_from_slice(ACK_MAGIC);
    out[8..16].copy_from_slice(&segment.to_le_bytes());
    out[16..24].copy_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&out[..24]);
    out[24..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes an ack file; `None` if torn, corrupt or of another version.
pub(super) fn decode_ack(data: &[u8]) -> Option<(u64, u64)> {
    if data.len() != ACK_LEN || &data[..8] != ACK_MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(data[24..28].try_into().ok()?);
    if crc32fast::hash(&data[..24]) != crc {
        return None;
    }
    let seg = u64::from_le_bytes(data[8..16].try_into().ok()?);
    let off = u64::from_le_bytes(data[16..24].try_into().ok()?);
    Some((seg, off))
}

/// File name of segment `seq` (fixed-width hex, so names sort in sequence order).
pub fn segment_name(seq: u64) -> String {
    format!("{seq:016x}.seg")
}

/// Parses a segment file name.
pub(super) fn parse_segment_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(".seg")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u128, p: &[u8]) -> Record {
        Record {
            id: RecordId(id),
            enqueued_us: 77,
            payload: p.to_vec(),
        }
    }

    #[test]
    fn record_round_trips_and_detects_flips() {
        let r = rec(0xdead_beef, b"hello");
        let mut buf = Vec::new();
        encode_record(&r, &mut buf);
        assert_eq!(buf.len(), encoded_len(&r));
        let h: [u8; 8] = buf[..8].try_into().unwrap();
        let (len, crc) = parse_header(&h).unwrap();
        assert_eq!(decode_body(&buf[8..8 + len], crc), Some(r.clone()));
        let fixed: [u8; 24] = buf[8..32].try_into().unwrap();
        assert_eq!(decode_parts(&fixed, buf[32..].to_vec(), crc), Some(r));
        for i in 8..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert_eq!(decode_body(&bad[8..8 + len], crc), None, "flip at {i}");
        }
    }

    #[test]
    fn resync_finds_next_record_after_garbage() {
        let mut buf = vec![0xAA; 13];
        let start = buf.len();
        encode_record(&rec(1, b"x"), &mut buf);
        assert_eq!(resync(&buf), Some(start));
        assert_eq!(resync(&[0u8; 100]), None);
        assert_eq!(resync(&[]), None);
    }

    #[test]
    fn the_largest_storable_record_is_read_back() {
        let r = rec(7, &vec![1; MAX_PAYLOAD_LEN]);
        assert!(fits_format(&r));
        let mut buf = Vec::new();
        encode_record(&r, &mut buf);
        let h: [u8; 8] = buf[..8].try_into().unwrap();
        assert_eq!(parse_header(&h).map(|(len, _)| len), Some(MAX_BODY_LEN));
        assert!(!fits_format(&rec(8, &vec![1; MAX_PAYLOAD_LEN + 1])));
    }

    #[test]
    fn ack_and_names_round_trip() {
        let a = encode_ack(5, 1234);
        assert_eq!(decode_ack(&a), Some((5, 1234)));
        let mut bad = a;
        bad[10] ^= 1;
        assert_eq!(decode_ack(&bad), None);
        assert_eq!(decode_ack(&a[..20]), None);
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert_eq!(parse_segment_name("42.seg"), None);
    }
}
