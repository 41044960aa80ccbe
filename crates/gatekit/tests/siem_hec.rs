//! Splunk HEC end to end: a client calls tools through the real binary; the events reach the
//! strict HEC test receiver (`gatekit_testkit::hec`) as HEC
//! envelopes, after a 503 that must be retried; the token comes from the environment.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use gatekit_testkit::hec::{Fault, HecReceiver};
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
