//! File transport: appends framed records (one per line) to a file that Splunk's Universal
//! Forwarder or the Azure Monitor Agent tails. The file is created with mode 0600; a batch is
//! written with one `write` and then `fdatasync`ed, so "delivered" means on disk. A failed
//! write is cut back to the previous length, so the tailing agent never reads half a line.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};

/// Appends to one file.
#[derive(Debug)]
pub struct FileTransport {
    name: String,
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl FileTransport {
    /// A transport writing to `path` (created on first use).
    pub fn new(path: PathBuf) -> Self {
        FileTransport {
            name: format!("file:{}", path.display()),
            path,
            file: Mutex::new(None),
        }
    }

    fn write_batch(&self, batch: &[Record]) -> std::io::Result<()> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
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
            *guard = Some(options.open(&self.path)?);
        }
        let Some(file) = guard.as_mut() else {
            return Ok(());
        };
        let before = file.metadata()?.len();
        let total: usize = batch.iter().map(|r| r.payload.len()).sum();
        let mut buf = Vec::with_capacity(total);
        for record in batch {
            buf.extend_from_slice(&record.payload);
        }
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
