//! The `failover` list and `priority` at load: entries are checked like the primary, errors
//! name the entry and its line, one rendering per platform is enforced, `priority` orders the
//! destinations.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::PathBuf;

use gatekit_config::Config;
use gatekit_siem::connector::ConnectorPlan;

fn load(siem: &str) -> Config {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n{siem}"
    );
    Config::from_yaml(&yaml, "t.yaml", PathBuf::from("/etc/gk")).unwrap()
}

/// The first error, with its line.
fn error(siem: &str) -> gatekit_config::ConfigError {
    gatekit_siem::validate(&load(siem))
        .unwrap_err()
        .0
        .into_iter()
        .next()
        .unwrap()
}

const HEC: &str = "    transport: hec\n    format: json\n    hec: {endpoint: 'https://splunk.example:8088', token: '00000000-0000-0000-0000-000000000000'}\n";

#[test]
fn entries_plan_in_order_after_the_primary() {
    let cfg = load(&format!(
        "  splunk:\n{HEC}    failover:\n      - transport: hec\n        hec: {{endpoint: 'https://splunk2.example:8088', token: '00000000-0000-0000-0000-000000000000'}}\n      - transport: file\n        file: {{path: splunk-fallback.log}}\n"
    ));
    let plans = gatekit_siem::validate(&cfg).unwrap().plans;
    assert!(matches!(plans[0].connector, ConnectorPlan::Hec(_)));
    assert_eq!(plans[0].failover.len(), 2);
    assert!(matches!(plans[0].failover[0], ConnectorPlan::Hec(_)));
    assert!(
        matches!(&plans[0].failover[1], ConnectorPlan::File(f) if f.path == std::path::Path::new("/etc/gk/splunk-fallback.log"))
    );
}

#[test]
fn an_entry_that_would_need_another_rendering_is_refused_with_its_line() {
    // HEC envelopes cannot go to SC4S as syslog lines: one rendering per platform.
    let e = error(&format!(
        "  splunk:\n{HEC}    failover:\n      - transport: sc4s\n        sc4s: {{host: sc4s.example}}\n"
    ));
    assert_eq!(e.path, "siem.splunk.failover[0].transport");
    assert_eq!(e.line, Some(10), "{e}");
    assert!(e.message.contains("different rendering"), "{e}");
    // A syslog endpoint with another header is a different rendering too.
    let e = error("  qradar:\n    transport: syslog_tcp\n    syslog: {host: 127.0.0.1, port: 514}\n    failover:\n      - transport: syslog_tcp\n        syslog: {host: 127.0.0.2, port: 514, header: rfc5424}\n");
    assert!(e.message.contains("different rendering"), "{e}");
    // The same header and framing over another transport of the same kind is fine.
    let cfg = load("  qradar:\n    transport: syslog_tcp\n    syslog: {host: 127.0.0.1, port: 514}\n    failover:\n      - transport: syslog_tcp\n        syslog: {host: 127.0.0.2, port: 514}\n");
    assert_eq!(
        gatekit_siem::validate(&cfg).unwrap().plans[0]
            .failover
            .len(),
        1
    );
}

#[test]
fn entry_mistakes_name_the_entry_and_its_line() {
    // A platform-wide key inside an entry.
    let e = error(&format!(
        "  splunk:\n{HEC}    failover:\n      - transport: file\n        format: cef\n        file: {{path: x.log}}\n"
    ));
    assert_eq!(e.path, "siem.splunk.failover[0].format");
    assert_eq!(e.line, Some(11), "{e}");
    assert!(e.message.contains("whole platform"), "{e}");
    // No transport.
    let e = error(&format!(
        "  splunk:\n{HEC}    failover:\n      - file: {{path: x.log}}\n"
    ));
    assert!(e.message.contains("needs `transport`"), "{e}");
    // The transport's block missing: the primary's own check, at the entry's path.
    let e = error(&format!(
        "  splunk:\n{HEC}    failover:\n      - transport: file\n"
    ));
    assert_eq!(e.path, "siem.splunk.failover[0].file.path", "{e}");
    // A bad value deep in the entry's block, located on its line.
    let e = error("  qradar:\n    transport: syslog_tcp\n    syslog: {host: 127.0.0.1, port: 514}\n    failover:\n      - transport: syslog_tcp\n        syslog:\n          host: 127.0.0.2\n          port: nope\n");
    assert!(e.path.starts_with("siem.qradar.failover[0].syslog"), "{e}");
    assert_eq!(e.line, Some(12), "{e}");
    // An unknown transport name.
    let e = error("  qradar:\n    transport: syslog_tcp\n    syslog: {host: 127.0.0.1, port: 514}\n    failover:\n      - transport: pigeon\n");
    assert!(e.to_string().contains("unknown transport `pigeon`"), "{e}");
}

#[test]
fn priority_orders_the_destinations() {
    let cfg = load("  platforms:\n    splunk: {priority: 2, transport: file, file: {path: s.log}}\n    qradar: {priority: 1, transport: syslog_tcp, syslog: {host: 127.0.0.1}}\n    azure_sentinel: {transport: log_analytics_agent, log_analytics_agent: {path: a.log}}\n");
    let plans = gatekit_siem::validate(&cfg).unwrap().plans;
    let order: Vec<&str> = plans.iter().map(|p| p.platform).collect();
    assert_eq!(order, ["qradar", "splunk", "azure_sentinel"]);
}
