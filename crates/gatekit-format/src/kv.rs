//! Key=value body for plain syslog (`format: syslog`): the event as `key="value"` pairs.
//!
//! Job: [`KeyValueFormatter`] writes one event as space-separated pairs in a fixed order,
//! `timestamp="..." event_type="..." severity="..." ...`, for receivers that read syslog
//! messages with a generic key=value extractor (Splunk's automatic KV extraction, syslog-ng's
//! `kv-parser()`, KQL `parse-kv` on Sentinel's `SyslogMessage` column).
//!
//! Invariants:
//! - keys are fixed `[a-z_]` names written by this module, each at most once;
//! - every text value is quoted (`"`), with `\` and `"` escaped by a backslash, so a value can
//!   never end early and start a forged key (the quote that closes it is always ours);
//! - no control character is ever written: CR, LF, TAB, other C0, DEL, C1 and the Unicode
//!   line/paragraph separators (U+2028, U+2029) become a space, so the record is one line
//!   whatever the framing;
//! - numbers and booleans are unquoted; absent or empty values are omitted;
//! - the body never starts with `CEF:` or `LEEF:`, so a forwarder that routes CEF by content
//!   (Sentinel's Azure Monitor Agent) does not take it for CEF.

use gatekit_core::AuditEvent;

use crate::error::FormatError;
use crate::formatter::Formatter;
use crate::text::{any_byte, is_c0_or_del, is_c1_at, push_i64, push_u64, truncate, with_scratch};

/// Parameters are written as compact JSON inside one quoted value, cut at this many bytes
/// (the same cap as CEF's `cs5`), so one event stays within common syslog message limits.
pub const KV_PARAMETERS_MAX: usize = 4000;

/// Longest free-text value (reason, messages) before it is cut.
pub const KV_TEXT_MAX: usize = 1023;

/// The key=value body formatter.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyValueFormatter;

/// Appends `s` escaped for a quoted value (see the module invariants).
pub fn escape_kv_value(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    // 0xC2 starts C1 controls, 0xE2 starts U+2028/U+2029: look closer only when present.
    if !any_byte(b, |c| {
        (c < 0x20) | (c == 0x7f) | (c == b'"') | (c == b'\\') | (c == 0xC2) | (c == 0xE2)
    }) {
        out.extend_from_slice(b);
        return;
    }
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        let c = b[i];
        let skip = if c == b'"' || c == b'\\' {
            out.extend_from_slice(&b[start..i]);
            out.push(b'\\');
            out.push(c);
            1
        } else if is_c0_or_del(c) {
            out.extend_from_slice(&b[start..i]);
            out.push(b' ');
            1
        } else if is_c1_at(b, i) {
            out.extend_from_slice(&b[start..i]);
            out.push(b' ');
            2
        } else if c == 0xE2
            && b.get(i + 1) == Some(&0x80)
            && matches!(b.get(i + 2), Some(0xA8 | 0xA9))
        {
            out.extend_from_slice(&b[start..i]);
            out.push(b' ');
            3
        } else {
            i += 1;
            continue;
        };
        i += skip;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
}

struct Pairs<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Pairs<'_> {
    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b' ');
        }
        self.first = false;
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(b'=');
    }

    fn text(&mut self, key: &str, value: &str, max: usize) {
        if value.is_empty() {
            return;
        }
        self.key(key);
        self.out.push(b'"');
        escape_kv_value(&truncate(value, max), self.out);
        self.out.push(b'"');
    }

    fn opt(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.text(key, v, KV_TEXT_MAX);
        }
    }

    fn uint(&mut self, key: &str, v: u64) {
        self.key(key);
        push_u64(self.out, v);
    }

    fn int(&mut self, key: &str, v: i64) {
        self.key(key);
        push_i64(self.out, v);
    }
}

impl Formatter for KeyValueFormatter {
    fn format(&self, e: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        let mut p = Pairs { out, first: true };
        // The syslog header may be RFC 3164 (seconds, no year, no zone): the body carries
        // the full time so nothing is lost.
        p.key("timestamp");
        p.out.push(b'"');
        e.timestamp.write_rfc3339_millis(p.out);
        p.out.push(b'"');
        p.text("event_type", e.event_type.as_str(), KV_TEXT_MAX);
        p.text("severity", e.severity.as_str(), KV_TEXT_MAX);
        p.key("event_id");
        p.out.push(b'"');
        e.event_id.write_hyphenated(p.out);
        p.out.push(b'"');
        p.uint("sequence", e.sequence);
        p.text("host", &e.host, 255);
        p.text("source", &e.source, 63);
        p.text("gateway_version", &e.gateway_version, 63);
        p.opt("correlation_id", e.correlation_id.as_deref());
        p.opt("session_id", e.session_id.as_deref());
        if let Some(c) = &e.client_info {
            p.text("client_id", &c.client_id, KV_TEXT_MAX);
            p.text("client_version", &c.client_version, KV_TEXT_MAX);
            p.opt("user", c.user.as_deref());
        }
        if let Some(m) = &e.mcp_data {
            p.text("method", &m.method, KV_TEXT_MAX);
            p.opt("tool", m.tool_name.as_deref());
            p.opt("tool_ns", m.namespaced_tool_name.as_deref());
            if let Some(params) = &m.parameters {
                with_scratch(|buf| {
                    // A map of JSON values always serialises; an error leaves the key out.
                    if serde_json::to_writer(&mut *buf, params).is_ok() {
                        let json = String::from_utf8_lossy(buf);
                        p.text("parameters", &json, KV_PARAMETERS_MAX);
                    }
                });
            }
        }
        if let Some(d) = &e.security_decision {
            p.text("action", if d.allowed { "allow" } else { "deny" }, 8);
            p.text("plugin", &d.plugin, KV_TEXT_MAX);
            p.text("reason", &d.reason, KV_TEXT_MAX);
            if let Some(r) = d.risk_score {
                p.uint("risk_score", u64::from(r));
            }
        }
        p.text(
            "outcome",
            if e.is_failure() { "failure" } else { "success" },
            8,
        );
        if let Some(u) = &e.upstream_server {
            p.text("upstream", &u.name, KV_TEXT_MAX);
            p.opt("upstream_command", u.command.as_deref());
        }
        if let Some(d) = e.duration_us {
            p.uint("duration_us", d);
        }
        if let Some(x) = &e.error {
            p.int("error_code", x.code);
            p.text("error_message", &x.message, KV_TEXT_MAX);
        }
        p.opt("message", e.message.as_deref());
        if let Some(h) = &e.hash_chain {
            p.text("prev_hash", &h.prev_hash, 128);
            p.text("hash", &h.hash, 128);
        }
        if e.truncated {
            p.text("truncated", "true", 8);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_table() {
        let cases = [
            ("plain", "plain"),
            ("a\"b", "a\\\"b"),
            ("a\\b", "a\\\\b"),
            ("x\" forged=\"y", "x\\\" forged=\\\"y"),
            ("l1\nl2\r\tend", "l1 l2  end"),
            ("nul\0del\x7fnel\u{85}é", "nul del nel é"),
            ("ls\u{2028}ps\u{2029}x", "ls ps x"),
            ("\u{2027}\u{20AC}", "\u{2027}\u{20AC}"),
        ];
        for (input, want) in cases {
            let mut v = Vec::new();
            escape_kv_value(input, &mut v);
            assert_eq!(String::from_utf8(v).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn samples_are_one_line_of_known_keys() {
        for e in crate::sample_events() {
            let mut v = Vec::new();
            KeyValueFormatter.format(&e, &mut v).unwrap();
            let s = String::from_utf8(v).unwrap();
            assert!(s.starts_with("timestamp=\""), "{s}");
            assert!(!s.contains('\n') && !s.contains('\r'), "{s}");
            assert!(s.contains(" event_id=\""), "{s}");
        }
    }
}
