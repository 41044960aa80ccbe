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

fn demo_config(exe: &Path, syslog_port: u16) -> String {
    let exe = format!("{:?}", exe.display().to_string());
    format!(
        r#"# Built-in demo configuration: one upstream (the bundled example server), a secrets
# filter that redacts, a JSONL audit trail, and three local SIEM destinations: Splunk
# (a CEF file for a Universal Forwarder), Sentinel (a JSON file for the Azure Monitor
# Agent) and QRadar (LEEF 2.0 over TCP syslog, to a listener inside the demo).
proxy:
  transport: stdio
  timeouts: {{connection_timeout: 10, request_timeout: 10}}
  upstreams:
    - name: example
      command: [{exe}, "example-server"]
plugins:
  security:
    _global:
      - handler: basic_secrets_filter
        config: {{action: redact}}
  auditing:
    _global:
      - handler: audit_jsonl
        config: {{output_file: audit.jsonl, include_request_body: true}}
siem:
  platforms:
    splunk:
      priority: 1
      transport: file
      format: cef
      file: {{path: siem/splunk.cef}}
      delivery: {{batch_timeout: 0.2}}
    qradar:
      priority: 2
      transport: syslog_tcp
      format: leef
      syslog: {{host: 127.0.0.1, port: {syslog_port}}}
      delivery: {{batch_timeout: 0.2}}
    azure_sentinel:
      priority: 3
      transport: log_analytics_agent
      format: json
      log_analytics_agent: {{path: siem/sentinel.jsonl}}
      delivery: {{batch_timeout: 0.2}}
"#
    )
}

/// A stand-in syslog receiver: accepts TCP connections on 127.0.0.1 and appends what it
/// receives to `path` (LF-framed records, one per line).
fn start_syslog_listener(path: PathBuf) -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let path = path.clone();
            std::thread::spawn(move || {
                let Ok(mut out) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                else {
                    return;
                };
                let _ = std::io::copy(&mut stream, &mut out);
            });
        }
    });
    Ok(port)
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

/// Waits briefly for at least `n` lines (delivery is asynchronous; the gateway flushes it on
/// shutdown, the TCP listener may still be writing).
fn wait_for_lines(path: &Path, n: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().count() >= n || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
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
    let siem_dir = dir.join("siem");
    std::fs::create_dir_all(&siem_dir).map_err(|e| e.to_string())?;
    let syslog_port = start_syslog_listener(siem_dir.join("qradar.leef"))?;
    std::fs::write(&config, demo_config(&exe, syslog_port)).map_err(|e| e.to_string())?;
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
    for (label, file) in [
        ("Splunk, CEF", "splunk.cef"),
        ("QRadar, LEEF 2.0 over TCP syslog", "qradar.leef"),
        ("Sentinel, JSON", "sentinel.jsonl"),
    ] {
        let path = siem_dir.join(file);
        // One SIEM event per audit record; the TCP listener may still be writing.
        let text = wait_for_lines(&path, records.lines().count());
        println!(
            "\nSIEM destination ({label}): {} events in {}",
            text.lines().count(),
            path.display()
        );
        if let Some(first) = text
            .lines()
            .find(|l| l.contains("secret") || l.contains("SECRET"))
            .or_else(|| text.lines().next())
        {
            let shown: String = first.chars().take(240).collect();
            println!(
                "  {shown}{}",
                if first.chars().count() > 240 {
                    " ..."
                } else {
                    ""
                }
            );
        }
    }
    println!(
        "\nDone: the gateway answered every request, redacted the secret, audited every call,"
    );
    println!("delivered the events to three SIEM destinations and shut down cleanly.");
    println!("Try `gatekit siem sample --format leef2` to see every format.");
    Ok(())
}
