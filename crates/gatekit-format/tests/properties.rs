//! Property tests: for arbitrary Unicode (biased to every format's special characters) in
//! every field, (1) no output contains a raw control character (C0, DEL, C1; TAB only as the
//! LEEF 1.0 delimiter) or a line separator (U+2028/U+2029), and (2) an independent parser
//! written from the specification (`tests/common/parsers.rs`, no code shared with the
//! encoders) recovers every value exactly, or exactly as the documented sanitisation rule
//! says (`docs/formats.md`), and finds no key the event did not have (no forged fields).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::expect::{
    cef_header, cut, expected_cef, expected_leef, hostname, is_unsafe, json_through, rfc3339,
};
use common::{gen, parsers};
use gatekit_core::AuditEvent;
use gatekit_format::{
    CefFormatter, CefSettings, DataPolicy, Formatter, Framing, HecFormatter, HecSettings,
    JsonFormatter, LeefFormatter, LeefSettings, LeefVersion, SentinelFormatter, SizeLimited,
    Syslog3164Formatter, Syslog5424Formatter, SyslogSettings, SENTINEL_COLUMNS,
};
use proptest::prelude::*;
use serde_json::Value;

fn render(f: &dyn Formatter, e: &AuditEvent) -> String {
    render_with(f, e, false)
}

/// Renders `e` and checks that no character a receiver could take for a line break or a
/// control sequence is in the output; `tab_delimits` allows TAB (LEEF 1.0's delimiter).
fn render_with(f: &dyn Formatter, e: &AuditEvent, tab_delimits: bool) -> String {
    let mut out = Vec::new();
    f.format(e, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let raw = text
        .chars()
        .find(|&c| is_unsafe(c) && !(tab_delimits && c == '\t'));
    assert!(raw.is_none(), "raw {raw:?} in {text:?}");
    text
}

fn leef_formatter(delim: Option<&str>) -> LeefFormatter {
    let settings = match delim {
        None => LeefSettings::v1(),
        Some(d) => LeefSettings {
            version: LeefVersion::V2 {
                delimiter: d.into(),
            },
            ..LeefSettings::default()
        },
    };
    LeefFormatter::new(settings).unwrap()
}

fn check_cef(line: &str, e: &AuditEvent) -> Result<(), TestCaseError> {
    let p =
        parsers::parse_cef(line).map_err(|err| TestCaseError::fail(format!("{err}: {line}")))?;
    prop_assert_eq!(&p.header[0], "0");
    prop_assert_eq!(&p.header[1], "Gatekit");
    prop_assert_eq!(&p.header[3], &cef_header(&cut(&e.gateway_version, 31)));
    prop_assert_eq!(&p.header[6], &e.severity.cef_code().to_string());
    let mut sorted = p.keys.clone();
    sorted.sort();
    sorted.dedup();
    prop_assert_eq!(sorted.len(), p.keys.len(), "duplicate key");
    prop_assert_eq!(p.keys.last().map(String::as_str), Some("externalId"));
    let mut want = expected_cef(e);
    let mut got = p.ext.clone();
    if let Some(params) = e.mcp_data.as_ref().and_then(|m| m.parameters.as_ref()) {
        let cs5: Value =
            serde_json::from_str(&got["cs5"]).map_err(|x| TestCaseError::fail(x.to_string()))?;
        prop_assert_eq!(cs5, json_through(&Value::Object(params.clone()), None));
        got.insert("cs5".into(), "<json>".into());
        want.insert("cs5".into(), "<json>".into());
    }
    prop_assert_eq!(got, want);
    Ok(())
}

fn check_leef(line: &str, e: &AuditEvent, delim: char) -> Result<(), TestCaseError> {
    let p =
        parsers::parse_leef(line).map_err(|err| TestCaseError::fail(format!("{err}: {line}")))?;
    prop_assert_eq!(p.delimiter, delim);
    prop_assert_eq!(&p.header[0], "Gatekit");
    let hdr: String = cut(&e.gateway_version, 255)
        .chars()
        .map(|c| {
            if is_unsafe(c) {
                ' '
            } else if c == '|' || c == delim {
                '_'
            } else {
                c
            }
        })
        .collect();
    prop_assert_eq!(&p.header[2], &hdr);
    let mut sorted = p.keys.clone();
    sorted.sort();
    sorted.dedup();
    prop_assert_eq!(sorted.len(), p.keys.len(), "duplicate key");
    let mut got = p.attrs.clone();
    if let Some(params) = e.mcp_data.as_ref().and_then(|m| m.parameters.as_ref()) {
        let v: Value =
            serde_json::from_str(&got["params"]).map_err(|x| TestCaseError::fail(x.to_string()))?;
        prop_assert_eq!(v, json_through(&Value::Object(params.clone()), Some(delim)));
        got.insert("params".into(), "<json>".into());
    }
    prop_assert_eq!(got, expected_leef(e, delim));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn cef_roundtrips(e in gen::event()) {
        let f = CefFormatter::new(CefSettings::default()).unwrap();
        check_cef(&render(&f, &e), &e)?;
    }

    #[test]
    fn leef_roundtrips(e in gen::event(), d in prop::sample::select(vec![None, Some("^"), Some("x5E"), Some("0x7E"), Some("x2022"), Some("#")])) {
        let f = leef_formatter(d);
        let delim = f.delimiter();
        check_leef(&render_with(&f, &e, d.is_none()), &e, delim)?;
    }

    #[test]
    fn syslog5424_roundtrips(e in gen::event()) {
        let cef = CefFormatter::new(CefSettings::default()).unwrap();
        let settings = SyslogSettings { sd_id: Some("gatekit@32473".into()), procid: Some(42), ..SyslogSettings::default() };
        let f = Syslog5424Formatter::new(settings, Box::new(cef.clone())).unwrap();
        let line = render(&f, &e);
        let p = parsers::parse_5424(&line).map_err(|x| TestCaseError::fail(format!("{x}: {line}")))?;
        prop_assert_eq!(p.pri, 16 * 8 + u32::from(e.severity.syslog_code()));
        prop_assert_eq!(&p.timestamp, &rfc3339(e.timestamp.unix_millis()));
        prop_assert_eq!(&p.hostname, &hostname(&e.host));
        prop_assert_eq!((p.app_name.as_str(), p.procid.as_str(), p.msgid.as_str()), ("gatekit", "42", e.event_type.as_str()));
        let strip = |s: &str| -> String { s.chars().filter(|&c| c != '\r' && c != '\n').map(|c| if is_unsafe(c) { ' ' } else { c }).collect() };
        let mut want = vec![("eventId".to_owned(), e.event_id.to_string()), ("sequence".to_owned(), e.sequence.to_string())];
        if let Some(t) = e.tool_name() { want.push(("tool".into(), strip(t))); }
        if let Some(u) = &e.upstream_server { want.push(("upstream".into(), strip(&u.name))); }
        if let Some(s) = &e.session_id { want.push(("session".into(), strip(s))); }
        if let Some(d) = &e.security_decision { want.push(("action".into(), if d.allowed { "allow" } else { "deny" }.into())); }
        prop_assert_eq!(p.sd, vec![("gatekit@32473".to_owned(), want)]);
        // MSG is the CEF body, unchanged and without a BOM.
        let bom = '\u{feff}';
        prop_assert!(!p.msg.starts_with(bom));
        prop_assert_eq!(&p.msg, &render(&cef, &e));
        check_cef(&p.msg, &e)?;
    }

    #[test]
    fn syslog3164_has_tag_before_body(e in gen::event()) {
        let cef = CefFormatter::new(CefSettings::default()).unwrap();
        let f = Syslog3164Formatter::new(SyslogSettings::default(), Box::new(cef.clone())).unwrap();
        let line = render(&f, &e);
        let pri = format!("<{}>", 128 + u32::from(e.severity.syslog_code()));
        prop_assert!(line.starts_with(&pri));
        let rest = &line[pri.len() + 16..]; // "Mmm dd hh:mm:ss "
        let (host, rest) = rest.split_once(' ').unwrap();
        prop_assert!(host.bytes().all(|b| b.is_ascii_graphic()));
        prop_assert_eq!(rest, format!("gatekit: {}", render(&cef, &e)));
    }

    #[test]
    fn json_hec_sentinel_roundtrip(e in gen::event()) {
        let j: Value = serde_json::from_str(&render(&JsonFormatter, &e)).unwrap();
        // No forged key at any level: the parsed object is exactly the event's.
        prop_assert_eq!(&j, &serde_json::to_value(&e).unwrap());
        prop_assert_eq!(&j["timestamp"], &Value::from(rfc3339(e.timestamp.unix_millis())));
        prop_assert_eq!(&j["event_type"], &Value::from(e.event_type.as_str()));
        prop_assert_eq!(&j["event_id"], &Value::from(e.event_id.to_string()));
        prop_assert_eq!(&j["sequence"], &Value::from(e.sequence));
        prop_assert_eq!(&j["host"], &Value::from(e.host.clone()));
        let (sess, msg) = (e.session_id.clone().map(Value::from), e.message.clone().map(Value::from));
        prop_assert_eq!(j.get("session_id"), sess.as_ref());
        prop_assert_eq!(j.get("message"), msg.as_ref());
        if let Some(m) = &e.mcp_data {
            prop_assert_eq!(&j["mcp_data"]["method"], &Value::from(m.method.clone()));
            let params = m.parameters.clone().map(Value::Object);
            prop_assert_eq!(j["mcp_data"].get("parameters"), params.as_ref());
        }
        if let Some(d) = &e.security_decision {
            prop_assert_eq!(&j["security_decision"]["reason"], &Value::from(d.reason.clone()));
            prop_assert_eq!(&j["security_decision"]["allowed"], &Value::from(d.allowed));
        }
        let back: AuditEvent = serde_json::from_value(j.clone()).unwrap();
        prop_assert_eq!(&back, &e);

        let hec: Value = serde_json::from_str(&render(&HecFormatter::new(HecSettings::default()).unwrap(), &e)).unwrap();
        prop_assert_eq!(&hec["event"], &j);
        for k in hec.as_object().unwrap().keys() {
            prop_assert!(["time", "host", "source", "sourcetype", "index", "event", "fields"].contains(&k.as_str()), "forged HEC key {}", k);
        }
        let t = hec["time"].as_f64().unwrap();
        prop_assert!((t * 1000.0 - e.timestamp.unix_millis() as f64).abs() < 1.0);
        if let Some(fields) = hec.get("fields") {
            prop_assert!(fields.as_object().unwrap().values().all(Value::is_string));
        }

        let s: Value = serde_json::from_str(&render(&SentinelFormatter, &e)).unwrap();
        for (k, v) in s.as_object().unwrap() {
            let col = SENTINEL_COLUMNS.iter().find(|c| c.name == k).ok_or_else(|| TestCaseError::fail(format!("undeclared column {k}")))?;
            let ok = match col.kind.as_str() {
                "string" | "datetime" => v.is_string(),
                "int" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                "long" => v.is_i64() || v.is_u64(),
                "boolean" => v.is_boolean(),
                "dynamic" => true,
                _ => false,
            };
            prop_assert!(ok, "column {} has {} but value {}", k, col.kind.as_str(), v);
        }
        prop_assert_eq!(&s["TimeGenerated"], &j["timestamp"]);
    }

    #[test]
    fn json_formatter_is_serde_json_with_separators_escaped(e in gen::event()) {
        let mut mine = Vec::new();
        JsonFormatter.format(&e, &mut mine).unwrap();
        let mine = String::from_utf8(mine).unwrap();
        // serde_json's bytes, except that DEL, C1 and U+2028/U+2029 are `\u` escapes.
        let mut want = String::new();
        for c in serde_json::to_string(&e).unwrap().chars() {
            if is_unsafe(c) {
                want.push_str(&format!("\\u{:04x}", u32::from(c)));
            } else {
                want.push(c);
            }
        }
        prop_assert_eq!(mine, want);
    }

    #[test]
    fn size_limited_output_fits_and_still_parses(mut e in gen::event(), pad in gen::hostile_string(), n in 0usize..400) {
        e.message = Some(pad.repeat(n));
        if let Some(d) = &mut e.security_decision { d.reason = pad.repeat(n); }
        let cap = 2048;
        let f = SizeLimited::new(CefFormatter::new(CefSettings::default()).unwrap(), cap).unwrap();
        let mut out = Vec::new();
        f.format(&e, &mut out).unwrap();
        prop_assert!(out.len() <= cap, "{} > {}", out.len(), cap);
        let line = String::from_utf8(out).unwrap();
        let p = parsers::parse_cef(&line).map_err(|x| TestCaseError::fail(x.to_string()))?;
        prop_assert_eq!(p.ext.get("externalId"), Some(&e.sequence.to_string()));
    }

    #[test]
    fn octet_counting_prefix_is_the_byte_length(e in gen::event()) {
        let f = CefFormatter::new(CefSettings::default()).unwrap();
        let mut out = Vec::new();
        Framing::OctetCounting.write_frame(&f, &e, &mut out).unwrap();
        let sp = out.iter().position(|&b| b == b' ').unwrap();
        let n: usize = std::str::from_utf8(&out[..sp]).unwrap().parse().unwrap();
        prop_assert_eq!(n, out.len() - sp - 1);
        prop_assert!(!out.starts_with(b"0"));
    }

    #[test]
    fn caps_truncate_on_char_boundaries(e in gen::event(), cap in 32usize..64) {
        let policy = DataPolicy::default().with_max_field_bytes(cap).unwrap();
        let m = policy.apply(&e);
        let check = |orig: &str, got: &str| {
            assert!(got.len() <= cap.max(orig.len().min(cap)));
            if orig.len() <= cap { assert_eq!(orig, got) } else { assert_eq!(got, cut(orig, cap)) }
        };
        if let (Some(a), Some(b)) = (&e.message, &m.message) { check(a, b); }
        if let (Some(a), Some(b)) = (&e.security_decision, &m.security_decision) { check(&a.reason, &b.reason); }
        prop_assert_eq!(m.event_id, e.event_id);
    }
}
