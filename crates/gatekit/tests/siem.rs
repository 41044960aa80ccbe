//! SIEM delivery end to end: a client calls tools through the real binary; events arrive in
//! files (Splunk Universal Forwarder, Azure Monitor Agent) and at a real rsyslog over TCP and
//! UDP (QRadar syslog transports) in LEEF 2.0 inside RFC 5424; a hostile argument forges
//! nothing.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

#[path = "../../gatekit-format/tests/common/peers.rs"]
#[allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]
mod peers;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

const HOSTILE: &str = "x^usrName=forged|LEEF:2.0|evil\ncat=injected\u{2028}=|\\";

fn start(dir: &Path, siem: &str) -> Gateway {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n{siem}",
        gatekit().display().to_string()
    );
    let mut gw = Gateway::start(&write_config(dir, &yaml));
    let init = gw.initialize();
    assert!(init.get("result").is_some(), "{init}");
    gw
}

fn session(gw: &mut Gateway) {
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": HOSTILE}}),
    );
    assert_eq!(result_text(&reply), HOSTILE);
    let unknown = gw.call(
        2,
        "tools/call",
        json!({"name": "ex__nosuch", "arguments": {}}),
    );
    assert_eq!(unknown["error"]["code"], -32602);
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Start-up warnings (these tests send `parameters: full`, which is one) are announced
        // as system events of their own; the tests count the session's records.
        let lines: Vec<String> = text
            .lines()
            .filter(|l| !l.contains("configuration warning: "))
            .map(str::to_string)
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} has {} of {n} lines:\n{text}",
            path.display(),
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn file_destinations_get_one_event_per_line() {
    let dir = tempfile::tempdir().unwrap();
    // `parameters: full`: this test is about hostile argument text crossing each format
    // intact (the default sends parameter names only, decision 0103).
    let siem = "  splunk:\n    transport: file\n    format: cef\n    file: {path: splunk.cef}\n    data_minimization: {parameters: full}\n    delivery: {batch_timeout: 0.1}\n  platforms:\n    azure_sentinel:\n      priority: 2\n      transport: log_analytics_agent\n      format: json\n      log_analytics_agent: {path: ama/gatekit.jsonl}\n      data_minimization: {parameters: full}\n      delivery: {batch_timeout: 0.1}\n";
    let mut gw = start(dir.path(), siem);
    session(&mut gw);

    // Start and stop system events around a request and a response for each call (the
    // upstream answers the unknown tool itself).
    let all = wait_lines(&dir.path().join("splunk.cef"), 6);
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(
        all[0].contains("|system_event|") && all[0].contains("started"),
        "{}",
        all[0]
    );
    assert!(
        all[5].contains("|system_event|") && all[5].contains("stopping"),
        "{}",
        all[5]
    );
    let cef: Vec<String> = all[1..5].to_vec();
    assert!(
        cef.iter()
            .all(|l| l.starts_with("CEF:0|Gatekit|Gatekit MCP Gateway|")),
        "{cef:?}"
    );
    assert!(cef[0].contains("requestMethod=tools/call"), "{}", cef[0]);
    assert!(
        cef[0].contains("\\n"),
        "the newline in the argument is escaped: {}",
        cef[0]
    );
    assert!(
        cef.iter().all(|l| l.matches("CEF:0|").count() == 1),
        "no forged record: {cef:?}"
    );

    let json = wait_lines(&dir.path().join("ama/gatekit.jsonl"), 6);
    let events: Vec<Value> = json[1..5]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event_type"], "mcp_request");
    assert_eq!(events[0]["mcp_data"]["tool_name"], "echo");
    assert_eq!(
        events[0]["mcp_data"]["parameters"]["text"], HOSTILE,
        "arguments round-trip exactly"
    );
    assert_eq!(events[1]["event_type"], "mcp_response");
    assert_eq!(events[2]["event_type"], "mcp_request");
    assert_eq!(events[3]["event_type"], "error_event");
    assert_eq!(events[3]["error"]["code"], -32602);
    assert_eq!(events[0]["client_info"]["client_id"], "raw-test-client");
    assert_eq!(events[0]["session_id"], events[3]["session_id"]);
    // The same event carries the same id in every destination.
    assert!(
        cef[0].contains(events[0]["event_id"].as_str().unwrap()),
        "{}",
        cef[0]
    );
}

const RSYSLOG: &str = r#"
global(workDirectory="@DIR@" processInternalMessages="on" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" port="@TCP@" address="127.0.0.1" ruleset="r")
input(type="imudp" port="@UDP@" address="127.0.0.1" ruleset="r")
template(name="fields" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="input" name="inputname" format="jsonf")
}
ruleset(name="r") {
  action(type="omfile" file="@DIR@/fields.json" template="fields")
}
"#;

/// LEEF 2.0 attributes as QRadar would split them: header fields by `|`, attributes by the
/// delimiter declared in header field 6.
fn leef_attributes(msg: &str) -> (Vec<&str>, std::collections::HashMap<&str, &str>) {
    // Under an RFC 3164 header (the default on plain TCP/UDP), rsyslog's `msg` starts with
    // the space that follows the TAG's colon.
    let msg = msg.strip_prefix(' ').unwrap_or(msg);
    let parts: Vec<&str> = msg.splitn(7, '|').collect();
    assert_eq!(parts[0], "LEEF:2.0", "{msg}");
    assert_eq!(parts[5], "^", "{msg}");
    let attrs = parts[6]
        .split('^')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    (parts, attrs)
}

#[test]
fn qradar_leef_reaches_rsyslog_over_tcp_and_udp() {
    let tcp = peers::free_port();
    let udp = peers::free_port();
    let config = RSYSLOG
        .replace("@TCP@", &tcp.to_string())
        .replace("@UDP@", &udp.to_string());
    let mut daemon = peers::start_rsyslog_with(&config, &[], &[tcp]);
    for (transport, port) in [("syslog_tcp", tcp), ("syslog_udp", udp)] {
        let dir = tempfile::tempdir().unwrap();
        let siem = format!(
            "  qradar:\n    transport: {transport}\n    format: leef\n    syslog: {{host: 127.0.0.1, port: {port}, facility: local3, severity: info}}\n    dsm: {{log_source_identifier: gk-test-01}}\n    delivery: {{batch_timeout: 0.1}}\n"
        );
        let mut gw = start(dir.path(), &siem);
        session(&mut gw);
    }
    let out = daemon.dir.path().join("fields.json");
    let all = peers::wait_for_json_lines(&mut daemon, &out, 12);
    assert_eq!(all.len(), 12, "{all:?}");
    // Drop the start and stop system events of each session.
    let records: Vec<&Value> = all
        .iter()
        .filter(|r| !r["msg"].as_str().unwrap().contains("|system_event|"))
        .collect();
    assert_eq!(records.len(), 8, "{records:?}");
    for r in &records {
        assert_eq!(
            r["hostname"], "gk-test-01",
            "QRadar's log source identifier is the HOSTNAME"
        );
        assert_eq!(r["app"], "gatekit");
        // Plain TCP/UDP to QRadar is the requirements' "traditional syslog (RFC3164)":
        // rsyslog's protocol-version 0 is the RFC 3164 header.
        assert_eq!(r["version"], "0", "RFC 3164 by default on {}", r["input"]);
        let pri: u32 = r["pri"].as_str().unwrap().parse().unwrap();
        assert_eq!(pri / 8, 19, "facility local3");
        assert_eq!(
            pri % 8,
            6,
            "configured severity info for every event (errors included)"
        );
        // rsyslog keeps the space after the RFC 3164 TAG's colon in `msg`.
        let msg = r["msg"].as_str().unwrap().strip_prefix(' ').unwrap();
        assert!(
            !msg.contains('\n') && msg.starts_with("LEEF:2.0|Gatekit|"),
            "one record: {msg}"
        );
        let (_, attrs) = leef_attributes(msg);
        assert!(
            attrs["cat"] == "mcp_request"
                || attrs["cat"] == "mcp_response"
                || attrs["cat"] == "error_event",
            "{msg}"
        );
        // Events now carry the real user (`usrName`), so the check is that the argument's
        // `usrName=forged` never became the attribute's value.
        assert!(
            attrs
                .get("usrName")
                .is_none_or(|u| !u.starts_with("forged")),
            "the argument cannot forge an attribute: {msg}"
        );
    }
    let (header, attrs) = leef_attributes(records[0]["msg"].as_str().unwrap());
    assert_eq!(header[1], "Gatekit");
    assert_eq!(attrs["toolNs"], "ex__echo");
    let inputs: Vec<&str> = records
        .iter()
        .map(|r| r["input"].as_str().unwrap())
        .collect();
    assert!(
        inputs.contains(&"imtcp") && inputs.contains(&"imudp"),
        "{inputs:?}"
    );
}

#[test]
fn an_ariel_search_endpoint_refuses_to_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: ex, command: [{:?}, example-server]}}]\nsiem:\n  qradar:\n    transport: rest_api\n    rest_api: {{endpoint: \"https://qradar.example.com/api/ariel/events\"}}\n",
        gatekit().display().to_string()
    );
    let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
    gw.request(1, "initialize", json!({}));
    let reply = gw.response(1);
    assert_eq!(reply["error"]["code"], -32001, "{reply}");
    let details = reply["error"]["data"]["details"].as_str().unwrap();
    assert!(
        details.contains("siem.qradar.rest_api.endpoint") && details.contains("search API"),
        "{details}"
    );
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(1));
}

#[test]
fn siem_test_reports_each_platform() {
    let dir = tempfile::tempdir().unwrap();
    let closed = peers::free_port();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: ex, command: [x]}}]\nsiem:\n  splunk: {{transport: file, format: cef, file: {{path: out.cef}}}}\n  qradar: {{transport: syslog_tcp, syslog: {{host: 127.0.0.1, port: {closed}}}}}\n"
    );
    let config = write_config(dir.path(), &yaml);
    let out = std::process::Command::new(gatekit())
        .args(["siem", "test", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "one platform failed: {stdout}");
    assert!(
        stdout.contains("splunk") && stdout.contains("delivered via file:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("qradar") && stdout.contains("FAILED") && stdout.contains("cannot connect"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(dir.path().join("out.cef")).unwrap();
    assert!(
        written.starts_with("CEF:0|Gatekit|") && written.contains("connectivity test"),
        "{written}"
    );
}

#[test]
fn siem_load_reports_throughput_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "proxy:\n  transport: stdio\n  upstreams: [{name: ex, command: [x]}]\nsiem:\n  splunk: {transport: file, format: json, file: {path: out.jsonl}, delivery: {overflow: block, batch_timeout: 0.05}}\n";
    let config = write_config(dir.path(), yaml);
    let out = std::process::Command::new(gatekit())
        .args(["siem", "load", "--events", "2000", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("dropped 0 dead-lettered 0"), "{stdout}");
    assert!(
        stdout.contains("events/s")
            && stdout.contains("p99")
            && stdout.contains("CPU-seconds per million"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    let load_events = text
        .lines()
        .filter(|l| l.contains("\"event_type\":\"mcp_request\""))
        .count();
    assert_eq!(load_events, 2000, "every synthetic event was delivered");
}

#[test]
fn a_receiver_that_is_down_for_a_while_loses_nothing() {
    let port = peers::free_port();
    let dir = tempfile::tempdir().unwrap();
    let buffer = dir.path().join("buffer");
    let siem = format!(
        "  qradar:\n    transport: syslog_tcp\n    format: leef\n    syslog: {{host: 127.0.0.1, port: {port}}}\n    delivery:\n      batch_timeout: 0.05\n      retry_attempts: 1000\n      retry_initial_delay: 0.05\n      retry_max_delay: 0.2\n      breaker: {{open_for: 0.2}}\n      disk: {{path: {:?}}}\n",
        buffer.display().to_string()
    );
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n{siem}",
        gatekit().display().to_string()
    );
    let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
    assert!(gw.initialize().get("result").is_some());
    // Nothing listens yet: calls still succeed (the request path never waits on the SIEM).
    for id in 1..=20 {
        let reply = gw.call(
            id,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": format!("call {id}")}}),
        );
        assert_eq!(result_text(&reply), format!("call {id}"));
    }
    std::thread::sleep(Duration::from_millis(300));
    // The receiver comes up; the backlog drains by itself.
    let config = RSYSLOG
        .replace("@TCP@", &port.to_string())
        .replace("@UDP@", &peers::free_port().to_string());
    let mut daemon = peers::start_rsyslog_with(&config, &[], &[port]);
    let out = daemon.dir.path().join("fields.json");
    let records = peers::wait_for_json_lines(&mut daemon, &out, 41);
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
    let mut ids: Vec<String> = records
        .iter()
        .filter(|r| !r["msg"].as_str().unwrap().contains("|system_event|"))
        .map(|r| {
            let msg = r["msg"].as_str().unwrap();
            leef_attributes(msg).1["eventId"].to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        40,
        "every event of the 20 calls arrived (duplicates allowed, none missing)"
    );
}

#[test]
fn gatekit_killed_with_a_backlog_delivers_it_after_a_restart() {
    let port = peers::free_port();
    let dir = tempfile::tempdir().unwrap();
    let buffer = dir.path().join("buffer");
    let siem = format!(
        "  qradar:\n    transport: syslog_tcp\n    format: leef\n    syslog: {{host: 127.0.0.1, port: {port}}}\n    delivery:\n      batch_timeout: 0.05\n      retry_attempts: 1000\n      retry_initial_delay: 0.05\n      retry_max_delay: 0.2\n      breaker: {{open_for: 0.2}}\n      disk: {{path: {:?}, fsync: always}}\n",
        buffer.display().to_string()
    );
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n{siem}",
        gatekit().display().to_string()
    );
    let config = write_config(dir.path(), &yaml);
    // First run: the receiver is down; events pile up on disk; then gatekit is killed.
    let mut gw = Gateway::start(&config);
    assert!(gw.initialize().get("result").is_some());
    for id in 1..=10 {
        let reply = gw.call(
            id,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": format!("backlog {id}")}}),
        );
        assert_eq!(result_text(&reply), format!("backlog {id}"));
    }
    std::thread::sleep(Duration::from_millis(400));
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    // Second run: the receiver is up; the backlog is delivered by itself.
    let config_text = RSYSLOG
        .replace("@TCP@", &port.to_string())
        .replace("@UDP@", &peers::free_port().to_string());
    let mut daemon = peers::start_rsyslog_with(&config_text, &[], &[port]);
    let mut gw = Gateway::start(&config);
    assert!(gw.initialize().get("result").is_some());
    let out = daemon.dir.path().join("fields.json");
    let records = peers::wait_for_json_lines(&mut daemon, &out, 21);
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
    let texts: std::collections::HashSet<String> = records
        .iter()
        .filter_map(|r| {
            let msg = r["msg"].as_str().unwrap();
            msg.contains("|mcp_response|")
                .then(|| leef_attributes(msg).1["correlationId"].to_string())
        })
        .collect();
    assert_eq!(
        texts.len(),
        10,
        "all ten responses of the killed run arrived: {records:?}"
    );
}

#[test]
fn a_slow_receiver_never_slows_tool_calls() {
    // A receiver that accepts and then reads nothing until the test says so: the tool calls
    // must all complete while it is stalled (no timing involved), and every event must arrive
    // once it reads.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let _ = go_rx.recv();
        let mut got = String::new();
        use std::io::Read;
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 65536];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
            if got.matches("|mcp_response|").count() >= 200 {
                break;
            }
        }
        let _ = tx.send(got);
    });
    let dir = tempfile::tempdir().unwrap();
    let siem = format!("  qradar:\n    transport: syslog_tcp\n    format: leef\n    syslog: {{host: 127.0.0.1, port: {port}}}\n    delivery: {{batch_timeout: 0.05, buffer_size: 10000}}\n");
    let mut gw = start(dir.path(), &siem);
    for id in 1..=200 {
        // 2 KB arguments: 800 KB of events in all, more than the socket buffers hold.
        let reply = gw.call(
            id,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": "x".repeat(2000)}}),
        );
        assert!(reply.get("result").is_some());
    }
    go_tx.send(()).unwrap();
    let got = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(
        got.matches("|mcp_response|").count(),
        200,
        "every event arrives once the receiver reads"
    );
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn trouble_with_one_destination_is_reported_to_the_others() {
    let closed = peers::free_port();
    let dir = tempfile::tempdir().unwrap();
    let siem = format!(
        "  monitor_interval: 0.2\n  splunk: {{transport: file, format: json, file: {{path: splunk.jsonl}}, delivery: {{batch_timeout: 0.05}}}}\n  qradar:\n    transport: syslog_tcp\n    syslog: {{host: 127.0.0.1, port: {closed}}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05, retry_max_delay: 0.1, retry_attempts: 1000, shutdown_timeout: 0.5}}\n"
    );
    let mut gw = start(dir.path(), &siem);
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "hello"}}),
    );
    assert_eq!(result_text(&reply), "hello");
    let path = dir.path().join("splunk.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("qradar is unreachable")) {
            break serde_json::from_str::<Value>(line).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no system_event about qradar in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(event["event_type"], "system_event");
    assert_eq!(event["severity"], "warning");
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(30)), Some(0));
}

#[test]
fn server_notifications_become_audit_events() {
    let dir = tempfile::tempdir().unwrap();
    let siem = "  azure_sentinel: {transport: log_analytics_agent, format: json, log_analytics_agent: {path: s.jsonl}, delivery: {batch_timeout: 0.05}}\n";
    let mut gw = start(dir.path(), siem);
    gw.request(1, "tools/call", json!({"name": "ex__progress", "arguments": {"steps": 2}, "_meta": {"progressToken": "t1"}}));
    assert_eq!(result_text(&gw.response(1)), "2 steps done");
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
    let text = std::fs::read_to_string(dir.path().join("s.jsonl")).unwrap();
    let notes: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event_type"] == "audit_event")
        .collect();
    assert_eq!(notes.len(), 2, "{text}");
    assert_eq!(notes[0]["mcp_data"]["method"], "notifications/progress");
    assert_eq!(notes[0]["upstream_server"]["name"], "ex");
    // All six event types can now be seen across the suite; here four of them.
    let types: std::collections::HashSet<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event_type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for t in ["system_event", "mcp_request", "mcp_response", "audit_event"] {
        assert!(types.contains(t), "{t} missing: {types:?}");
    }
}

/// SIGHUP, SIGINT and SIGTERM each stop the gateway with its SIEM queue flushed: events
/// queued for a destination that batches slowly reach it before the process exits (SIGHUP's
/// default action used to kill the process with them still queued).
#[test]
fn every_stop_signal_flushes_queued_events() {
    for signal in ["HUP", "INT", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!(
            "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n  splunk: {{transport: file, format: json, file: {{path: out.jsonl}}, data_minimization: {{parameters: full}}, delivery: {{batch_mode: fixed, batch_timeout: 30, batch_size: 1000}}}}\n",
            gatekit().display().to_string()
        );
        let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
        let init = gw.initialize();
        assert!(init.get("result").is_some(), "{init}");
        for i in 0..5 {
            let reply = gw.call(
                10 + i,
                "tools/call",
                json!({"name": "ex__echo", "arguments": {"text": format!("queued {i}")}}),
            );
            assert!(reply.get("result").is_some(), "{reply}");
        }
        // Nothing is written yet: the batch waits for 30 s or 1000 events.
        let before = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap_or_default();
        assert!(!before.contains("queued 0"), "{signal}: flushed early");
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(gw.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0), "{signal}");
        let out = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap_or_default();
        for i in 0..5 {
            assert!(
                out.contains(&format!("queued {i}")),
                "SIG{signal}: event of call {i} lost:\n{out}"
            );
        }
    }
}

#[test]
fn sentinel_syslog_reaches_rsyslog_as_key_value_pairs_for_the_syslog_table() {
    let tcp = peers::free_port();
    let udp = peers::free_port();
    let config = RSYSLOG
        .replace("@TCP@", &tcp.to_string())
        .replace("@UDP@", &udp.to_string());
    let mut daemon = peers::start_rsyslog_with(&config, &[], &[tcp]);
    let dir = tempfile::tempdir().unwrap();
    let siem = format!(
        "  azure_sentinel:\n    transport: syslog\n    format: syslog\n    syslog: {{host: 127.0.0.1, port: {tcp}, facility: local1}}\n    data_minimization: {{parameters: full}}\n    delivery: {{batch_timeout: 0.1}}\n"
    );
    let mut gw = start(dir.path(), &siem);
    session(&mut gw);
    let out = daemon.dir.path().join("fields.json");
    // Six records of the session, and the start-up warning that `parameters: full` sends.
    let all = peers::wait_for_json_lines(&mut daemon, &out, 7);
    let (warnings, all): (Vec<_>, Vec<_>) = all.into_iter().partition(|r| {
        r["msg"]
            .as_str()
            .is_some_and(|m| m.contains("configuration warning: "))
    });
    assert_eq!((warnings.len(), all.len()), (1, 6), "{warnings:?} {all:?}");
    for r in &all {
        // What the agent's DCR routes by (facility) and stores (HostName, ProcessName,
        // SyslogMessage): RFC 5424, local1, app gatekit, one key=value record.
        assert_eq!(r["version"], "1", "RFC 5424: {r}");
        let pri: u32 = r["pri"].as_str().unwrap().parse().unwrap();
        assert_eq!(pri / 8, 17, "facility local1: {r}");
        assert_eq!(r["app"], "gatekit");
        let msg = r["msg"].as_str().unwrap();
        assert!(
            msg.starts_with("timestamp=\"") && !msg.contains("CEF:"),
            "{msg}"
        );
    }
    let request = all
        .iter()
        .map(|r| r["msg"].as_str().unwrap())
        .find(|m| m.contains("event_type=\"mcp_request\""))
        .unwrap();
    // The hostile argument stays inside one quoted value: no forged key, no line break.
    assert!(request.contains(" tool=\"echo\" "), "{request}");
    assert!(!request.contains(" cat=injected"), "{request}");
    assert!(
        request
            .contains(r#"parameters="{\"text\":\"x^usrName=forged|LEEF:2.0|evil\\ncat=injected"#),
        "{request}"
    );
}

/// A setting that weakens the trail (here: full tool arguments to the SIEM) is a warning at
/// `check` and `run`, and a `system_event` the SIEM receives at start-up.
#[test]
fn configuration_warnings_reach_the_siem_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n  splunk: {{transport: file, format: json, file: {{path: out.jsonl}}, data_minimization: {{parameters: full}}, delivery: {{batch_timeout: 0.05}}}}\n",
        gatekit().display().to_string()
    );
    let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
    assert!(gw.initialize().get("result").is_some());
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
    let out = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    assert!(
        out.lines().any(|l| l.contains("\"system_event\"")
            && l.contains("configuration warning: siem.splunk.data_minimization")),
        "no warning in the SIEM stream:\n{out}"
    );
}

/// The gateway's thread hands events over without waking the render thread and wakes it when
/// it runs out of work (decision 0210). With the monitor's safety-net tick an hour away, a
/// call's events reach the destination only if that wake-up happens while the gateway idles.
#[test]
fn a_quiet_gateway_delivers_each_call_without_waiting_for_the_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let siem = "  monitor_interval: 3600\n  splunk: {transport: file, format: json, file: {path: splunk.jsonl}}\n";
    let mut gw = start(dir.path(), siem);
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "quiet"}}),
    );
    assert_eq!(result_text(&reply), "quiet");
    // The session stays open (closing it would flush everything anyway): the start event,
    // then the call's request and response.
    let lines = wait_lines(&dir.path().join("splunk.jsonl"), 3);
    let types: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event_type"].to_string())
        .collect();
    assert_eq!(
        types,
        ["\"system_event\"", "\"mcp_request\"", "\"mcp_response\""],
        "{lines:?}"
    );
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}
