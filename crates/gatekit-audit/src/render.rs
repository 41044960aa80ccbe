//! Turning one gateway [`AuditRecord`] into audit file lines.
//!
//! The JSONL object carries every field Python Gatekit 0.3 wrote (`timestamp`, `event_type`
//! with its REQUEST / SECURITY_BLOCK / ... values, `request_id`, `server_name`, `method`,
//! `pipeline_outcome`, `security_evaluated`, `modified`, `pipeline`, `reason`, `tool`,
//! `request_body` / `response_body`, `response_status`, `error_code`, `error_message`,
//! `duration_ms`), plus Gatekit's identity fields from the canonical event model
//! (`event_id`, `sequence`, `session_id`, `host`, `gateway_version`, `schema_version`,
//! `client_info`, `severity`, `event_category`, `namespaced_tool`).
//!
//! Invariants: output is produced by serde_json, so every line is valid JSON whatever the
//! content (U+2028, U+2029, control characters are escaped; Python Gatekit wrote invalid `\xNN`
//! escapes); a line never contains a raw newline; blocked content is never included.

use gatekit_core::AuditEvent;
use gatekit_mcp::audit::{AuditRecord, Phase, SystemRecord};
use gatekit_mcp::namespace;
use serde_json::{json, Map, Value};

/// Body capture settings.
#[derive(Debug, Clone, Copy)]
pub struct BodyPolicy {
    /// Include request params.
    pub request: bool,
    /// Include response results.
    pub response: bool,
    /// Include notification params.
    pub notification: bool,
    /// Cap on a body's serialised size in bytes; 0 means no cap.
    pub max_size: usize,
}

/// Whether a security plugin (rather than middleware such as `tool_manager`) refused it.
fn security_blocked(r: &AuditRecord<'_>) -> bool {
    r.blocked
        && r.stages
            .iter()
            .any(|s| s.outcome == "blocked" && s.category == "security")
}

fn error_event_type(code: Option<i64>) -> &'static str {
    match code {
        Some(-32700) => "PARSE_ERROR",
        Some(-32600) => "INVALID_REQUEST_ERROR",
        Some(-32601) => "METHOD_NOT_FOUND_ERROR",
        Some(-32602) => "INVALID_PARAMS_ERROR",
        Some(-32603) => "INTERNAL_ERROR",
        Some(code) if (-32099..=-32000).contains(&code) => "UPSTREAM_ERROR",
        _ => "APPLICATION_ERROR",
    }
}

/// Python Gatekit's event type name for a record. A request that middleware answered itself
/// (a tool hidden by `tool_manager`) is named after the error the client got, as Python
/// Gatekit named its synthetic response.
pub fn python_event_type(r: &AuditRecord<'_>) -> &'static str {
    let modified = r.stages.iter().any(|s| s.outcome == "modified");
    match r.phase {
        _ if security_blocked(r) => "SECURITY_BLOCK",
        Phase::Request if r.blocked => error_event_type(r.error.as_ref().map(|e| e.code)),
        Phase::Request if modified => "REQUEST_MODIFIED",
        Phase::Request => "REQUEST",
        Phase::Notification if modified => "NOTIFICATION_MODIFIED",
        Phase::Notification => "NOTIFICATION",
        Phase::Response => match r.error.as_ref().map(|e| e.code) {
            None if modified => "RESPONSE_MODIFIED",
            None => "RESPONSE",
            code => error_event_type(code),
        },
    }
}

/// The pipeline outcome Python Gatekit reported.
pub fn pipeline_outcome(r: &AuditRecord<'_>) -> &'static str {
    if security_blocked(r) {
        "blocked"
    } else if r.blocked {
        "completed_by_middleware"
    } else if r.stages.iter().any(|s| s.outcome == "error") {
        "error"
    } else if r.stages.iter().any(|s| s.outcome == "modified") {
        "modified"
    } else if !r.stages.iter().any(|s| s.category == "security") {
        "no_security"
    } else {
        "allowed"
    }
}

/// Caps a body: returns it whole when small enough, else a marked, truncated preview.
pub fn capped_body(body: &Value, max_size: usize) -> Value {
    if max_size == 0 {
        return body.clone();
    }
    let text = body.to_string();
    if text.len() <= max_size {
        return body.clone();
    }
    let mut cut = max_size;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    json!({"truncated": true, "original_size": text.len(), "preview": &text[..cut]})
}

fn reason(r: &AuditRecord<'_>) -> String {
    r.stages
        .iter()
        .filter(|s| !s.reason.is_empty())
        .map(|s| format!("[{}] {}", s.plugin, s.reason))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The JSONL object for `r`, stamped with `event`'s identity (id, sequence, time, host).
pub fn jsonl_object(
    r: &AuditRecord<'_>,
    event: &AuditEvent,
    bodies: BodyPolicy,
) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert(
        "timestamp".into(),
        json!(event.timestamp.to_rfc3339_millis()),
    );
    o.insert("event_type".into(), json!(python_event_type(r)));
    o.insert("request_id".into(), json!(r.request_id));
    o.insert("server_name".into(), json!(r.upstream));
    o.insert("method".into(), json!(r.method));
    let outcome = pipeline_outcome(r);
    let security = r.stages.iter().any(|s| s.category == "security");
    o.insert("pipeline_outcome".into(), json!(outcome));
    o.insert("security_evaluated".into(), json!(security));
    o.insert(
        "modified".into(),
        json!(r.stages.iter().any(|s| s.outcome == "modified")),
    );
    let total_ms: f64 = r.stages.iter().map(|s| s.processing_ms).sum();
    o.insert(
        "pipeline".into(),
        json!({
            "pipeline_outcome": outcome,
            "blocked_at_stage": r.stages.iter().find(|s| s.outcome == "blocked").map(|s| s.plugin),
            "completed_by": (r.blocked && !security_blocked(r))
                .then(|| r.stages.iter().find(|s| s.outcome == "blocked").map(|s| s.plugin))
                .flatten(),
            "total_time_ms": total_ms,
            "had_security_plugin": security,
            "stages": r.stages,
        }),
    );
    o.insert("reason".into(), json!(reason(r)));
    if let Some(tool) = r.tool {
        o.insert("tool".into(), json!(tool));
        if let Some(up) = r.upstream {
            o.insert("namespaced_tool".into(), json!(namespace::join(up, tool)));
        }
    }
    let body_key = match r.phase {
        Phase::Request if bodies.request => Some("request_body"),
        Phase::Response if bodies.response => Some("response_body"),
        Phase::Notification if bodies.notification => Some("notification_body"),
        _ => None,
    };
    if let (Some(key), Some(body)) = (body_key, r.body) {
        o.insert(key.into(), capped_body(body, bodies.max_size));
    }
    if r.phase == Phase::Response {
        o.insert(
            "response_status".into(),
            json!(if r.error.is_some() {
                "error"
            } else {
                "success"
            }),
        );
        if let Some(e) = &r.error {
            o.insert("error_code".into(), json!(e.code));
            o.insert("error_message".into(), json!(e.message));
        }
    }
    if let Some(d) = r.duration {
        o.insert("duration_ms".into(), json!(d.as_secs_f64() * 1000.0));
    }
    // Gatekit additions.
    o.insert(
        "event_id".into(),
        json!(event.event_id.as_uuid().to_string()),
    );
    o.insert("sequence".into(), json!(event.sequence));
    o.insert("session_id".into(), json!(r.session.session_id));
    o.insert("host".into(), json!(event.host));
    o.insert("gateway_version".into(), json!(event.gateway_version));
    o.insert("schema_version".into(), json!(event.schema_version));
    o.insert("severity".into(), json!(event.severity.as_str()));
    o.insert("event_category".into(), json!(event.event_type.as_str()));
    o.insert(
        "client_info".into(),
        json!({"client_id": r.session.client_name, "client_version": r.session.client_version}),
    );
    o
}

/// The JSONL object of a system event (`event_type: SYSTEM`): Gatekit's own decisions, such as
/// a sandbox applied to an upstream or an upstream refused because its sandbox cannot be built.
pub fn system_object(r: &SystemRecord<'_>, event: &AuditEvent) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert(
        "timestamp".into(),
        json!(event.timestamp.to_rfc3339_millis()),
    );
    o.insert("event_type".into(), json!("SYSTEM"));
    o.insert("server_name".into(), json!(r.upstream));
    o.insert("action".into(), json!(r.action));
    o.insert("reason".into(), json!(r.message));
    o.insert("details".into(), r.details.clone());
    o.insert(
        "event_id".into(),
        json!(event.event_id.as_uuid().to_string()),
    );
    o.insert("sequence".into(), json!(event.sequence));
    o.insert("session_id".into(), json!(r.session.session_id));
    o.insert("host".into(), json!(event.host));
    o.insert("gateway_version".into(), json!(event.gateway_version));
    o.insert("schema_version".into(), json!(event.schema_version));
    o.insert("severity".into(), json!(event.severity.as_str()));
    o.insert("event_category".into(), json!(event.event_type.as_str()));
    o
}

/// The 15 CSV columns of Python Gatekit's `audit_csv`, in order.
pub const CSV_COLUMNS: [&str; 15] = [
    "timestamp",
    "event_type",
    "request_id",
    "server_name",
    "method",
    "tool",
    "pipeline_outcome",
    "security_evaluated",
    "modified",
    "reason",
    "duration_ms",
    "response_status",
    "error_code",
    "error_message",
    "error_classification",
];

/// The CSV field values of a JSONL object, in [`CSV_COLUMNS`] order (`None` = null).
pub fn csv_values(o: &Map<String, Value>) -> Vec<Option<String>> {
    CSV_COLUMNS
        .iter()
        .map(|col| {
            let key = if *col == "error_classification" {
                "event_type"
            } else {
                col
            };
            match o.get(key) {
                None | Some(Value::Null) => None,
                Some(_) if *col == "error_classification" && o.get("error_code").is_none() => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => Some(v.to_string()),
            }
        })
        .collect()
}

/// One human-readable line: `2026-... - REQUEST: tools/call - ex - echo - ALLOWED`.
pub fn human_line(o: &Map<String, Value>) -> String {
    let text = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    if o.get("event_type").and_then(Value::as_str) == Some("SYSTEM") {
        let line = format!(
            "{} - SYSTEM: {} - {} - {}",
            text("timestamp"),
            text("action"),
            text("server_name"),
            text("reason")
        );
        return line.replace(['\n', '\r', '\u{2028}', '\u{2029}'], " ");
    }
    let mut line = format!(
        "{} - {}: {} - {} - {} - {}",
        text("timestamp"),
        text("event_type"),
        text("method"),
        text("server_name"),
        text("tool"),
        text("pipeline_outcome").to_uppercase()
    );
    if let Some(code) = o.get("error_code") {
        line.push_str(&format!(" - error {code}: {}", text("error_message")));
    }
    // One record, one line, whatever the content; no control character (ESC sequences would
    // rewrite the terminal of whoever reads the file, NEL and U+2028/9 break lines too).
    line.chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn human_lines_hold_no_control_character_or_line_break() {
        let o = json!({"timestamp": "t", "event_type": "REQUEST", "method": "tools/call",
            "server_name": "ex", "tool": "a\u{1b}[2J\nb\u{0}c\u{85}d\u{2028}e\r", "pipeline_outcome": "allowed"});
        let line = human_line(o.as_object().unwrap());
        assert_eq!(
            line,
            "t - REQUEST: tools/call - ex - a [2J b c d e  - ALLOWED"
        );
    }
}
