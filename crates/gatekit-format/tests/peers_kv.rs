//! Plain syslog (`format: syslog`) against real daemons: the RFC 3164 and RFC 5424 headers
//! around the key=value body, parsed by rsyslog (header fields: host, tag, facility,
//! severity) and by syslog-ng (header fields, and the body through its `kv-parser()`), with
//! the sample events and random hostile ones (quotes, backslashes, `key=` fragments, line
//! breaks, U+2028, forged syslog headers in every field).
//!
//! Needs `scripts/install-test-peers-syslog.sh`; fails (never skips) without it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::expect::{hostname, hostname_3164};
use common::kv::{clean, expected};
use common::{gen, peers};
use gatekit_core::AuditEvent;
use gatekit_format::{
    Formatter, Framing, KeyValueFormatter, SeverityMap, Syslog3164Formatter, Syslog5424Formatter,
    SyslogSettings,
};
use serde_json::Value;

fn body(e: &AuditEvent) -> String {
    let mut v = Vec::new();
    KeyValueFormatter.format(e, &mut v).unwrap();
    String::from_utf8(v).unwrap()
}

fn wire(f: &dyn Formatter, framing: Framing, events: &[AuditEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        framing.write_frame(f, e, &mut out).unwrap();
    }
    out
}

const RSYSLOG: &str = r#"
global(workDirectory="@DIR@" processInternalMessages="on" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" port="@PORT@" address="127.0.0.1" ruleset="r")
template(name="fields" type="list" option.jsonf="on") {
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="tag" name="syslogtag" format="jsonf")
  property(outname="app" name="programname" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="r") {
  action(type="omfile" file="@DIR@/fields.json" template="fields")
}
"#;

fn severity_name(code: u8) -> &'static str {
    [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ][usize::from(code)]
}

#[test]
fn rsyslog_reads_host_tag_facility_and_severity_of_rfc3164_with_key_value_body() {
    let port = peers::free_port();
    let mut d =
        peers::start_rsyslog_with(&RSYSLOG.replace("@PORT@", &port.to_string()), &[], &[port]);
    let events = gen::samples_and_random(40);
    let f =
        Syslog3164Formatter::new(SyslogSettings::default(), Box::new(KeyValueFormatter)).unwrap();
    peers::send(port, &wire(&f, Framing::Lf, &events));
    let path = d.dir.path().join("fields.json");
    let got = peers::wait_for_json_lines(&mut d, &path, events.len());
    for (i, e) in events.iter().enumerate() {
        let g = &got[i];
        // protocol-version 0 is rsyslog's "legacy (RFC 3164) header".
        assert_eq!(g["version"], "0", "event {i}: {g}");
        assert_eq!(g["facility"], "local0", "event {i}: {g}");
        assert_eq!(
            g["severity"],
            severity_name(e.severity.syslog_code()),
            "event {i}"
        );
        assert_eq!(g["hostname"], hostname_3164(&e.host), "event {i}: {g}");
        assert_eq!(g["tag"], "gatekit:", "event {i}: {g}");
        assert_eq!(g["app"], "gatekit", "event {i}");
        // rsyslog keeps the space after the TAG's colon as part of MSG (RFC 3164 CONTENT).
        assert_eq!(
            g["msg"].as_str().unwrap().trim_start(),
            body(e),
            "event {i}"
        );
    }
}

#[test]
fn rsyslog_reads_a_fixed_severity_and_facility_in_rfc3164() {
    let port = peers::free_port();
    let mut d =
        peers::start_rsyslog_with(&RSYSLOG.replace("@PORT@", &port.to_string()), &[], &[port]);
    let events = gatekit_format::sample_events();
    let settings = SyslogSettings {
        facility: 19,
        severity_map: SeverityMap::new([6; 8]).unwrap(),
        hostname: Some("gk-test-01".into()),
        ..SyslogSettings::default()
    };
    let f = Syslog3164Formatter::new(settings, Box::new(KeyValueFormatter)).unwrap();
    peers::send(port, &wire(&f, Framing::Lf, &events));
    let path = d.dir.path().join("fields.json");
    let got = peers::wait_for_json_lines(&mut d, &path, events.len());
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g["facility"], "local3", "event {i}: {g}");
        assert_eq!(g["severity"], "info", "event {i}: {g}");
        assert_eq!(g["hostname"], "gk-test-01", "event {i}: {g}");
    }
}

const SYSLOG_NG: &str = r#"@version: 3.38
options { keep-hostname(yes); stats_freq(0); log-msg-size(65536); };
source s_3164 { network(ip("127.0.0.1") port(@P1@) transport("tcp") flags(no-multi-line)); };
source s_5424 { syslog(ip("127.0.0.1") port(@P2@) transport("tcp")); };
parser p_kv { kv-parser(prefix(".kv.")); };
destination d_3164 { file("@DIR@/3164.json" template("$(format-json FACILITY=${FACILITY} LEVEL=${LEVEL} HOST=${HOST} PROGRAM=${PROGRAM} MESSAGE=${MESSAGE} --key .kv.*)\n")); };
destination d_5424 { file("@DIR@/5424.json" template("$(format-json FACILITY=${FACILITY} LEVEL=${LEVEL} HOST=${HOST} PROGRAM=${PROGRAM} MSGID=${MSGID} MESSAGE=${MESSAGE} --key .kv.*)\n")); };
log { source(s_3164); parser(p_kv); destination(d_3164); };
log { source(s_5424); parser(p_kv); destination(d_5424); };
"#;

/// The pairs syslog-ng's kv-parser found, in the documented key order.
fn kv_of(g: &Value, keys: &[(String, String)]) -> Vec<(String, String)> {
    let kv = g["_kv"].as_object().cloned().unwrap_or_default();
    let mut got: Vec<(String, String)> = keys
        .iter()
        .filter_map(|(k, _)| {
            kv.get(k)
                .map(|v| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        })
        .collect();
    // Keys syslog-ng found that the event does not have would be forged.
    for k in kv.keys() {
        if !keys.iter().any(|(want, _)| want == k) {
            got.push((k.clone(), "<forged>".into()));
        }
    }
    got
}

#[test]
fn syslog_ng_kv_parser_reads_every_pair_under_both_headers() {
    let ports = [peers::free_port(), peers::free_port()];
    let conf = SYSLOG_NG
        .replace("@P1@", &ports[0].to_string())
        .replace("@P2@", &ports[1].to_string());
    let mut d = peers::start_syslog_ng(&conf, &ports);
    let events = gen::samples_and_random(40);

    let f3164 =
        Syslog3164Formatter::new(SyslogSettings::default(), Box::new(KeyValueFormatter)).unwrap();
    peers::send(ports[0], &wire(&f3164, Framing::Lf, &events));
    let f5424 =
        Syslog5424Formatter::new(SyslogSettings::default(), Box::new(KeyValueFormatter)).unwrap();
    peers::send(ports[1], &wire(&f5424, Framing::OctetCounting, &events));

    let p3164 = d.dir.path().join("3164.json");
    let got3164 = peers::wait_for_json_lines(&mut d, &p3164, events.len());
    let p5424 = d.dir.path().join("5424.json");
    let got5424 = peers::wait_for_json_lines(&mut d, &p5424, events.len());
    for (i, e) in events.iter().enumerate() {
        let want = expected(e);
        for (name, g, host) in [
            ("3164", &got3164[i], hostname_3164(&e.host)),
            ("5424", &got5424[i], hostname(&e.host)),
        ] {
            // An RFC 5424 NILVALUE HOSTNAME: syslog-ng names the sender instead.
            let host = if host == "-" {
                "localhost".to_owned()
            } else {
                host
            };
            assert_eq!(g["FACILITY"], "local0", "{name} event {i}: {g}");
            assert_eq!(
                g["LEVEL"],
                severity_name(e.severity.syslog_code()),
                "{name} event {i}: {g}"
            );
            assert_eq!(g["HOST"], host, "{name} event {i}: {g}");
            assert_eq!(g["PROGRAM"], "gatekit", "{name} event {i}: {g}");
            assert_eq!(g["MESSAGE"], body(e), "{name} event {i}");
            assert_eq!(kv_of(g, &want), want, "{name} event {i}: {g}");
        }
        // The sanitisation rule made every value one clean line.
        assert!(want.iter().all(|(_, v)| clean(v) == *v));
    }
}
