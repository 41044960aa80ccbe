//! Audit files through the real binary: hostile content, identity fields, blocked content,
//! the list the client saw, and a full disk.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn start(dir: &Path, plugins: &str) -> Gateway {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nplugins:\n{plugins}",
        gatekit().display().to_string()
    );
    let mut gw = Gateway::start(&write_config(dir, &yaml));
    let init = gw.initialize();
    assert!(init.get("result").is_some(), "{init}");
    gw
}

fn jsonl(dir: &Path, options: &str) -> String {
    let _ = dir;
    format!("  auditing:\n    _global:\n      - handler: audit_jsonl\n        config: {{output_file: audit.jsonl, {options}}}\n")
}

fn finish(mut gw: Gateway) {
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSONL line ({e}): {l}"))
        })
        .collect()
}

#[test]
fn hostile_content_always_yields_valid_jsonl_with_identity_fields() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = start(
        dir.path(),
        &jsonl(
            dir.path(),
            "include_request_body: true, include_response_body: true, max_body_size: 0",
        ),
    );
    let hostile = [
        "line\u{2028}sep\u{2029}para\u{200b}zw",
        "ctrl \u{0}\u{1}\u{7f}\u{1b}[31m \r\n tab\t",
        "quote \" backslash \\ brace } bracket ]",
        "{\"event_type\":\"FORGED\"}\n{\"x\":1}",
    ];
    for (i, text) in hostile.iter().enumerate() {
        let reply = gw.call(
            i as i64 + 1,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": text}}),
        );
        assert_eq!(result_text(&reply), *text);
    }
    let big = "\u{e9}".repeat(512 * 1024); // 1 MiB of two-byte characters
    let reply = gw.call(
        10,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": big}}),
    );
    assert_eq!(result_text(&reply).len(), big.len());
    let bad = gw.call(
        11,
        "tools/call",
        json!({"name": "ex__invalid_utf8", "arguments": {}}),
    );
    assert_eq!(
        result_text(&bad),
        "bad \u{fffd}\u{fffd} bytes",
        "invalid UTF-8 from an upstream is replaced"
    );
    // A lone surrogate escape cannot be inspected or recorded as a string: the call fails
    // clearly (without an audit sink or plugins it would pass through byte for byte).
    let lone = gw.call(
        12,
        "tools/call",
        json!({"name": "ex__lone_surrogate", "arguments": {}}),
    );
    assert_eq!(lone["error"]["code"], -32004, "{lone}");
    assert_eq!(lone["error"]["data"]["error_type"], "invalid_response");
    finish(gw);

    let recs = records(&dir.path().join("audit.jsonl"));
    let kinds: Vec<String> = recs
        .iter()
        .map(|r| format!("{}:{}", r["request_id"], r["event_type"]))
        .collect();
    assert_eq!(
        recs.len(),
        14,
        "a request and a response record per call: {kinds:?}"
    );
    let mut seq = 0;
    for r in &recs {
        for key in [
            "timestamp",
            "event_type",
            "event_id",
            "session_id",
            "host",
            "gateway_version",
            "schema_version",
            "severity",
            "method",
            "server_name",
            "pipeline_outcome",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert_eq!(r["client_info"]["client_id"], "raw-test-client");
        assert_eq!(r["session_id"], recs[0]["session_id"]);
        let s = r["sequence"].as_u64().unwrap();
        assert!(s > seq, "sequence increases");
        seq = s;
    }
    assert_eq!(recs[0]["event_type"], "REQUEST");
    assert_eq!(recs[1]["event_type"], "RESPONSE");
    assert_eq!(recs[0]["namespaced_tool"], "ex__echo");
    for (i, text) in hostile.iter().enumerate() {
        assert_eq!(
            recs[2 * i]["request_body"]["arguments"]["text"],
            *text,
            "request body round-trips"
        );
        assert_eq!(
            recs[2 * i + 1]["response_body"]["content"][0]["text"],
            *text
        );
    }
    let ids: std::collections::HashSet<&str> = recs
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), recs.len(), "event ids are unique");
}

#[test]
fn blocked_content_is_never_written_and_redacted_content_is_written_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = format!(
        "  security:\n    _global:\n      - handler: basic_pii_filter\n        config: {{action: block, pii_types: {{email: {{enabled: false}}}}}}\n      - handler: basic_secrets_filter\n        config: {{action: redact}}\n{}",
        jsonl(dir.path(), "include_request_body: true, include_response_body: true")
    );
    let mut gw = start(dir.path(), &plugins);
    let blocked = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "ssn 123-45-6789"}}),
    );
    assert_eq!(blocked["error"]["code"], -32000);
    let redacted = gw.call(
        2,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "key AKIAIOSFODNN7EXAMPLE"}}),
    );
    assert_eq!(result_text(&redacted), "key [SECRET REDACTED by Gatekit]");
    finish(gw);

    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(
        !text.contains("123-45-6789"),
        "blocked PII leaked into the audit file"
    );
    assert!(
        !text.contains("AKIAIOSFODNN7EXAMPLE"),
        "redacted secret leaked into the audit file"
    );
    let recs = records(&dir.path().join("audit.jsonl"));
    let block = &recs[0];
    assert_eq!(block["event_type"], "SECURITY_BLOCK");
    assert_eq!(block["pipeline_outcome"], "blocked");
    assert_eq!(block["pipeline"]["blocked_at_stage"], "basic_pii_filter");
    assert!(block.get("request_body").is_none());
    assert_eq!(block["severity"], "warning");
    let modified = &recs[1];
    assert_eq!(modified["event_type"], "REQUEST_MODIFIED");
    assert_eq!(
        modified["request_body"]["arguments"]["text"],
        "key [SECRET REDACTED by Gatekit]"
    );
    assert!(modified["reason"]
        .as_str()
        .unwrap()
        .contains("[basic_secrets_filter] redacted aws_access_keys x1"));
}

#[test]
fn the_list_the_client_received_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = format!(
        "  middleware:\n    ex:\n      - handler: tool_manager\n        config: {{tools: [{{tool: echo, display_name: say}}]}}\n{}",
        jsonl(dir.path(), "include_response_body: true")
    );
    let mut gw = start(dir.path(), &plugins);
    gw.call(1, "tools/list", json!({}));
    finish(gw);
    let recs = records(&dir.path().join("audit.jsonl"));
    let list = recs
        .iter()
        .find(|r| r["method"] == "tools/list")
        .expect("tools/list audited");
    let names: Vec<&str> = list["response_body"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ex__say"]);
}

#[test]
fn csv_and_human_readable_files_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = "  auditing:\n    _global:\n      - handler: audit_csv\n        config: {output_file: audit.csv}\n      - handler: audit_human_readable\n        config: {output_file: audit.log}\n";
    let mut gw = start(dir.path(), plugins);
    gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "a,b\nc"}}),
    );
    gw.call(
        2,
        "tools/call",
        json!({"name": "ex__nosuch", "arguments": {}}),
    );
    finish(gw);
    let csv = std::fs::read_to_string(dir.path().join("audit.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "timestamp,event_type,request_id,server_name,method,tool,pipeline_outcome,security_evaluated,modified,reason,duration_ms,response_status,error_code,error_message,error_classification");
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[4].contains("INVALID_PARAMS_ERROR"), "{}", lines[4]);
    let log = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert_eq!(log.lines().count(), 4, "{log}");
    assert!(
        log.lines()
            .next()
            .unwrap()
            .contains("REQUEST: tools/call - ex - echo - NO_SECURITY"),
        "{log}"
    );
}

#[test]
fn a_critical_audit_file_that_cannot_write_refuses_calls_until_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("audit.jsonl");
    std::os::unix::fs::symlink("/dev/full", &link).unwrap();
    let mut gw = start(dir.path(), &jsonl(dir.path(), "fsync: never"));
    let refused = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "x"}}),
    );
    assert_eq!(refused["error"]["code"], -32005, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No space left"),
        "{refused}"
    );
    let list = gw.call(2, "tools/list", json!({}));
    assert!(
        list["result"]["tools"].is_array(),
        "lists still work: {list}"
    );
    // Space comes back: point the file somewhere writable.
    std::fs::remove_file(&link).unwrap();
    let real = dir.path().join("real.jsonl");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let ok = gw.call(
        3,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "back"}}),
    );
    assert_eq!(result_text(&ok), "back", "{ok}");
    finish(gw);
    let recs = records(&real);
    assert!(
        recs.iter().any(|r| r["request_id"] == 3),
        "the call after recovery is audited"
    );
}

#[test]
fn a_non_critical_audit_file_that_cannot_write_counts_and_lets_calls_through() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = "  auditing:\n    _global:\n      - handler: audit_jsonl\n        config: {output_file: /dev/full, critical: false}\nlogging:\n  level: WARNING\n  handlers: [file]\n  file_path: gatekit.log\n";
    let mut gw = start(dir.path(), plugins);
    for id in 1..=3 {
        let reply = gw.call(
            id,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": "through"}}),
        );
        assert_eq!(result_text(&reply), "through");
    }
    finish(gw);
    let log = std::fs::read_to_string(dir.path().join("gatekit.log")).unwrap();
    assert!(
        log.contains("Non-critical audit destination lost a record"),
        "{log}"
    );
    assert!(
        log.contains("lost=6"),
        "a request and a response record per call are counted: {log}"
    );
}

#[test]
fn a_cancelled_call_is_closed_in_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = start(dir.path(), &jsonl(dir.path(), "fsync: never"));
    gw.request(
        1,
        "tools/call",
        json!({"name": "ex__slow", "arguments": {"ms": 5000}}),
    );
    std::thread::sleep(Duration::from_millis(300));
    gw.notify(
        "notifications/cancelled",
        json!({"requestId": 1, "reason": "stop"}),
    );
    assert_eq!(
        result_text(&gw.call(
            2,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": "x"}})
        )),
        "x"
    );
    finish(gw);
    let recs = records(&dir.path().join("audit.jsonl"));
    let ends: Vec<&Value> = recs
        .iter()
        .filter(|r| r["request_id"] == 1 && r["response_status"] == "error")
        .collect();
    assert_eq!(ends.len(), 1, "{recs:?}");
    assert_eq!(ends[0]["error_message"], "cancelled by the client");
    assert_eq!(ends[0]["server_name"], "ex");
}

/// Python Gatekit's per-upstream audit scopes: an upstream's entry replaces the global entry
/// of the same handler for that upstream; other upstreams keep the global one; an entry of
/// another handler under an upstream adds to the global ones.
#[test]
fn per_upstream_audit_entries_replace_the_global_entry_of_the_same_handler() {
    let dir = tempfile::tempdir().unwrap();
    let exe = gatekit().display().to_string();
    let upstreams = ["ex", "other", "quiet"]
        .map(|n| format!("    - {{name: {n}, command: [{exe:?}, example-server]}}\n"))
        .concat();
    let yaml = [
        "proxy:\n  transport: stdio\n  upstreams:\n",
        &upstreams,
        "plugins:\n  auditing:\n    _global:\n",
        "      - handler: audit_jsonl\n        config: {output_file: global.jsonl}\n",
        "    other:\n",
        "      - handler: audit_jsonl\n        config: {output_file: other.jsonl, include_request_body: true}\n",
        "      - handler: audit_human_readable\n        config: {output_file: other.log}\n",
        "    quiet:\n",
        "      - handler: audit_jsonl\n        config: {enabled: false}\n",
    ]
    .concat();
    let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
    assert!(gw.initialize().get("result").is_some());
    for (id, upstream) in [(1, "ex"), (2, "other"), (3, "quiet")] {
        let reply = gw.call(
            id,
            "tools/call",
            json!({"name": format!("{upstream}__echo"), "arguments": {"text": upstream}}),
        );
        assert_eq!(result_text(&reply), upstream);
    }
    finish(gw);

    let servers = |file: &str| -> Vec<String> {
        records(&dir.path().join(file))
            .iter()
            .filter(|r| r["method"] == "tools/call")
            .map(|r| r["server_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        servers("global.jsonl"),
        ["ex", "ex"],
        "`other` and `quiet` replaced it"
    );
    assert_eq!(servers("other.jsonl"), ["other", "other"]);
    let other = records(&dir.path().join("other.jsonl"));
    assert_eq!(other[0]["request_body"]["arguments"]["text"], "other");
    let human = std::fs::read_to_string(dir.path().join("other.log")).unwrap();
    assert!(
        human.lines().count() >= 2 && !human.contains(" ex "),
        "{human}"
    );
}

/// Every request the gateway answers leaves a record, including the ones it refuses itself:
/// a call before `initialize`, an unknown method, invalid params (a lone UTF-16 surrogate), a
/// duplicate id, an unparsable frame, an invalid request and an oversized frame. Each record
/// carries the error the client received; the SIEM gets the same records.
#[test]
fn requests_the_gateway_refuses_itself_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  max_message_size: 65536\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nplugins:\n{}siem:\n  splunk: {{transport: file, format: json, file: {{path: siem.jsonl}}, delivery: {{batch_timeout: 0.05}}}}\n",
        gatekit().display().to_string(),
        jsonl(dir.path(), "include_request_body: true"),
    );
    let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
    // Before initialize.
    let early = gw.call(1, "tools/list", json!({}));
    assert_eq!(early["error"]["code"], -32600, "{early}");
    let init = gw.initialize();
    assert!(init.get("result").is_some(), "{init}");
    let unknown = gw.call(2, "no/such/method", json!({}));
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    // A lone surrogate in an argument: invalid params.
    gw.send_raw(
        br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ex__echo","arguments":{"text":"\ud800"}}}"#,
    );
    gw.send_raw(b"\n");
    let surrogate = gw.response(3);
    assert_eq!(surrogate["error"]["code"], -32602, "{surrogate}");
    // Two requests with one id while the first is in flight.
    gw.request(
        4,
        "tools/call",
        json!({"name": "ex__slow", "arguments": {"ms": 400}}),
    );
    gw.request(
        4,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "dup"}}),
    );
    // Not JSON; a request without a method; an oversized frame.
    gw.send_raw(b"{not json\n");
    gw.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":5}\n");
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{{\"name\":\"ex__echo\",\"arguments\":{{\"text\":\"{}\"}}}}}}\n",
        "x".repeat(70_000)
    );
    gw.send_raw(big.as_bytes());
    assert_eq!(gw.response(6)["error"]["code"], -32600);
    std::thread::sleep(Duration::from_millis(600));
    finish(gw);
    let recs = records(&dir.path().join("audit.jsonl"));
    let errors: Vec<(Value, i64)> = recs
        .iter()
        .filter_map(|r| Some((r["request_id"].clone(), r["error_code"].as_i64()?)))
        .collect();
    for (id, code) in [
        (1, -32600),
        (2, -32601),
        (3, -32602),
        (4, -32600),
        (6, -32600),
    ] {
        assert!(
            errors.contains(&(json!(id), code)),
            "no record of request {id} answered {code}: {errors:?}"
        );
    }
    assert!(
        errors
            .iter()
            .filter(|(_, c)| *c == -32700 || *c == -32600)
            .count()
            >= 5,
        "the unparsable frame and the invalid request are recorded too: {errors:?}"
    );
    let siem = std::fs::read_to_string(dir.path().join("siem.jsonl")).unwrap();
    for record in recs.iter().filter(|r| r["error_code"].is_i64()) {
        let id = record["event_id"].as_str().unwrap();
        assert!(siem.contains(id), "record {id} did not reach the SIEM");
    }
}

/// A call refused because a critical audit file cannot write is still recorded by the
/// destinations that work (here the SIEM), with the -32005 the client received.
#[test]
fn a_refusal_for_a_failed_audit_file_reaches_the_destinations_that_work() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("audit.jsonl")).unwrap();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nplugins:\n{}siem:\n  splunk: {{transport: file, format: json, file: {{path: siem.jsonl}}, delivery: {{batch_timeout: 0.05}}}}\n",
        gatekit().display().to_string(),
        jsonl(dir.path(), "fsync: never"),
    );
    let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
    assert!(gw.initialize().get("result").is_some());
    let refused = gw.call(
        7,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "x"}}),
    );
    assert_eq!(refused["error"]["code"], -32005, "{refused}");
    std::thread::sleep(Duration::from_millis(300));
    gw.close_stdin();
    let _ = gw.wait_exit(Duration::from_secs(20));
    let siem = std::fs::read_to_string(dir.path().join("siem.jsonl")).unwrap();
    assert!(
        siem.lines()
            .any(|l| l.contains("\"correlation_id\":\"7\"") && l.contains("-32005")),
        "the refusal is not in the SIEM stream:\n{siem}"
    );
}
