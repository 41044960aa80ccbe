//! `max_event_bytes`: every planned destination keeps each event within its receiver's limit
//! (the default of its transport, or the configured value), marks a shortened event
//! `truncated`, an event that cannot fit is counted and reported, and a bad value is an error
//! naming its key.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::PathBuf;

use gatekit_config::Config;
use gatekit_core::{AuditEvent, EventId, EventType, McpData, Severity, Timestamp};
use gatekit_testkit::pki::Pki;
use serde_json::{json, Value};

/// A directory with the CA file the TLS cases name (`ca.pem`), alive for the whole run.
fn base_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::generate(dir.path(), "t").unwrap();
        std::fs::copy(pki.file("ca.pem"), dir.path().join("ca.pem")).unwrap();
        dir
    })
    .path()
}

fn load(siem: &str) -> Config {
    std::env::set_var("GATEKIT_TEST_SIZE_SECRET", "s3cr3t");
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n  data_minimization: {{parameters: full, pii_filtering: false}}\n{siem}"
    );
    Config::from_yaml(&yaml, "t.yaml", PathBuf::from(base_dir())).unwrap()
}

fn plan(siem: &str) -> gatekit_siem::platform::DestinationPlan {
    let mut plans = gatekit_siem::validate(&load(siem)).unwrap().plans;
    assert_eq!(plans.len(), 1);
    plans.remove(0)
}

/// A request whose tool name, arguments and message are far over any limit and full of
/// every format's special characters.
fn hostile() -> AuditEvent {
    let nasty = "|=\\\"^]\n\r\t é🦀 <134>1 2025 forged ";
    let Value::Object(params) = json!({"cmd": nasty.repeat(30_000), "n": 5}) else {
        unreachable!()
    };
    AuditEvent::new(
        EventType::McpRequest,
        Severity::Info,
        Timestamp::from_unix_millis(1_763_371_800_000),
        EventId::from_u128(7),
        9,
    )
    .with_origin("gk01", "0.1.0")
    .with_message(nasty.repeat(1000))
    .with_mcp(McpData {
        method: "tools/call".into(),
        tool_name: Some(nasty.repeat(500)),
        namespaced_tool_name: None,
        parameters: Some(params),
    })
}

const CASES: &[(&str, usize)] = &[
    ("  splunk: {transport: sc4s, sc4s: {host: 127.0.0.1, tls: {ca_file: ca.pem}}}\n", 8096),
    // key=value caps each value itself (the whole fits 8096): a lower limit makes it shrink.
    ("  splunk: {transport: sc4s, format: syslog, max_event_bytes: 1500, sc4s: {host: 127.0.0.1, tls: {ca_file: ca.pem}}}\n", 1500),
    ("  splunk: {transport: hec, hec: {endpoint: \"https://127.0.0.1:8088\", token: \"${GATEKIT_TEST_SIZE_SECRET}\"}}\n", 10_000),
    ("  splunk: {transport: file, format: json, file: {path: s.json}}\n", 10_000),
    ("  qradar: {transport: syslog_tls, syslog: {host: 127.0.0.1, tls: {ca_file: ca.pem}}}\n", 4096),
    ("  qradar: {transport: syslog_tcp, format: leef1, syslog: {host: 127.0.0.1}}\n", 4096),
    ("  qradar: {transport: syslog_udp, format: cef, syslog: {host: 127.0.0.1}}\n", 1024),
    ("  qradar: {transport: rest_api, format: json, rest_api: {endpoint: \"https://127.0.0.1:12469\"}}\n", 8192),
    ("  azure_sentinel: {transport: syslog, format: cef, syslog: {host: 127.0.0.1}}\n", 8096),
    ("  azure_sentinel: {transport: relp, format: cef, syslog: {host: 127.0.0.1}}\n", 8096),
    ("  azure_sentinel: {transport: log_analytics_agent, log_analytics_agent: {path: a.json}}\n", 65_536),
    ("  azure_sentinel:\n    transport: event_hubs\n    event_hubs: {connection_string: \"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${GATEKIT_TEST_SIZE_SECRET}\", hub_name: h}\n", 873_796),
    ("  splunk: {transport: sc4s, max_event_bytes: 2000, sc4s: {host: 127.0.0.1, tls: {ca_file: ca.pem}}}\n", 2000),
];

#[test]
fn every_destination_keeps_events_within_its_limit_and_marks_them() {
    for (siem, want) in CASES {
        let p = plan(siem);
        assert_eq!(p.max_event_bytes, *want, "{siem}");
        let e = hostile();
        let mut out = Vec::new();
        p.formatter.format(&e, &mut out).unwrap();
        assert!(out.len() <= *want, "{siem}: {} > {want}", out.len());
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\n') && !text.contains('\r'), "{siem}");
        assert!(
            text.contains("GatekitTruncated=true")
                || text.contains("truncated=true")
                || text.contains("truncated=\"true\"")
                || text.contains("\"truncated\":true")
                || text.contains("\"Truncated\":true")
                || text.contains("truncated\\\":true"),
            "{siem}: no mark in {text}"
        );
        assert!(text.contains("...[truncated]"), "{siem}");
        // A small event passes as it was, without the mark.
        let mut small = Vec::new();
        p.formatter
            .format(&gatekit_format::sample_events().remove(0), &mut small)
            .unwrap();
        let small = String::from_utf8(small).unwrap();
        assert!(!small.contains("runcated"), "{siem}: {small}");
    }
}

#[test]
fn bad_values_are_errors_at_their_key() {
    let too_small = gatekit_siem::validate(&load(
        "  splunk: {transport: file, max_event_bytes: 100, file: {path: s.cef}}\n",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        too_small.contains("siem.splunk.max_event_bytes") && too_small.contains("at least 1024"),
        "{too_small}"
    );
    let not_a_number = gatekit_siem::validate(&load(
        "  qradar: {transport: syslog_tcp, max_event_bytes: lots, syslog: {host: 127.0.0.1}}\n",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        not_a_number.contains("siem.qradar.max_event_bytes"),
        "{not_a_number}"
    );
    let over_udp = gatekit_siem::validate(&load(
        "  qradar: {transport: syslog_udp, max_event_bytes: 100000, syslog: {host: 127.0.0.1}}\n",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        over_udp.contains("siem.qradar.max_event_bytes") && over_udp.contains("at most"),
        "{over_udp}"
    );
}

/// An event that cannot fit one destination's limit even with every field cut (here the host
/// name, an identity field that is never cut, is longer than the limit) is not silently lost:
/// it is counted as dropped (`unrenderable`) and the monitor reports that to the destinations
/// that could take the event.
#[test]
fn an_event_that_cannot_fit_is_counted_and_reported_to_the_other_destinations() {
    use gatekit_delivery::DropReason;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let (small, large) = (
        dir.path().join("small.jsonl"),
        dir.path().join("large.jsonl"),
    );
    let siem = format!(
        "  splunk: {{transport: file, format: json, max_event_bytes: 1024, file: {{path: {small:?}}}}}\n  azure_sentinel: {{transport: log_analytics_agent, format: json, log_analytics_agent: {{path: {large:?}}}}}\n"
    );
    let checked = gatekit_siem::validate(&load(&siem)).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = gatekit_siem::sink::SinkOptions {
        monitor_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let host = "h".repeat(3000);
    let sink =
        gatekit_siem::SiemSink::start_with_options(checked.plans, runtime.handle(), host, options)
            .unwrap();
    sink.submit(sink.system_event(Severity::Info, "an event from a long host name".into()))
        .unwrap();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !read(&large).contains("SIEM destination splunk dropped") {
        assert!(
            std::time::Instant::now() < deadline,
            "no drop reported to Sentinel; it has: {}; splunk: {:?}",
            read(&large),
            sink.snapshots()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = read(&large);
    assert!(report.contains("Unrenderable"), "{report}");
    assert!(
        report.contains("an event from a long host name"),
        "the other destination took the event itself: {report}"
    );
    let splunk = sink
        .snapshots()
        .into_iter()
        .find(|(p, _)| *p == "splunk")
        .unwrap()
        .1;
    assert!(
        splunk.dropped_for(DropReason::Unrenderable) >= 2,
        "{splunk:?}"
    );
    assert_eq!(splunk.delivered, 0, "{splunk:?}");
    runtime.block_on(sink.shutdown());
    assert_eq!(read(&small), "", "nothing over the limit reached the file");
}
