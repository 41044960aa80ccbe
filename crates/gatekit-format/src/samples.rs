//! Deterministic sample events: at least one of each of the six event types, with
//! realistic content and hostile strings (delimiters, escapes, line breaks, forged
//! CEF/LEEF/syslog fragments, non-ASCII).
//!
//! Job: feed `gatekit siem sample`, the golden tests and the benchmarks. Invariant: the
//! output is fixed (fixed times, ids and sequence numbers), so golden files are stable.

use gatekit_core::{
    AuditEvent, ClientInfo, EventId, EventType, McpData, SecurityDecision, Severity, Timestamp,
    UpstreamServer,
};
use serde_json::{json, Map, Value};

const BASE_MS: i64 = 1_763_371_800_123; // 2025-11-17T09:30:00.123Z
const HOST: &str = "gk01.example.com";
const VERSION: &str = "0.1.0";

fn params(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn base(n: u64, t: EventType, s: Severity) -> AuditEvent {
    let ts = Timestamp::from_unix_millis(BASE_MS + 1000 * i64::try_from(n).unwrap_or(0));
    let id = EventId::from_u128(0x019a_90c1_7e3b_7000_8000_0000_0000_0000 | u128::from(n));
    AuditEvent::new(t, s, ts, id, n).with_origin(HOST, VERSION)
}

fn client() -> ClientInfo {
    ClientInfo {
        client_id: "claude-desktop".into(),
        client_version: "1.0.0".into(),
        user: Some("alice@example.com".into()),
    }
}

fn fs_server() -> UpstreamServer {
    UpstreamServer {
        name: "filesystem-server".into(),
        command: Some("node filesystem-mcp-server.js --root /srv/data".into()),
    }
}

/// The sample set, in order: request, response, allowed decision, denied decision (hostile
/// content), audit, error, system.
pub fn sample_events() -> Vec<AuditEvent> {
    vec![
        base(1, EventType::McpRequest, Severity::Info)
            .with_correlation_id("req-123456")
            .with_session_id("session-abc")
            .with_client(client())
            .with_mcp(McpData {
                method: "tools/call".into(),
                tool_name: Some("read_file".into()),
                namespaced_tool_name: Some("filesystem__read_file".into()),
                parameters: params(json!({"path": "/tmp/test.txt", "operation": "read"})),
            })
            .with_upstream(fs_server()),
        base(2, EventType::McpResponse, Severity::Info)
            .with_correlation_id("req-123456")
            .with_session_id("session-abc")
            .with_client(client())
            .with_mcp(McpData {
                method: "tools/call".into(),
                tool_name: Some("read_file".into()),
                namespaced_tool_name: Some("filesystem__read_file".into()),
                parameters: None,
            })
            .with_upstream(fs_server())
            .with_duration_us(7_412),
        base(3, EventType::SecurityDecision, Severity::Info)
            .with_correlation_id("req-123457")
            .with_session_id("session-abc")
            .with_client(client())
            .with_mcp(McpData {
                method: "tools/call".into(),
                tool_name: Some("read_file".into()),
                namespaced_tool_name: Some("filesystem__read_file".into()),
                parameters: params(json!({"path": "/srv/data/report.csv"})),
            })
            .with_decision(SecurityDecision {
                allowed: true,
                plugin: "filesystem_security".into(),
                reason: "Path allowed by policy".into(),
                risk_score: Some(2),
            })
            .with_upstream(fs_server()),
        // Hostile: every delimiter of every format, line breaks and forged fields.
        base(4, EventType::SecurityDecision, Severity::Warning)
            .with_correlation_id("req-9\" ] [evil@1 x=\"y")
            .with_session_id("sess|CEF:0|Evil|Corp|1|x|y|10|")
            .with_client(ClientInfo {
                client_id: "cursor".into(),
                client_version: "0.42\tbeta".into(),
                user: Some("bob\\admin act=allow".into()),
            })
            .with_mcp(McpData {
                method: "tools/call".into(),
                tool_name: Some("write_file".into()),
                namespaced_tool_name: Some("fs__write_file".into()),
                parameters: params(json!({
                    "path": "C:\\temp\\x.txt",
                    "content": "line1\nline2\r\nsuser=root cs1=forged ^ devTime=0 | LEEF:2.0|x",
                    "note": "héllo wörld 🦀 \u{0085}next"
                })),
            })
            .with_decision(SecurityDecision {
                allowed: false,
                plugin: "pii_filter".into(),
                reason: "PII detected: email=bob@example.com\n<134>1 2025-01-01T00:00:00Z forged - - - - injected".into(),
                risk_score: Some(8),
            })
            .with_upstream(UpstreamServer {
                name: "fs|server^1".into(),
                command: Some("python -m server --flag=\"x\"".into()),
            })
            .with_message("Tool call denied]\"\\"),
        base(5, EventType::AuditEvent, Severity::Notice)
            .with_session_id("session-abc")
            .with_client(client())
            .with_message("Client initialized: claude-desktop 1.0.0 (protocol 2025-06-18)")
            .with_hash_chain(
                "9f2c4e1a0b7d3c5e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6",
                "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809",
            ),
        base(6, EventType::ErrorEvent, Severity::Error)
            .with_correlation_id("req-123460")
            .with_session_id("session-abc")
            .with_mcp(McpData {
                method: "tools/call".into(),
                tool_name: Some("query".into()),
                namespaced_tool_name: Some("db__query".into()),
                parameters: params(json!({"sql": "SELECT * FROM users WHERE name = 'x' OR '1'='1'"})),
            })
            .with_upstream(UpstreamServer {
                name: "db-server".into(),
                command: Some("uvx mcp-server-postgres".into()),
            })
            .with_duration_us(30_000_000)
            .with_error(-32001, "Upstream timed out after 30s\nstack: at query()"),
        base(7, EventType::SystemEvent, Severity::Warning)
            .with_message("SIEM destination qradar unreachable; 12 events dropped (drop_oldest)")
            .with_truncated(),
    ]
}
