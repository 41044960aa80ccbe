//! The hash chain end to end: a session through the real binary writes a chained JSONL trail
//! and a chained SIEM JSON stream (file destination); `gatekit audit verify` accepts both as
//! written and finds every kind of tampering in each.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::*;

fn session(dir: &Path) {
    let yaml = format!(
        "proxy:
  transport: stdio
  upstreams:
    - name: ex
      command: [{:?}, example-server]
plugins:
  auditing:
    _global:
      - handler: audit_jsonl
        config: {{output_file: audit.jsonl, include_request_body: true, hash_chain: true}}
siem:
  hash_chain: true
  splunk:
    transport: file
    format: json
    file: {{path: siem.jsonl}}
    # The chain covers the event before minimisation: only an unminimised stream verifies
    # (decision 0103).
    data_minimization: {{parameters: full}}
    delivery: {{batch_timeout: 0.05}}
",
        gatekit().display().to_string()
    );
    let mut gw = Gateway::start(&write_config(dir, &yaml));
    let init = gw.initialize();
    assert!(init.get("result").is_some(), "{init}");
    for i in 0..4 {
        let reply = gw.call(
            10 + i,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": format!("call {i} | a=b \\ \n")}}),
        );
        assert!(reply.get("result").is_some(), "{reply}");
    }
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

fn verify(files: &[&Path]) -> (bool, String) {
    let out = Command::new(gatekit())
        .args(["audit", "verify"])
        .args(files)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Each kind of tampering on `original`'s lines, with the problem `audit verify` must name.
fn assert_tampering_found(dir: &Path, original: &[String]) {
    assert!(original.len() >= 4, "{original:?}");
    let mut changed = original.to_vec();
    changed[1] = changed[1].replacen("\"sequence\":", "\"sequence\":1", 1);
    assert_ne!(changed[1], original[1], "the edit must change the line");
    let mut removed = original.to_vec();
    removed.remove(1);
    let mut reordered = original.to_vec();
    reordered.swap(1, 2);
    let mut duplicated = original.to_vec();
    duplicated.insert(2, original[1].clone());
    for (name, tampered, expected) in [
        ("changed", changed, "changed"),
        ("removed", removed, "removed or reordered"),
        ("reordered", reordered, "removed or reordered"),
        ("duplicated", duplicated, "duplicated"),
    ] {
        let path = write(dir, &format!("{name}.jsonl"), &tampered);
        let (ok, out) = verify(&[&path]);
        assert!(!ok, "{name}: tampering not found:\n{out}");
        assert!(
            out.contains(expected) && out.contains(&format!("{name}.jsonl:")),
            "{name}: expected {expected:?} with the file and line in:\n{out}"
        );
    }
}

#[test]
fn audit_verify_accepts_the_chains_as_written_and_finds_tampering() {
    let dir = tempfile::tempdir().unwrap();
    session(dir.path());
    let trail = dir.path().join("audit.jsonl");
    let siem = dir.path().join("siem.jsonl");
    let (ok, out) = verify(&[&trail]);
    assert!(ok, "the JSONL trail did not verify:\n{out}");
    assert!(out.contains("in 1 chain"), "{out}");
    let (ok, out) = verify(&[&siem]);
    assert!(ok, "the SIEM stream did not verify:\n{out}");
    // The SIEM JSON carries the link inside the event, as every format does.
    let first: serde_json::Value = serde_json::from_str(&lines(&siem)[0]).unwrap();
    assert_eq!(
        first["hash_chain"]["prev_hash"],
        gatekit_core::chain::GENESIS
    );
    assert_tampering_found(dir.path(), &lines(&trail));
    assert_tampering_found(dir.path(), &lines(&siem));
}

/// One canonical event per record: the JSONL trail and the SIEM carry the same `event_id`
/// with the same `sequence`, event type and severity.
#[test]
fn the_jsonl_trail_and_the_siem_share_event_ids() {
    let dir = tempfile::tempdir().unwrap();
    session(dir.path());
    let parse = |path: PathBuf| -> Vec<serde_json::Value> {
        lines(&path)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let trail = parse(dir.path().join("audit.jsonl"));
    let siem = parse(dir.path().join("siem.jsonl"));
    assert!(trail.len() >= 8, "{trail:?}");
    for record in &trail {
        let id = record["event_id"].as_str().unwrap();
        let twin = siem
            .iter()
            .find(|e| e["event_id"] == id)
            .unwrap_or_else(|| panic!("event {id} of the JSONL trail is not in the SIEM stream"));
        assert_eq!(twin["sequence"], record["sequence"], "{id}");
        assert_eq!(twin["event_type"], record["event_category"], "{id}");
        assert_eq!(twin["severity"], record["severity"], "{id}");
    }
}

#[test]
fn an_unchained_stream_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain.jsonl", &["{\"a\":1}".to_string()]);
    let (ok, out) = verify(&[&plain]);
    assert!(!ok && out.contains("no hash_chain link"), "{out}");
}
