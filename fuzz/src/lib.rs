//! Shared helpers for the fuzz targets: turn fuzzer bytes into an `AuditEvent` with
//! arbitrary strings in every field, and check the formatter contract.
//!
//! Invariant checked by every target: a formatter never panics and never writes a raw
//! control character or line separator inside an event (TAB aside: LEEF 1.0's delimiter).

use gatekit_core::{
    AuditEvent, ClientInfo, EventId, EventType, McpData, SecurityDecision, Severity, Timestamp,
    UpstreamServer,
};

/// Splits `data` at 0xFF bytes into lossy UTF-8 strings (0xFF never occurs in UTF-8).
pub fn fields(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// An event whose strings come from `data`; the first bytes choose type, severity and
/// which optional parts are present.
pub fn event(data: &[u8]) -> AuditEvent {
    let head = |i: usize| data.get(i).copied().unwrap_or(0);
    let f = fields(data.get(4..).unwrap_or(&[]));
    let s = |i: usize| f.get(i).cloned().unwrap_or_default();
    let flags = head(2);
    let t = EventType::ALL[usize::from(head(0)) % 6];
    let sev = Severity::ALL[usize::from(head(1)) % 8];
    let ms = i64::from(head(3)) * 1_000_000_007;
    let mut e = AuditEvent::new(
        t,
        sev,
        Timestamp::from_unix_millis(ms),
        EventId::from_u128(u128::from(head(3))),
        u64::from(head(0)),
    )
    .with_origin(s(0), s(1));
    if flags & 1 != 0 {
        e = e.with_session_id(s(2)).with_correlation_id(s(3));
    }
    if flags & 2 != 0 {
        e = e.with_client(ClientInfo {
            client_id: s(4),
            client_version: s(5),
            user: Some(s(6)),
        });
    }
    if flags & 4 != 0 {
        let mut params = serde_json::Map::new();
        params.insert(s(9), serde_json::Value::String(s(10)));
        e = e.with_mcp(McpData {
            method: s(7),
            tool_name: Some(s(8)),
            namespaced_tool_name: Some(s(11)),
            parameters: Some(params),
        });
    }
    if flags & 8 != 0 {
        e = e.with_decision(SecurityDecision {
            allowed: flags & 16 != 0,
            plugin: s(12),
            reason: s(13),
            risk_score: Some(u32::from(head(1))),
        });
    }
    if flags & 32 != 0 {
        e = e.with_upstream(UpstreamServer {
            name: s(14),
            command: Some(s(15)),
        });
    }
    if flags & 64 != 0 {
        e = e
            .with_error(i64::from(head(2)) - 100, s(16))
            .with_message(s(17));
    }
    if flags & 128 != 0 {
        e = e
            .with_hash_chain(s(18), s(19))
            .with_duration_us(u64::from(head(0)));
    }
    e
}

/// Formats and checks the contract: UTF-8, no raw control character (C0, DEL, C1; TAB is
/// allowed only as LEEF 1.0's delimiter, so it is not checked here) and no U+2028/U+2029.
pub fn check(f: &dyn gatekit_format::Formatter, e: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(err) = f.format(e, &mut out) {
        panic!("formatter failed: {err}");
    }
    let Ok(text) = std::str::from_utf8(&out) else {
        panic!("not UTF-8");
    };
    let raw = text
        .chars()
        .find(|&c| c != '\t' && (c.is_control() || c == '\u{2028}' || c == '\u{2029}'));
    assert!(raw.is_none(), "raw {raw:?} in the output");
    out
}
