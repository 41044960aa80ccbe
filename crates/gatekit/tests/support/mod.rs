//! Shared helpers for the integration tests: locating binaries and peers, writing configs,
//! and a raw JSON-RPC client that drives the real `gatekit` binary over pipes.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "shared by several test binaries, each using a part; tests fail loudly on errors"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The `gatekit` binary under test: the one Cargo built for this test, or `GATEKIT_TEST_BIN`
/// when set (to run the same tests against another build, such as the static musl binary:
/// docs/operations.md, "Install").
pub(crate) fn gatekit() -> PathBuf {
    std::env::var_os("GATEKIT_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gatekit")))
}

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The Python interpreter with the test peers installed; fails the test with instructions
/// when it is missing (never skips silently).
pub(crate) fn python() -> PathBuf {
    if let Ok(p) = std::env::var("GATEKIT_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join("target/test-venv/bin/python");
    assert!(
        venv.exists(),
        "the Python MCP SDK is not installed: run `scripts/setup-test-peers` (expected {})",
        venv.display()
    );
    venv
}

/// Directory of the Python test peers.
pub(crate) fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// Writes `yaml` as `gatekit.yaml` in `dir` and returns its path.
pub(crate) fn write_config(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("gatekit.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The configuration `mcp_plugins_client.py` expects: the Python test server as upstream `py`,
/// its `echo` tool renamed `say` next to `pid` (everything else hidden), secrets redacted and
/// PII blocked everywhere. `rest` is appended as written: more `plugins` categories (indented
/// two spaces) and top-level sections such as `siem`.
pub(crate) fn python_plugins_config(dir: &Path, rest: &str) -> PathBuf {
    let yaml = format!(
        r#"
proxy:
  transport: stdio
  upstreams:
    - name: py
      command: [{py:?}, {server:?}]
plugins:
  middleware:
    py:
      - handler: tool_manager
        config:
          tools:
            - {{tool: echo, display_name: say}}
            - {{tool: pid}}
  security:
    _global:
      - handler: basic_secrets_filter
        config: {{action: redact}}
      - handler: basic_pii_filter
        config: {{action: block}}
{rest}"#,
        py = python().display().to_string(),
        server = python_dir()
            .join("mcp_test_server.py")
            .display()
            .to_string(),
    );
    write_config(dir, &yaml)
}

/// Runs the Python client `script` (in `tests/python`, built on the official SDK's
/// `ClientSession`) through gatekit with `config`; returns the JSON summary it prints last,
/// after asserting that it succeeded.
pub(crate) fn run_python_client(script: &str, config: &Path) -> Value {
    let output = Command::new(python())
        .arg(python_dir().join(script))
        .arg(gatekit())
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client failed: {}\n--- stderr ---\n{stderr}",
        output.status
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("client printed no JSON ({e}): {stdout}\n{stderr}"))
}

/// A config with the bundled example server as upstream `ex`, plus `extra` YAML appended
/// under `proxy:` (indented two spaces).
pub(crate) fn example_config(dir: &Path, proxy_extra: &str) -> PathBuf {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\n      env: {{GREETING: hello-from-config}}\n{proxy_extra}",
        gatekit().display().to_string()
    );
    write_config(dir, &yaml)
}

/// A running `gatekit run` with a raw JSON-RPC client attached.
pub(crate) struct Gateway {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stash: Vec<Value>,
}

impl Gateway {
    pub(crate) fn start(config: &Path) -> Gateway {
        Self::start_with_args(&["run", "--config", config.to_str().unwrap()])
    }

    pub(crate) fn start_with_args(args: &[&str]) -> Gateway {
        Self::spawn(args, &[], Stdio::inherit())
    }

    /// Starts `gatekit` with `args` and extra environment variables.
    pub(crate) fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Gateway {
        Self::spawn(args, env, Stdio::inherit())
    }

    /// Like [`Gateway::start`], with Gatekit's stderr (its log) written to `file`.
    pub(crate) fn start_with_stderr_to(config: &Path, file: std::fs::File) -> Gateway {
        Self::spawn(
            &["run", "--config", config.to_str().unwrap()],
            &[],
            Stdio::from(file),
        )
    }

    fn spawn(args: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Gateway {
        let mut child = Command::new(gatekit())
            .args(args)
            .env("GATEKIT_LOG", "debug")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if tx.send(std::mem::take(&mut line)).is_err() {
                    break;
                }
            }
        });
        Gateway {
            child,
            stdin,
            lines: rx,
            stash: Vec::new(),
        }
    }

    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    pub(crate) fn send(&mut self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).unwrap();
        line.push(b'\n');
        self.send_raw(&line);
    }

    pub(crate) fn request(&mut self, id: i64, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
    }

    pub(crate) fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next message from the gateway, parsed; panics after `timeout`.
    pub(crate) fn next_message(&mut self, timeout: Duration) -> Value {
        if !self.stash.is_empty() {
            return self.stash.remove(0);
        }
        self.read_line(timeout)
    }

    fn read_line(&mut self, timeout: Duration) -> Value {
        let line = self
            .lines
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("no message from gatekit within {timeout:?}"));
        assert!(line.ends_with('\n'), "every message is one complete line");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("gatekit wrote invalid JSON ({e}): {line}"))
    }

    /// Waits for the message matching `pred`, keeping others for later.
    pub(crate) fn wait_for(&mut self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.stash.iter().position(&pred) {
            return self.stash.remove(pos);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.read_line(left);
            if pred(&msg) {
                return msg;
            }
            self.stash.push(msg);
        }
    }

    /// Waits for the response to request `id`.
    pub(crate) fn response(&mut self, id: i64) -> Value {
        self.wait_for(Duration::from_secs(30), |m| {
            m.get("id") == Some(&json!(id)) && m.get("method").is_none()
        })
    }

    /// Sends a request and waits for its response.
    pub(crate) fn call(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.request(id, method, params);
        self.response(id)
    }

    /// Initializes the session.
    pub(crate) fn initialize(&mut self) -> Value {
        let init = self.call(
            0,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {"sampling": {}},
                   "clientInfo": {"name": "raw-test-client", "version": "1"}}),
        );
        self.notify("notifications/initialized", json!({}));
        init
    }

    /// Whether no message arrives within `wait`.
    pub(crate) fn quiet_for(&mut self, wait: Duration) -> Option<Value> {
        if !self.stash.is_empty() {
            return Some(self.stash.remove(0));
        }
        self.lines
            .recv_timeout(wait)
            .ok()
            .map(|l| serde_json::from_str(&l).unwrap())
    }

    pub(crate) fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits for the process to exit and returns its exit code.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("gatekit did not exit within {timeout:?}");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The text of a `tools/call` result.
pub(crate) fn result_text(msg: &Value) -> String {
    msg.pointer("/result/content/0/text")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no text result in {msg}"))
        .to_string()
}

/// Whether a process with this pid exists (and is not a zombie).
pub(crate) fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which may itself contain spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z"),
        Err(_) => false,
    }
}

/// A loopback TCP port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP syslog receiver on `port` keeping every line; lives as long as the test process.
pub(crate) fn receive(port: u16, lines: Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
    });
}
