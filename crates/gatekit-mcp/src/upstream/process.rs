//! Starting and stopping one upstream server process.
//!
//! Each server runs in its own process group so that a server which forks helpers (an `npx`
//! wrapper starting `node`, a shell script) is stopped as a whole. Stopping follows the MCP
//! stdio shutdown sequence: close the server's stdin, wait, then SIGTERM the group, wait, then
//! SIGKILL the group (MCP specification, "Lifecycle", stdio shutdown).

// Signalling a process group and setting the parent-death signal need libc calls.
#![allow(
    unsafe_code,
    reason = "system calls with no safe wrapper in the standard library; see the SAFETY notes"
)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// What is needed to start one upstream server. `Debug` shows environment variable names
/// only: their values are often tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// Program to run (looked up on `PATH` when it has no `/`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to Gatekit's own environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
}

impl std::fmt::Debug for ProcessSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ProcessSpec")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &env)
            .field("cwd", &self.cwd)
            .finish()
    }
}

/// Starts the server with piped stdin, stdout and stderr in a new process group.
pub fn spawn(spec: &ProcessSpec) -> std::io::Result<Child> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe. It asks the kernel to SIGTERM the server if Gatekit dies without
    // running its shutdown (for example after SIGKILL), so no orphan servers are left behind.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Sends `signal` to the whole process group led by `pid`.
pub fn signal_group(pid: u32, signal: i32) {
    let Ok(pgid) = i32::try_from(pid) else { return };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; it has no memory effects.
    // The group was created by `spawn` (process_group(0)), so it holds only the server and
    // its descendants.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Stops a server whose stdin has already been closed: waits `grace` for it to exit, then
/// SIGTERMs its group, waits two more seconds, then SIGKILLs the group. Always reaps the child.
pub async fn stop(child: &mut Child, grace: Duration) {
    let pid = child.id();
    if tokio::time::timeout(grace, child.wait()).await.is_ok() {
        // The leader exited; helpers it left in the group still get the signal.
        if let Some(pid) = pid {
            signal_group(pid, libc::SIGTERM);
        }
        return;
    }
    if let Some(pid) = pid {
        signal_group(pid, libc::SIGTERM);
    }
    if tokio::time::timeout(Duration::from_secs(2), child.wait())
        .await
        .is_ok()
    {
        return;
    }
    if let Some(pid) = pid {
        signal_group(pid, libc::SIGKILL);
    }
    let _ = child.wait().await;
}

#[cfg(test)]
mod tests {
    use super::ProcessSpec;

    #[test]
    fn debug_output_hides_environment_values() {
        let spec = ProcessSpec {
            program: "srv".into(),
            args: vec![],
            env: vec![("GITHUB_TOKEN".into(), "ghp_secret_value".into())],
            cwd: None,
        };
        let shown = format!("{spec:?}");
        assert!(
            shown.contains("GITHUB_TOKEN") && !shown.contains("ghp_secret_value"),
            "{shown}"
        );
    }
}
