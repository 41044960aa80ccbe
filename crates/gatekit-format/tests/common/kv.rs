//! The key=value body's reading rule, written from docs/formats.md (not from the encoder):
//! `key="value"` with `\"` and `\\` inside quotes, numbers and booleans bare; and the pairs
//! the documented mapping promises for an event.

use super::expect::{cut, rfc3339};
use gatekit_core::AuditEvent;
use gatekit_format::{KV_PARAMETERS_MAX, KV_TEXT_MAX};

/// Splits `key=value` pairs; quoted values unescape `\x` to `x`. Errors on anything else.
pub(crate) fn parse(line: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut it = line.chars().peekable();
    loop {
        let mut key = String::new();
        for c in it.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(format!("bad key {key:?} in {line}"));
        }
        let mut value = String::new();
        if it.peek() == Some(&'"') {
            it.next();
            loop {
                match it.next() {
                    None => return Err(format!("unterminated value in {line}")),
                    Some('\\') => value.push(it.next().ok_or("dangling backslash")?),
                    Some('"') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = it.peek() {
                if c == ' ' {
                    break;
                }
                value.push(c);
                it.next();
            }
        }
        out.push((key, value));
        match it.next() {
            None => return Ok(out),
            Some(' ') => {}
            Some(c) => return Err(format!("expected a space, found {c:?} in {line}")),
        }
    }
}

pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

pub(crate) fn expected(e: &AuditEvent) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut text = |k: &str, s: &str, max: usize| {
        if !s.is_empty() {
            v.push((k.into(), clean(&cut(s, max))));
        }
    };
    text("timestamp", &rfc3339(e.timestamp.unix_millis()), 64);
    text("event_type", e.event_type.as_str(), 64);
    text("severity", e.severity.as_str(), 64);
    text("event_id", &e.event_id.to_string(), 64);
    v.push(("sequence".into(), e.sequence.to_string()));
    let mut v2 = Vec::new();
    let mut text = |k: &str, s: &str, max: usize| {
        if !s.is_empty() {
            v2.push((k.to_string(), clean(&cut(s, max))));
        }
    };
    text("host", &e.host, 255);
    text("source", &e.source, 63);
    text("gateway_version", &e.gateway_version, 63);
    let t = KV_TEXT_MAX;
    if let Some(s) = &e.correlation_id {
        text("correlation_id", s, t);
    }
    if let Some(s) = &e.session_id {
        text("session_id", s, t);
    }
    if let Some(c) = &e.client_info {
        text("client_id", &c.client_id, t);
        text("client_version", &c.client_version, t);
        if let Some(u) = &c.user {
            text("user", u, t);
        }
    }
    if let Some(m) = &e.mcp_data {
        text("method", &m.method, t);
        if let Some(s) = &m.tool_name {
            text("tool", s, t);
        }
        if let Some(s) = &m.namespaced_tool_name {
            text("tool_ns", s, t);
        }
        if let Some(p) = &m.parameters {
            text(
                "parameters",
                &serde_json::to_string(p).unwrap(),
                KV_PARAMETERS_MAX,
            );
        }
    }
    if let Some(d) = &e.security_decision {
        text("action", if d.allowed { "allow" } else { "deny" }, 8);
        text("plugin", &d.plugin, t);
        text("reason", &d.reason, t);
        if let Some(r) = d.risk_score {
            v2.push(("risk_score".into(), r.to_string()));
        }
    }
    v2.push((
        "outcome".into(),
        if e.is_failure() { "failure" } else { "success" }.into(),
    ));
    let text = |k: &str, s: &str, max: usize, v2: &mut Vec<(String, String)>| {
        if !s.is_empty() {
            v2.push((k.to_string(), clean(&cut(s, max))));
        }
    };
    if let Some(u) = &e.upstream_server {
        text("upstream", &u.name, t, &mut v2);
        if let Some(c) = &u.command {
            text("upstream_command", c, t, &mut v2);
        }
    }
    if let Some(d) = e.duration_us {
        v2.push(("duration_us".into(), d.to_string()));
    }
    if let Some(x) = &e.error {
        v2.push(("error_code".into(), x.code.to_string()));
        text("error_message", &x.message, t, &mut v2);
    }
    if let Some(m) = &e.message {
        text("message", m, t, &mut v2);
    }
    if let Some(h) = &e.hash_chain {
        text("prev_hash", &h.prev_hash, 128, &mut v2);
        text("hash", &h.hash, 128, &mut v2);
    }
    if e.truncated {
        v2.push(("truncated".into(), "true".into()));
    }
    v.extend(v2);
    v
}
