//! An append-only file of whole lines, with size rotation and an fsync policy.
//!
//! Invariants:
//! * a line is written completely or not at all: when a write fails part-way (disk full), the
//!   file is cut back to its length before the write, so a reader never sees half a record;
//! * a failed write is reported to the caller, never swallowed (Python Gatekit's logging
//!   handler dropped write errors silently);
//! * rotation renames `file` to `file.1`, `file.1` to `file.2`, ... keeping `backups` files;
//! * with `fsync: interval`, a background thread syncs dirty files once per interval, so the
//!   request path never waits for the disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// When written lines are forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Leave it to the operating system.
    Never,
    /// Once per second, from a background thread (default).
    Interval,
    /// After every line (slow: one disk flush per event).
    Always,
}

/// Writes `header` into `file` unless it already has content, and returns the file's length.
/// Another process may append to the same file (two gateways sharing one config), so the
/// check and the write happen under an exclusive `flock`: the header is written once.
fn write_header_once(file: &mut File, header: &[u8]) -> std::io::Result<u64> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: flock(2) on the descriptor of `file`, which outlives both calls.
    #[allow(
        unsafe_code,
        reason = "a system call with no safe wrapper in the standard library; see the SAFETY note"
    )]
    unsafe {
        libc::flock(fd, libc::LOCK_EX);
    }
    let result = file.metadata().and_then(|m| {
        if m.len() == 0 {
            file.write_all(header).map(|()| header.len() as u64)
        } else {
            Ok(m.len())
        }
    });
    // SAFETY: as above.
    #[allow(
        unsafe_code,
        reason = "a system call with no safe wrapper in the standard library; see the SAFETY note"
    )]
    unsafe {
        libc::flock(fd, libc::LOCK_UN);
    }
    result
}

/// Where and how to write.
#[derive(Debug, Clone)]
pub struct LineFileSettings {
    /// The file.
    pub path: PathBuf,
    /// Rotate when the file reaches this size; 0 never rotates.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub backups: u32,
    /// Sync policy.
    pub fsync: Fsync,
    /// Written first into every new (empty) file, e.g. a CSV header row.
    pub header: Option<Vec<u8>>,
}

#[derive(Debug)]
struct State {
    file: Option<File>,
    len: u64,
    dirty: bool,
}

/// The file; share it behind an `Arc`.
#[derive(Debug)]
pub struct LineFile {
    settings: LineFileSettings,
    state: Mutex<State>,
}

impl LineFile {
    /// Opens (creating directories and the file, mode 0600 on Unix) for appending.
    pub fn open(settings: LineFileSettings) -> std::io::Result<Arc<LineFile>> {
        let file = open_append(&settings.path)?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let lf = Arc::new(LineFile {
            settings,
            state: Mutex::new(State {
                file: Some(file),
                len,
                dirty: false,
            }),
        });
        if lf.settings.fsync == Fsync::Interval {
            spawn_syncer(Arc::downgrade(&lf));
        }
        Ok(lf)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.settings.path
    }

    /// Appends one line (`line` must end with `\\n` and contain no other newline).
    pub fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.file.is_none() {
            // A previous failure closed the file; reopen, the problem may be gone.
            let file = open_append(&self.settings.path)?;
            state.len = file.metadata().map(|m| m.len()).unwrap_or(0);
            state.file = Some(file);
        }
        if state.len == 0 {
            if let (Some(header), Some(file)) = (&self.settings.header, state.file.as_mut()) {
                state.len = write_header_once(file, header)?;
            }
        }
        let before = state.len;
        let result = match state.file.as_mut() {
            Some(file) => file.write_all(line).and_then(|()| {
                if self.settings.fsync == Fsync::Always {
                    file.sync_data()
                } else {
                    Ok(())
                }
            }),
            None => Ok(()),
        };
        if let Err(e) = result {
            // Cut off whatever part of the line made it, then reopen on the next write.
            if let Some(file) = state.file.take() {
                let _ = file.set_len(before);
            }
            return Err(e);
        }
        state.len = before + line.len() as u64;
        state.dirty = true;
        if self.settings.max_bytes > 0 && state.len >= self.settings.max_bytes {
            self.rotate(&mut state)?;
        }
        Ok(())
    }

    fn rotate(&self, state: &mut State) -> std::io::Result<()> {
        if let Some(file) = state.file.take() {
            let _ = file.sync_data();
        }
        let path = &self.settings.path;
        let numbered = |n: u32| {
            let mut p = path.as_os_str().to_owned();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        if self.settings.backups == 0 {
            let _ = std::fs::remove_file(path);
        } else {
            for n in (1..self.settings.backups).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1))?;
                }
            }
            std::fs::rename(path, numbered(1))?;
        }
        state.file = Some(open_append(path)?);
        state.len = 0;
        state.dirty = false;
        Ok(())
    }

    /// Forces written lines to disk. The disk wait happens on a duplicate of the file
    /// descriptor, outside the lock, so appends on the request path never wait for it.
    pub fn sync(&self) -> std::io::Result<()> {
        let file = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if !state.dirty {
                return Ok(());
            }
            state.dirty = false;
            match state.file.as_ref() {
                Some(file) => file.try_clone()?,
                None => return Ok(()),
            }
        };
        file.sync_data()
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Audit records can hold tool arguments: readable by the owner only.
        options.mode(0o600);
    }
    options.open(path)
}

fn spawn_syncer(file: Weak<LineFile>) {
    let _ = std::thread::Builder::new()
        .name("gatekit-audit-fsync".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            match file.upgrade() {
                Some(f) => {
                    if let Err(e) = f.sync() {
                        tracing::warn!(path = %f.path().display(), error = ?gatekit_core::LogSafe(&e), "Audit file fsync failed.");
                    }
                }
                None => return,
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, max_bytes: u64, backups: u32) -> LineFileSettings {
        LineFileSettings {
            path: dir.join("a/audit.jsonl"),
            max_bytes,
            backups,
            fsync: Fsync::Never,
            header: None,
        }
    }

    #[test]
    fn appends_whole_lines_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let f = LineFile::open(settings(dir.path(), 20, 2)).unwrap();
        for i in 0..7 {
            f.append(format!("line-{i}-xxxxxx\n").as_bytes()).unwrap();
        }
        let base = dir.path().join("a/audit.jsonl");
        let one = std::fs::read_to_string(base.with_extension("jsonl.1")).unwrap();
        let two = std::fs::read_to_string(base.with_extension("jsonl.2")).unwrap();
        assert!(one.starts_with("line-"), "{one}");
        assert!(two.starts_with("line-"), "{two}");
        assert!(
            !base.with_extension("jsonl.3").exists(),
            "only two backups are kept"
        );
    }

    #[test]
    fn a_full_device_reports_errors() {
        let f = LineFile::open(LineFileSettings {
            path: PathBuf::from("/dev/full"),
            max_bytes: 0,
            backups: 0,
            fsync: Fsync::Never,
            header: None,
        })
        .unwrap();
        let err = f.append(b"{}\n").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28), "ENOSPC: {err}");
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = LineFile::open(settings(dir.path(), 0, 0)).unwrap();
        f.append(b"x\n").unwrap();
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
