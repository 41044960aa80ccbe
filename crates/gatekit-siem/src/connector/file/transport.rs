//! File transport: appends framed records (one per line) to a file that Splunk's Universal
//! Forwarder or the Azure Monitor Agent tails. The file is created with mode 0600; a batch is
//! written with one `write` and then `fdatasync`ed, so "delivered" means on disk. A failed
//! write is cut back to the previous length, so the tailing agent never reads half a line.
//! The file rotates by size and by age (`path` → `path.1` → ... → `path.N`), always between
//! batches, so no line is ever split across two files; both agents follow renamed files.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};

/// Where and when to rotate.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// The file.
    pub path: PathBuf,
    /// Rotate at this size; 0 never.
    pub max_bytes: u64,
    /// Rotate when the file was opened this long ago; `None` never.
    pub max_age: Option<Duration>,
    /// Rotated files kept.
    pub backups: u32,
}

/// Appends to one file.
#[derive(Debug)]
pub struct FileTransport {
    name: String,
    path: PathBuf,
    settings: FileSettings,
    file: Mutex<Option<(std::fs::File, Instant)>>,
}

impl FileTransport {
    /// A transport writing to `settings.path` (created on first use).
    pub fn new(settings: FileSettings) -> Self {
        FileTransport {
            name: format!("file:{}", settings.path.display()),
            path: settings.path.clone(),
            settings,
            file: Mutex::new(None),
        }
    }

    fn rotate(&self) -> std::io::Result<()> {
        let numbered = |n: u32| {
            let mut p = self.path.as_os_str().to_owned();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        if self.settings.backups == 0 {
            return std::fs::remove_file(&self.path);
        }
        for n in (1..self.settings.backups).rev() {
            if numbered(n).exists() {
                std::fs::rename(numbered(n), numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(1))
    }

    fn write_batch(&self, batch: &[Record]) -> std::io::Result<()> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((file, opened)) = guard.as_ref() {
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            let too_big = self.settings.max_bytes > 0 && size >= self.settings.max_bytes;
            let too_old = self
                .settings
                .max_age
                .is_some_and(|age| opened.elapsed() >= age);
            if size > 0 && (too_big || too_old) {
                *guard = None;
                self.rotate()?;
            }
        }
        if guard.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            *guard = Some((options.open(&self.path)?, Instant::now()));
        }
        let Some((file, _)) = guard.as_mut() else {
            return Ok(());
        };
        let before = file.metadata()?.len();
        let buf = crate::connector::batch::concatenated(batch);
        let result = file.write_all(&buf).and_then(|()| file.sync_data());
        if result.is_err() {
            let _ = file.set_len(before);
            *guard = None;
        }
        result
    }
}

impl Transport for FileTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            // A batch is at most a few MiB; a blocking write here is bounded and keeps
            // "delivered" meaning "on disk".
            match self.write_batch(batch) {
                Ok(()) => BatchOutcome::Delivered,
                Err(e) => BatchOutcome::Retry {
                    reason: format!("cannot write {}: {e}", self.path.display()),
                    retry_after: None,
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatekit_delivery::RecordId;

    fn batch(n: usize) -> Vec<Record> {
        (0..n)
            .map(|i| Record::new(RecordId(i as u128), format!("line {i:04}\n").into_bytes()))
            .collect()
    }

    #[tokio::test]
    async fn rotates_by_size_between_batches_and_keeps_lines_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("siem.log");
        let t = FileTransport::new(FileSettings {
            path: path.clone(),
            max_bytes: 30,
            max_age: None,
            backups: 2,
        });
        for _ in 0..4 {
            assert_eq!(t.send(&batch(3)).await, BatchOutcome::Delivered);
        }
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
        let current = read(&path);
        let one = read(&dir.path().join("siem.log.1"));
        let two = read(&dir.path().join("siem.log.2"));
        assert_eq!(current.lines().count(), 3);
        assert_eq!(one.lines().count(), 3);
        assert_eq!(two.lines().count(), 3);
        assert!(!dir.path().join("siem.log.3").exists(), "two backups kept");
        assert!([current, one, two]
            .iter()
            .all(|t| t.lines().all(|l| l.starts_with("line "))));
    }

    #[tokio::test]
    async fn rotates_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("siem.log");
        let t = FileTransport::new(FileSettings {
            path: path.clone(),
            max_bytes: 0,
            max_age: Some(Duration::ZERO),
            backups: 1,
        });
        t.send(&batch(1)).await;
        t.send(&batch(2)).await;
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("siem.log.1"))
                .unwrap()
                .lines()
                .count(),
            1
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("siem.log");
        let t = FileTransport::new(FileSettings {
            path: path.clone(),
            max_bytes: 0,
            max_age: None,
            backups: 0,
        });
        t.send(&batch(1)).await;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
