//! A hand-written compact JSON writer for the canonical event: the hot path of the JSON
//! and HEC formatters.
//!
//! Job: produce exactly the bytes `serde_json::to_writer(out, event)` produces (same field
//! order, same omissions, same string escapes), faster: a string without characters that
//! need escaping (the common case) is found by a vectorised scan and copied in one go.
//!
//! Invariants: [`write_event`] is byte-identical to serde_json's compact form of `AuditEvent`
//! (a unit test checks this on the samples); strings are escaped per RFC 8259 §7 as
//! serde_json does (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other C0 as `\u00xx`), so the
//! output never contains a raw CR or LF.
//!
//! RFC 8259 lets DEL, the C1 controls (NEL U+0085 among them) and U+2028/U+2029 stay raw
//! inside strings, and serde_json leaves them raw. Receivers do not all agree: JavaScript
//! before ES2019 and several log viewers end a line on U+2028/U+2029 or NEL. The formatters
//! therefore pass their output through [`escape_raw_separators`], which writes those
//! characters as `\u` escapes: the parsed value is unchanged, and the bytes are plain.

use gatekit_core::AuditEvent;
use serde_json::{Map, Value};

use crate::error::FormatError;
use crate::text::{any_byte, push_i64, push_u64, unsafe_char_width};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal.
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    out.push(b'"');
    if !any_byte(b, |c| (c < 0x20) | (c == b'"') | (c == b'\\')) {
        out.extend_from_slice(b);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0C => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => {
                out.extend_from_slice(&b[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 0xF)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// Rewrites every raw DEL, C1 control and U+2028/U+2029 in `out[start..]` as a `\uXXXX`
/// escape. `out[start..]` must be JSON text: these characters can then only be inside
/// strings (structural JSON is ASCII), where the escape means the same character.
pub(crate) fn escape_raw_separators(out: &mut Vec<u8>, start: usize) {
    if !any_byte(&out[start..], |c| (c == 0x7f) | (c == 0xC2) | (c == 0xE2)) {
        return;
    }
    let tail = out.split_off(start);
    let mut copied = 0;
    let mut i = 0;
    while i < tail.len() {
        let width = unsafe_char_width(&tail, i);
        let code: u32 = match width {
            1 => u32::from(tail[i]), // DEL (C0 is already escaped by the JSON writer)
            2 => u32::from(tail[i + 1]), // C2 80..9F is U+0080..U+009F
            3 => 0x2000 | u32::from(tail[i + 2] - 0x80), // E2 80 A8/A9 is U+2028/U+2029
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&tail[copied..i]);
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(HEX[((code >> shift) & 0xF) as usize]);
        }
        i += width;
        copied = i;
    }
    out.extend_from_slice(&tail[copied..]);
}

fn write_value(v: &Value, out: &mut Vec<u8>) -> Result<(), FormatError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Numbers are rare and short: let serde_json render them (itoa/ryu).
        Value::Number(n) => serde_json::to_writer(&mut *out, n)?,
        Value::String(s) => write_str(s, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(x, out)?;
            }
            out.push(b']');
        }
        Value::Object(m) => write_map(m, out)?,
    }
    Ok(())
}

pub(crate) fn write_map(m: &Map<String, Value>, out: &mut Vec<u8>) -> Result<(), FormatError> {
    out.push(b'{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(k, out);
        out.push(b':');
        write_value(v, out)?;
    }
    out.push(b'}');
    Ok(())
}

/// `,"key":` (keys are fixed ASCII names without characters to escape).
fn key(out: &mut Vec<u8>, k: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
}

fn opt_str(out: &mut Vec<u8>, k: &str, v: Option<&String>) {
    if let Some(v) = v {
        key(out, k);
        write_str(v, out);
    }
}

/// Appends the canonical JSON object of `e` (same bytes as serde_json's compact form).
pub(crate) fn write_event(e: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
    out.extend_from_slice(b"{\"timestamp\":\"");
    e.timestamp.write_rfc3339_millis(out);
    out.extend_from_slice(b"\",\"event_type\":\"");
    out.extend_from_slice(e.event_type.as_str().as_bytes());
    out.extend_from_slice(b"\",\"severity\":\"");
    out.extend_from_slice(e.severity.as_str().as_bytes());
    out.push(b'"');
    key(out, "source");
    write_str(&e.source, out);
    key(out, "version");
    write_str(&e.version, out);
    out.extend_from_slice(b",\"event_id\":\"");
    e.event_id.write_hyphenated(out);
    out.push(b'"');
    key(out, "sequence");
    push_u64(out, e.sequence);
    key(out, "host");
    write_str(&e.host, out);
    key(out, "gateway_version");
    write_str(&e.gateway_version, out);
    key(out, "schema_version");
    push_u64(out, u64::from(e.schema_version));
    opt_str(out, "correlation_id", e.correlation_id.as_ref());
    opt_str(out, "session_id", e.session_id.as_ref());
    if let Some(c) = &e.client_info {
        out.extend_from_slice(b",\"client_info\":{\"client_id\":");
        write_str(&c.client_id, out);
        key(out, "client_version");
        write_str(&c.client_version, out);
        opt_str(out, "user", c.user.as_ref());
        out.push(b'}');
    }
    if let Some(m) = &e.mcp_data {
        out.extend_from_slice(b",\"mcp_data\":{\"method\":");
        write_str(&m.method, out);
        opt_str(out, "tool_name", m.tool_name.as_ref());
        opt_str(out, "namespaced_tool_name", m.namespaced_tool_name.as_ref());
        if let Some(p) = &m.parameters {
            key(out, "parameters");
            write_map(p, out)?;
        }
        out.push(b'}');
    }
    if let Some(d) = &e.security_decision {
        out.extend_from_slice(if d.allowed {
            b",\"security_decision\":{\"allowed\":true"
        } else {
            b",\"security_decision\":{\"allowed\":false"
        });
        key(out, "plugin");
        write_str(&d.plugin, out);
        key(out, "reason");
        write_str(&d.reason, out);
        if let Some(r) = d.risk_score {
            key(out, "risk_score");
            push_u64(out, u64::from(r));
        }
        out.push(b'}');
    }
    if let Some(u) = &e.upstream_server {
        out.extend_from_slice(b",\"upstream_server\":{\"name\":");
        write_str(&u.name, out);
        opt_str(out, "command", u.command.as_ref());
        out.push(b'}');
    }
    if let Some(us) = e.duration_us {
        key(out, "duration_us");
        push_u64(out, us);
    }
    if let Some(x) = &e.error {
        out.extend_from_slice(b",\"error\":{\"code\":");
        push_i64(out, x.code);
        key(out, "message");
        write_str(&x.message, out);
        out.push(b'}');
    }
    opt_str(out, "message", e.message.as_ref());
    if let Some(h) = &e.hash_chain {
        out.extend_from_slice(b",\"hash_chain\":{\"prev_hash\":");
        write_str(&h.prev_hash, out);
        key(out, "hash");
        write_str(&h.hash, out);
        out.push(b'}');
    }
    if e.truncated {
        out.extend_from_slice(b",\"truncated\":true");
    }
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_escapes_match_serde_json() {
        for s in [
            "",
            "plain",
            "a\"b\\c",
            "\u{0}\u{1}\u{8}\u{b}\u{c}\u{1f}\n\r\t",
            "\u{7f}\u{85}é🦀",
        ] {
            let mut mine = Vec::new();
            write_str(s, &mut mine);
            assert_eq!(mine, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn raw_separators_become_escapes_with_the_same_meaning() {
        let s = "a\u{7f}b\u{85}c\u{9f}d\u{2028}e\u{2029}f\u{a0}\u{2022}é🦀\n";
        let mut out = serde_json::to_vec(s).unwrap();
        escape_raw_separators(&mut out, 0);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "\"a\\u007fb\\u0085c\\u009fd\\u2028e\\u2029f\u{a0}\u{2022}é🦀\\n\""
        );
        assert_eq!(serde_json::from_str::<String>(&text).unwrap(), s);
    }

    #[test]
    fn samples_match_serde_json() {
        for e in crate::sample_events() {
            let mut mine = Vec::new();
            write_event(&e, &mut mine).unwrap();
            assert_eq!(
                String::from_utf8(mine).unwrap(),
                serde_json::to_string(&e).unwrap()
            );
        }
    }
}
