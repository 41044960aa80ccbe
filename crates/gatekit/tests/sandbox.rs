//! Sandboxed upstreams with real bubblewrap, through the binary.
//!
//! These tests never skip: without a working `bwrap` they fail with the reason (install it
//! with `scripts/setup-test-peers`). Every refusal is paired with a control upstream that is
//! allowed the same thing, so a test cannot pass because the probe itself is broken.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

const PYTHON: &str = "/usr/bin/python3";

/// Fails loudly when bubblewrap is missing or cannot build a sandbox on this machine.
fn require_bwrap() {
    let out = std::process::Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
        .args(["--unshare-all", "--die-with-parent", "--", "/bin/true"])
        .output()
        .unwrap_or_else(|e| {
            panic!("bubblewrap is required for these tests ({e}): run scripts/setup-test-peers")
        });
    assert!(
        out.status.success(),
        "bwrap cannot build a sandbox on this machine: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn server() -> PathBuf {
    python_dir().join("sandbox_probe_server.py")
}

/// A fake home with credentials and a note, a granted data directory, and a directory that
/// is not granted.
struct Layout {
    _dir: tempfile::TempDir,
    home: PathBuf,
    data: PathBuf,
    outside: PathBuf,
}

fn layout() -> Layout {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (home, data, outside) = (root.join("home"), root.join("data"), root.join("outside"));
    for d in [
        home.join(".ssh"),
        home.join(".aws"),
        data.clone(),
        outside.clone(),
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(home.join(".ssh/id_ed25519"), "SSH-KEY-SECRET").unwrap();
    std::fs::write(home.join(".aws/credentials"), "AWS-SECRET").unwrap();
    std::fs::write(home.join(".git-credentials"), "GIT-SECRET").unwrap();
    std::fs::write(home.join("notes.txt"), "my notes").unwrap();
    std::fs::write(data.join("in.txt"), "granted data").unwrap();
    Layout {
        _dir: dir,
        home,
        data,
        outside,
    }
}

/// One upstream entry running the probe server with `HOME` set to the fake home.
fn upstream(name: &str, l: &Layout, sandbox: &str, marker: Option<&Path>) -> String {
    let marker = marker
        .map(|m| format!(", {:?}", m.display().to_string()))
        .unwrap_or_default();
    format!(
        "    - name: {name}\n      command: [{PYTHON:?}, {:?}{marker}]\n      env: {{HOME: {:?}}}\n{sandbox}",
        server().display().to_string(),
        l.home.display().to_string()
    )
}

fn config(dir: &Path, upstreams: &[String]) -> PathBuf {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n{}logging:\n  level: DEBUG\n  handlers: [file]\n  file_path: gatekit.log\nplugins:\n  auditing:\n    _global:\n      - handler: audit_jsonl\n        config: {{output_file: audit.jsonl}}\n",
        upstreams.concat()
    );
    write_config(dir, &yaml)
}

/// The audit trail's system events about sandboxes.
fn system_events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event_type"] == "SYSTEM")
        .collect()
}

fn tool(gw: &mut Gateway, id: i64, name: &str, args: Value) -> (bool, String) {
    let reply = gw.call(id, "tools/call", json!({"name": name, "arguments": args}));
    let failed = reply.pointer("/result/isError") == Some(&json!(true));
    (failed, result_text(&reply))
}

fn finish(mut gw: Gateway) {
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn sandbox_hides_credentials_and_home_confines_writes_and_cuts_the_network() {
    require_bwrap();
    let l = layout();
    let cfg_dir = tempfile::tempdir().unwrap();
    let data = l.data.display().to_string();
    let home = l.home.display().to_string();
    let config = config(
        cfg_dir.path(),
        &[
            upstream(
                "boxed",
                &l,
                &format!("      sandbox: {{enabled: true, paths: [{data:?}], network: false}}\n"),
                None,
            ),
            // Granted the whole home: its credential stores must still be hidden.
            upstream(
                "wide",
                &l,
                &format!("      sandbox: {{enabled: true, paths: [{home:?}], network: true}}\n"),
                None,
            ),
            // The control: no sandbox, so every attempt below must work here.
            upstream("open", &l, "", None),
        ],
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut gw = Gateway::start(&config);
    gw.initialize();
    let mut id = 0;
    let mut run = |gw: &mut Gateway, name: &str, args: Value| {
        id += 1;
        tool(gw, id, name, args)
    };

    // Credential stores: readable without a sandbox, hidden with one, even when granted.
    for secret in [
        "~/.ssh/id_ed25519",
        "~/.aws/credentials",
        "~/.git-credentials",
    ] {
        let (failed, text) = run(&mut gw, "open__read", json!({"path": secret}));
        assert!(
            !failed && text.contains("SECRET"),
            "control must read {secret}: {text}"
        );
        for boxed in ["boxed__read", "wide__read"] {
            let (failed, text) = run(&mut gw, boxed, json!({"path": secret}));
            assert!(
                failed && !text.contains("SECRET"),
                "{boxed} read {secret}: {text}"
            );
        }
    }
    // The rest of the home: hidden unless granted.
    let (failed, text) = run(&mut gw, "boxed__read", json!({"path": "~/notes.txt"}));
    assert!(failed, "boxed read the home directory: {text}");
    let (failed, text) = run(&mut gw, "wide__read", json!({"path": "~/notes.txt"}));
    assert!(!failed && text == "my notes", "{text}");

    // Outside the system directories and the grants, nothing is visible (Python Gatekit's
    // Linux model): not even this repository's files.
    let manifest = workspace_root().join("Cargo.toml");
    let (failed, text) = run(&mut gw, "open__read", json!({"path": manifest}));
    assert!(
        !failed && text.contains("[workspace]"),
        "control must read it: {text}"
    );
    let (failed, text) = run(&mut gw, "boxed__read", json!({"path": manifest}));
    assert!(failed, "boxed read a file outside its grants: {text}");
    let (failed, text) = run(&mut gw, "boxed__read", json!({"path": "/etc/hostname"}));
    assert!(!failed, "system directories stay readable: {text}");

    // Inside its paths: read and write work.
    let (failed, text) = run(
        &mut gw,
        "boxed__read",
        json!({"path": l.data.join("in.txt")}),
    );
    assert!(!failed && text == "granted data", "{text}");
    let (failed, text) = run(
        &mut gw,
        "boxed__write",
        json!({"path": l.data.join("out.txt"), "text": "from the sandbox"}),
    );
    assert!(!failed, "{text}");
    assert_eq!(
        std::fs::read_to_string(l.data.join("out.txt")).unwrap(),
        "from the sandbox"
    );

    // Outside its paths: writing fails, and nothing appears on the host.
    let target = l.outside.join("escaped.txt");
    let (failed, text) = run(
        &mut gw,
        "boxed__write",
        json!({"path": target, "text": "x"}),
    );
    assert!(failed, "boxed wrote outside its paths: {text}");
    assert!(!target.exists());
    let (failed, text) = run(&mut gw, "open__write", json!({"path": target, "text": "x"}));
    assert!(!failed && target.exists(), "control must write: {text}");
    let cwd_target = std::env::current_dir()
        .unwrap()
        .join("gatekit-sandbox-escape.txt");
    let (failed, _) = run(
        &mut gw,
        "boxed__write",
        json!({"path": cwd_target, "text": "x"}),
    );
    assert!(
        failed && !cwd_target.exists(),
        "the rest of the file system is read-only"
    );

    // Network: refused with `network: false`, allowed with `network: true`.
    let (failed, text) = run(&mut gw, "boxed__connect", json!({"port": port}));
    assert!(failed, "boxed reached the host network: {text}");
    let (failed, text) = run(&mut gw, "wide__connect", json!({"port": port}));
    assert!(!failed && text == "connected", "{text}");
    drop(listener);
    finish(gw);

    // Every sandbox decision is in the log: what is granted and what is denied.
    let log = std::fs::read_to_string(cfg_dir.path().join("gatekit.log")).unwrap();
    let started: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Starting upstream in its sandbox"))
        .collect();
    assert_eq!(started.len(), 2, "{log}");
    let boxed = started.iter().find(|l| l.contains("boxed")).unwrap();
    assert!(
        boxed.contains(&data) && boxed.contains(".ssh") && boxed.contains("network=false"),
        "{boxed}"
    );

    // ... and in the audit trail, as system events.
    let events = system_events(cfg_dir.path());
    let applied: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "sandbox_applied")
        .collect();
    assert_eq!(applied.len(), 2, "{events:?}");
    let boxed = applied
        .iter()
        .find(|e| e["server_name"] == "boxed")
        .unwrap();
    assert_eq!(boxed["details"]["network"], false);
    assert_eq!(boxed["details"]["writable"][0], data);
    let denied = boxed["details"]["denied"].to_string();
    assert!(
        denied.contains(".ssh") && denied.contains(".aws"),
        "{denied}"
    );
    assert_eq!(boxed["event_category"], "system_event");
    let wide = applied.iter().find(|e| e["server_name"] == "wide").unwrap();
    let masked = wide["details"]["masked"].to_string();
    assert!(
        masked.contains(".ssh") && masked.contains(".git-credentials"),
        "{masked}"
    );
}

#[test]
fn missing_bubblewrap_refuses_to_start_the_server() {
    let l = layout();
    let cfg_dir = tempfile::tempdir().unwrap();
    let marker = l.data.join("started");
    let data = l.data.display().to_string();
    let config = config(
        cfg_dir.path(),
        &[
            upstream(
                "boxed",
                &l,
                &format!("      sandbox: {{enabled: true, paths: [{data:?}]}}\n"),
                Some(&marker),
            ),
            upstream("open", &l, "", None),
        ],
    );
    // No `bwrap` on this PATH; the server's interpreter is given by its full path.
    let mut gw = Gateway::start_with_env(
        &["run", "--config", config.to_str().unwrap()],
        &[("PATH", "/nonexistent-gatekit-test")],
    );
    let init = gw.initialize();
    assert!(
        init.get("result").is_some(),
        "the other upstream still serves: {init}"
    );
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "boxed__read", "arguments": {"path": "/etc/hostname"}}),
    );
    let message = reply
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected an error: {reply}"));
    assert_eq!(
        reply.pointer("/error/code"),
        Some(&json!(-32004)),
        "{reply}"
    );
    assert!(
        message.contains("`bubblewrap`") && message.contains("will not run"),
        "{message}"
    );
    let (failed, text) = tool(
        &mut gw,
        2,
        "open__read",
        json!({"path": l.data.join("in.txt")}),
    );
    assert!(!failed && text == "granted data", "{text}");
    finish(gw);
    assert!(
        !marker.exists(),
        "the server ran although its sandbox could not be built"
    );
    let log = std::fs::read_to_string(cfg_dir.path().join("gatekit.log")).unwrap();
    assert!(log.contains("Sandbox cannot be built"), "{log}");
    let events = system_events(cfg_dir.path());
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["action"], "sandbox_failed");
    assert_eq!(events[0]["server_name"], "boxed");
    assert_eq!(events[0]["severity"], "error");
    assert!(events[0]["reason"].as_str().unwrap().contains("bubblewrap"));
}
