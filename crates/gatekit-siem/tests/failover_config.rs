//! The `failover` list and `priority` at load: entries are checked like the primary, errors
//! name the entry and its line, entries that render like the primary share its rendering,
//! entries that render differently are rendered per endpoint (decision 0624) exactly as each
//! would be alone, `priority` orders the destinations.
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
fn an_entry_that_renders_like_the_primary_keeps_one_rendering() {
    // The same header and framing over another transport of the same kind: one rendering,
    // today's path (no per-endpoint rendering).
    let cfg = load("  qradar:\n    transport: syslog_tcp\n    syslog: {host: 127.0.0.1, port: 514}\n    failover:\n      - transport: syslog_tcp\n        syslog: {host: 127.0.0.2, port: 514}\n      - transport: syslog_tcp\n        syslog: {host: 127.0.0.3, port: 514}\n");
    let plans = gatekit_siem::validate(&cfg).unwrap().plans;
    assert_eq!(plans[0].failover.len(), 2);
    assert!(plans[0].rerender.is_none());
    // HEC, another HEC, a file: one rendering too; the file stores the HEC envelopes as lines.
    let cfg = load(&format!(
        "  splunk:\n{HEC}    failover:\n      - transport: hec\n        hec: {{endpoint: 'https://splunk2.example:8088', token: '00000000-0000-0000-0000-000000000000'}}\n      - transport: file\n        file: {{path: f.log}}\n"
    ));
    let plan = &gatekit_siem::validate(&cfg).unwrap().plans[0];
    assert!(plan.rerender.is_none());
    let event = gatekit_format::sample_events().remove(0);
    let hec = plan.render_for(0, &event).unwrap();
    assert_eq!(
        plan.render_for(2, &event).unwrap(),
        hec,
        "the file line is the envelope"
    );
    assert!(
        hec.starts_with(b"{\"time\":"),
        "{}",
        String::from_utf8_lossy(&hec)
    );
}

#[test]
fn entries_that_render_differently_are_rendered_per_endpoint() {
    // The example: HEC, then SC4S (CEF in RFC 5424 over TLS), then a file.
    let cfg = load("  splunk:\n    transport: hec\n    format: cef\n    hec: {endpoint: 'https://splunk.example:8088', token: '00000000-0000-0000-0000-000000000000'}\n    failover:\n      - transport: sc4s\n        sc4s: {host: sc4s.example}\n      - transport: file\n        file: {path: f.cef}\n    delivery: {disk: {path: /var/lib/gk/buf}}\n");
    let plan = &gatekit_siem::validate(&cfg).unwrap().plans[0];
    let renderings = plan.rerender.as_ref().expect("per-endpoint rendering");
    assert_eq!(renderings.len(), 3);
    // The record the render thread stores is the minimised canonical JSON, on its own
    // subdirectory of the disk buffer.
    assert_eq!(plan.framing, gatekit_format::Framing::None);
    assert_eq!(
        plan.delivery.disk.as_ref().unwrap().path,
        PathBuf::from("/var/lib/gk/buf/canonical")
    );
    // Each endpoint gets exactly what a platform with it as the only transport would send.
    let alone = [
        "  splunk:\n    transport: hec\n    format: cef\n    hec: {endpoint: 'https://splunk.example:8088', token: '00000000-0000-0000-0000-000000000000'}\n",
        "  splunk:\n    transport: sc4s\n    format: cef\n    sc4s: {host: sc4s.example}\n",
        "  splunk:\n    transport: file\n    format: cef\n    file: {path: f.cef}\n",
    ];
    for (i, single) in alone.iter().enumerate() {
        let single = &gatekit_siem::validate(&load(single)).unwrap().plans[0];
        assert_eq!(
            renderings.endpoint(i).unwrap().max_event_bytes,
            single.max_event_bytes,
            "endpoint {i}: its own default size limit"
        );
        for event in gatekit_format::sample_events() {
            assert_eq!(
                plan.render_for(i, &event).unwrap(),
                single.render_for(0, &event).unwrap(),
                "endpoint {i}, event {}",
                event.event_id
            );
        }
    }
    // The data minimisation ran before the record was stored: no parameter value in it.
    let event = gatekit_format::sample_events().remove(0);
    let record = plan.render_for(0, &event).unwrap();
    assert!(!String::from_utf8_lossy(&record).contains("/tmp/test.txt"));
    // QRadar: TCP syslog, then UDP syslog (unframed datagrams): per endpoint as well.
    let cfg = load("  qradar:\n    transport: syslog_tcp\n    syslog: {host: 127.0.0.1, port: 514}\n    failover:\n      - transport: syslog_udp\n        syslog: {host: 127.0.0.2, port: 514}\n");
    let plan = &gatekit_siem::validate(&cfg).unwrap().plans[0];
    let r = plan.rerender.as_ref().expect("LF versus datagrams");
    assert_eq!(
        r.endpoint(1).unwrap().max_event_bytes,
        1024,
        "QRadar's UDP default"
    );
}

#[test]
fn combinations_that_still_cannot_work_are_refused_with_their_line() {
    // A configured size limit larger than an entry can carry (one UDP datagram).
    let e = error("  qradar:\n    transport: syslog_tcp\n    syslog: {host: 127.0.0.1, port: 514}\n    max_event_bytes: 70000\n    failover:\n      - transport: syslog_udp\n        syslog: {host: 127.0.0.2, port: 514}\n");
    assert_eq!(e.path, "siem.qradar.max_event_bytes", "{e}");
    assert_eq!(e.line, Some(8), "{e}");
    assert!(e.message.contains("siem.qradar.failover[0]"), "{e}");
    // A rendering decision inside an entry: still one format per platform.
    let e = error(&format!(
        "  splunk:\n{HEC}    failover:\n      - transport: sc4s\n        format: syslog\n        sc4s: {{host: sc4s.example}}\n"
    ));
    assert_eq!(e.path, "siem.splunk.failover[0].format");
    assert_eq!(e.line, Some(11), "{e}");
    // An entry's own transport block is still checked like the primary's.
    let e = error(&format!(
        "  splunk:\n{HEC}    failover:\n      - transport: sc4s\n        sc4s: {{host: sc4s.example, framing: pigeon}}\n"
    ));
    assert!(e.path.starts_with("siem.splunk.failover[0].sc4s"), "{e}");
    assert_eq!(e.line, Some(11), "{e}");
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
