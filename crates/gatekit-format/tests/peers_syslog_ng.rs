//! Integration tests against a real syslog-ng (Debian package, unpacked privately): its
//! RFC 5424 `syslog()` source (octet counting only), its `network()` source (LF framing,
//! RFC 3164), its csv-parser splitting LEEF 2.0 on the declared delimiter, and its
//! json-parser. syslog-ng writes what it parsed as JSON (`format-json`); the test compares
//! it with what the documented mapping promises (`common::expect`). Debian's syslog-ng 3.38
//! has no CEF parser, so CEF bodies are checked for exact transport and then parsed by the
//! independent spec parser of `common::parsers`.
//!
//! Needs `scripts/install-test-peers-syslog.sh`; fails (never skips) without it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::collections::BTreeMap;

use common::expect::{
    cef_header, cut, expected_cef, expected_leef, expected_sd, hostname, hostname_3164,
    json_through,
};
use common::{gen, parsers, peers};
use gatekit_core::AuditEvent;
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, LeefFormatter, LeefSettings,
    Syslog3164Formatter, Syslog5424Formatter, SyslogSettings,
};
use serde_json::Value;

const CONFIG: &str = r#"@version: 3.38
options { keep-hostname(yes); stats_freq(0); log-msg-size(65536); };
source s_cef { syslog(ip("127.0.0.1") port(@P1@) transport("tcp")); };
source s_leef { syslog(ip("127.0.0.1") port(@P2@) transport("tcp")); };
source s_3164 { network(ip("127.0.0.1") port(@P3@) transport("tcp")); };
source s_json { syslog(ip("127.0.0.1") port(@P4@) transport("tcp")); };
parser p_leef {
  csv-parser(columns(@COLUMNS@) delimiters(chars("^")) quote-pairs("")
             dialect(escape-none) flags(greedy) prefix(".leef."));
};
parser p_json { json-parser(prefix(".json.")); };
destination d_cef { file("@DIR@/cef.json" template("$(format-json PRI=${PRI} HOST=${HOST} PROGRAM=${PROGRAM} PID=${PID} MSGID=${MSGID} MESSAGE=${MESSAGE} --key .SDATA.*)\n")); };
destination d_leef { file("@DIR@/leef.json" template("$(format-json MESSAGE=${MESSAGE} --key .leef.*)\n")); };
destination d_3164 { file("@DIR@/3164.json" template("$(format-json PRI=${PRI} HOST=${HOST} PROGRAM=${PROGRAM} PID=${PID} MESSAGE=${MESSAGE})\n")); };
destination d_json { file("@DIR@/json.json" template("$(format-json --key .json.*)\n")); };
log { source(s_cef); destination(d_cef); };
log { source(s_leef); parser(p_leef); destination(d_leef); };
log { source(s_3164); destination(d_3164); };
log { source(s_json); parser(p_json); destination(d_json); };
"#;

const COLUMNS: usize = 48;

struct Peer {
    d: peers::Daemon,
    ports: [u16; 4],
}

fn start() -> Peer {
    let ports = [
        peers::free_port(),
        peers::free_port(),
        peers::free_port(),
        peers::free_port(),
    ];
    let cols: Vec<String> = std::iter::once("\"H\"".to_owned())
        .chain((0..COLUMNS).map(|i| format!("\"A{i}\"")))
        .collect();
    let mut conf = CONFIG.replace("@COLUMNS@", &cols.join(", "));
    for (i, p) in ports.iter().enumerate() {
        conf = conf.replace(&format!("@P{}@", i + 1), &p.to_string());
    }
    let d = peers::start_syslog_ng(&conf, &ports);
    Peer { d, ports }
}

impl Peer {
    fn send(
        &mut self,
        port_idx: usize,
        f: &dyn Formatter,
        framing: Framing,
        events: &[AuditEvent],
        out: &str,
    ) -> Vec<Value> {
        let mut wire = Vec::new();
        for e in events {
            framing.write_frame(f, e, &mut wire).unwrap();
        }
        peers::send(self.ports[port_idx], &wire);
        let path = self.d.dir.path().join(out);
        peers::wait_for_json_lines(&mut self.d, &path, events.len())
    }
}

fn cef() -> CefFormatter {
    CefFormatter::new(CefSettings::default()).unwrap()
}

fn body(f: &dyn Formatter, e: &AuditEvent) -> String {
    let mut v = Vec::new();
    f.format(e, &mut v).unwrap();
    String::from_utf8(v).unwrap()
}

/// The CEF body as carried by syslog-ng, checked with the independent spec parser.
fn assert_cef_message(msg: &str, e: &AuditEvent, i: usize) {
    let p = parsers::parse_cef(msg).unwrap_or_else(|err| panic!("event {i}: {err}: {msg}"));
    assert_eq!(
        p.header[3],
        cef_header(&cut(&e.gateway_version, 31)),
        "event {i}"
    );
    let mut got = p.ext.clone();
    let mut want = expected_cef(e);
    if let Some(params) = e.mcp_data.as_ref().and_then(|m| m.parameters.as_ref()) {
        let cs5: Value = serde_json::from_str(&got["cs5"]).unwrap();
        assert_eq!(
            cs5,
            json_through(&Value::Object(params.clone()), None),
            "event {i}"
        );
        got.insert("cs5".into(), "<json>".into());
        want.insert("cs5".into(), "<json>".into());
    }
    assert_eq!(got, want, "event {i}");
}

#[test]
fn syslog_ng_parses_rfc5424_octet_counted_with_cef_body() {
    let mut peer = start();
    let events = gen::samples_and_random(60);
    let settings = SyslogSettings {
        procid: Some(4711),
        sd_id: Some("gatekit@32473".into()),
        ..SyslogSettings::default()
    };
    let f = Syslog5424Formatter::new(settings, Box::new(cef())).unwrap();
    let got = peer.send(0, &f, Framing::OctetCounting, &events, "cef.json");
    for (i, e) in events.iter().enumerate() {
        let g = &got[i];
        assert_eq!(
            g["PRI"],
            (128 + u32::from(e.severity.syslog_code())).to_string(),
            "event {i}: {g}"
        );
        assert_eq!(g["PROGRAM"], "gatekit", "event {i}");
        assert_eq!(g["PID"], "4711", "event {i}");
        assert_eq!(g["MSGID"], e.event_type.as_str(), "event {i}");
        let host = hostname(&e.host);
        if host != "-" {
            assert_eq!(g["HOST"], host, "event {i}");
        }
        let sd: BTreeMap<String, String> = g["_SDATA"]["gatekit@32473"]
            .as_object()
            .unwrap_or_else(|| panic!("event {i}: no SDATA in {g}"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let want: BTreeMap<String, String> = expected_sd(e).into_iter().collect();
        assert_eq!(sd, want, "event {i}: STRUCTURED-DATA");
        let msg = g["MESSAGE"].as_str().unwrap();
        assert_eq!(msg, body(&cef(), e), "event {i}: MSG");
        assert_cef_message(msg, e, i);
    }
}

#[test]
fn syslog_ng_splits_leef2_on_the_declared_delimiter() {
    let mut peer = start();
    let events = gen::samples_and_random(60);
    let leef = LeefFormatter::new(LeefSettings::default()).unwrap();
    let f = Syslog5424Formatter::new(SyslogSettings::default(), Box::new(leef.clone())).unwrap();
    let got = peer.send(1, &f, Framing::OctetCounting, &events, "leef.json");
    for (i, e) in events.iter().enumerate() {
        let g = &got[i]["_leef"];
        assert_eq!(got[i]["MESSAGE"], body(&leef, e), "event {i}");
        // Header: the delimiter field `^` is itself split off, so column H holds the
        // header up to it and A0 starts with the `|` that closes field 6.
        let h = g["H"].as_str().unwrap();
        assert!(
            h.starts_with("LEEF:2.0|Gatekit|Gatekit MCP Gateway|"),
            "event {i}: {h}"
        );
        let mut attrs = BTreeMap::new();
        for c in 0..COLUMNS {
            let Some(v) = g.get(format!("A{c}")).and_then(Value::as_str) else {
                break;
            };
            let v = if c == 0 {
                v.strip_prefix('|').unwrap()
            } else {
                v
            };
            if v.is_empty() {
                continue;
            }
            let (k, val) = v
                .split_once('=')
                .unwrap_or_else(|| panic!("event {i}: {v:?}"));
            assert!(
                attrs.insert(k.to_owned(), val.to_owned()).is_none(),
                "event {i}: duplicate {k}"
            );
        }
        let mut want = expected_leef(e, '^');
        if let Some(p) = e.mcp_data.as_ref().and_then(|m| m.parameters.as_ref()) {
            let v: Value = serde_json::from_str(&attrs["params"]).unwrap();
            assert_eq!(
                v,
                json_through(&Value::Object(p.clone()), Some('^')),
                "event {i}"
            );
            attrs.insert("params".into(), "<json>".into());
        }
        want.retain(|_, v| !v.is_empty());
        assert_eq!(
            attrs, want,
            "event {i}: LEEF attributes as split by syslog-ng"
        );
    }
}

#[test]
fn syslog_ng_network_source_takes_lf_framed_rfc3164_with_tag() {
    let mut peer = start();
    let events = gen::samples_and_random(30);
    let settings = SyslogSettings {
        procid: Some(99),
        ..SyslogSettings::default()
    };
    let f = Syslog3164Formatter::new(settings, Box::new(cef())).unwrap();
    let got = peer.send(2, &f, Framing::Lf, &events, "3164.json");
    for (i, e) in events.iter().enumerate() {
        let g = &got[i];
        assert_eq!(g["PROGRAM"], "gatekit", "event {i}: {g}");
        assert_eq!(g["PID"], "99", "event {i}");
        assert_eq!(g["HOST"], hostname_3164(&e.host), "event {i}");
        let msg = g["MESSAGE"].as_str().unwrap();
        assert_eq!(msg, body(&cef(), e), "event {i}");
        assert_cef_message(msg, e, i);
    }
}

#[test]
fn syslog_ng_json_parser_reads_the_json_body() {
    let mut peer = start();
    let events = gatekit_format::sample_events();
    let f = Syslog5424Formatter::new(SyslogSettings::default(), Box::new(JsonFormatter)).unwrap();
    let got = peer.send(3, &f, Framing::OctetCounting, &events, "json.json");
    for (i, e) in events.iter().enumerate() {
        let j = &got[i]["_json"];
        assert_eq!(j["event_id"], e.event_id.to_string(), "event {i}: {j}");
        assert_eq!(j["event_type"], e.event_type.as_str(), "event {i}");
        assert_eq!(j["timestamp"], e.timestamp.to_rfc3339_millis(), "event {i}");
        assert_eq!(
            j.get("session_id").and_then(Value::as_str),
            e.session_id.as_deref(),
            "event {i}"
        );
        assert_eq!(
            j.get("message").and_then(Value::as_str),
            e.message.as_deref(),
            "event {i}"
        );
        if let Some(d) = &e.security_decision {
            assert_eq!(j["security_decision"]["reason"], d.reason, "event {i}");
            assert_eq!(j["security_decision"]["plugin"], d.plugin, "event {i}");
        }
        if let Some(m) = &e.mcp_data {
            assert_eq!(j["mcp_data"]["method"], m.method, "event {i}");
        }
    }
}
