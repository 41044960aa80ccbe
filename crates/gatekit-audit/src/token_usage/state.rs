//! The `token_usage` state file: token counters per server and tool, kept across restarts and
//! shared by every gateway process that names the same file.
//!
//! Each process adds what it counted since its last flush (a delta) to the totals in the file:
//! take an exclusive `flock` on `<state_file>.lock` (the lock file Python Gatekit's `filelock`
//! uses, so the two never write at once), read the file, add, write a temporary file, rename it
//! over the state file, unlock. Two processes therefore never lose each other's counts, and a
//! reader never sees a half-written file.
//!
//! Format: Python Gatekit's, with the totals under the top-level `servers` key
//! (`servers.<server>.tools.<tool>.{input,output}`), which Python Gatekit reads as its
//! pre-instance format; other keys found in the file (`instances`, reset ids) are kept as they
//! are. A file that is not valid JSON is moved aside to `<state_file>.corrupt`, never silently
//! overwritten.

// flock(2) has no safe wrapper in the standard library at this MSRV.
#![allow(
    unsafe_code,
    reason = "system calls with no safe wrapper in the standard library; see the SAFETY notes"
)]

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// Input and output tokens of one tool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Tokens into the model (responses, server notifications).
    pub input: u64,
    /// Tokens from the model (requests).
    pub output: u64,
}

/// Counters: server → tool → count.
pub type Counters = BTreeMap<String, BTreeMap<String, Count>>;

/// The state file.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
    lock_path: PathBuf,
}

impl StateFile {
    /// The state file at `path` (created on the first flush).
    pub fn new(path: PathBuf) -> StateFile {
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        StateFile {
            path,
            lock_path: PathBuf::from(lock),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds `delta` to the totals in the file, under the lock; returns the new totals.
    pub fn add(&self, delta: &Counters) -> std::io::Result<Counters> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _lock = Lock::take(&self.lock_path)?;
        let mut state = self.read()?;
        let servers = state
            .entry("servers")
            .or_insert_with(|| Value::Object(Map::new()));
        if !servers.is_object() {
            *servers = Value::Object(Map::new());
        }
        for (server, tools) in delta {
            let entry = &mut servers[server.as_str()];
            if !entry.get("tools").is_some_and(Value::is_object) {
                *entry = json!({"tools": {}});
            }
            for (tool, count) in tools {
                let slot = &mut entry["tools"][tool.as_str()];
                let now = read_count(slot);
                *slot = json!({
                    "input": now.input.saturating_add(count.input),
                    "output": now.output.saturating_add(count.output),
                });
            }
        }
        let totals = counters(servers);
        self.write(&Value::Object(state))?;
        Ok(totals)
    }

    /// The totals in the file (empty when there is none).
    pub fn totals(&self) -> std::io::Result<Counters> {
        let state = self.read()?;
        Ok(state.get("servers").map(counters).unwrap_or_default())
    }

    fn read(&self) -> std::io::Result<Map<String, Value>> {
        let mut text = String::new();
        match File::open(&self.path) {
            Ok(mut f) => {
                f.read_to_string(&mut text)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(e),
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(map),
            _ if text.trim().is_empty() => Ok(Map::new()),
            _ => {
                let mut aside = self.path.clone().into_os_string();
                aside.push(".corrupt");
                std::fs::rename(&self.path, &aside)?;
                tracing::warn!(path = %self.path.display(), moved_to = ?aside, "token_usage state file is not valid JSON; moved aside, counting starts again from zero.");
                Ok(Map::new())
            }
        }
    }

    fn write(&self, state: &Value) -> std::io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(format!(".tmp.{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &self.path)
    }
}

fn read_count(v: &Value) -> Count {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    Count {
        input: n("input"),
        output: n("output"),
    }
}

fn counters(servers: &Value) -> Counters {
    let mut out = Counters::new();
    let Some(servers) = servers.as_object() else {
        return out;
    };
    for (server, entry) in servers {
        let tools = out.entry(server.clone()).or_default();
        if let Some(map) = entry.get("tools").and_then(Value::as_object) {
            for (tool, count) in map {
                tools.insert(tool.clone(), read_count(count));
            }
        }
    }
    out
}

/// An exclusive `flock` on the lock file, released when dropped (or when the process dies,
/// so a crashed gateway cannot leave the file locked).
struct Lock(File);

impl Lock {
    fn take(path: &Path) -> std::io::Result<Lock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        loop {
            // SAFETY: flock(2) on a descriptor this function owns; no memory is shared.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(Lock(file));
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor locked in `take`.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]
mod tests {
    use super::*;

    fn delta(server: &str, tool: &str, input: u64, output: u64) -> Counters {
        let mut c = Counters::new();
        c.entry(server.into())
            .or_default()
            .insert(tool.into(), Count { input, output });
        c
    }

    #[test]
    fn deltas_add_up_and_foreign_keys_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"reset_id": 2, "instances": {"77": {"servers": {}}}}"#,
        )
        .unwrap();
        let state = StateFile::new(path.clone());
        state.add(&delta("fs", "read", 10, 3)).unwrap();
        let totals = state.add(&delta("fs", "read", 5, 1)).unwrap();
        assert_eq!(
            totals["fs"]["read"],
            Count {
                input: 15,
                output: 4
            }
        );
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(raw["reset_id"], 2);
        assert!(raw["instances"]["77"].is_object());
        assert_eq!(raw["servers"]["fs"]["tools"]["read"]["input"], 15);
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let state = StateFile::new(path.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        state.add(&delta("s", "t", 1, 2)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let totals = StateFile::new(path).totals().unwrap();
        assert_eq!(
            totals["s"]["t"],
            Count {
                input: 200,
                output: 400
            }
        );
    }

    #[test]
    fn a_corrupt_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").unwrap();
        StateFile::new(path.clone())
            .add(&delta("s", "t", 1, 1))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("state.json.corrupt")).unwrap(),
            "{not json"
        );
    }
}
