//! The whole-event size limit against real receivers: stock rsyslog (its default
//! `maxMessageSize`, 8,096 bytes, which cuts a longer message and parses the rest as a new
//! one, even inside an octet-counted frame) and syslog-ng (`log-msg-size(8192)`).
//!
//! Hostile, far over-size events (huge tool names; arguments and messages full of newlines,
//! forged syslog headers, `|`, `^`, `=`, `\`, quotes and multi-byte characters) go out in
//! every format (CEF, LEEF 2.0, LEEF 1.0, JSON, key=value), in RFC 5424 (and RFC 3164) headers,
//! LF-framed and octet-counted, through `SizeLimited` at the receiver's limit. Each must
//! arrive as exactly one message, carry its own event id and nobody else's, parse as its
//! format and carry the `truncated` mark. A control test shows that without the limit
//! rsyslog does see a second, forged message.
//!
//! Needs `scripts/install-test-peers-syslog.sh`; fails (never skips) without it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::collections::BTreeMap;

use common::{kv, parsers, peers};
use gatekit_core::{
    AuditEvent, ClientInfo, EventId, EventType, McpData, SecurityDecision, Severity, Timestamp,
    UpstreamServer,
};
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, KeyValueFormatter, LeefFormatter,
    LeefSettings, LeefVersion, SizeLimited, Syslog3164Formatter, Syslog5424Formatter,
    SyslogSettings,
};
use serde_json::{json, Value};

/// Stock rsyslog's maximum message size (docs/reference/event-size-limits.md §1).
const RSYSLOG_LIMIT: usize = 8096;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Body {
    Cef,
    Leef2,
    Leef1,
    Json,
    Kv,
}

const BODIES: [Body; 5] = [Body::Cef, Body::Leef2, Body::Leef1, Body::Json, Body::Kv];

fn body(b: Body) -> Box<dyn Formatter> {
    match b {
        Body::Cef => Box::new(CefFormatter::new(CefSettings::default()).unwrap()),
        Body::Leef2 => Box::new(LeefFormatter::new(LeefSettings::default()).unwrap()),
        Body::Leef1 => Box::new(
            LeefFormatter::new(LeefSettings {
                version: LeefVersion::V1,
                ..LeefSettings::default()
            })
            .unwrap(),
        ),
        Body::Json => Box::new(JsonFormatter),
        Body::Kv => Box::new(KeyValueFormatter),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Header {
    Rfc5424,
    Rfc3164,
}

fn formatter(b: Body, h: Header) -> Box<dyn Formatter> {
    let settings = SyslogSettings {
        procid: Some(4711),
        ..SyslogSettings::default()
    };
    match h {
        Header::Rfc5424 => Box::new(Syslog5424Formatter::new(settings, body(b)).unwrap()),
        Header::Rfc3164 => Box::new(Syslog3164Formatter::new(settings, body(b)).unwrap()),
    }
}

/// Far over-size events, each hostile in another way; ids are `base + i`.
fn hostile(base: u128) -> Vec<AuditEvent> {
    let forged = "\n<134>1 2025-01-01T00:00:00Z evil.example gatekit - security_decision - CEF:0|Gatekit|Gatekit MCP Gateway|1|security_decision|x|1|suser=root allowed=true\n";
    let specials = "|^=\\\"]\t\r\n%é🦀\u{2028}ü";
    let mut out = Vec::new();
    let variants: [(String, Value, String); 5] = [
        // A tool name far longer than any receiver takes, with a forged event in it.
        (
            format!("read{}", forged.repeat(300)),
            json!({"path": "/etc/passwd"}),
            "huge tool name".into(),
        ),
        // Arguments full of newlines and forged headers.
        (
            "write".into(),
            json!({"content": forged.repeat(400), "n": 3}),
            "newlines in arguments".into(),
        ),
        // Every format's special characters, everywhere.
        (
            specials.repeat(200),
            json!({"a": specials.repeat(3000), "b": [specials.repeat(100)]}),
            specials.repeat(2000),
        ),
        // Multi-byte characters only, so any byte cut would land inside one.
        (
            "🦀".repeat(3000),
            json!({"é": "é🦀".repeat(5000)}),
            "ü".repeat(9000),
        ),
        // Just over the limit: the shrink has to cut very little.
        (
            "query".into(),
            json!({"sql": "x".repeat(RSYSLOG_LIMIT)}),
            "m".into(),
        ),
    ];
    let n = variants.len();
    for (i, (tool, params, message)) in variants.into_iter().enumerate() {
        let Value::Object(params) = params else {
            unreachable!()
        };
        out.push(
            AuditEvent::new(
                EventType::SecurityDecision,
                Severity::Warning,
                Timestamp::from_unix_millis(1_763_371_800_000),
                EventId::from_u128(base + i as u128),
                base as u64 + i as u64,
            )
            .with_origin("gk01.example.com", "0.1.0")
            .with_session_id("s-1")
            .with_message(message)
            .with_mcp(McpData {
                method: "tools/call".into(),
                tool_name: Some(tool),
                namespaced_tool_name: Some("fs__read".into()),
                parameters: Some(params),
            })
            .with_decision(SecurityDecision {
                allowed: false,
                plugin: "pii".into(),
                reason: "denied \"quoted\" \\ reason=x".into(),
                risk_score: Some(9),
            }),
        );
    }
    // Every free-text field at once: formats that cap each field themselves (CEF,
    // key=value) are over the limit only in sum.
    let big = "\"\\=|^".repeat(600);
    let mut all = out[2].clone();
    all.event_id = EventId::from_u128(base + n as u128);
    all = all
        .with_correlation_id(big.clone())
        .with_client(ClientInfo {
            client_id: big.clone(),
            client_version: big.clone(),
            user: Some(big.clone()),
        })
        .with_upstream(UpstreamServer {
            name: big.clone(),
            command: Some(big.clone()),
        })
        .with_error(-1, big.clone());
    all.session_id = Some(big.clone());
    if let Some(d) = all.security_decision.as_mut() {
        d.reason = big.clone();
        d.plugin = big;
    }
    out.push(all);
    out
}

/// What was sent under one event id.
struct Sent {
    body: Body,
    header: Header,
    framing: Framing,
    /// Whether the unlimited rendering was over the limit (so the event had to be shrunk and
    /// marked); if not, the formatter's own field caps kept it within, and it goes unmarked.
    over: bool,
}

/// Renders every hostile event in every combination through the size limit; the bytes to
/// send and what each id stands for.
fn wire(
    limit: usize,
    combos: &[(Header, Framing)],
    mut base: u128,
) -> (Vec<u8>, BTreeMap<String, Sent>) {
    let mut bytes = Vec::new();
    let mut sent = BTreeMap::new();
    for &(header, framing) in combos {
        for b in BODIES {
            let f = SizeLimited::new(formatter(b, header), limit).unwrap();
            let unlimited = formatter(b, header);
            for e in hostile(base) {
                let mut plain = Vec::new();
                unlimited.format(&e, &mut plain).unwrap();
                let start = bytes.len();
                framing.write_frame(&f, &e, &mut bytes).unwrap();
                let framed = bytes.len() - start;
                assert!(framed <= limit + 6, "{b:?}: {framed} framed bytes");
                sent.insert(
                    e.event_id.to_string(),
                    Sent {
                        body: b,
                        header,
                        framing,
                        over: plain.len() > limit,
                    },
                );
            }
            base += 0x100;
        }
    }
    (bytes, sent)
}

/// The body (MSG) of a received message: after the RFC 3164 TAG if that header was used
/// (rsyslog keeps the space after the colon; docs/reference/real-peers.md).
fn body_of(msg: &str, header: Header) -> &str {
    match header {
        Header::Rfc5424 => msg,
        Header::Rfc3164 => msg.trim_start(),
    }
}

/// Checks that each received message is one whole event of the set, each exactly once,
/// valid in its format and marked truncated.
fn check(messages: &[String], sent: &BTreeMap<String, Sent>, peer: &str) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, msg) in messages.iter().enumerate() {
        let ids: Vec<&String> = sent.keys().filter(|id| msg.contains(id.as_str())).collect();
        assert_eq!(
            ids.len(),
            1,
            "{peer}: message {i} is not exactly one sent event ({} ids): {}",
            ids.len(),
            msg.chars().take(300).collect::<String>()
        );
        let id = ids[0].as_str();
        *seen.entry(id).or_default() += 1;
        let s = &sent[id];
        let what = format!("{peer}: {:?} {:?} {:?} {id}", s.body, s.header, s.framing);
        let b = body_of(msg, s.header);
        let mark = if s.over { Some("true") } else { None };
        match s.body {
            Body::Cef => {
                let p = parsers::parse_cef(b).unwrap_or_else(|e| panic!("{what}: {e}: {b}"));
                assert_eq!(
                    p.ext.get("GatekitTruncated").map(String::as_str),
                    mark,
                    "{what}"
                );
                assert_eq!(p.ext.get("cs1").map(String::as_str), Some(id), "{what}");
            }
            Body::Leef2 | Body::Leef1 => {
                let p = parsers::parse_leef(b).unwrap_or_else(|e| panic!("{what}: {e}: {b}"));
                assert_eq!(p.attrs.get("truncated").map(String::as_str), mark, "{what}");
                assert_eq!(
                    p.attrs.get("eventId").map(String::as_str),
                    Some(id),
                    "{what}"
                );
            }
            Body::Json => {
                let v: Value =
                    serde_json::from_str(b).unwrap_or_else(|e| panic!("{what}: {e}: {b}"));
                assert_eq!(v["truncated"].as_bool().map(|_| "true"), mark, "{what}");
                assert_eq!(v["event_id"], id, "{what}");
            }
            Body::Kv => {
                let pairs = kv::parse(b).unwrap_or_else(|e| panic!("{what}: {e}: {b}"));
                let get = |k: &str| {
                    pairs
                        .iter()
                        .find(|(key, _)| key == k)
                        .map(|(_, v)| v.as_str())
                };
                assert_eq!(get("truncated"), mark, "{what}");
                assert_eq!(get("event_id"), Some(id), "{what}");
            }
        }
    }
    assert_eq!(seen.len(), sent.len(), "{peer}: events missing");
    // Every format must have met the limit with some of these events, or this proves little
    // (CEF and key=value cap each field themselves, so some fit without shrinking).
    for b in BODIES {
        assert!(
            sent.values().any(|s| s.body == b && s.over),
            "{peer}: no {b:?} event was over the limit"
        );
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "{peer}: an event arrived twice"
    );
    assert_eq!(messages.len(), sent.len(), "{peer}: extra messages");
}

// Stock limit: no maxMessageSize. Control characters are kept as received, so that LEEF 1.0's
// TAB delimiter reaches the parser (rsyslog would write it as `#011`); that changes nothing
// about sizes.
const RSYSLOG: &str = r#"
global(workDirectory="@DIR@" processInternalMessages="on" parser.escapeControlCharactersOnReceive="off")
module(load="imtcp")
input(type="imtcp" port="@PORT@" address="127.0.0.1" ruleset="r")
template(name="t" type="list" option.jsonf="on") {
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="r") { action(type="omfile" file="@DIR@/out.json" template="t") }
"#;

fn rsyslog() -> (peers::Daemon, u16) {
    let port = peers::free_port();
    let d = peers::start_rsyslog_with(&RSYSLOG.replace("@PORT@", &port.to_string()), &[], &[port]);
    (d, port)
}

/// The MSG of every message the daemon wrote, once at least `n` arrived and a moment passed
/// (a forged remainder would arrive right after its event).
fn messages(d: &mut peers::Daemon, file: &str, n: usize) -> Vec<String> {
    let path = d.dir.path().join(file);
    peers::wait_for_json_lines(d, &path, n);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let text = std::fs::read_to_string(&path).unwrap();
    let whole = text.rsplit_once('\n').map_or("", |(done, _)| done);
    whole
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect::<Vec<_>>()
        .iter()
        .map(|v| {
            v["msg"]
                .as_str()
                .or(v["MESSAGE"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn rsyslog_at_its_stock_limit_sees_exactly_one_event_per_hostile_event() {
    let (mut d, port) = rsyslog();
    let combos = [
        (Header::Rfc5424, Framing::Lf),
        (Header::Rfc5424, Framing::OctetCounting),
        (Header::Rfc3164, Framing::Lf),
        (Header::Rfc3164, Framing::OctetCounting),
    ];
    let (bytes, sent) = wire(RSYSLOG_LIMIT, &combos, 0x1000);
    peers::send(port, &bytes);
    let got = messages(&mut d, "out.json", sent.len());
    check(&got, &sent, "rsyslog");
}

#[test]
fn control_without_the_limit_rsyslog_sees_a_forged_second_message() {
    let (mut d, port) = rsyslog();
    let f = formatter(Body::Cef, Header::Rfc5424);
    let events = hostile(0x9000);
    let e = events
        .iter()
        .max_by_key(|e| {
            let mut v = Vec::new();
            f.format(e, &mut v).unwrap();
            v.len()
        })
        .unwrap();
    for framing in [Framing::Lf, Framing::OctetCounting] {
        let mut bytes = Vec::new();
        framing.write_frame(f.as_ref(), e, &mut bytes).unwrap();
        peers::send(port, &bytes);
    }
    // Each over-size event becomes at least two messages: the cut one and its remainder.
    let got = messages(&mut d, "out.json", 4);
    assert!(got.len() >= 4, "{got:?}");
    // The remainder of the cut message is a message of its own, with the forged header's
    // host and decision in it: what the limit prevents.
    assert!(
        got.iter().any(|m| !m.contains(&e.event_id.to_string())),
        "{got:?}"
    );
}

const SYSLOG_NG: &str = r#"@version: 3.38
options { keep-hostname(yes); stats_freq(0); log-msg-size(8192); };
source s_oc { syslog(ip("127.0.0.1") port(@P1@) transport("tcp")); };
source s_lf { network(ip("127.0.0.1") port(@P2@) transport("tcp") flags(syslog-protocol)); };
source s_3164 { network(ip("127.0.0.1") port(@P3@) transport("tcp")); };
destination d { file("@DIR@/out.json" template("$(format-json MESSAGE=${MESSAGE})\n")); };
log { source(s_oc); source(s_lf); source(s_3164); destination(d); };
"#;

#[test]
fn syslog_ng_sees_exactly_one_event_per_hostile_event() {
    let ports = [peers::free_port(), peers::free_port(), peers::free_port()];
    let mut conf = SYSLOG_NG.to_owned();
    for (i, p) in ports.iter().enumerate() {
        conf = conf.replace(&format!("@P{}@", i + 1), &p.to_string());
    }
    let mut d = peers::start_syslog_ng(&conf, &ports);
    let mut all = BTreeMap::new();
    // syslog() takes octet counting only; network() takes LF (docs/reference/real-peers.md §2).
    for (i, (port, combo)) in [
        (ports[0], (Header::Rfc5424, Framing::OctetCounting)),
        (ports[1], (Header::Rfc5424, Framing::Lf)),
        (ports[2], (Header::Rfc3164, Framing::Lf)),
    ]
    .into_iter()
    .enumerate()
    {
        let (bytes, sent) = wire(RSYSLOG_LIMIT, &[combo], 0x10_000 * (i as u128 + 1));
        peers::send(port, &bytes);
        let n = all.len();
        for (k, v) in sent {
            assert!(all.insert(k, v).is_none(), "id reused across combinations");
        }
        assert!(all.len() > n);
    }
    let got = messages(&mut d, "out.json", all.len());
    check(&got, &all, "syslog-ng");
}
