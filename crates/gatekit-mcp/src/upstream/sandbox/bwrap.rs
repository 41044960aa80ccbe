//! The Linux launcher: bubblewrap (`bwrap`), from the Debian/Ubuntu package `bubblewrap`.
//!
//! [`wrap`] turns a [`Plan`] into one `bwrap` command line; [`locate`] and [`probe`] make sure,
//! before a sandboxed server is started, that `bwrap` exists and can build the sandbox on this
//! machine (a container may forbid the namespaces it needs), so a failure is reported with its
//! cause instead of as a server that "exited during initialization".
//!
//! Mount order matters to bubblewrap (later mounts cover earlier ones): the system directories
//! read-only on an empty root, then the empty tmpfs over `/tmp` and the home directory, then
//! the granted paths from the shallowest to the deepest, then the credential-store masks last,
//! so no grant can uncover a store.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{depth, Plan, SystemMount};
use crate::upstream::ProcessSpec;

/// The package to install when `bwrap` is missing.
pub const PACKAGE: &str = "bubblewrap";

/// Finds `bwrap` on `path_var` (Gatekit's own `PATH` when `None`).
pub fn locate(path_var: Option<&OsStr>) -> Result<PathBuf, String> {
    let from_env;
    let path_var = match path_var {
        Some(p) => p,
        None => {
            from_env = std::env::var_os("PATH").unwrap_or_default();
            from_env.as_os_str()
        }
    };
    std::env::split_paths(path_var)
        .map(|dir| dir.join("bwrap"))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            format!(
                "this server is configured with `sandbox: {{enabled: true}}` but bubblewrap \
                 (`bwrap`) was not found on PATH; install the `{PACKAGE}` package \
                 (Debian/Ubuntu: `apt-get install {PACKAGE}`); Gatekit will not run the server \
                 without its sandbox"
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `bwrap` once with the namespaces a server will get, around `true`: proves that this
/// machine lets it build a sandbox (user and mount namespaces may be disabled, for example
/// in an unprivileged container or by `kernel.unprivileged_userns_clone=0`).
pub async fn probe(bwrap: &Path, network: bool) -> Result<(), String> {
    let truth = ["/usr/bin/true", "/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/bin/true");
    let mut cmd = tokio::process::Command::new(bwrap);
    cmd.args(namespace_args(network))
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
        .args(["--tmpfs", "/tmp", "--", truth])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let run = tokio::time::timeout(Duration::from_secs(10), cmd.output()).await;
    let output = match run {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(format!("cannot run {}: {e}", bwrap.display())),
        Err(_) => {
            return Err(format!(
                "{} did not finish a test run within 10 s",
                bwrap.display()
            ))
        }
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "{} is installed but cannot create a sandbox on this machine ({}: {}); a container \
         must allow user and mount namespaces (for Docker: a seccomp/AppArmor profile that \
         permits them, or --privileged); Gatekit will not run the server without its sandbox",
        bwrap.display(),
        output.status,
        stderr.trim()
    ))
}

/// Namespace options: everything unshared, the network kept only when allowed. The server
/// gets a session of its own (`--new-session`: no terminal injection through `TIOCSTI`) and
/// dies with its `bwrap` parent.
fn namespace_args(network: bool) -> Vec<&'static str> {
    let mut args = vec!["--die-with-parent", "--new-session", "--unshare-all"];
    if network {
        args.push("--share-net");
    }
    args
}

/// The `bwrap` command line that starts `process` under `plan`.
pub fn wrap(bwrap: &Path, plan: &Plan, process: &ProcessSpec) -> ProcessSpec {
    ProcessSpec {
        program: bwrap.display().to_string(),
        args: args(plan, process),
        env: process.env.clone(),
        cwd: process.cwd.clone(),
    }
}

/// The arguments of [`wrap`].
pub fn args(plan: &Plan, process: &ProcessSpec) -> Vec<String> {
    let mut out: Vec<String> = namespace_args(plan.network)
        .into_iter()
        .map(String::from)
        .collect();
    let mut push = |parts: &[&str]| out.extend(parts.iter().map(|s| s.to_string()));
    for mount in &plan.system {
        match mount {
            SystemMount::Dir(dir) => {
                let dir = dir.display().to_string();
                push(&["--ro-bind", &dir, &dir]);
            }
            SystemMount::Symlink { target, path } => {
                push(&[
                    "--symlink",
                    &target.display().to_string(),
                    &path.display().to_string(),
                ]);
            }
        }
    }
    push(&["--dev", "/dev", "--proc", "/proc"]);
    for hidden in &plan.hidden {
        push(&["--tmpfs", &hidden.display().to_string()]);
    }
    let mut grants: Vec<(&PathBuf, &str)> = plan
        .read_only
        .iter()
        .map(|p| (p, "--ro-bind"))
        .chain(plan.writable.iter().map(|p| (p, "--bind")))
        .collect();
    grants.sort_by_key(|(p, _)| depth(p));
    for (path, how) in grants {
        let path = path.display().to_string();
        push(&[how, &path, &path]);
    }
    for mask in &plan.masks {
        let path = mask.path.display().to_string();
        if mask.is_dir {
            push(&["--tmpfs", &path, "--remount-ro", &path]);
        } else {
            push(&["--ro-bind", "/dev/null", &path]);
        }
    }
    push(&[
        "--chdir",
        &plan.cwd.display().to_string(),
        "--",
        &process.program,
    ]);
    out.extend(process.args.iter().cloned());
    out
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]
mod tests {
    use super::super::Mask;
    use super::*;

    fn plan() -> Plan {
        Plan {
            system: vec![
                SystemMount::Dir("/usr".into()),
                SystemMount::Symlink {
                    target: "usr/bin".into(),
                    path: "/bin".into(),
                },
            ],
            hidden: vec!["/tmp".into(), "/home/u".into()],
            read_only: vec!["/home/u/tools".into()],
            writable: vec![
                "/home/u/.npm".into(),
                "/home/u/proj/deep".into(),
                "/home".into(),
            ],
            masks: vec![
                Mask {
                    path: "/home/u/.ssh".into(),
                    is_dir: true,
                },
                Mask {
                    path: "/home/u/.vault-token".into(),
                    is_dir: false,
                },
            ],
            denied: vec![],
            missing: vec![],
            cwd: "/home/u/proj/deep".into(),
            network: false,
        }
    }

    fn process() -> ProcessSpec {
        ProcessSpec {
            program: "node".into(),
            args: vec!["srv.js".into(), "--x".into()],
            env: vec![],
            cwd: None,
        }
    }

    #[test]
    fn mounts_are_ordered_root_hidden_grants_by_depth_then_masks() {
        let args = args(&plan(), &process()).join(" ");
        let expected = "--die-with-parent --new-session --unshare-all \
            --ro-bind /usr /usr --symlink usr/bin /bin --dev /dev --proc /proc --tmpfs /tmp --tmpfs /home/u \
            --bind /home /home --ro-bind /home/u/tools /home/u/tools --bind /home/u/.npm /home/u/.npm \
            --bind /home/u/proj/deep /home/u/proj/deep \
            --tmpfs /home/u/.ssh --remount-ro /home/u/.ssh --ro-bind /dev/null /home/u/.vault-token \
            --chdir /home/u/proj/deep -- node srv.js --x";
        assert_eq!(args, expected);
    }

    #[test]
    fn network_is_shared_only_when_allowed() {
        let mut p = plan();
        assert!(!args(&p, &process()).contains(&"--share-net".to_string()));
        p.network = true;
        assert!(args(&p, &process()).contains(&"--share-net".to_string()));
    }

    #[test]
    fn a_missing_bwrap_names_the_package() {
        let err = locate(Some(OsStr::new("/nonexistent-dir"))).unwrap_err();
        assert!(
            err.contains("`bubblewrap`") && err.contains("will not run"),
            "{err}"
        );
    }
}
