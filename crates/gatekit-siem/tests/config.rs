//! The `siem` section: the requirements' shape loads, mistakes are errors with paths,
//! secrets stay secret.
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

fn errors(siem: &str) -> String {
    gatekit_siem::validate(&load(siem)).unwrap_err().to_string()
}

#[test]
fn the_requirements_example_shape_loads() {
    // Global settings and siem.platforms.<name> with priority, as in the requirements'
    // "Global SIEM Configuration"; transports this build delivers.
    let cfg = load(
        "  enabled: true\n  buffer_size: 1000\n  flush_interval: 30\n  retry_attempts: 3\n  retry_backoff: 2.0\n  platforms:\n    splunk:\n      enabled: true\n      priority: 1\n      transport: file\n      format: cef\n      file: {path: logs/splunk.cef}\n      delivery: {batch_size: 100, batch_timeout: 30, retry_attempts: 3, retry_backoff: 2.0}\n    qradar:\n      enabled: true\n      priority: 2\n      transport: syslog_tcp\n      format: leef\n      syslog: {host: qradar.example.com, port: 514, facility: local0, severity: info}\n      dsm: {device_type: Gatekit, event_category: Application Activity, log_source_identifier: gatekit}\n    azure_sentinel:\n      enabled: false\n      priority: 3\n",
    );
    let plans = gatekit_siem::validate(&cfg).unwrap().plans;
    assert_eq!(plans.len(), 2, "disabled platforms are skipped");
    assert_eq!(plans[0].platform, "splunk");
    assert!(
        matches!(&plans[0].connector, ConnectorPlan::File(f) if f.path == std::path::Path::new("/etc/gk/logs/splunk.cef") && f.max_bytes == 100 * 1024 * 1024 && f.backups == 5)
    );
    assert!(
        matches!(&plans[1].connector, ConnectorPlan::SyslogTcp(p) if p.host == "qradar.example.com" && p.port == 514)
    );
}

#[test]
fn a_disabled_siem_section_plans_nothing() {
    let cfg = load("  enabled: false\n  splunk: {transport: hec}\n");
    assert!(gatekit_siem::validate(&cfg).unwrap().plans.is_empty());
}

#[test]
fn mistakes_name_their_path() {
    assert!(
        errors("  splunk: {transport: file, fromat: cef}\n").contains("siem.splunk"),
        "unknown key"
    );
    assert!(
        errors("  platforms: {arcsight: {}}\n").contains("arcsight"),
        "unknown platform"
    );
    let both = errors("  splunk: {transport: file, file: {path: a}}\n  platforms: {splunk: {transport: file, file: {path: b}}}\n");
    assert!(both.contains("not both"), "{both}");
    let missing = errors("  qradar: {transport: syslog_tcp}\n");
    assert!(missing.contains("siem.qradar.syslog.host"), "{missing}");
    let facility =
        errors("  qradar: {transport: syslog_udp, syslog: {host: h, facility: local9}}\n");
    assert!(
        facility.contains("siem.qradar.syslog.facility"),
        "{facility}"
    );
    let unknown = errors("  azure_sentinel: {transport: carrier_pigeon}\n");
    assert!(
        unknown.contains("siem.azure_sentinel.transport") && unknown.contains("unknown transport"),
        "{unknown}"
    );
    let delivery =
        errors("  splunk: {transport: file, file: {path: a}, delivery: {batch_sise: 5}}\n");
    assert!(delivery.contains("siem.splunk.delivery"), "{delivery}");
}

#[test]
fn a_malformed_pin_is_a_load_error() {
    let e = errors(
        "  qradar: {transport: syslog_tls, syslog: {host: q, tls: {pins: [\"sha256:abc\"]}}}\n",
    );
    assert!(
        e.contains("siem.qradar.syslog.tls") && e.contains("not a SHA-256 certificate fingerprint"),
        "{e}"
    );
}

#[test]
fn qradar_rest_api_is_the_http_receiver_not_ariel() {
    let ariel = errors("  qradar: {transport: rest_api, rest_api: {endpoint: \"https://q.example.com/api/ariel/events\"}}\n");
    assert!(
        ariel.contains("siem.qradar.rest_api.endpoint") && ariel.contains("search API"),
        "{ariel}"
    );
    let missing = errors("  qradar: {transport: rest_api}\n");
    assert!(
        missing.contains("siem.qradar.rest_api.endpoint"),
        "{missing}"
    );
    // The requirements' keys load (they are ignored with a warning, never sent).
    let cfg = load("  qradar:\n    transport: rest_api\n    rest_api: {endpoint: \"https://qradar-ec.example.com:12469\", auth_method: oauth2, client_id: gatekit-client, client_secret: s3cret}\n");
    let plans = gatekit_siem::validate(&cfg).unwrap().plans;
    assert!(
        matches!(&plans[0].connector, ConnectorPlan::QRadarHttp(p) if p.endpoint.port == 12469 && p.endpoint.tls)
    );
    assert!(!format!("{:?}", plans[0]).contains("s3cret"));
}

#[test]
fn secrets_never_show_in_debug_output() {
    std::env::set_var(
        "GATEKIT_TEST_HEC_SECRET",
        "11111111-2222-3333-4444-555555555555",
    );
    let secret: gatekit_siem::secret::Secret =
        gatekit_config::yaml::from_str("\"${GATEKIT_TEST_HEC_SECRET}\"").unwrap();
    assert_eq!(secret.expose(), "11111111-2222-3333-4444-555555555555");
    assert!(!secret.plain_text);
    assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***");
    let plain: gatekit_siem::secret::Secret =
        gatekit_config::yaml::from_str("\"hunter2\"").unwrap();
    assert!(plain.plain_text, "a secret written in the file is flagged");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "from-file\n").unwrap();
    let from_file: gatekit_siem::secret::Secret =
        gatekit_config::yaml::from_str(&format!("{{file: {:?}}}", path.display().to_string()))
            .unwrap();
    assert_eq!(from_file.expose(), "from-file");
}

#[test]
fn tls_files_are_checked_at_load() {
    let e = errors("  qradar: {transport: syslog_tls, syslog: {host: h, tls: {ca_file: /nonexistent/ca.pem}}}\n");
    assert!(
        e.contains("siem.qradar.syslog.tls") && e.contains("/nonexistent/ca.pem"),
        "{e}"
    );
    let e = errors("  qradar: {transport: syslog_tls, syslog: {host: h, tls: {enabled: false}}}\n");
    assert!(e.contains("siem.qradar.syslog.tls.enabled"), "{e}");
    let e = errors("  splunk: {transport: sc4s, sc4s: {host: h, tls: {ca_file: /etc/hostname, cert_file: /etc/hostname}}}\n");
    assert!(e.contains("siem.splunk.sc4s.tls"), "{e}");
}

#[test]
fn a_relative_spool_path_is_relative_to_the_config_file_and_agent_keys_load() {
    // Resolved against the working directory, two gateways started from different
    // directories would not find each other's spools, and two configurations started from one
    // directory would adopt each other's events.
    let checked = gatekit_siem::validate(&load(
        "  spool: {path: spool}\n  agent: {enabled: true, listen: \"127.0.0.1:9999\"}\n  alerts: {backlog_events: 5, backlog_age_secs: 60, heartbeat_secs: 0}\n  qradar:\n    transport: syslog_tcp\n    format: json\n    syslog: {host: 127.0.0.1, port: 514}\n",
    ))
    .unwrap();
    assert_eq!(
        checked.spool.unwrap().path,
        std::path::Path::new("/etc/gk/spool")
    );
    assert!(checked.agent.enabled);
    assert_eq!(checked.agent.listen.port(), 9999);
    assert_eq!(checked.alerts.backlog_events, 5);
    assert_eq!(checked.alerts.heartbeat, None);
    let e = errors("  alerts: {backlog_events: 0}\n  qradar:\n    transport: syslog_tcp\n    format: json\n    syslog: {host: 127.0.0.1, port: 514}\n");
    assert!(e.contains("siem.alerts.backlog_events"), "{e}");
}
