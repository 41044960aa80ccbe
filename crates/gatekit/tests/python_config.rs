//! A configuration written by Python Gatekit 0.3.0 itself (its loader validates it, its
//! serializer writes it) runs unchanged with its sandbox, per-upstream audit and token_usage
//! entries.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn python_gatekit() -> std::path::PathBuf {
    let python = workspace_root().join("target/test-venv-gatekit03/bin/python");
    assert!(
        python.exists(),
        "Python Gatekit 0.3.0 is not installed: run scripts/setup-test-peers (expected {})",
        python.display()
    );
    python
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_config_saved_by_python_gatekit_runs_its_sandbox_audit_scopes_and_token_usage() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (home, data) = (root.join("home"), root.join("data"));
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), "SSH-KEY-SECRET").unwrap();
    let server = python_dir().join("sandbox_probe_server.py");
    let command = json!(["/usr/bin/python3", server]);
    let config = json!({
        "proxy": {
            "transport": "stdio",
            "upstreams": [
                {"name": "boxed", "command": command,
                 "sandbox": {"enabled": true, "paths": [data], "network": false}},
                {"name": "open", "command": command},
            ],
        },
        "plugins": {"auditing": {
            "_global": [
                {"handler": "audit_jsonl", "config": {"enabled": true, "output_file": "audit.jsonl"}},
                {"handler": "token_usage", "config": {"enabled": true, "output_file": "tokens.csv", "state_file": "tokens.json"}},
            ],
            "open": [
                {"handler": "audit_jsonl", "config": {"enabled": true, "output_file": "open.jsonl"}},
            ],
        }},
    });
    let path = root.join("gatekit.yaml");
    let out = std::process::Command::new(python_gatekit())
        .arg(python_dir().join("write_config_gatekit03.py"))
        .arg(config.to_string())
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Python Gatekit refused the config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert!(
        yaml.contains("sandbox:") && yaml.contains("token_usage"),
        "{yaml}"
    );

    // The server's home is Gatekit's (Python Gatekit has no per-upstream `env`).
    let home_str = home.display().to_string();
    let mut gw = Gateway::start_with_env(
        &["run", "--config", path.to_str().unwrap()],
        &[("HOME", home_str.as_str())],
    );
    assert!(gw.initialize().get("result").is_some());
    let mut call = |id: i64, name: &str, args: Value| -> (bool, String) {
        let reply = gw.call(id, "tools/call", json!({"name": name, "arguments": args}));
        (
            reply.pointer("/result/isError") == Some(&json!(true)),
            result_text(&reply),
        )
    };
    let secret = json!({"path": "~/.ssh/id_ed25519"});
    let (failed, text) = call(1, "open__read", secret.clone());
    assert!(!failed && text.contains("SECRET"), "{text}");
    let (failed, text) = call(2, "boxed__read", secret);
    assert!(failed && !text.contains("SECRET"), "{text}");
    let (failed, text) = call(
        3,
        "boxed__write",
        json!({"path": data.join("out.txt"), "text": "ok"}),
    );
    assert!(!failed, "{text}");
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));

    // Per-upstream audit: `open` has its own file, the global one has the rest.
    let global = jsonl(&root.join("audit.jsonl"));
    let servers = |records: &[Value]| -> Vec<String> {
        records
            .iter()
            .filter(|r| r["method"] == "tools/call")
            .map(|r| r["server_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(servers(&global), ["boxed"; 4]);
    assert!(global
        .iter()
        .any(|r| r["event_type"] == "SYSTEM" && r["action"] == "sandbox_applied"));
    assert_eq!(servers(&jsonl(&root.join("open.jsonl"))), ["open"; 2]);

    // token_usage: both servers counted, in the CSV and the state file.
    let csv = std::fs::read_to_string(root.join("tokens.csv")).unwrap();
    assert!(
        csv.contains(",boxed,tools/call,read,") && csv.contains(",open,tools/call,read,"),
        "{csv}"
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tokens.json")).unwrap()).unwrap();
    for server in ["boxed", "open"] {
        assert!(
            state["servers"][server]["tools"]["read"]["output"]
                .as_u64()
                .unwrap()
                > 0,
            "{state}"
        );
    }
}
