//! The gateway's protocol edges, driven with raw JSON-RPC lines against the real binary and
//! the bundled example server: bad input, limits, cancellation, timeouts, crashes, sampling,
//! progress, and shutdown.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

const WAIT: Duration = Duration::from_secs(20);

fn started(proxy_extra: &str) -> (tempfile::TempDir, Gateway) {
    let dir = tempfile::tempdir().unwrap();
    let config = example_config(dir.path(), proxy_extra);
    let mut gw = Gateway::start(&config);
    let init = gw.initialize();
    assert_eq!(init["result"]["serverInfo"]["name"], "gatekit", "{init}");
    (dir, gw)
}

fn call_tool(gw: &mut Gateway, id: i64, name: &str, args: Value) -> Value {
    gw.call(id, "tools/call", json!({"name": name, "arguments": args}))
}

#[test]
fn handshake_negotiates_and_lists_are_namespaced() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(&example_config(dir.path(), ""));
    let init = gw.call(1, "initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}));
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    let caps = &init["result"]["capabilities"];
    assert!(
        caps["tools"].is_object() && caps["prompts"].is_object() && caps["resources"].is_object(),
        "{caps}"
    );
    assert!(caps.get("experimental").is_none());

    let again = gw.call(2, "initialize", json!({"protocolVersion": "2025-11-25"}));
    assert_eq!(
        again["error"]["code"], -32600,
        "second initialize is refused: {again}"
    );

    let tools = gw.call(3, "tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"ex__echo") && names.iter().all(|n| n.starts_with("ex__")),
        "{names:?}"
    );
    assert!(tools["result"].get("nextCursor").is_none());

    let bad_cursor = gw.call(4, "tools/list", json!({"cursor": "abc"}));
    assert_eq!(bad_cursor["error"]["code"], -32602);
    assert_eq!(gw.call(5, "ping", json!({}))["result"], json!({}));
    assert_eq!(
        gw.call(6, "no/such/method", json!({}))["error"]["code"],
        -32601
    );
    assert_eq!(
        call_tool(&mut gw, 7, "echo", json!({}))["error"]["code"],
        -32602,
        "un-namespaced name"
    );
    assert_eq!(
        call_tool(&mut gw, 8, "zz__echo", json!({}))["error"]["code"],
        -32602,
        "unknown upstream"
    );
    let upstream_err = call_tool(&mut gw, 9, "ex__nosuch", json!({}));
    assert_eq!(
        upstream_err["error"]["code"], -32602,
        "upstream's own error passes through: {upstream_err}"
    );
    let tool_err = call_tool(&mut gw, 10, "ex__fail", json!({}));
    assert_eq!(
        tool_err["result"]["isError"], true,
        "tool errors pass through untouched"
    );
    // Python Gatekit's prefixed resource URIs still route.
    let read = gw.call(11, "resources/read", json!({"uri": "ex__example://readme"}));
    assert_eq!(
        read["result"]["contents"][0]["uri"], "example://readme",
        "{read}"
    );
    let env = call_tool(&mut gw, 12, "ex__env", json!({"name": "GREETING"}));
    assert_eq!(
        result_text(&env),
        "hello-from-config",
        "per-upstream env reaches the server"
    );
}

#[test]
fn requests_before_initialize_are_refused_but_ping_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(&example_config(dir.path(), ""));
    assert_eq!(gw.call(1, "ping", json!({}))["result"], json!({}));
    let early = gw.call(2, "tools/list", json!({}));
    assert_eq!(early["error"]["code"], -32600, "{early}");
    assert!(early["error"]["message"]
        .as_str()
        .unwrap()
        .contains("initialize"));
}

#[test]
fn malformed_input_gets_errors_and_the_gateway_keeps_serving() {
    let (_dir, mut gw) = started("");
    let cases: [(&[u8], i64, Value); 7] = [
        (b"{not json\n", -32700, Value::Null),
        (b"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"a\",\"result\":1}\n", -32600, json!("x")),
        (b"{\"id\":41,\"method\":\"ping\"}\n", -32600, json!(41)),
        (b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n", -32600, Value::Null),
        (b"{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"ex__echo\",\"arguments\":{\"text\":\"\xff\xfe\"}}}\n", -32700, Value::Null),
        (b"\"just a string\"\n", -32600, Value::Null),
        (b"{\"jsonrpc\":\"2.0\",\"id\":43,\"method\":\"tools/call\",\"params\":[1,2]}\n", -32602, json!(43)),
    ];
    for (input, code, id) in cases {
        gw.send_raw(input);
        let reply = gw.next_message(WAIT);
        assert_eq!(
            reply["error"]["code"],
            code,
            "{} -> {reply}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(reply["id"], id, "{reply}");
    }
    // A lone surrogate escape is JSON syntax but not a string: a clear error, not a hang.
    gw.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":44,\"method\":\"tools/call\",\"params\":{\"name\":\"ex__echo\",\"arguments\":{\"text\":\"a\\ud800b\"}}}\n");
    let reply = gw.response(44);
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("valid strings"),
        "{reply}"
    );
    let echo = call_tool(&mut gw, 50, "ex__echo", json!({"text": "still serving"}));
    assert_eq!(result_text(&echo), "still serving");
}

#[test]
fn oversized_messages_are_rejected_in_both_directions() {
    let (_dir, mut gw) = started("  max_message_size: 1048576\n");
    // From the client: answered with its id, then business as usual.
    let huge = "z".repeat(2 * 1024 * 1024);
    gw.request(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": huge}}),
    );
    let reply = gw.response(1);
    assert_eq!(
        reply["error"]["code"],
        -32600,
        "{}",
        &reply.to_string()[..200.min(reply.to_string().len())]
    );
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_message_size"));
    // From an upstream: that call fails clearly, the upstream is not restarted.
    let pid_before = result_text(&call_tool(&mut gw, 2, "ex__pid", json!({})));
    let big = call_tool(&mut gw, 3, "ex__large", json!({"bytes": 2 * 1024 * 1024}));
    assert_eq!(big["error"]["code"], -32004, "{big}");
    assert_eq!(big["error"]["data"]["error_type"], "oversized_response");
    let pid_after = result_text(&call_tool(&mut gw, 4, "ex__pid", json!({})));
    assert_eq!(
        pid_before, pid_after,
        "an oversized response must not restart the upstream"
    );
    let fits = call_tool(&mut gw, 5, "ex__large", json!({"bytes": 512 * 1024}));
    assert_eq!(result_text(&fits).len(), 512 * 1024);
}

#[test]
fn a_20_mib_response_passes_with_the_default_limit() {
    let (_dir, mut gw) = started("");
    let big = call_tool(&mut gw, 1, "ex__large", json!({"bytes": 20 * 1024 * 1024}));
    assert_eq!(result_text(&big).len(), 20 * 1024 * 1024);
}

#[test]
fn client_cancellation_reaches_the_upstream_and_suppresses_the_response() {
    let (_dir, mut gw) = started("");
    gw.request(
        1,
        "tools/call",
        json!({"name": "ex__slow", "arguments": {"ms": 5000}}),
    );
    // Give the request time to reach the server before cancelling it.
    std::thread::sleep(Duration::from_millis(300));
    gw.notify(
        "notifications/cancelled",
        json!({"requestId": 1, "reason": "user pressed stop"}),
    );
    let stats = call_tool(&mut gw, 2, "ex__stats", json!({}));
    let stats: Value = serde_json::from_str(&result_text(&stats)).unwrap();
    assert_eq!(stats["cancelled"], 1, "the upstream got the cancellation");
    assert!(
        gw.quiet_for(Duration::from_millis(500)).is_none(),
        "no response to a cancelled request"
    );
    // The id may be reused once the request is gone.
    assert_eq!(
        result_text(&call_tool(&mut gw, 1, "ex__echo", json!({"text": "again"}))),
        "again"
    );
}

#[test]
fn request_timeout_cancels_upstream_and_reports_clearly() {
    let (_dir, mut gw) = started("  timeouts: {request_timeout: 0.5}\n");
    let reply = call_tool(&mut gw, 1, "ex__slow", json!({"ms": 3000}));
    assert_eq!(reply["error"]["code"], -32004, "{reply}");
    assert_eq!(reply["error"]["data"]["error_type"], "timeout");
    let stats = call_tool(&mut gw, 2, "ex__stats", json!({}));
    let stats: Value = serde_json::from_str(&result_text(&stats)).unwrap();
    assert_eq!(stats["cancelled"], 1, "the upstream was told to stop");
}

#[test]
fn slow_calls_do_not_block_fast_ones() {
    let (_dir, mut gw) = started("");
    gw.request(
        1,
        "tools/call",
        json!({"name": "ex__slow", "arguments": {"ms": 2000}}),
    );
    gw.request(
        2,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "fast"}}),
    );
    gw.request(3, "tools/list", json!({}));
    gw.request(4, "ping", json!({}));
    let mut order = Vec::new();
    for _ in 0..4 {
        let msg = gw.next_message(WAIT);
        order.push(msg["id"].as_i64().unwrap());
    }
    assert_eq!(
        order.last(),
        Some(&1),
        "the slow call finishes last: {order:?}"
    );
}

#[test]
fn sampling_requests_from_a_server_are_forwarded_and_answered() {
    let (_dir, mut gw) = started("");
    gw.request(
        1,
        "tools/call",
        json!({"name": "ex__sample", "arguments": {"prompt": "2+2?"}}),
    );
    let ask = gw.wait_for(WAIT, |m| m["method"] == "sampling/createMessage");
    let ask_id = ask["id"].clone();
    assert!(
        ask_id.is_i64(),
        "the client sees an id Gatekit assigned: {ask}"
    );
    assert_eq!(ask["params"]["messages"][0]["content"]["text"], "2+2?");
    gw.send(&json!({"jsonrpc": "2.0", "id": ask_id,
        "result": {"role": "assistant", "content": {"type": "text", "text": "four"}, "model": "m"}}));
    assert_eq!(result_text(&gw.response(1)), "model said: four");
}

#[test]
fn progress_notifications_keep_the_clients_token() {
    let (_dir, mut gw) = started("");
    gw.request(1, "tools/call", json!({"name": "ex__progress", "arguments": {"steps": 3}, "_meta": {"progressToken": "tok-9"}}));
    for step in 1..=3 {
        let note = gw.wait_for(WAIT, |m| m["method"] == "notifications/progress");
        assert_eq!(note["params"]["progressToken"], "tok-9");
        assert_eq!(note["params"]["progress"], step);
    }
    assert_eq!(result_text(&gw.response(1)), "3 steps done");
}

#[test]
fn crashed_upstream_fails_in_flight_calls_and_restarts() {
    let (_dir, mut gw) = started("");
    let pid_before: u32 = result_text(&call_tool(&mut gw, 1, "ex__pid", json!({})))
        .parse()
        .unwrap();
    gw.request(
        2,
        "tools/call",
        json!({"name": "ex__slow", "arguments": {"ms": 10000}}),
    );
    std::thread::sleep(Duration::from_millis(200));
    let crash = call_tool(&mut gw, 3, "ex__crash", json!({}));
    assert_eq!(crash["error"]["code"], -32004, "{crash}");
    let in_flight = gw.response(2);
    assert_eq!(
        in_flight["error"]["code"], -32004,
        "in-flight call fails at once: {in_flight}"
    );
    assert_eq!(in_flight["error"]["data"]["error_type"], "exited");
    // The next call waits for the restart and succeeds.
    let pid_after: u32 = result_text(&call_tool(&mut gw, 4, "ex__pid", json!({})))
        .parse()
        .unwrap();
    assert_ne!(pid_before, pid_after);
    assert!(!process_alive(pid_before), "the crashed process was reaped");
}

#[test]
fn eof_shuts_down_and_reaps_upstreams() {
    let (_dir, mut gw) = started("");
    let pid: u32 = result_text(&call_tool(&mut gw, 1, "ex__pid", json!({})))
        .parse()
        .unwrap();
    assert!(process_alive(pid));
    gw.close_stdin();
    assert_eq!(gw.wait_exit(WAIT), Some(0));
    assert!(
        !process_alive(pid),
        "upstream {pid} still running after gatekit exited"
    );
}

#[test]
fn eof_lets_requests_in_flight_finish() {
    let (_dir, mut gw) = started("");
    gw.request(
        1,
        "tools/call",
        json!({"name": "ex__slow", "arguments": {"ms": 300}}),
    );
    gw.close_stdin();
    assert_eq!(result_text(&gw.response(1)), "waited 300 ms");
    assert_eq!(gw.wait_exit(WAIT), Some(0));
}

#[test]
fn sigterm_shuts_down_and_reaps_upstreams() {
    let (_dir, mut gw) = started("");
    let pid: u32 = result_text(&call_tool(&mut gw, 1, "ex__pid", json!({})))
        .parse()
        .unwrap();
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(gw.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(gw.wait_exit(WAIT), Some(0));
    assert!(
        !process_alive(pid),
        "upstream {pid} still running after SIGTERM"
    );
}

#[test]
fn an_upstream_that_cannot_start_is_reported_at_initialize() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "proxy:\n  transport: stdio\n  timeouts: {connection_timeout: 5}\n  upstreams:\n    - name: broken\n      command: [/nonexistent/server]\n      max_restart_attempts: 1\n",
    );
    let mut gw = Gateway::start(&config);
    let init = gw.call(1, "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}));
    assert_eq!(init["error"]["code"], -32004, "{init}");
    let message = init["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("broken") && message.contains("/nonexistent/server"),
        "{message}"
    );
}

#[test]
fn startup_errors_answer_the_first_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "proxy:\n  transport: stdio\n  upstreams: [{name: a, comand: [x]}]\n",
    );
    let mut gw = Gateway::start(&config);
    gw.request(1, "initialize", json!({}));
    let reply = gw.response(1);
    assert_eq!(reply["error"]["code"], -32001, "{reply}");
    assert_eq!(reply["error"]["data"]["error_type"], "configuration_error");
    assert!(reply["error"]["data"]["details"]
        .as_str()
        .unwrap()
        .contains("comand"));
    assert_eq!(gw.wait_exit(WAIT), Some(1));
}

// This test used to pin the refusal of `token_usage` (the only plugin the build lacked). The
// plugin exists now, so a critical `token_usage` starts; an enabled plugin the build cannot run
// is still refused by `gateway_config::plugin_availability`, which no configuration reaches today.
#[test]
fn a_critical_token_usage_plugin_starts_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: ex, command: [{:?}, example-server]}}]\nplugins:\n  auditing:\n    _global:\n      - handler: token_usage\n        config: {{enabled: true, critical: true, output_file: t.csv, state_file: t.json}}\n",
        gatekit().display().to_string()
    );
    let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
    assert!(gw.initialize().get("result").is_some());
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "hi"}}),
    );
    assert_eq!(result_text(&reply), "hi");
    gw.close_stdin();
    assert_eq!(gw.wait_exit(WAIT), Some(0));
    let csv = std::fs::read_to_string(dir.path().join("t.csv")).unwrap();
    assert!(
        csv.starts_with("timestamp,server,method,tool,input_tokens,output_tokens\n"),
        "{csv}"
    );
    assert!(csv.contains(",ex,tools/call,echo,"), "{csv}");
}
