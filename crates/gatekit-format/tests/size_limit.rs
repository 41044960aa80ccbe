//! Property tests of the whole-event size limit ([`SizeLimited`]): for arbitrary hostile
//! events padded far over the limit, in every format (CEF, LEEF 1.0/2.0, JSON, key=value, HEC,
//! Sentinel, each bare and in RFC 5424 and RFC 3164 headers) and every framing, the output
//! (1) is within the limit, (2) is valid UTF-8 without a raw CR, LF or other control
//! character, (3) still parses as its format with the event's own id and the `truncated`
//! mark, and (4) frames as exactly one frame: one LF at the very end, or an octet count equal
//! to the message length.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::expect::is_unsafe;
use common::{gen, kv, parsers};
use gatekit_core::AuditEvent;
use gatekit_format::{
    CefFormatter, CefSettings, Formatter, Framing, HecFormatter, HecSettings, JsonFormatter,
    KeyValueFormatter, LeefFormatter, LeefSettings, LeefVersion, SentinelFormatter, SizeLimited,
    Syslog3164Formatter, Syslog5424Formatter, SyslogSettings,
};
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Cef,
    Leef2,
    Leef1,
    Json,
    Kv,
    Hec,
    Sentinel,
}

const KINDS: [Kind; 7] = [
    Kind::Cef,
    Kind::Leef2,
    Kind::Leef1,
    Kind::Json,
    Kind::Kv,
    Kind::Hec,
    Kind::Sentinel,
];

fn body(k: Kind) -> Box<dyn Formatter> {
    match k {
        Kind::Cef => Box::new(CefFormatter::new(CefSettings::default()).unwrap()),
        Kind::Leef2 => Box::new(LeefFormatter::new(LeefSettings::default()).unwrap()),
        Kind::Leef1 => Box::new(
            LeefFormatter::new(LeefSettings {
                version: LeefVersion::V1,
                ..LeefSettings::default()
            })
            .unwrap(),
        ),
        Kind::Json => Box::new(JsonFormatter),
        Kind::Kv => Box::new(KeyValueFormatter),
        Kind::Hec => Box::new(HecFormatter::new(HecSettings::default()).unwrap()),
        Kind::Sentinel => Box::new(SentinelFormatter),
    }
}

/// 0: bare body, 1: RFC 5424 header, 2: RFC 3164 header.
fn formatter(k: Kind, header: u8) -> Box<dyn Formatter> {
    match header {
        1 => Box::new(Syslog5424Formatter::new(SyslogSettings::default(), body(k)).unwrap()),
        2 => Box::new(Syslog3164Formatter::new(SyslogSettings::default(), body(k)).unwrap()),
        _ => body(k),
    }
}

/// The body of a message rendered with `header` (the part after the syslog header).
fn strip_header(msg: &str, header: u8) -> String {
    match header {
        1 => parsers::parse_5424(msg).unwrap().msg,
        2 => {
            // `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`
            let (_, rest) = msg
                .split_once("]: ")
                .or_else(|| msg.split_once(": "))
                .unwrap();
            rest.to_owned()
        }
        _ => msg.to_owned(),
    }
}

/// Checks that `body` is a valid `k` record of the event with id `id`, marked truncated.
fn assert_valid(k: Kind, body: &str, id: &str) -> Result<(), TestCaseError> {
    let fail = |m: String| TestCaseError::fail(format!("{k:?}: {m}: {body}"));
    match k {
        Kind::Cef => {
            let p = parsers::parse_cef(body).map_err(fail)?;
            prop_assert_eq!(p.ext.get("cs1").map(String::as_str), Some(id));
            prop_assert_eq!(
                p.ext.get("GatekitTruncated").map(String::as_str),
                Some("true")
            );
        }
        Kind::Leef1 | Kind::Leef2 => {
            let p = parsers::parse_leef(body).map_err(fail)?;
            prop_assert_eq!(p.attrs.get("eventId").map(String::as_str), Some(id));
            prop_assert_eq!(p.attrs.get("truncated").map(String::as_str), Some("true"));
        }
        Kind::Kv => {
            let pairs = kv::parse(body).map_err(fail)?;
            let get = |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
            };
            prop_assert_eq!(get("event_id"), Some(id));
            prop_assert_eq!(get("truncated"), Some("true"));
        }
        Kind::Json | Kind::Hec | Kind::Sentinel => {
            let v: Value = serde_json::from_str(body).map_err(|e| fail(e.to_string()))?;
            let (ev, id_key, mark) = match k {
                Kind::Hec => (&v["event"], "event_id", "truncated"),
                Kind::Sentinel => (&v, "EventId", "Truncated"),
                _ => (&v, "event_id", "truncated"),
            };
            prop_assert_eq!(ev[id_key].as_str(), Some(id));
            prop_assert_eq!(ev[mark].as_bool(), Some(true));
        }
    }
    Ok(())
}

/// `e` padded far over any limit in its free text and parameters.
fn padded(mut e: AuditEvent, pad: &str, n: usize) -> AuditEvent {
    let big = pad.repeat(n);
    e.message = Some(big.clone());
    if let Some(m) = e.mcp_data.as_mut() {
        m.tool_name = Some(big.clone());
        let mut p = m.parameters.take().unwrap_or_default();
        p.insert("pad".into(), Value::String(big.clone()));
        m.parameters = Some(p);
    }
    if let Some(d) = e.security_decision.as_mut() {
        d.reason = big;
    }
    e
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn shrunk_events_fit_parse_and_frame_as_one(
        e in gen::event(),
        pad in gen::hostile_string(),
        n in 600usize..2000,
        limit in 1024usize..12_000,
        header in 0u8..3,
    ) {
        prop_assume!(!pad.is_empty());
        // Identity fields are never cut: keep the generated host within reason.
        let mut e = padded(e, &pad, n);
        e.host.truncate(e.host.char_indices().nth(64).map_or(e.host.len(), |(i, _)| i));
        let id = e.event_id.to_string();
        for k in KINDS {
            let inner = formatter(k, header);
            let mut plain = Vec::new();
            inner.format(&e, &mut plain).unwrap();
            if plain.len() <= limit {
                continue; // Not over the limit in this format: nothing to shrink.
            }
            let f = SizeLimited::new(inner, limit).unwrap();
            let mut out = b"previous frame\n".to_vec();
            let Ok(()) = f.format(&e, &mut out) else {
                // Only a limit too small for the identity fields may refuse.
                prop_assert!(limit < 1500, "{k:?} refused at {limit}");
                continue;
            };
            prop_assert!(out.starts_with(b"previous frame\n"));
            let msg = &out[15..];
            prop_assert!(msg.len() <= limit, "{:?}: {} > {}", k, msg.len(), limit);
            let text = std::str::from_utf8(msg).unwrap();
            let tab_ok = k == Kind::Leef1;
            prop_assert!(
                !text.chars().any(|c| is_unsafe(c) && !(tab_ok && c == '\t')),
                "{:?}: raw control character", k
            );
            assert_valid(k, &strip_header(text, header), &id)?;
            // Framing: one frame, whatever the content.
            let mut lf = Vec::new();
            Framing::Lf.write_frame(&f, &e, &mut lf).unwrap();
            prop_assert_eq!(lf.iter().filter(|&&b| b == b'\n' || b == b'\r').count(), 1);
            prop_assert_eq!(lf.last(), Some(&b'\n'));
            let mut oc = Vec::new();
            Framing::OctetCounting.write_frame(&f, &e, &mut oc).unwrap();
            let sp = oc.iter().position(|&b| b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&oc[..sp]).unwrap().parse().unwrap();
            prop_assert_eq!(len, oc.len() - sp - 1);
            prop_assert_eq!(&oc[sp + 1..], msg);
        }
    }
}
