//! Splunk HEC end to end: a client calls tools through the real binary; the events reach the
//! strict HEC test receiver (`gatekit_testkit::hec`) as HEC
//! envelopes, after a 503 that must be retried; the token comes from the environment.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::time::{Duration, Instant};

use gatekit_testkit::hec::{Fault, HecOptions, HecReceiver};
use serde_json::json;
use support::*;

const TOKEN: &str = "0c4a8f2e-5b1d-4f7a-9e3c-2d6b8a1f0e57";

#[test]
fn events_reach_hec_as_envelopes_after_a_retried_503() {
    let rx = HecReceiver::start(TOKEN);
    rx.script([Fault::Reply(
        503,
        json!({"text": "Server is busy", "code": 9}),
        None,
    )]);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n  splunk:\n    transport: hec\n    hec: {{endpoint: \"http://127.0.0.1:{}\", token: \"${{GATEKIT_TEST_HEC_TOKEN}}\", index: gatekit, sourcetype: \"gatekit:audit\"}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05}}\n",
        gatekit().display().to_string(),
        rx.port()
    );
    let config = write_config(dir.path(), &yaml);
    let mut gw = {
        std::env::set_var("GATEKIT_TEST_HEC_TOKEN", TOKEN);
        Gateway::start(&config)
    };
    assert!(gw.initialize().get("result").is_some());
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "to splunk"}}),
    );
    assert_eq!(result_text(&reply), "to splunk");
    let deadline = Instant::now() + Duration::from_secs(20);
    while rx
        .events()
        .iter()
        .filter(|e| e["event"]["event_type"] != "system_event")
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "events did not arrive: {:?}",
            rx.events()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));

    assert!(rx.requests() >= 2, "the 503 was retried");
    assert!(rx
        .authorizations()
        .iter()
        .all(|a| a == &format!("Splunk {TOKEN}")));
    let events = rx.events();
    let call: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"]["mcp_data"]["tool_name"] == "echo")
        .collect();
    assert_eq!(call.len(), 2, "{events:?}");
    for e in &call {
        assert!(
            e["time"].is_f64() || e["time"].is_u64(),
            "time is epoch seconds: {e}"
        );
        assert_eq!(e["index"], "gatekit");
        assert_eq!(e["sourcetype"], "gatekit:audit");
        assert_eq!(e["source"], "gatekit");
    }
    assert_eq!(call[0]["event"]["event_type"], "mcp_request");
    assert_eq!(call[1]["event"]["event_type"], "mcp_response");
    // The same event id appears once per event (no duplicate after the retried 503).
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .map(|e| e["event"]["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len());
}

/// The official Python MCP SDK client, through gatekit with plugins, into HEC over HTTPS with
/// indexer acknowledgement and gzip: a lost acknowledgement is resent, nothing is lost, and
/// every event is checked against what the client did.
#[test]
fn python_sdk_session_reaches_hec_over_https_with_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let pki = gatekit_testkit::pki::Pki::generate(dir.path(), "hec").unwrap();
    let rx = HecReceiver::start_with(
        HecOptions {
            ack: true,
            ..HecOptions::new(TOKEN)
        },
        Some(pki.server_config(false).unwrap()),
    );
    rx.script([Fault::AckLost]);
    let token_file = dir.path().join("hec-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let config = python_plugins_config(
        dir.path(),
        &format!(
            r#"siem:
  splunk:
    transport: hec
    hec:
      endpoint: "https://localhost:{port}"
      token: {{file: {token:?}}}
      index: mcp
      sourcetype: "gatekit:audit"
      use_ack: true
      ack_timeout: 0.5
      ack_poll_interval: 0.05
      compression: gzip
      tls: {{ca_file: {ca:?}}}
    # The plugin's redaction is what this test follows into Splunk (the default would
    # send parameter names only, decision 0103).
    data_minimization: {{parameters: full}}
    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05}}
"#,
            port = rx.port(),
            token = token_file.display().to_string(),
            ca = pki.file("ca.pem").display().to_string(),
        ),
    );
    let out = run_python_client("mcp_plugins_client.py", &config);
    assert_eq!(out["hidden"], -32601, "the session ran to its end: {out}");
    // The gateway exited with the client; its shutdown flush waited for the acknowledgements.
    let events = rx.events();
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .map(|e| e["event"]["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        events.len(),
        "the batch whose ack was lost was never indexed, so its resend made no duplicate"
    );
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("AKIAIOSFODNN7EXAMPLE") && !text.contains("123-45-6789"),
        "{text}"
    );
    for e in &events {
        assert_eq!(e["index"], "mcp");
        assert_eq!(e["sourcetype"], "gatekit:audit");
        assert!(e["time"].is_number(), "{e}");
    }
    let of_type = |t: &str| {
        events
            .iter()
            .filter(|e| e["event"]["event_type"] == t)
            .collect::<Vec<_>>()
    };
    let requests = of_type("mcp_request");
    assert!(
        requests.iter().any(
            |e| e["event"]["mcp_data"]["namespaced_tool_name"] == "py__say"
                && e["event"]["mcp_data"]["parameters"]["text"]
                    == "token [SECRET REDACTED by Gatekit]"
        ),
        "{text}"
    );
    let decisions = of_type("security_decision");
    assert!(
        decisions.iter().any(
            |e| e["event"]["security_decision"]["plugin"] == "basic_pii_filter"
                && e["event"]["security_decision"]["allowed"] == false
        ),
        "{text}"
    );
    assert!(
        decisions
            .iter()
            .any(|e| e["event"]["security_decision"]["plugin"] == "basic_secrets_filter"),
        "{text}"
    );
    assert!(of_type("system_event").len() >= 2, "start and stop: {text}");
    assert!(rx.ack_polls() >= 2, "acks were polled: {}", rx.ack_polls());
    assert!(rx.gzip_requests() >= 1);
    assert_eq!(rx.channels().len(), 1);
}

#[test]
fn siem_test_reads_the_health_endpoint_first() {
    let rx = HecReceiver::start_with(
        HecOptions {
            ack: true,
            ..HecOptions::new(TOKEN)
        },
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "proxy:\n  transport: stdio\n  upstreams: [{{name: ex, command: [x]}}]\nsiem:\n  splunk:\n    transport: hec\n    hec: {{endpoint: \"http://127.0.0.1:{}\", token: \"{TOKEN}\", use_ack: true}}\n",
            rx.port()
        ),
    );
    let run = || {
        let out = std::process::Command::new(gatekit())
            .args(["siem", "test", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, stdout) = run();
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains("health endpoint: HTTP 200 code 17: HEC is healthy")
            && stdout.contains("delivered via hec:127.0.0.1"),
        "{stdout}"
    );
    assert_eq!(rx.event_count(), 1);
    assert!(rx.ack_polls() >= 1, "the test event waited for its ack");
    rx.set_healthy(false);
    let (ok, stdout) = run();
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains("health endpoint FAILED: HTTP 503 code 18"),
        "{stdout}"
    );
}
