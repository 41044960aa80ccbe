//! The `gatekit siem` tools do not mislead (issue 15, honest tools): `load` refuses a
//! destination that is not local or marked a test target, shows progress and fails on any
//! dead letter; `test` puts outcomes in words, says what each transport cannot confirm and
//! catches a UDP send to a closed port; `sample` prints what the configuration sends. Each
//! test fails on the tools as they were before.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Output};

use gatekit_testkit::hec::{Fault, HecReceiver};
use serde_json::json;
use support::*;

const TOKEN: &str = "0c4a8f2e-5b1d-4f7a-9e3c-2d6b8a1f0e57";
const PROXY: &str = "proxy:\n  transport: stdio\n  upstreams: [{name: ex, command: [x]}]\n";

fn siem(args: &[&str], config: &std::path::Path) -> (Output, String, String) {
    let out = Command::new(gatekit())
        .arg("siem")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// A UDP port with nothing bound to it (bound once, then released).
fn closed_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn load_refuses_a_remote_destination_unless_marked_or_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a real SIEM, and never contacted here.
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  qradar: {{transport: syslog_tcp, syslog: {{host: 192.0.2.7, port: 514}}}}\n  splunk: {{transport: file, format: cef, file: {{path: q.log}}}}\n"),
    );
    let (out, stdout, stderr) = siem(&["load", "--events", "10"], &config);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("refusing") && stderr.contains("qradar (192.0.2.7)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("test_target: true") && stderr.contains("--yes"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("q.log").exists(),
        "nothing was sent anywhere, not even to the local destination"
    );
}

#[test]
fn load_fails_on_dead_letters_and_shows_progress() {
    let rx = HecReceiver::start(TOKEN);
    // One batch is refused for good (400 code 5: no data): its events are dead-lettered.
    rx.script([Fault::Reply(
        400,
        json!({"text": "No data", "code": 5}),
        None,
    )]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "{PROXY}siem:\n  splunk:\n    transport: hec\n    hec: {{endpoint: \"http://127.0.0.1:{}\", token: \"{TOKEN}\"}}\n    delivery: {{batch_timeout: 0.05, batch_size: 50, overflow: block}}\n",
            rx.port()
        ),
    );
    // 1,500 events at 1,000/s: long enough for a progress line.
    let (out, stdout, stderr) = siem(&["load", "--events", "1500", "--rate", "1000"], &config);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // The refused batch held the first event(s) (how many depends on how the first batch
    // formed); every other event reached the receiver, and the count says how many went to
    // the dead-letter file.
    let kept = rx.event_count();
    let dead: u64 = stderr
        .split("not every event was delivered: 0 dropped, ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no dead-letter count: {stderr}"));
    assert!(dead >= 1, "{stderr}");
    assert!(kept < 1500 + 3, "{kept}");
    assert!(
        kept + dead >= 1500,
        "every event delivered or dead-lettered: {kept} + {dead}"
    );
    assert!(
        stderr.contains("siem load: submitted"),
        "progress on stderr: {stderr}"
    );
}

#[test]
fn load_succeeds_locally_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  splunk: {{transport: file, format: json, file: {{path: out.jsonl}}, delivery: {{overflow: block, batch_timeout: 0.05}}}}\n"),
    );
    let (out, stdout, stderr) = siem(&["load", "--events", "500"], &config);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("dropped 0 dead-lettered 0"), "{stdout}");
}

#[test]
fn test_reports_a_udp_send_to_a_closed_port_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "{PROXY}siem:\n  qradar: {{transport: syslog_udp, syslog: {{host: 127.0.0.1, port: {}}}}}\n",
            closed_udp_port()
        ),
    );
    let (out, stdout, stderr) = siem(&["test"], &config);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("FAILED") && stdout.contains("ICMP port unreachable"),
        "{stdout}"
    );
    assert!(!stdout.contains("delivered"), "{stdout}");
}

#[test]
fn test_says_what_udp_cannot_confirm() {
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  qradar: {{transport: syslog_udp, syslog: {{host: 127.0.0.1, port: {port}}}}}\n"),
    );
    let (out, stdout, stderr) = siem(&["test"], &config);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("sent via udp:127.0.0.1")
            && stdout.contains("UDP has no acknowledgement")
            && stdout.contains("cannot confirm: delivery of any kind"),
        "{stdout}"
    );
    assert!(!stdout.contains("delivered via"), "{stdout}");
    let mut buf = [0u8; 4096];
    listener
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let n = listener.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("connectivity test"));
}

#[test]
fn test_puts_failures_in_words_not_debug_text() {
    let rx = HecReceiver::start(TOKEN);
    rx.script([Fault::Reply(
        503,
        json!({"text": "Server is busy", "code": 9}),
        Some(7),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "{PROXY}siem:\n  splunk:\n    transport: hec\n    hec: {{endpoint: \"http://127.0.0.1:{}\", token: \"{TOKEN}\"}}\n",
            rx.port()
        ),
    );
    let (out, stdout, stderr) = siem(&["test"], &config);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("HTTP 503: Server is busy")
            && stdout.contains("temporary failure")
            && stdout.contains("retries after 7 s"),
        "{stdout}"
    );
    for debug in ["Retry {", "reason:", "retry_after", "Some("] {
        assert!(!stdout.contains(debug), "{debug} in {stdout}");
    }
    // A success says what Splunk confirmed and what it did not.
    let (out, stdout, _) = siem(&["test"], &config);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("confirms: Splunk accepted the request (HTTP 200)")
            && stdout.contains("cannot confirm: indexing"),
        "{stdout}"
    );
}

#[test]
fn sample_leef_is_what_format_leef_sends() {
    let out = Command::new(gatekit())
        .args(["siem", "sample", "--format", "leef"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        text.lines().all(|l| l.starts_with("LEEF:2.0|")),
        "format: leef is LEEF 2.0:\n{text}"
    );
    let v1 = Command::new(gatekit())
        .args(["siem", "sample", "--format", "leef1"])
        .output()
        .unwrap();
    assert!(String::from_utf8(v1.stdout)
        .unwrap()
        .starts_with("LEEF:1.0|"));
}

/// The header of `sample --config` names the scheme the HEC endpoint really uses.
#[test]
fn sample_names_the_hec_endpoint_scheme_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  splunk:\n    transport: hec\n    hec: {{endpoint: \"http://127.0.0.1:8088\", token: \"{TOKEN}\"}}\n"),
    );
    let (out, _, stderr) = siem(&["sample", "--platform", "splunk"], &config);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("==> splunk: Splunk HEC http://127.0.0.1:8088,"),
        "{stderr}"
    );
}

/// `sample --config` renders with the destination's own header, format and framing: the same
/// shape as the bytes `siem test` puts on the wire to a TCP receiver.
#[test]
fn sample_config_prints_what_the_destination_sends() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("{PROXY}siem:\n  qradar: {{transport: syslog_tcp, format: leef, syslog: {{host: 127.0.0.1, port: {port}}}}}\n  splunk: {{transport: file, format: cef, file: {{path: s.log}}}}\n"),
    );
    let (out, sample, stderr) = siem(&["sample", "--platform", "qradar"], &config);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("==> qradar: TCP syslog to 127.0.0.1"),
        "{stderr}"
    );
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        let _ = conn.read_to_end(&mut got);
        String::from_utf8_lossy(&got).into_owned()
    });
    let (out, stdout, _) = siem(&["test"], &config);
    assert!(out.status.success(), "{stdout}");
    let wire = reader.join().unwrap();
    // An RFC 3164 header with LEEF 2.0 inside, LF-framed (QRadar's syslog_tcp), in both.
    let shape = |s: &str| {
        let first = s.lines().next().unwrap_or_default();
        (
            first.starts_with('<'),
            first.contains(" gatekit: LEEF:2.0|Gatekit|"),
            s.ends_with('\n'),
        )
    };
    assert_eq!(shape(&sample), (true, true, true), "{sample}");
    assert_eq!(shape(&wire), (true, true, true), "{wire}");
    // The file destination renders CEF with no syslog header.
    let (_, splunk, _) = siem(&["sample", "--platform", "splunk"], &config);
    assert!(
        splunk.lines().all(|l| l.starts_with("CEF:0|Gatekit|")),
        "{splunk}"
    );
}
