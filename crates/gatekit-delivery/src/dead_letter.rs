//! The dead-letter file: where records go when delivery has definitively failed.
//!
//! Job: append one JSON line per record with the reason, the time, the record id, the
//! enqueue time and the payload, and make it durable before the caller acknowledges the
//! records upstream (so a record is never "neither delivered nor dead-lettered").
//!
//! Line format (one JSON object per line):
//! `{"time_unix_ms":..,"destination":"..","endpoint":"..","reason":"..","record_id":"<uuid>",
//!   "enqueued_unix_us":..,"payload":"<utf-8 text, JSON-escaped>"}`; a payload that is not
//! valid UTF-8 is written as `"payload_base64":"..."` instead of `"payload"`.
//!
//! Invariants:
//! - `write` returns only after the lines were written and `fsync`ed; on error nothing may be
//!   assumed written and the caller keeps the records and tries again later. A failed write
//!   is cut back off the file (best effort), so no torn line is left behind.
//! - The file is opened in append mode per write, so an external rotation (rename) is safe.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::record::{now_unix_us, Record};

/// Appends dead-lettered records to a JSON-lines file.
#[derive(Debug)]
pub struct DeadLetter {
    path: PathBuf,
    destination: String,
}

#[derive(Serialize)]
struct Line<'a> {
    time_unix_ms: u64,
    destination: &'a str,
    endpoint: &'a str,
    reason: &'a str,
    record_id: String,
    enqueued_unix_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_base64: Option<String>,
}

impl DeadLetter {
    /// A dead-letter writer for `destination` at `path` (created on first write).
    pub fn new(path: PathBuf, destination: &str) -> Self {
        Self {
            path,
            destination: destination.to_owned(),
        }
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Start-up check: an existing dead-letter file readable by others is tightened to 0600
    /// with a warning; a wider directory that is not `owned_dir` (the disk buffer's, checked
    /// there) is only warned about, since it may be shared (`/var/log`). Returns how many
    /// modes were tightened.
    pub fn check_private(&self, owned_dir: Option<&Path>) -> u64 {
        let tightened = u64::from(crate::private::tighten(
            &self.path,
            crate::private::FILE_MODE,
        ));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if owned_dir != Some(dir) {
                crate::private::warn_if_open(dir);
            }
        }
        tightened
    }

    /// Appends one line per record and fsyncs. See the module doc for the format.
    pub fn write(&self, records: &[Record], endpoint: &str, reason: &str) -> io::Result<()> {
        let mut buf = Vec::with_capacity(records.len() * 256);
        let time_unix_ms = now_unix_us() / 1000;
        for r in records {
            let text = std::str::from_utf8(&r.payload).ok();
            let line = Line {
                time_unix_ms,
                destination: &self.destination,
                endpoint,
                reason,
                record_id: r.id.to_string(),
                enqueued_unix_us: r.enqueued_us,
                payload: text,
                payload_base64: if text.is_none() {
                    Some(base64(&r.payload))
                } else {
                    None
                },
            };
            serde_json::to_writer(&mut buf, &line).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        if let Some(dir) = self.path.parent() {
            if !dir.as_os_str().is_empty() {
                crate::private::create_dir_all(dir)?;
            }
        }
        let mut f = crate::private::file_options()
            .create(true)
            .append(true)
            .open(&self.path)?;
        append_or_roll_back(&mut f, &buf, |f, b| {
            f.write_all(b)?;
            f.sync_data()
        })
    }
}

/// Runs `write` (append `buf` and fsync) on `f`; if it fails, cuts the file back to its
/// previous length. A torn last line would break every JSON-lines reader of the file, and the
/// caller rewrites all the lines on retry anyway.
fn append_or_roll_back(
    f: &mut File,
    buf: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let before = f.metadata()?.len();
    let result = write(f, buf);
    if result.is_err() {
        if let Err(e) = f.set_len(before) {
            tracing::error!(error = %e, "Could not remove a partial dead-letter write.");
        }
    }
    result
}

/// Standard base64 with padding (RFC 4648 §4); small enough not to need a dependency.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordId;
    use std::fs::OpenOptions;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (i, o) in cases {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn a_failed_write_leaves_no_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dl.jsonl");
        std::fs::write(&path, b"{\"ok\":1}\n").unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        let err = append_or_roll_back(&mut f, b"{\"torn\":2}\n", |f, b| {
            f.write_all(&b[..5])?;
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "injected ENOSPC",
            ))
        })
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"ok\":1}\n");
        // Appending still works after the roll-back.
        append_or_roll_back(&mut f, b"{\"next\":3}\n", |f, b| f.write_all(b)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"ok\":1}\n{\"next\":3}\n"
        );
    }

    #[test]
    fn writes_one_json_line_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let dl = DeadLetter::new(dir.path().join("sub/dl.jsonl"), "splunk");
        let recs = vec![
            Record {
                id: RecordId(1),
                enqueued_us: 5,
                payload: b"CEF:0|a\nb".to_vec(),
            },
            Record {
                id: RecordId(2),
                enqueued_us: 6,
                payload: vec![0xff, 0x00],
            },
        ];
        dl.write(&recs, "hec", "HTTP 400 code 6").unwrap();
        let text = std::fs::read_to_string(dl.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["payload"], "CEF:0|a\nb");
        assert_eq!(lines[0]["reason"], "HTTP 400 code 6");
        assert_eq!(lines[0]["record_id"], RecordId(1).to_string());
        assert_eq!(lines[1]["payload_base64"], "/wA=");
        assert!(lines[1].get("payload").is_none());
    }
}
