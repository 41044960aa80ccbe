//! A client that tries to forge lines in Gatekit's own log: hostile tool names, method names,
//! request ids and protocol versions (CR, LF, NUL, ESC, U+2028, quotes) through the real
//! binary, then its stderr (Gatekit's log) is read back line by line.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

/// The line a client would like the operator to read.
const FORGED: &str = "2026-01-01T00:00:00.000000Z ERROR forged: admin token accepted";

#[test]
fn hostile_names_and_ids_cannot_forge_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nplugins:\n  middleware:\n    ex:\n      - handler: tool_manager\n        config: {{tools: [{{tool: echo}}]}}\nlogging:\n  level: DEBUG\n  handlers: [stderr]\n",
        gatekit().display().to_string(),
    );
    let stderr = std::fs::File::create(&log).unwrap();
    let mut gw = Gateway::start_with_stderr_to(&write_config(dir.path(), &yaml), stderr);
    let init = gw.call(
        1,
        "initialize",
        json!({"protocolVersion": format!("1\n{FORGED}"), "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    assert!(init.get("result").is_some(), "{init}");
    let hostile = [
        format!("ex__nope\n{FORGED}"),
        format!("ex__nope\r\n{FORGED}"),
        format!("ex__nope\u{2028}{FORGED}"),
        format!("ex__nope\u{1b}[2K\r{FORGED}\0"),
        format!("ex__nope\" reason=\"ok\n{FORGED}"),
        format!("ex__{}\n{FORGED}", "x".repeat(100_000)),
    ];
    for (i, name) in hostile.iter().enumerate() {
        let id = i64::try_from(i).unwrap() + 2;
        let reply = gw.call(id, "tools/call", json!({"name": name, "arguments": {}}));
        assert!(reply.get("error").is_some(), "{reply}");
    }
    // A hostile method name and a hostile string id, answered with an error.
    gw.send(&json!({"jsonrpc": "2.0", "id": format!("r\n{FORGED}"), "method": format!("no/such\n{FORGED}"), "params": {}}));
    let reply = gw.next_message(Duration::from_secs(20));
    assert!(reply.get("error").is_some(), "{reply}");
    gw.close_stdin();
    gw.wait_exit(Duration::from_secs(20));

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("Plugin blocked a message"),
        "the hostile names were logged: {text}"
    );
    assert_no_forged_line(&text);
}

/// An upstream writing hostile bytes to its stderr (which Gatekit logs) forges nothing either.
#[test]
fn hostile_upstream_stderr_cannot_forge_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let script = format!(
        "printf 'boot\\r{FORGED}\\033[2K\\302\\205{FORGED}\\n' >&2; exec \"$0\" example-server"
    );
    let command =
        serde_json::to_string(&["sh", "-c", &script, &gatekit().display().to_string()]).unwrap();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: {command}\nlogging:\n  level: DEBUG\n  handlers: [stderr]\n"
    );
    let stderr = std::fs::File::create(&log).unwrap();
    let mut gw = Gateway::start_with_stderr_to(&write_config(dir.path(), &yaml), stderr);
    let init = gw.initialize();
    assert!(init.get("result").is_some(), "{init}");
    let reply = gw.call(
        2,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "hi"}}),
    );
    assert!(reply.get("result").is_some(), "{reply}");
    gw.close_stdin();
    gw.wait_exit(Duration::from_secs(20));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("Upstream stderr"),
        "stderr was logged: {text}"
    );
    assert_no_forged_line(&text);
}

fn assert_no_forged_line(text: &str) {
    for (n, line) in text.lines().enumerate() {
        // Every line is one of Gatekit's own: it starts with the subscriber's timestamp, and
        // none is the client's.
        assert!(
            !line.starts_with("2026-01-01T00:00:00.000000Z"),
            "forged line {n}: {line}"
        );
        assert!(
            line.len() > 28 && line.as_bytes()[4] == b'-' && line.as_bytes()[10] == b'T',
            "line {n} does not start with a timestamp: {line:?}"
        );
        assert!(
            !line
                .chars()
                .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
            "raw control character or separator in line {n}: {line:?}"
        );
        // The 100,000-character name is cut.
        assert!(line.len() < 4096, "line {n} is {} bytes", line.len());
    }
    assert!(!text.contains('\r'), "raw CR in the log");
}
