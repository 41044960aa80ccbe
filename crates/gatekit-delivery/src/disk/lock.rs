//! Exclusive ownership of a buffer directory.
//!
//! Job: stop two buffers (two pipelines in one process, or two gateway processes) from
//! appending to and deleting segments in the same directory, which would corrupt both.
//!
//! Mechanism: a `lock` file holding the owner's PID and the kernel's start time of that
//! process (`/proc/<pid>/stat`, field 22), created with `create_new`. A lock whose process is
//! not running (`/proc/<pid>` missing, or a process with that PID but another start time: the
//! PID was reused) is stale and taken over, so recovery after SIGKILL needs no manual step. A
//! lock written without a start time (older Gatekit) is judged by the PID alone. Within one process a registry
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
                    let start = process_start_time(me).unwrap_or(0);
                    f.write_all(format!("{me} {start}").as_bytes())?;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(file).unwrap_or_default();
                    if let Some(pid) = live_owner(&owner).filter(|pid| *pid != me) {
                        return Err(io::Error::new(
                            io::ErrorKind::WouldBlock,
                            format!("buffer directory is locked by running process {pid}"),
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

/// The kernel's start time of process `pid` (clock ticks since boot, `/proc/<pid>/stat`
/// field 22): with the PID, it names one process even after the PID is reused.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (the command) is in parentheses and may contain spaces: count after its end.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The PID of the running process that wrote `lock` (`"<pid> <start time>"`, or `"<pid>"`
/// from an older Gatekit), if that process is still running.
fn live_owner(lock: &str) -> Option<u32> {
    let mut parts = lock.split_whitespace();
    let pid: u32 = parts.next()?.parse().ok()?;
    if !Path::new(&format!("/proc/{pid}")).exists() {
        return None;
    }
    match parts.next().and_then(|s| s.parse::<u64>().ok()) {
        Some(start) if start != 0 => (process_start_time(pid) == Some(start)).then_some(pid),
        _ => Some(pid),
    }
}

/// Whether `dir`'s lock is held by a running process (another one's backlog is not free to
/// adopt).
pub fn dir_owner_alive(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("lock"))
        .ok()
        .and_then(|owner| live_owner(&owner))
        .is_some()
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
        let c = DirLock::acquire(dir.path()).unwrap();
        drop(c);
        // A live PID with another start time: the PID was reused, the owner is gone.
        let me = std::process::id();
        let start = process_start_time(me).unwrap();
        std::fs::write(dir.path().join("lock"), format!("{me} {}", start + 1)).unwrap();
        assert!(!dir_owner_alive(dir.path()));
        std::fs::write(dir.path().join("lock"), format!("1 {}", start + 12345)).unwrap();
        assert!(
            !dir_owner_alive(dir.path()),
            "PID 1 with another start time"
        );
        let _d = DirLock::acquire(dir.path()).unwrap();
        assert!(dir_owner_alive(dir.path()), "held by this process");
    }
}
