//! `proxy.hot_reload` through the binary: a session keeps running while upstreams are added,
//! removed and a plugin is switched on; a call in flight completes; an invalid file is refused
//! while the old configuration keeps serving; the client gets `list_changed`; every reload is
//! in the audit trail.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

const WAIT: Duration = Duration::from_secs(30);

/// Writes the configuration as editors do (a new file renamed over the old one).
fn write(dir: &Path, upstreams: &[&str], security: &str) {
    let exe = gatekit().display().to_string();
    let ups: String = upstreams
        .iter()
        .map(|n| format!("    - {{name: {n}, command: [{exe:?}, example-server]}}\n"))
        .collect();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  hot_reload: enabled\n  upstreams:\n{ups}plugins:\n{security}  auditing:\n    _global:\n      - handler: audit_jsonl\n        config: {{output_file: audit.jsonl}}\n"
    );
    let tmp = dir.join("gatekit.yaml.tmp");
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, dir.join("gatekit.yaml")).unwrap();
}

fn echo(gw: &mut Gateway, id: i64, upstream: &str, text: &str) -> Value {
    gw.call(
        id,
        "tools/call",
        json!({"name": format!("{upstream}__echo"), "arguments": {"text": text}}),
    )
}

fn list_changed(gw: &mut Gateway) {
    gw.wait_for(WAIT, |m| m["method"] == "notifications/tools/list_changed");
}

fn system_events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event_type"] == "SYSTEM")
        .collect()
}

fn tool_names(gw: &mut Gateway, id: i64) -> Vec<String> {
    let list = gw.call(id, "tools/list", json!({}));
    list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn upstreams_and_plugins_change_under_a_running_session() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &["a"], "");
    let mut gw = Gateway::start(&dir.path().join("gatekit.yaml"));
    let init = gw.initialize();
    assert_eq!(
        init["result"]["capabilities"]["tools"]["listChanged"], true,
        "{init}"
    );
    assert_eq!(result_text(&echo(&mut gw, 1, "a", "before")), "before");

    // A call in flight while upstream `b` and a blocking PII filter are added.
    gw.request(
        2,
        "tools/call",
        json!({"name": "a__slow", "arguments": {"ms": 3000}}),
    );
    let pii = "  security:\n    _global:\n      - handler: basic_pii_filter\n        config: {action: block}\n";
    write(dir.path(), &["a", "b"], pii);
    list_changed(&mut gw);
    assert_eq!(
        result_text(&gw.response(2)),
        "waited 3000 ms",
        "the call in flight completed"
    );
    assert_eq!(
        result_text(&echo(&mut gw, 3, "b", "new upstream")),
        "new upstream"
    );
    let blocked = echo(&mut gw, 4, "a", "mail bob@example.com");
    assert!(
        blocked.get("error").is_some(),
        "the new plugin applies: {blocked}"
    );
    assert!(tool_names(&mut gw, 5).contains(&"b__echo".to_string()));

    // An invalid file: refused, the running configuration keeps serving.
    std::fs::write(
        dir.path().join("gatekit.yaml"),
        "proxy:\n  transport: stdio\n  hot_reload: enabled\n  upstreams: [{name: a, comand: [x]}]\n",
    )
    .unwrap();
    let mut rejected = Vec::new();
    for _ in 0..300 {
        rejected = system_events(dir.path())
            .into_iter()
            .filter(|e| e["action"] == "config_reload_rejected")
            .collect();
        if !rejected.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(rejected.len(), 1, "the rejection is audited");
    assert!(rejected[0]["reason"].as_str().unwrap().contains("comand"));
    assert_eq!(
        result_text(&echo(&mut gw, 6, "b", "still here")),
        "still here"
    );

    // Removing `a` (while a call to it runs) and the plugin.
    gw.request(
        7,
        "tools/call",
        json!({"name": "a__slow", "arguments": {"ms": 3000}}),
    );
    write(dir.path(), &["b"], "");
    list_changed(&mut gw);
    assert_eq!(
        result_text(&gw.response(7)),
        "waited 3000 ms",
        "drained before it stopped"
    );
    let gone = echo(&mut gw, 8, "a", "x");
    assert!(gone.get("error").is_some(), "{gone}");
    assert_eq!(
        tool_names(&mut gw, 9)
            .iter()
            .filter(|n| n.starts_with("a__"))
            .count(),
        0
    );
    assert_eq!(
        result_text(&echo(&mut gw, 10, "b", "mail bob@example.com")),
        "mail bob@example.com",
        "the plugin is off again"
    );
    gw.close_stdin();
    assert_eq!(gw.wait_exit(WAIT), Some(0));

    // No event lost across the reloads: every call has its closing record.
    let records: Vec<Value> = std::fs::read_to_string(dir.path().join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for id in [1, 2, 3, 6, 7, 8, 10] {
        assert!(
            records
                .iter()
                .any(|r| r["request_id"] == id && r.get("response_status").is_some()),
            "no closing record for call {id}"
        );
    }
    assert!(
        records
            .iter()
            .any(|r| r["request_id"] == 4 && r["event_type"] == "SECURITY_BLOCK"),
        "the blocked call is recorded"
    );
    let reloads: Vec<Value> = system_events(dir.path())
        .into_iter()
        .filter(|e| e["action"] == "config_reloaded")
        .collect();
    assert_eq!(reloads.len(), 2, "{reloads:?}");
    assert_eq!(reloads[0]["details"]["added"], json!(["b"]));
    assert_eq!(reloads[0]["details"]["unchanged"], json!(["a"]));
    assert_eq!(reloads[1]["details"]["removed"], json!(["a"]));
}
