//! TLS syslog end to end against a real syslog-ng that demands a client certificate (mutual
//! TLS): delivery with the right certificates, and a clear failure for a wrong CA, a missing
//! client certificate and a pin mismatch. Certificates are made by `openssl` for each run (`gatekit_testkit::pki`).
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

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
fn pki(dir: &Path, name: &str) {
    gatekit_testkit::pki::Pki::generate(dir, name).unwrap();
}

const SYSLOG_NG: &str = r#"@version: 3.38
options { keep-hostname(yes); };
source s_tls {
  network(ip("127.0.0.1") port(@PORT@) transport("tls") flags(syslog-protocol)
    tls(key-file("@PKI@/good-server.key") cert-file("@PKI@/good-server.pem")
        ca-file("@PKI@/good-ca.pem") peer-verify(required-trusted)));
};
destination d_out { file("@DIR@/out.txt" template("${HOST} ${PROGRAM} ${MSG}\n")); };
log { source(s_tls); destination(d_out); };
"#;

fn siem(port: u16, tls: &str) -> String {
    format!("  qradar:\n    transport: syslog_tls\n    format: leef\n    syslog: {{host: 127.0.0.1, port: {port}, tls: {{{tls}}}}}\n    dsm: {{log_source_identifier: gk-tls}}\n    delivery: {{batch_timeout: 0.1, retry_initial_delay: 0.1, shutdown_timeout: 0.5}}\n")
}

/// Runs a short session through gatekit with `siem`; returns gatekit's log.
fn session(dir: &Path, siem: &str) -> String {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nlogging:\n  level: INFO\n  handlers: [file]\n  file_path: gatekit.log\nsiem:\n{siem}",
        gatekit().display().to_string()
    );
    let mut gw = Gateway::start(&write_config(dir, &yaml));
    assert!(gw.initialize().get("result").is_some());
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": "over tls"}}),
    );
    assert_eq!(result_text(&reply), "over tls");
    // Give delivery a moment to try before shutdown flushes.
    std::thread::sleep(Duration::from_millis(500));
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(30)), Some(0));
    std::fs::read_to_string(dir.join("gatekit.log")).unwrap_or_default()
}

/// The lines syslog-ng wrote, without the audit records of successful TLS authentications
/// (`authentication succeeded on SIEM transport ...`): the tests count the session's records.
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.contains("authentication succeeded on SIEM transport"))
        .map(str::to_string)
        .collect()
}

fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let l = lines(path);
        if l.len() >= n || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn mutual_tls_to_syslog_ng_and_clear_failures() {
    let pki_dir = tempfile::tempdir().unwrap();
    pki(pki_dir.path(), "good");
    pki(pki_dir.path(), "other");
    let p = |f: &str| -> PathBuf { pki_dir.path().join(f) };
    let port = peers::free_port();
    let config = SYSLOG_NG
        .replace("@PORT@", &port.to_string())
        .replace("@PKI@", pki_dir.path().to_str().unwrap());
    let daemon = peers::start_syslog_ng(&config, &[port]);
    let out = daemon.dir.path().join("out.txt");

    // The right CA and a client certificate: delivered, parsed by syslog-ng as RFC 5424.
    let dir = tempfile::tempdir().unwrap();
    let good = format!(
        "ca_file: {:?}, cert_file: {:?}, key_file: {:?}",
        p("good-ca.pem"),
        p("good-client.pem"),
        p("good-client.key")
    );
    session(dir.path(), &siem(port, &good));
    let got = wait_lines(&out, 4);
    // Every authentication attempt is audited: the successful mutual-TLS handshake too.
    assert!(
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("authentication succeeded on SIEM transport tls:127.0.0.1"),
        "the successful TLS authentication is not in the trail"
    );
    assert_eq!(
        got.len(),
        4,
        "start, request, response, stop: {got:?}\n{}",
        daemon.stderr()
    );
    for line in &got {
        assert!(
            line.starts_with("gk-tls gatekit LEEF:2.0|Gatekit|"),
            "{line}"
        );
    }
    assert!(
        got[1].contains("|mcp_request|") && got[2].contains("|mcp_response|"),
        "{got:?}"
    );

    // Failures that must be reported, not silently swallowed; nothing reaches syslog-ng.
    let cases = [
        (
            format!(
                "ca_file: {:?}, cert_file: {:?}, key_file: {:?}",
                p("other-ca.pem"),
                p("good-client.pem"),
                p("good-client.key")
            ),
            "TLS handshake",
        ),
        (
            format!("ca_file: {:?}", p("good-ca.pem")),
            "rejected the TLS connection",
        ),
        (
            format!(
                "ca_file: {:?}, cert_file: {:?}, key_file: {:?}, pins: [\"{}\"]",
                p("good-ca.pem"),
                p("good-client.pem"),
                p("good-client.key"),
                "00".repeat(32)
            ),
            "matches no configured pin",
        ),
    ];
    for (tls, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        // A second, working destination receives the authentication-failure system_event.
        let both = format!("{}  splunk: {{transport: file, format: json, file: {{path: side.jsonl}}, delivery: {{batch_timeout: 0.05}}}}\n", siem(port, &tls));
        let log = session(dir.path(), &both);
        let side = std::fs::read_to_string(dir.path().join("side.jsonl")).unwrap_or_default();
        assert!(
            side.lines().any(|l| l.contains("\"system_event\"")
                && l.contains("authentication failure on SIEM transport tls:127.0.0.1")),
            "{tls}: no authentication-failure system_event in:\n{side}"
        );
        assert!(
            log.contains("TLS connection failed") && log.contains(expected),
            "{tls}: expected {expected:?} in:\n{log}"
        );
        assert_eq!(lines(&out).len(), 4, "{tls}: nothing may be delivered");
    }
}

#[test]
fn a_rotated_client_certificate_is_picked_up_without_a_restart_and_nothing_is_lost() {
    let pki_dir = tempfile::tempdir().unwrap();
    pki(pki_dir.path(), "good");
    pki(pki_dir.path(), "other");
    let p = |f: &str| -> PathBuf { pki_dir.path().join(f) };
    let port = peers::free_port();
    let config = SYSLOG_NG
        .replace("@PORT@", &port.to_string())
        .replace("@PKI@", pki_dir.path().to_str().unwrap());
    let daemon = peers::start_syslog_ng(&config, &[port]);
    let out = daemon.dir.path().join("out.txt");

    // Gatekit starts with a client certificate the receiver does not trust.
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("client.pem");
    let key = dir.path().join("client.key");
    std::fs::copy(p("other-client.pem"), &cert).unwrap();
    std::fs::copy(p("other-client.key"), &key).unwrap();
    let tls = format!(
        "ca_file: {:?}, cert_file: {:?}, key_file: {:?}",
        p("good-ca.pem"),
        cert,
        key
    );
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n{}",
        gatekit().display().to_string(),
        siem(port, &tls).replace("shutdown_timeout: 0.5}", "shutdown_timeout: 0.5, retry_max_delay: 0.3, retry_attempts: 1000, breaker: {open_for: 0.3}}")
    );
    assert!(
        yaml.contains("retry_attempts: 1000"),
        "the outage must not exhaust retries: {yaml}"
    );
    let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
    assert!(gw.initialize().get("result").is_some());
    for id in 1..=5 {
        let reply = gw.call(
            id,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": format!("rotation {id}")}}),
        );
        assert_eq!(result_text(&reply), format!("rotation {id}"));
    }
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        lines(&out).is_empty(),
        "nothing can be delivered with the wrong certificate"
    );

    // The operator rotates the certificate in place; no restart.
    std::thread::sleep(Duration::from_millis(1100)); // a new mtime, whatever the file system's resolution
    std::fs::copy(p("good-client.pem"), &cert).unwrap();
    std::fs::copy(p("good-client.key"), &key).unwrap();
    let got = wait_lines(&out, 11);
    let calls: Vec<&String> = got
        .iter()
        .filter(|l| l.contains("mcp_request") || l.contains("mcp_response"))
        .collect();
    assert_eq!(
        calls.len(),
        10,
        "the 10 events buffered during the outage arrive: {got:?}"
    );
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

const SYSLOG_NG_3164: &str = r#"@version: 3.38
options { keep-hostname(yes); };
source s_tls {
  network(ip("127.0.0.1") port(@PORT@) transport("tls")
    tls(key-file("@PKI@/good-server.key") cert-file("@PKI@/good-server.pem")
        ca-file("@PKI@/good-ca.pem") peer-verify(required-trusted)));
};
destination d_out { file("@DIR@/out.txt" template("${HOST} ${PROGRAM} ${FACILITY} ${LEVEL} ${MSG}\n")); };
log { source(s_tls); destination(d_out); };
"#;

#[test]
fn rfc3164_header_over_tls_when_chosen() {
    let pki_dir = tempfile::tempdir().unwrap();
    pki(pki_dir.path(), "good");
    let p = |f: &str| -> PathBuf { pki_dir.path().join(f) };
    let port = peers::free_port();
    let config = SYSLOG_NG_3164
        .replace("@PORT@", &port.to_string())
        .replace("@PKI@", pki_dir.path().to_str().unwrap());
    let daemon = peers::start_syslog_ng(&config, &[port]);
    let out = daemon.dir.path().join("out.txt");
    let dir = tempfile::tempdir().unwrap();
    let siem = format!(
        "  qradar:\n    transport: syslog_tls\n    format: leef\n    syslog: {{host: 127.0.0.1, port: {port}, header: rfc3164, facility: local4, tls: {{ca_file: {:?}, cert_file: {:?}, key_file: {:?}}}}}\n    dsm: {{log_source_identifier: gk-tls}}\n    delivery: {{batch_timeout: 0.1, retry_initial_delay: 0.1, shutdown_timeout: 0.5}}\n",
        p("good-ca.pem"),
        p("good-client.pem"),
        p("good-client.key")
    );
    session(dir.path(), &siem);
    let got = wait_lines(&out, 4);
    assert_eq!(got.len(), 4, "{got:?}\n{}", daemon.stderr());
    // syslog-ng's RFC 3164 parser (no `syslog-protocol` flag) finds host, tag, facility and
    // severity in the BSD header, and the LEEF body after the TAG.
    let requests: Vec<&String> = got.iter().filter(|l| l.contains("|mcp_request|")).collect();
    assert_eq!(requests.len(), 1, "{got:?}");
    assert!(
        requests[0].starts_with("gk-tls gatekit local4 info LEEF:2.0|Gatekit|"),
        "{}",
        requests[0]
    );
}
