//! The official Python MCP SDK on both sides of Gatekit: its `ClientSession` drives the real
//! `gatekit` binary, in front of a FastMCP server and the bundled example server.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

#[test]
fn python_sdk_client_through_gatekit_to_python_and_example_servers() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    // Written the way a Python Gatekit 0.3 user writes it (proxy / upstreams / timeouts /
    // logging); it must load unchanged.
    let config = write_config(
        dir.path(),
        &format!(
            r#"
proxy:
  transport: stdio
  upstreams:
    - name: py
      command: [{py:?}, {server:?}]
    - name: ex
      command: [{gk:?}, "example-server"]
  timeouts:
    connection_timeout: 30
    request_timeout: 60
logging:
  level: DEBUG
  handlers: [stderr]
"#,
            py = python.display().to_string(),
            server = python_dir()
                .join("mcp_test_server.py")
                .display()
                .to_string(),
            gk = gatekit().display().to_string(),
        ),
    );
    let out = run_python_client("mcp_test_client.py", &config);

    assert_eq!(out["server_name"], "gatekit");
    assert_eq!(out["has_tools_capability"], true);
    let tools: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for want in [
        "py__echo",
        "py__slow",
        "py__big",
        "py__ask_model",
        "ex__echo",
        "ex__sample",
    ] {
        assert!(tools.contains(&want), "{want} missing from {tools:?}");
    }
    assert!(
        tools
            .iter()
            .all(|t| t.starts_with("py__") || t.starts_with("ex__")),
        "{tools:?}"
    );

    assert_eq!(
        out["py_echo"], out["hostile"],
        "hostile argument must round-trip exactly"
    );
    assert_eq!(out["ex_echo"], out["hostile"]);

    assert_eq!(
        out["fast_before_slow"], true,
        "a slow tool must not block other calls: {out}"
    );
    let texts: Vec<&str> = out["concurrent_texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(texts[0], "slept 1.5");
    assert_eq!(texts[1], "waited 1500 ms");
    assert_eq!(&texts[2..], ["fast0", "fast1", "fast2", "fast3", "fast4"]);

    assert_eq!(
        out["py_sampling"], "model said: forty-two",
        "sampling round trip via Python server"
    );
    assert_eq!(
        out["ex_sampling"], "model said: forty-two",
        "sampling round trip via example server"
    );

    assert_eq!(
        out["big_len"],
        20 * 1024 * 1024,
        "a 20 MiB result passes intact"
    );

    let prompts = out["prompts"].to_string();
    assert!(
        prompts.contains("py__review") && prompts.contains("ex__greet"),
        "{prompts}"
    );
    assert_eq!(out["prompt_text"], "Please review: x = 1");
    let resources = out["resources"].to_string();
    assert!(
        resources.contains("pytest://info") && resources.contains("example://readme"),
        "{resources}"
    );
    assert_eq!(out["resource_text"], "python server resource");
    assert_eq!(out["unknown_tool_error"], -32602);

    let crash = &out["crash_error"];
    assert_eq!(
        crash["code"], -32004,
        "in-flight call on a crashed upstream gets -32004: {crash}"
    );
    assert!(
        crash["message"].as_str().unwrap().contains("exited"),
        "{crash}"
    );
    assert_eq!(out["other_upstream_during_restart"], "still here");
    assert!(
        out["pid_after"].is_u64(),
        "the crashed upstream came back: {out}"
    );
    assert_ne!(
        out["pid_before"], out["pid_after"],
        "a new process serves after the restart"
    );
    // The process we killed must be gone, not left as an orphan or zombie.
    let old_pid = u32::try_from(out["pid_before"].as_u64().unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !process_alive(old_pid),
        "crashed upstream {old_pid} was not reaped"
    );
}

#[test]
fn python_sdk_client_sees_plugins_and_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let config = python_plugins_config(
        dir.path(),
        r#"  auditing:
    _global:
      - handler: audit_jsonl
        config: {output_file: audit.jsonl, include_request_body: true, include_response_body: true}
siem:
  platforms:
    azure_sentinel:
      priority: 1
      transport: log_analytics_agent
      format: json
      log_analytics_agent: {path: siem/sentinel.jsonl}
      delivery: {batch_timeout: 0.05}
"#,
    );
    let out = run_python_client("mcp_plugins_client.py", &config);
    assert_eq!(out["tools"], serde_json::json!(["py__pid", "py__say"]));
    assert_eq!(out["redacted"][0], "token [SECRET REDACTED by Gatekit]");
    assert_eq!(out["blocked"]["code"], -32000, "{out}");
    assert_eq!(out["hidden"], -32601);

    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(
        !audit.contains("AKIAIOSFODNN7EXAMPLE") && !audit.contains("123-45-6789"),
        "{audit}"
    );
    let types: Vec<String> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event_type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for want in [
        "REQUEST_MODIFIED",
        "SECURITY_BLOCK",
        "METHOD_NOT_FOUND_ERROR",
    ] {
        assert!(
            types.iter().any(|t| t == want),
            "{want} missing from {types:?}"
        );
    }

    // The same session reached the SIEM destination as canonical events.
    let siem = std::fs::read_to_string(dir.path().join("siem/sentinel.jsonl")).unwrap();
    assert!(
        !siem.contains("AKIAIOSFODNN7EXAMPLE") && !siem.contains("123-45-6789"),
        "{siem}"
    );
    let events: Vec<Value> = siem
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decisions: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "security_decision")
        .collect();
    assert!(
        decisions
            .iter()
            .any(|e| e["security_decision"]["allowed"] == false
                && e["security_decision"]["plugin"] == "basic_pii_filter"),
        "the block is a security_decision: {siem}"
    );
    assert!(
        decisions
            .iter()
            .any(|e| e["security_decision"]["allowed"] == true
                && e["security_decision"]["plugin"] == "basic_secrets_filter"),
        "the redaction is a security_decision: {siem}"
    );
    let calls: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] != "system_event")
        .collect();
    assert!(
        !calls.is_empty()
            && calls
                .iter()
                .all(|e| e["client_info"]["client_id"].is_string()),
        "client identity from initialize: {siem}"
    );
}
