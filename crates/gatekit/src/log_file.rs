//! Gatekit's own log file (`logging.file_path`) with size-based rotation, as
//! `logging.max_file_size_mb` and `logging.backup_count` promise (Python's
//! `RotatingFileHandler` semantics: `gatekit.log` is current, `gatekit.log.1` the newest
//! rotated file, up to `gatekit.log.N`; the oldest is deleted).
//!
//! Invariants: a line is never split between two files (rotation happens before a write that
//! would cross the limit, and the tracing formatter hands over one whole line per write); `max_file_size_mb: 0`
//! never rotates; `backup_count: 0` truncates instead of keeping a copy. A rotation that fails
//! (permissions, a full disk) keeps writing to the current file and says so once on stderr:
//! losing the diagnostic log would be worse than an oversized one.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An append-only log file that rotates by size.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    /// Rotate before a write would pass this many bytes; 0 never.
    max_bytes: u64,
    backups: u32,
    warned: bool,
}

impl RotatingFile {
    /// Opens (appends to) `path`, rotating at `max_bytes` and keeping `backups` old files.
    pub fn open(path: &Path, max_bytes: u64, backups: u32) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes,
            backups,
            warned: false,
        })
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.backups == 0 {
            self.file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&self.path)?;
        } else {
            // Shift .N-1 -> .N, ..., .1 -> .2 (the oldest is overwritten), then current -> .1.
            for n in (1..self.backups).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.numbered(1))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.max_bytes > 0 && self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            if let Err(e) = self.rotate() {
                if !self.warned {
                    self.warned = true;
                    eprintln!(
                        "gatekit: cannot rotate the log file {}: {e}; writing on",
                        self.path.display()
                    );
                }
            }
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_the_configured_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatekit.log");
        let mut f = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..10 {
            // 40-byte lines, one write each as tracing does: two fit in 100 bytes.
            f.write_all(format!("line {i:02} {}\n", "x".repeat(31)).as_bytes())
                .unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let current = read(path.clone());
        let one = read(dir.path().join("gatekit.log.1"));
        let two = read(dir.path().join("gatekit.log.2"));
        assert!(
            current.starts_with("line 08") && current.contains("line 09"),
            "{current}"
        );
        assert!(
            one.starts_with("line 06") && one.contains("line 07"),
            "{one}"
        );
        assert!(two.starts_with("line 04"), "{two}");
        assert!(!dir.path().join("gatekit.log.3").exists(), "only 2 backups");
        for text in [&current, &one, &two] {
            assert!(text.len() <= 100 && text.ends_with('\n'), "{text:?}");
        }
    }

    #[test]
    fn no_backups_truncates_and_zero_size_never_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut f = RotatingFile::open(&path, 50, 0).unwrap();
        for i in 0..5 {
            f.write_all(format!("{i} {}\n", "y".repeat(20)).as_bytes())
                .unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() <= 50);
        assert!(!dir.path().join("a.log.1").exists());
        let path = dir.path().join("b.log");
        let mut f = RotatingFile::open(&path, 0, 3).unwrap();
        for _ in 0..100 {
            f.write_all(format!("{}\n", "z".repeat(50)).as_bytes())
                .unwrap();
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5100);
    }
}
