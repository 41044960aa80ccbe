//! The syslog header per destination (`header:` on a syslog endpoint block, default by
//! transport) and `format: syslog` as key=value pairs: what the planned formatter writes.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::PathBuf;

use gatekit_config::Config;
use gatekit_format::sample_events;

fn load(siem: &str) -> Config {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n{siem}"
    );
    Config::from_yaml(&yaml, "t.yaml", PathBuf::from("/etc/gk")).unwrap()
}

/// The first sample event as the one planned destination renders it.
fn first_record(siem: &str) -> String {
    let checked = gatekit_siem::validate(&load(siem)).unwrap();
    assert_eq!(checked.plans.len(), 1);
    let mut out = Vec::new();
    checked.plans[0]
        .formatter
        .format(&sample_events()[0], &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

const RFC3164: &str = "<134>Nov 17 09:30:01 gk01 gatekit: ";

#[test]
fn qradar_plain_tcp_and_udp_default_to_rfc3164_and_tls_to_rfc5424() {
    for transport in ["syslog_tcp", "syslog_udp"] {
        let r = first_record(&format!(
            "  qradar: {{transport: {transport}, syslog: {{host: q.example.com}}}}\n"
        ));
        assert!(
            r.starts_with("<134>Nov 17 09:30:01 gk01 gatekit: LEEF:2.0|"),
            "{transport}: {r}"
        );
    }
    let r = first_record("  qradar: {transport: syslog_tls, syslog: {host: q.example.com}}\n");
    assert!(
        r.starts_with(
            "<134>1 2025-11-17T09:30:01.123Z gk01.example.com gatekit - mcp_request - LEEF:2.0|"
        ),
        "{r}"
    );
}

#[test]
fn header_is_selectable_on_every_syslog_transport() {
    for transport in ["syslog_tcp", "syslog_udp", "syslog_tls"] {
        let r = first_record(&format!(
            "  qradar: {{transport: {transport}, syslog: {{host: q.example.com, header: rfc5424}}}}\n"
        ));
        assert!(r.starts_with("<134>1 2025-11-17T"), "{transport}: {r}");
        let r = first_record(&format!(
            "  qradar: {{transport: {transport}, syslog: {{host: q.example.com, header: rfc3164}}}}\n"
        ));
        assert!(r.starts_with(RFC3164), "{transport}: {r}");
    }
    let r = first_record(
        "  splunk: {transport: sc4s, sc4s: {host: sc4s.example.com, header: rfc3164}}\n",
    );
    assert!(r.starts_with(&format!("{RFC3164}CEF:0|")), "{r}");
}

#[test]
fn an_unknown_header_is_an_error_with_its_path() {
    let err = gatekit_siem::validate(&load(
        "  qradar: {transport: syslog_tcp, syslog: {host: q, header: rfc9999}}\n",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("siem.qradar.syslog.header") && err.contains("rfc5424, rfc3164"),
        "{err}"
    );
}

#[test]
fn format_syslog_is_key_value_pairs_not_cef() {
    // Splunk over SC4S: RFC 5424 (TLS) around key=value pairs, facility local0.
    let r = first_record(
        "  splunk: {transport: sc4s, format: syslog, sc4s: {host: sc4s.example.com}}\n",
    );
    assert!(
        r.starts_with("<134>1 2025-11-17T09:30:01.123Z gk01.example.com gatekit - mcp_request - timestamp=\"2025-11-17T09:30:01.123Z\" event_type=\"mcp_request\" "),
        "{r}"
    );
    assert!(!r.contains("CEF:"), "{r}");
    // With the BSD header.
    let r = first_record(
        "  splunk: {transport: sc4s, format: syslog, sc4s: {host: sc4s.example.com, header: rfc3164, facility: local1}}\n",
    );
    assert!(
        r.starts_with("<142>Nov 17 09:30:01 gk01 gatekit: timestamp=\""),
        "{r}"
    );
    // A file for the Universal Forwarder and the Azure Monitor Agent.
    let r = first_record("  splunk: {transport: file, format: syslog, file: {path: s.log}}\n");
    assert!(
        r.starts_with("<134>1 ") && r.contains(" - timestamp=\""),
        "{r}"
    );
    let r = first_record(
        "  azure_sentinel: {transport: log_analytics_agent, format: syslog, log_analytics_agent: {path: s.log}}\n",
    );
    assert!(
        r.starts_with("<134>1 ") && r.contains(" - timestamp=\""),
        "{r}"
    );
    assert!(!r.contains("CEF:"), "{r}");
}

#[test]
fn format_syslog_on_hec_is_a_warning_not_a_quiet_no_op() {
    std::env::set_var("GK_TEST_HEC_SYSLOG", "00000000-0000-0000-0000-000000000000");
    let checked = gatekit_siem::validate(&load(
        "  splunk: {transport: hec, format: syslog, hec: {endpoint: \"https://h:8088\", token: \"${GK_TEST_HEC_SYSLOG}\"}}\n",
    ))
    .unwrap();
    assert!(
        checked
            .warnings
            .iter()
            .any(|w| w.path == "siem.splunk.format" && w.message.contains("ignored")),
        "{:?}",
        checked.warnings
    );
}

#[test]
fn sentinel_syslog_transport_sends_key_value_in_rfc5424_to_the_forwarder() {
    let cfg = load(
        "  azure_sentinel: {transport: syslog, format: syslog, syslog: {host: 127.0.0.1, facility: local1}}\n",
    );
    let checked = gatekit_siem::validate(&cfg).unwrap();
    assert!(
        matches!(&checked.plans[0].connector, gatekit_siem::connector::ConnectorPlan::SyslogTcp(p) if p.host == "127.0.0.1" && p.port == 514)
    );
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    let r = first_record(
        "  azure_sentinel: {transport: syslog, format: syslog, syslog: {host: 127.0.0.1, facility: local1}}\n",
    );
    assert!(
        r.starts_with(
            "<142>1 2025-11-17T09:30:01.123Z gk01.example.com gatekit - mcp_request - timestamp=\""
        ),
        "{r}"
    );
    // To another host in clear text: a warning.
    let checked = gatekit_siem::validate(&load(
        "  azure_sentinel: {transport: syslog, syslog: {host: fwd.example.com}}\n",
    ))
    .unwrap();
    assert!(
        checked
            .warnings
            .iter()
            .any(|w| w.path == "siem.azure_sentinel.syslog.host"),
        "{:?}",
        checked.warnings
    );
    // No block: an error naming the key.
    let err = gatekit_siem::validate(&load("  azure_sentinel: {transport: syslog}\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("siem.azure_sentinel.syslog.host"), "{err}");
}
