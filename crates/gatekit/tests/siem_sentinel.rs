//! Microsoft Sentinel end to end: a client calls a tool through the real binary; the audit
//! events reach the strict Azure receivers of `gatekit_testkit` and are checked field by field
//! against the call: the Logs Ingestion API (Entra token from the receiver's token endpoint,
//! after a 503 that must be retried), the legacy Data Collector API (SharedKey signature
//! checked), and Event Hubs (SAS checked). Credentials come from the environment.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::time::{Duration, Instant};

use gatekit_testkit::azure::Fault;
use gatekit_testkit::data_collector::DataCollectorReceiver;
use gatekit_testkit::entra::EntraOptions;
use gatekit_testkit::event_hubs::{EventHubsOptions, EventHubsReceiver};
use gatekit_testkit::logs_ingestion::{LogsIngestionOptions, LogsIngestionReceiver};
use serde_json::{json, Value};
use support::*;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "0f2b8e4c-5d6a-4b7c-9e1f-a2b3c4d5e6f7";
const CLIENT_SECRET: &str = "gk~e2e.Secret_0123456789abcdefghijklmnop";
const DCR: &str = "dcr-000a00a000a00000a000000aa000a0aa";
const WORKSPACE: &str = "b9e2f1a0-1234-4cde-8f00-0123456789ab";
const WORKSPACE_KEY: &str =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==";
const SAS_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// Runs the gateway with `siem` (YAML under `siem:`), calls `ex__echo` with `text`, waits until
/// `arrived()` says both audit events of the call are in, then stops the gateway cleanly.
fn call_through_gateway(siem: &str, text: &str, arrived: impl Fn() -> bool) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n{siem}",
        gatekit().display().to_string(),
    );
    let config = write_config(dir.path(), &yaml);
    let mut gw = Gateway::start(&config);
    assert!(gw.initialize().get("result").is_some());
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": text}}),
    );
    assert_eq!(result_text(&reply), text);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !arrived() {
        assert!(Instant::now() < deadline, "the events did not arrive");
        std::thread::sleep(Duration::from_millis(50));
    }
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

/// The request and response events of the echo call, in order.
fn echo_pair<'a>(events: &'a [Value], tool: &str, method: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e[method] == tool).collect()
}

#[test]
fn logs_ingestion_receives_sentinel_records_after_a_retried_503() {
    let rx = LogsIngestionReceiver::start(LogsIngestionOptions::new(
        DCR,
        EntraOptions::new(TENANT, CLIENT_ID, CLIENT_SECRET),
    ));
    rx.script([Fault::Reply(
        503,
        json!({"error": {"code": "ServiceUnavailable", "message": "try later"}}),
        None,
    )]);
    std::env::set_var("GATEKIT_TEST_ENTRA_SECRET", CLIENT_SECRET);
    let port = rx.port();
    let siem = format!(
        "  azure_sentinel:\n    transport: logs_ingestion_api\n    logs_ingestion_api: {{endpoint: \"http://127.0.0.1:{port}\", dcr_immutable_id: {DCR}, compression: gzip}}\n    auth: {{method: service_principal, tenant_id: {TENANT}, client_id: {CLIENT_ID}, client_secret: \"${{GATEKIT_TEST_ENTRA_SECRET}}\", authority_host: \"http://127.0.0.1:{port}\"}}\n    data_minimization: {{parameters: full}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05}}\n"
    );
    let calls = || {
        rx.records()
            .iter()
            .filter(|r| r.get("ToolName") == Some(&json!("echo")))
            .count()
    };
    call_through_gateway(&siem, "to sentinel", || calls() >= 2);

    // Whatever the refused first request carried (the start-up event, the call, or both) must
    // have arrived later: the start-up event and both call events are checked below.
    assert!(rx.requests() >= 2, "the 503 was retried");
    assert_eq!(rx.refused_tokens(), 0);
    assert_eq!(
        rx.dropped_properties(),
        0,
        "every property is a column of the stream"
    );
    assert_eq!(rx.bare_objects(), 0, "bodies are arrays");
    assert!(rx.gzip_requests() >= 1);
    assert_eq!(rx.issuer().issued(), 1, "one token for the whole run");
    let records: Vec<Value> = rx.records().into_iter().map(Value::Object).collect();
    let call = echo_pair(&records, "echo", "ToolName");
    assert_eq!(call.len(), 2, "{records:?}");
    assert_eq!(call[0]["EventType"], "mcp_request");
    assert_eq!(call[1]["EventType"], "mcp_response");
    for r in &call {
        assert_eq!(r["McpMethod"], "tools/call");
        assert_eq!(r["NamespacedToolName"], "ex__echo");
        assert_eq!(r["UpstreamName"], "ex");
        assert_eq!(r["Source"], "gatekit");
        assert_eq!(r["Outcome"], "success");
        assert!(r["TimeGenerated"].as_str().unwrap().ends_with('Z'));
        assert_eq!(r["CorrelationId"], call[0]["CorrelationId"]);
    }
    assert_eq!(call[0]["Parameters"], json!({"text": "to sentinel"}));
    assert!(call[1]["DurationUs"].is_u64(), "{}", call[1]);
    assert!(records
        .iter()
        .any(|r| r["EventType"] == "system_event"
            && r["Message"].as_str().unwrap().contains("started")));
    let ids: std::collections::HashSet<&str> = records
        .iter()
        .map(|r| r["EventId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        records.len(),
        "no duplicate after the retried 503"
    );
    assert_eq!(rx.duplicates(), 0);
}

#[test]
fn the_requirements_data_collector_shape_delivers_signed_records() {
    let rx = DataCollectorReceiver::start(WORKSPACE, WORKSPACE_KEY);
    rx.script([Fault::Reply(
        500,
        json!({"Error": "UnspecifiedError", "Message": "scripted"}),
        None,
    )]);
    std::env::set_var("GATEKIT_TEST_WORKSPACE_KEY", WORKSPACE_KEY);
    let siem = format!(
        "  azure_sentinel:\n    transport: data_collector_api\n    format: json\n    data_collector_api:\n      workspace_id: {WORKSPACE}\n      shared_key: \"${{GATEKIT_TEST_WORKSPACE_KEY}}\"\n      log_type: Gatekit\n      endpoint: \"http://127.0.0.1:{}/api/logs\"\n    auth: {{method: shared_key}}\n    schema: {{table_name: Gatekit_CL, timestamp_field: TimeGenerated}}\n    data_minimization: {{parameters: full}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05}}\n",
        rx.port()
    );
    let calls = || {
        rx.records()
            .iter()
            .filter(|r| r.record.get("ToolName") == Some(&json!("echo")))
            .count()
    };
    call_through_gateway(&siem, "to the workspace, zoë", || calls() >= 2);

    assert_eq!(rx.bad_signatures(), 0);
    assert!(rx.requests() >= 2, "the 500 was retried");
    let got = rx.records();
    assert!(
        got.iter()
            .all(|r| r.log_type == "Gatekit"
                && r.time_generated_field.as_deref() == Some("EventTime"))
    );
    let records: Vec<Value> = got.into_iter().map(|r| Value::Object(r.record)).collect();
    let call = echo_pair(&records, "echo", "ToolName");
    assert_eq!(call.len(), 2);
    assert_eq!(call[0]["EventType"], "mcp_request");
    assert_eq!(call[1]["EventType"], "mcp_response");
    assert_eq!(
        call[0]["Parameters"],
        json!({"text": "to the workspace, zoë"})
    );
    assert!(
        records.iter().any(|r| r["EventType"] == "system_event"),
        "the start-up event arrived despite the 500"
    );
    for r in &call {
        assert!(r.get("TimeGenerated").is_none());
        assert!(r["EventTime"].as_str().unwrap().ends_with('Z'));
        assert_eq!(r["McpMethod"], "tools/call");
        assert_eq!(r["UpstreamName"], "ex");
    }
    assert_eq!(rx.duplicates(), 0);
}

#[test]
fn event_hubs_receives_canonical_json_events_under_sas() {
    let rx = EventHubsReceiver::start(
        EventHubsOptions {
            namespace: "gk-test-ns.servicebus.windows.net".into(),
            hub: "gatekit-events".into(),
            key_name: "gatekit-send".into(),
            key: SAS_KEY.into(),
            max_bytes: 1024 * 1024,
        },
        None,
    );
    rx.script([Fault::HangUp]);
    std::env::set_var(
        "GATEKIT_TEST_EVENT_HUBS",
        format!("Endpoint=sb://gk-test-ns.servicebus.windows.net/;SharedAccessKeyName=gatekit-send;SharedAccessKey={SAS_KEY}"),
    );
    let siem = format!(
        "  azure_sentinel:\n    transport: event_hubs\n    format: json\n    event_hubs:\n      connection_string: \"${{GATEKIT_TEST_EVENT_HUBS}}\"\n      hub_name: gatekit-events\n      endpoint: \"http://127.0.0.1:{}\"\n    data_minimization: {{parameters: full}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05}}\n",
        rx.port()
    );
    let events = || -> Vec<Value> {
        rx.bodies()
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect()
    };
    call_through_gateway(&siem, "to the hub", || {
        events()
            .iter()
            .filter(|e| e["mcp_data"]["tool_name"] == "echo")
            .count()
            >= 2
    });

    assert_eq!(rx.refused(), 0);
    assert!(rx.requests() >= 2, "the dropped connection was retried");
    let all = events();
    let call: Vec<&Value> = all
        .iter()
        .filter(|e| e["mcp_data"]["tool_name"] == "echo")
        .collect();
    assert_eq!(call.len(), 2);
    assert_eq!(call[0]["event_type"], "mcp_request");
    assert_eq!(call[1]["event_type"], "mcp_response");
    assert_eq!(call[0]["mcp_data"]["method"], "tools/call");
    assert_eq!(
        call[0]["mcp_data"]["parameters"],
        json!({"text": "to the hub"})
    );
    assert!(
        all.iter().any(|e| e["event_type"] == "system_event"),
        "the start-up event arrived despite the dropped connection"
    );
    assert_eq!(rx.duplicates(), 0);
}

#[test]
fn a_refused_entra_secret_becomes_a_system_event_in_the_other_siem() {
    // Sentinel with a wrong client secret, and a Splunk file destination that works: the
    // authentication failure is reported there as a system_event, without the secret.
    let rx = LogsIngestionReceiver::start(LogsIngestionOptions::new(
        DCR,
        EntraOptions::new(TENANT, CLIENT_ID, CLIENT_SECRET),
    ));
    std::env::set_var("GATEKIT_TEST_WRONG_SECRET", "not-the-secret-4f9a");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("splunk.jsonl");
    let port = rx.port();
    let siem = format!(
        "  azure_sentinel:\n    logs_ingestion_api: {{endpoint: \"http://127.0.0.1:{port}\", dcr_immutable_id: {DCR}}}\n    auth: {{tenant_id: {TENANT}, client_id: {CLIENT_ID}, client_secret: \"${{GATEKIT_TEST_WRONG_SECRET}}\", authority_host: \"http://127.0.0.1:{port}\"}}\n    delivery: {{batch_timeout: 0.05}}\n  splunk:\n    transport: file\n    format: json\n    file: {{path: {:?}}}\n    delivery: {{batch_timeout: 0.05}}\n",
        file.display().to_string()
    );
    let reported = || {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| {
                e["event_type"] == "system_event"
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("authentication failure"))
            })
            .collect::<Vec<Value>>()
    };
    call_through_gateway(&siem, "audit me", || !reported().is_empty());
    let events = reported();
    let message = events[0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("logs_ingestion:127.0.0.1:{port}"))
            && message.contains("AADSTS7000215"),
        "{message}"
    );
    let all = std::fs::read_to_string(&file).unwrap();
    assert!(
        !all.contains("not-the-secret-4f9a"),
        "the secret never reaches a SIEM"
    );
    assert_eq!(rx.requests(), 0, "no data request without a token");
    assert!(rx.issuer().requests() >= 1);
}
