//! QRadar's HTTP Receiver end to end: a client calls tools through the real binary; events
//! reach the strict HTTP Receiver (`gatekit_testkit::qradar`) over HTTPS with a client
//! certificate (mutual TLS), after a 503 that must be retried. The receiver splits bodies with
//! the Message Pattern `LEEF:` as QRadar would, so a hostile argument that smuggled a line
//! break would show up as a merged or extra event.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gatekit_testkit::pki::Pki;
use gatekit_testkit::qradar::{Fault, QRadarOptions, QRadarReceiver};
use serde_json::json;
use support::*;

const HOSTILE: &str = "x^usrName=forged|LEEF:2.0|evil\nLEEF:2.0|Forged|cat=injected\u{2028}=|\\";

/// LEEF 2.0 attributes as QRadar splits them (header by `|`, attributes by the declared `^`).
fn leef(event: &str) -> (Vec<&str>, HashMap<&str, &str>) {
    let parts: Vec<&str> = event.splitn(7, '|').collect();
    assert_eq!(parts[0], "LEEF:2.0", "{event}");
    assert_eq!(parts[5], "^", "{event}");
    let attrs = parts[6]
        .split('^')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    (parts, attrs)
}

fn config(dir: &std::path::Path, port: u16, pki: &Pki, client_cert: bool) -> std::path::PathBuf {
    let client = if client_cert {
        format!(
            ", cert_file: {:?}, key_file: {:?}",
            pki.file("client.pem").display().to_string(),
            pki.file("client.key").display().to_string()
        )
    } else {
        String::new()
    };
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n  qradar:\n    transport: rest_api\n    format: leef\n    rest_api:\n      endpoint: \"https://127.0.0.1:{port}\"\n      tls: {{ca_file: {:?}{client}}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05, breaker: {{open_for: 0.1}}}}\n",
        gatekit().display().to_string(),
        pki.file("ca.pem").display().to_string(),
    );
    write_config(dir, &yaml)
}

#[test]
fn events_reach_the_http_receiver_over_mutual_tls_one_event_each() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "qr").unwrap();
    let rx = QRadarReceiver::start(
        QRadarOptions::default(),
        Some(pki.server_config(true).unwrap()),
    )
    .unwrap();
    rx.script([Fault::Status(503, None)]);
    let mut gw = Gateway::start(&config(dir.path(), rx.port(), &pki, true));
    assert!(gw.initialize().get("result").is_some());
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": HOSTILE}}),
    );
    assert_eq!(result_text(&reply), HOSTILE);
    let deadline = Instant::now() + Duration::from_secs(20);
    let gateway_events = || {
        rx.events()
            .into_iter()
            .filter(|e| !e.contains("cat=system_event"))
            .collect::<Vec<_>>()
    };
    while gateway_events().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
    let events = gateway_events();
    assert_eq!(events.len(), 2, "request and response: {events:#?}");
    for event in &events {
        assert!(
            event.starts_with("LEEF:2.0|Gatekit|") && !event.contains('\n'),
            "one event per line, nothing merged: {event}"
        );
        let (header, attrs) = leef(event);
        assert_eq!(header[1], "Gatekit");
        assert_eq!(attrs["toolNs"], "ex__echo", "{event}");
        // Events carry the real user now; the argument's `usrName=forged` must not be it.
        assert!(
            attrs
                .get("usrName")
                .is_none_or(|u| !u.starts_with("forged")),
            "nothing forged: {event}"
        );
    }
    let (_, request) = leef(&events[0]);
    let (_, response) = leef(&events[1]);
    assert_eq!(request["cat"], "mcp_request");
    assert_eq!(response["cat"], "mcp_response");
    assert_eq!(request["correlationId"], response["correlationId"]);
    assert_ne!(request["eventId"], response["eventId"]);
    assert!(
        rx.requests() >= 2,
        "the 503 was retried: {} requests",
        rx.requests()
    );
    assert!(rx
        .content_types()
        .iter()
        .all(|c| c == "text/plain; charset=utf-8"));
    assert_eq!(rx.truncated(), 0);
}

#[test]
fn siem_test_names_a_missing_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "qr").unwrap();
    let rx = QRadarReceiver::start(
        QRadarOptions::default(),
        Some(pki.server_config(true).unwrap()),
    )
    .unwrap();
    let path = config(dir.path(), rx.port(), &pki, false);
    let out = std::process::Command::new(gatekit())
        .args(["siem", "test", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("qradar")
            && stdout.contains("FAILED")
            && stdout.contains("CertificateRequired"),
        "the TLS alert says why: {stdout}"
    );
    assert!(rx.events().is_empty());
    // With the certificate the same receiver takes the test event.
    let path = config(dir.path(), rx.port(), &pki, true);
    let out = std::process::Command::new(gatekit())
        .args(["siem", "test", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(rx.events().len(), 1, "{:?}", rx.events());
    assert!(rx.events()[0].contains("connectivity test"));
}
