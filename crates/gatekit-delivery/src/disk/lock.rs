//! Exclusive ownership of a buffer directory.
//!
//! Job: stop two buffers (two pipelines in one process, or two gateway processes) from
//! appending to and deleting segments in the same directory, which would corrupt both.
//!
//! Mechanism: a `lock` file holding the owner's PID, created with `create_new`. A lock whose
//! PID is not running (`/proc/<pid>` missing: the owner crashed or was killed) is stale and
//! taken over, so recovery after SIGKILL needs no manual step. Within one process a registry
//! of held directories catches the second opener, since the PID would match. The lock is
//! released on drop. (`File::try_lock` would be simpler but needs Rust 1.89; the workspace
//! supports 1.85.)

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

fn held() -> &'static Mutex<HashSet<PathBuf>> {
    static HELD: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A held directory lock; released on drop.
#[derive(Debug)]
pub(crate) struct DirLock {
    dir: PathBuf,
    file: PathBuf,
}

impl DirLock {
    /// Takes the lock on `dir` (which must exist).
    pub(crate) fn acquire(dir: &Path) -> io::Result<Self> {
        let dir = dir.canonicalize()?;
        let file = dir.join("lock");
        {
            let mut set = held().lock().unwrap_or_else(|e| e.into_inner());
            if !set.insert(dir.clone()) {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "buffer directory already open in this process",
                ));
            }
        }
        match Self::take_file(&file) {
            Ok(()) => Ok(Self { dir, file }),
            Err(e) => {
                held()
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&dir);
                Err(e)
            }
        }
    }

    fn take_file(file: &Path) -> io::Result<()> {
        let me = std::process::id();
        for _ in 0..2 {
            match crate::private::file_options()
                .write(true)
                .create_new(true)
                .open(file)
            {
                Ok(mut f) => {
                    f.write_all(me.to_string().as_bytes())?;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(file).unwrap_or_default();
                    let owner: Option<u32> = owner.trim().parse().ok();
                    let alive = owner.is_some_and(|pid| {
                        pid != me && Path::new(&format!("/proc/{pid}")).exists()
                    });
                    if alive {
                        return Err(io::Error::new(
                            io::ErrorKind::WouldBlock,
                            format!(
                                "buffer directory is locked by running process {}",
                                owner.unwrap_or(0)
                            ),
                        ));
                    }
                    // Stale: the owner is gone (crash, SIGKILL) or the file is unreadable.
                    std::fs::remove_file(file)?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("could not take the buffer directory lock"))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        held()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_is_refused_until_release_and_stale_locks_are_taken() {
        let dir = tempfile::tempdir().unwrap();
        let a = DirLock::acquire(dir.path()).unwrap();
        assert!(DirLock::acquire(dir.path()).is_err());
        drop(a);
        let b = DirLock::acquire(dir.path()).unwrap();
        drop(b);
        // A lock left by a process that no longer exists is stale.
        std::fs::write(dir.path().join("lock"), "999999999").unwrap();
        let _c = DirLock::acquire(dir.path()).unwrap();
    }
}
