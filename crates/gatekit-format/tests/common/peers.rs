//! Running real syslog daemons (rsyslog, syslog-ng from Debian's packages) as test peers.
//!
//! Each daemon runs in the foreground with a private config, pid file, state and output files
//! in a temporary directory, bound to 127.0.0.1 on a free high port. It runs under
//! `timeout -s KILL` so that even a test process killed outright (a runner's timeout) cannot
//! leave it behind for more than [`MAX_LIFETIME_SECS`]; normally [`Daemon`]'s `Drop` kills
//! the daemon (the one child of that `timeout`) and reaps both, also on panic.
//! A missing binary fails the test with instructions, never skips it.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str =
    "run `sudo scripts/install-test-peers-syslog.sh` from the repository root to install the test peers";

/// Upper bound on a daemon's life if the test process dies without running `Drop`.
pub(crate) const MAX_LIFETIME_SECS: u32 = 300;

/// A running daemon (under `timeout`); killed and reaped on drop.
pub(crate) struct Daemon {
    name: &'static str,
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Kill exactly the processes this test started: the daemon, which is the child of
        // our `timeout` process (listed by the kernel), then `timeout` itself; reap it.
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for c in children.split_whitespace() {
            let _ = Command::new("kill").arg("-KILL").arg(c).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// The daemon's stderr so far (for failure messages).
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Fails the test if the daemon exited.
    pub(crate) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited with {status}: {}", self.name, self.stderr());
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1. Ports are drawn from 20000-29999, below
/// the kernel's ephemeral range (so other tests' `bind(0)` sockets never take them), at a
/// per-process pseudo-random offset (so parallel test processes rarely meet), checked with a
/// bind, and never handed out twice within one process.
pub(crate) fn free_port() -> u16 {
    static TAKEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(std::process::id()) * 7919 + u64::from(nanos);
    for _ in 0..1000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let port = 20000 + ((x >> 33) % 10000) as u16;
        if !taken.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            taken.push(port);
            return port;
        }
    }
    panic!("no free port in 20000-29999 on 127.0.0.1");
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn rsyslogd() -> PathBuf {
    for p in ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"] {
        if Path::new(p).exists() {
            let modules = [
                "/usr/lib/x86_64-linux-gnu/rsyslog/mmnormalize.so",
                "/usr/lib/aarch64-linux-gnu/rsyslog/mmnormalize.so",
            ];
            assert!(
                modules.iter().any(|m| Path::new(m).exists()),
                "rsyslog's mmnormalize module is missing; {INSTALL_HINT}"
            );
            return PathBuf::from(p);
        }
    }
    panic!("rsyslogd not found; {INSTALL_HINT}");
}

/// Root of the privately unpacked syslog-ng (`$GATEKIT_SYSLOG_NG_ROOT` or
/// `target/test-peers/syslog-ng`).
pub(crate) fn syslog_ng_root() -> PathBuf {
    let root = std::env::var_os("GATEKIT_SYSLOG_NG_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/test-peers/syslog-ng"));
    if !root.join("usr/sbin/syslog-ng").exists() {
        panic!(
            "syslog-ng not found under {}; {INSTALL_HINT}",
            root.display()
        );
    }
    root
}

fn spawn(name: &'static str, mut cmd: Command, dir: tempfile::TempDir, ports: &[u16]) -> Daemon {
    let stderr = std::fs::File::create(dir.path().join("stderr")).expect("stderr file");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start {name}: {e}; {INSTALL_HINT}"));
    let mut d = Daemon { name, child, dir };
    let deadline = Instant::now() + Duration::from_secs(15);
    for &port in ports {
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            d.assert_running();
            assert!(
                Instant::now() < deadline,
                "{name} did not listen on {port}: {}",
                d.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    d
}

/// Starts rsyslogd with `config` (written to `rsyslog.conf`; `@DIR@` is replaced by the
/// private directory) and extra `files` in that directory, waiting until `ports` accept
/// connections.
pub(crate) fn start_rsyslog_with(config: &str, files: &[(&str, &str)], ports: &[u16]) -> Daemon {
    let bin = rsyslogd();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8 path").to_owned();
    let conf = dir.path().join("rsyslog.conf");
    std::fs::write(&conf, config.replace("@DIR@", &d)).expect("write config");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write file");
    }
    let mut cmd = Command::new(bin);
    cmd.arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.path().join("rsyslog.pid"));
    spawn("rsyslogd", cmd, dir, ports)
}

/// Starts the unpacked syslog-ng in the foreground with `config` (`@DIR@` replaced).
pub(crate) fn start_syslog_ng(config: &str, ports: &[u16]) -> Daemon {
    let root = syslog_ng_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8 path").to_owned();
    let conf = dir.path().join("syslog-ng.conf");
    std::fs::write(&conf, config.replace("@DIR@", &d)).expect("write config");
    let lib = format!(
        "{}:{}",
        root.join("usr/lib/syslog-ng").display(),
        root.join("usr/lib/x86_64-linux-gnu").display()
    );
    let mut cmd = Command::new(root.join("usr/sbin/syslog-ng"));
    cmd.env("LD_LIBRARY_PATH", lib)
        .arg("-F")
        .arg("--no-caps")
        .arg("-f")
        .arg(&conf)
        .arg("-R")
        .arg(dir.path().join("persist"))
        .arg("-p")
        .arg(dir.path().join("syslog-ng.pid"))
        .arg("-c")
        .arg(dir.path().join("syslog-ng.ctl"))
        .arg(format!(
            "--module-path={}",
            root.join("usr/lib/syslog-ng/3.38").display()
        ));
    spawn("syslog-ng", cmd, dir, ports)
}

/// Sends `bytes` on one TCP connection to 127.0.0.1:`port` and closes it.
pub(crate) fn send(port: u16, bytes: &[u8]) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(bytes).expect("write");
    s.flush().expect("flush");
}

/// Waits until `path` holds `n` complete lines and returns them parsed as JSON.
pub(crate) fn wait_for_json_lines(d: &mut Daemon, path: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        if lines.len() >= n && text.ends_with('\n') {
            return lines
                .iter()
                .map(|l| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("bad JSON from daemon ({e}): {l}"))
                })
                .collect();
        }
        d.assert_running();
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} lines in {} (have {}); daemon stderr: {}",
            path.display(),
            lines.len(),
            d.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
