//! What the documented field mappings and sanitisation rules (`docs/formats.md`) promise
//! for an event, computed from the event alone (no encoder code), for the property and
//! integration tests to compare parsed output against.

use std::collections::BTreeMap;

use gatekit_core::{AuditEvent, EventType};
use serde_json::Value;

pub(crate) const MARKER: &str = "...[truncated]";

/// Characters no format writes raw (except where a rule says otherwise): control characters
/// (C0, DEL, C1) and the line and paragraph separators U+2028/U+2029.
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Documented truncation: cut on a char boundary to `max - marker`, then the marker.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max - MARKER.len();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARKER}", &s[..end])
}

/// CEF rule: control characters other than CR/LF become a space (CR/LF round-trip).
pub(crate) fn cef_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if is_unsafe(c) && c != '\r' && c != '\n' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// CEF header rule: every control character (CR/LF included) becomes a space.
pub(crate) fn cef_header(s: &str) -> String {
    s.chars()
        .map(|c| if is_unsafe(c) { ' ' } else { c })
        .collect()
}

/// LEEF value rule: control characters → space; a printable delimiter → `_`.
pub(crate) fn leef_value(s: &str, delim: char) -> String {
    s.chars()
        .map(|c| {
            if is_unsafe(c) {
                ' '
            } else if c == delim {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// JSON text seen through a text format: raw DEL/C1/U+2028/U+2029 (which JSON does not
/// escape) become a space, and for LEEF a printable delimiter becomes `_`.
pub(crate) fn json_through(v: &Value, delim: Option<char>) -> Value {
    let m = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if is_unsafe(c) && (c as u32) >= 0x7f {
                    ' '
                } else if Some(c) == delim && !c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect()
    };
    match v {
        Value::String(s) => Value::String(m(s)),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (m(k), json_through(v, delim)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(crate) fn outcome(e: &AuditEvent) -> &'static str {
    let denied = e.security_decision.as_ref().is_some_and(|d| !d.allowed);
    if denied || e.error.is_some() || e.event_type == EventType::ErrorEvent {
        "failure"
    } else {
        "success"
    }
}

/// The CEF extension the documented mapping promises, before escaping.
pub(crate) fn expected_cef(e: &AuditEvent) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.to_owned(), cef_value(v));
        }
    };
    put("rt", &e.timestamp.unix_millis().to_string());
    put("cat", e.event_type.as_str());
    put("outcome", outcome(e));
    put("app", "MCP");
    put("dvchost", &e.host);
    put("deviceExternalId", &e.host);
    put("cs1Label", "eventId");
    put("cs1", &e.event_id.to_string());
    put("externalId", &e.sequence.to_string());
    if let Some(d) = &e.security_decision {
        put("act", if d.allowed { "allow" } else { "deny" });
        put("reason", &d.reason);
        if !d.plugin.is_empty() {
            put("cs6Label", "securityPlugin");
            put("cs6", &d.plugin);
        }
        if let Some(r) = d.risk_score {
            put("cn1Label", "riskScore");
            put("cn1", &r.to_string());
        }
    }
    if let Some(md) = &e.mcp_data {
        put("requestMethod", &md.method);
        if let Some(t) = md.tool_name.as_deref().filter(|t| !t.is_empty()) {
            put("cs2Label", "mcpTool");
            put("cs2", t);
        }
        if let Some(t) = &md.namespaced_tool_name {
            put("GatekitToolNs", t);
        }
        if md.parameters.is_some() {
            put("cs5Label", "mcpParameters");
            put("cs5", "<json>");
        }
    }
    if let Some(c) = &e.client_info {
        if !c.client_id.is_empty() || !c.client_version.is_empty() {
            put(
                "requestClientApplication",
                &format!("{}/{}", c.client_id, c.client_version),
            );
        }
        if let Some(u) = &c.user {
            put("suser", u);
        }
    }
    if let Some(u) = &e.upstream_server {
        put("destinationServiceName", &u.name);
        if let Some(c) = &u.command {
            put("dproc", c);
        }
    }
    for (k, label, v) in [
        ("cs3", "mcpSession", &e.session_id),
        ("cs4", "correlationId", &e.correlation_id),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            put(&format!("{k}Label"), label);
            put(k, v);
        }
    }
    match (&e.message, &e.error) {
        (Some(msg), _) => put("msg", msg),
        (None, Some(err)) => put("msg", &err.message),
        _ => {}
    }
    if let Some(us) = e.duration_us {
        put("cn2Label", "durationUs");
        put("cn2", &i64::try_from(us).unwrap_or(i64::MAX).to_string());
    }
    if let Some(err) = &e.error {
        put("cn3Label", "errorCode");
        put("cn3", &err.code.to_string());
        if e.message.is_some() {
            put("GatekitErrorMessage", &err.message);
        }
    }
    if let Some(h) = &e.hash_chain {
        put("GatekitPrevHash", &h.prev_hash);
        put("GatekitHash", &h.hash);
    }
    if e.truncated {
        put("GatekitTruncated", "true");
    }
    m
}

pub(crate) fn expected_leef(e: &AuditEvent, delim: char) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.to_owned(), leef_value(v, delim));
        }
    };
    put("devTime", &e.timestamp.unix_millis().to_string());
    put("cat", e.event_type.as_str());
    put("sev", &e.severity.cef_code().clamp(1, 10).to_string());
    put("eventId", &e.event_id.to_string());
    put("sequence", &e.sequence.to_string());
    put("severity", e.severity.as_str());
    put("host", &e.host);
    put("outcome", outcome(e));
    if let Some(c) = &e.client_info {
        put("usrName", c.user.as_deref().unwrap_or(""));
        put("clientId", &c.client_id);
        put("clientVersion", &c.client_version);
    }
    if let Some(md) = &e.mcp_data {
        put("mcpMethod", &md.method);
        put("resource", md.tool_name.as_deref().unwrap_or(""));
        put("toolNs", md.namespaced_tool_name.as_deref().unwrap_or(""));
        if md.parameters.is_some() {
            put("params", "<json>");
        }
    }
    if let Some(d) = &e.security_decision {
        put("action", if d.allowed { "allow" } else { "deny" });
        put("policy", &d.plugin);
        put("reason", &d.reason);
        if let Some(r) = d.risk_score {
            put("riskScore", &r.to_string());
        }
    }
    if let Some(u) = &e.upstream_server {
        put("upstream", &u.name);
        put("upstreamCommand", u.command.as_deref().unwrap_or(""));
    }
    put("sessionId", e.session_id.as_deref().unwrap_or(""));
    put("correlationId", e.correlation_id.as_deref().unwrap_or(""));
    if let Some(us) = e.duration_us {
        put("durationUs", &us.to_string());
    }
    if let Some(err) = &e.error {
        put("errorCode", &err.code.to_string());
        put("errorMessage", &err.message);
    }
    put("msg", e.message.as_deref().unwrap_or(""));
    if let Some(h) = &e.hash_chain {
        put("prevHash", &h.prev_hash);
        put("hash", &h.hash);
    }
    if e.truncated {
        put("truncated", "true");
    }
    m
}

/// Independent RFC 3339 rendering: walk years and months from 1970.
pub(crate) fn rfc3339(ms: i64) -> String {
    let (mut days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let mut y = 1970;
    loop {
        let len = if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
            366
        } else {
            365
        };
        if days < len {
            break;
        }
        days -= len;
        y += 1;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let lens = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut mo = 0;
    while days >= lens[mo] {
        days -= lens[mo];
        mo += 1;
    }
    format!(
        "{y:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        mo + 1,
        days + 1,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// RFC 5424 SD-PARAM rule: CR/LF removed, other control characters become a space.
pub(crate) fn sd_value(s: &str) -> String {
    s.chars()
        .filter(|&c| c != '\r' && c != '\n')
        .map(|c| if is_unsafe(c) { ' ' } else { c })
        .collect()
}

/// The `[gatekit@PEN ...]` parameters promised for an event, in order.
pub(crate) fn expected_sd(e: &AuditEvent) -> Vec<(String, String)> {
    let mut want = vec![
        ("eventId".to_owned(), e.event_id.to_string()),
        ("sequence".to_owned(), e.sequence.to_string()),
    ];
    if let Some(t) = e.tool_name() {
        want.push(("tool".into(), sd_value(t)));
    }
    if let Some(u) = &e.upstream_server {
        want.push(("upstream".into(), sd_value(&u.name)));
    }
    if let Some(s) = &e.session_id {
        want.push(("session".into(), sd_value(s)));
    }
    if let Some(d) = &e.security_decision {
        let a = if d.allowed { "allow" } else { "deny" };
        want.push(("action".into(), a.into()));
    }
    want
}

/// RFC 5424 HOSTNAME rule: letters, digits, `.`, `-`, `_` kept, anything else `_`,
/// `-` when empty.
pub(crate) fn hostname(host: &str) -> String {
    if host.is_empty() {
        return "-".into();
    }
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// RFC 3164 HOSTNAME rule: first label, letters/digits/`-`/`_` (others `_`), trailing
/// `-`/`_` removed, `unknown` when empty.
pub(crate) fn hostname_3164(host: &str) -> String {
    let short = host.split('.').next().unwrap_or("");
    let mapped: String = short
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_end_matches(['-', '_']);
    if trimmed.is_empty() {
        "unknown".into()
    } else {
        trimmed.into()
    }
}
