//! `gatekit demo`: the README's first command.
//!
//! Starts the gateway with a built-in configuration in front of the bundled example server,
//! plays a short MCP session against it as a client would (handshake, list, calls including a
//! hostile argument and an unknown tool), and prints what happened. Nothing outside this
//! process tree is needed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

/// Runs the demo in `dir` (or a new temporary directory); `verbose` passes the gateway's
/// debug log through to stderr.
pub fn run(verbose: bool, dir: Option<PathBuf>) -> ExitCode {
    match play(verbose, dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo_config(exe: &Path) -> String {
    let exe = exe.display().to_string();
    format!(
        "# Built-in demo configuration: one upstream (the bundled example server), a secrets\n\
         # filter that redacts, and a JSONL audit trail next to this file.\n\
         proxy:\n  transport: stdio\n  timeouts: {{connection_timeout: 10, request_timeout: 10}}\n  upstreams:\n    - name: example\n      command: [{exe:?}, \"example-server\"]\n\
         plugins:\n  security:\n    _global:\n      - handler: basic_secrets_filter\n        config: {{action: redact}}\n  auditing:\n    _global:\n      - handler: audit_jsonl\n        config: {{output_file: audit.jsonl, include_request_body: true}}\n"
    )
}

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    next_id: i64,
}

impl Client {
    fn start(exe: &Path, config: &Path, verbose: bool) -> Result<Client, String> {
        let mut cmd = Command::new(exe);
        cmd.arg("run").arg("--config").arg(config);
        if verbose {
            cmd.arg("--verbose");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .map_err(|e| format!("cannot start the gateway: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Client {
            child,
            stdin,
            lines: rx,
            next_id: 1,
        })
    }

    fn send(&mut self, msg: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "{msg}").map_err(|e| format!("write to gateway: {e}"))?;
        stdin.flush().map_err(|e| format!("write to gateway: {e}"))
    }

    fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .map_err(|_| format!("no answer to {method}"))?;
            let msg: Value =
                serde_json::from_str(&line).map_err(|e| format!("bad JSON from gateway: {e}"))?;
            if msg.get("id") == Some(&json!(id)) {
                return Ok(msg);
            }
        }
    }

    fn finish(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("gateway exited with {status}"))
        }
    }
}

fn show(label: &str, msg: &Value) {
    let body = msg
        .get("result")
        .or_else(|| msg.get("error"))
        .unwrap_or(msg);
    let kind = if msg.get("error").is_some() {
        "error"
    } else {
        "result"
    };
    println!("\n> {label}\n< {kind}: {body}");
}

fn play(verbose: bool, dir: Option<PathBuf>) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate gatekit: {e}"))?;
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("gatekit-demo-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let config: PathBuf = dir.join("gatekit.yaml");
    std::fs::write(&config, demo_config(&exe)).map_err(|e| e.to_string())?;
    println!("Gatekit demo: an MCP client -> gatekit -> the bundled example server");
    println!("configuration: {}", config.display());

    let mut client = Client::start(&exe, &config, verbose)?;
    let init = client.call(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "gatekit-demo", "version": env!("CARGO_PKG_VERSION")}}),
    )?;
    show("initialize", &init);
    client.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;

    let tools = client.call("tools/list", json!({}))?;
    let names: Vec<&str> = tools
        .pointer("/result/tools")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "\n> tools/list\n< {} tools, namespaced: {}",
        names.len(),
        names.join(", ")
    );

    let steps = [
        (
            "tools/call example__echo (hostile argument)",
            "tools/call",
            json!({"name": "example__echo", "arguments": {"text": "hi|there=1\\ \nCEF:0|forged|event"}}),
        ),
        (
            "tools/call example__add",
            "tools/call",
            json!({"name": "example__add", "arguments": {"a": 2, "b": 40}}),
        ),
        (
            "tools/call example__echo (an AWS key in the argument)",
            "tools/call",
            json!({"name": "example__echo", "arguments": {"text": "deploy with AKIAIOSFODNN7EXAMPLE"}}),
        ),
        (
            "prompts/get example__greet",
            "prompts/get",
            json!({"name": "example__greet", "arguments": {"name": "Ada"}}),
        ),
        (
            "resources/read example://readme",
            "resources/read",
            json!({"uri": "example://readme"}),
        ),
        (
            "tools/call nosuch__tool (unknown upstream)",
            "tools/call",
            json!({"name": "nosuch__tool", "arguments": {}}),
        ),
        ("ping", "ping", json!({})),
    ];
    for (label, method, params) in steps {
        let reply = client.call(method, params)?;
        show(label, &reply);
    }
    client.finish()?;
    let audit = dir.join("audit.jsonl");
    let records = std::fs::read_to_string(&audit).map_err(|e| format!("no audit trail: {e}"))?;
    println!(
        "\nAudit trail: {} records in {}",
        records.lines().count(),
        audit.display()
    );
    for line in records.lines() {
        let r: Value = serde_json::from_str(line).map_err(|e| format!("bad audit line: {e}"))?;
        println!(
            "  #{:<3} {:<22} {:<12} {:<16} {}",
            r["sequence"],
            r["event_type"].as_str().unwrap_or("-"),
            r["method"].as_str().unwrap_or("-"),
            r["tool"].as_str().unwrap_or("-"),
            r["reason"].as_str().unwrap_or("")
        );
    }
    println!("\nDone: the gateway answered every request, redacted the secret, audited every call and shut down cleanly.");
    println!("Try `gatekit siem sample --format cef` to see the SIEM formats.");
    Ok(())
}
