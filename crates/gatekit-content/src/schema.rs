//! The one description of a Gatekit event that every SIEM package is generated from.
//!
//! Job: name each event field once and say what it is called in every wire format (JSON
//! path, CEF extension key, LEEF attribute, Sentinel column) and in the SIEM content
//! (Splunk field, QRadar custom property). The Sentinel names are checked against
//! [`gatekit_format::SENTINEL_COLUMNS`] and the CEF, LEEF and JSON names against what the
//! formatters actually emit for the sample events (`tests/drift.rs`), so a formatter that
//! gains or loses a field fails the tests until this table follows.
//!
//! Invariants: `splunk` names are unique snake_case; every Sentinel column appears exactly
//! once, in the formatter's order; event ids come from the CEF formatter itself.

use gatekit_core::{AuditEvent, EventId, EventType, SecurityDecision, Severity, Timestamp};

/// One event field and its name in each format. `None`: the format does not carry it.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Field name in Splunk and in this crate (snake_case).
    pub splunk: &'static str,
    /// Path in the canonical JSON (`a.b`), if present there.
    pub json: Option<&'static str>,
    /// CEF extension key, if present.
    pub cef: Option<&'static str>,
    /// LEEF attribute key, if present.
    pub leef: Option<&'static str>,
    /// Sentinel column, if present.
    pub sentinel: Option<&'static str>,
    /// QRadar custom event property name, for the fields searched by tool, session,
    /// decision, plugin or risk.
    pub qradar: Option<&'static str>,
    /// One-line description.
    pub description: &'static str,
}

const fn f(
    splunk: &'static str,
    json: Option<&'static str>,
    cef: Option<&'static str>,
    leef: Option<&'static str>,
    sentinel: Option<&'static str>,
    qradar: Option<&'static str>,
    description: &'static str,
) -> Field {
    Field {
        splunk,
        json,
        cef,
        leef,
        sentinel,
        qradar,
        description,
    }
}

/// Every field, in the Sentinel column order first, then the format-specific extras.
pub const FIELDS: &[Field] = &[
    f(
        "time",
        Some("timestamp"),
        Some("rt"),
        Some("devTime"),
        Some("TimeGenerated"),
        None,
        "Event time (UTC)",
    ),
    f(
        "event_id",
        Some("event_id"),
        Some("cs1"),
        Some("eventId"),
        Some("EventId"),
        None,
        "UUIDv7, stable across retries",
    ),
    f(
        "sequence",
        Some("sequence"),
        Some("externalId"),
        Some("sequence"),
        Some("Sequence"),
        None,
        "Per-instance sequence number",
    ),
    f(
        "event_type",
        Some("event_type"),
        Some("cat"),
        Some("cat"),
        Some("EventType"),
        None,
        "One of the six event types",
    ),
    f(
        "severity_name",
        Some("severity"),
        None,
        Some("severity"),
        Some("Severity"),
        None,
        "Syslog-style severity name",
    ),
    f(
        "severity_level",
        None,
        None,
        Some("sev"),
        Some("SeverityLevel"),
        None,
        "Severity 0-10 (CEF header, LEEF sev)",
    ),
    f(
        "source",
        Some("source"),
        None,
        None,
        Some("Source"),
        None,
        "Producer (gatekit)",
    ),
    f(
        "version",
        Some("version"),
        None,
        None,
        Some("Version"),
        None,
        "Event structure version",
    ),
    f(
        "schema_version",
        Some("schema_version"),
        None,
        None,
        Some("SchemaVersion"),
        None,
        "Gatekit schema revision",
    ),
    f(
        "gateway_version",
        Some("gateway_version"),
        None,
        None,
        Some("GatewayVersion"),
        None,
        "Gatekit version (CEF/LEEF header)",
    ),
    f(
        "gateway_host",
        Some("host"),
        Some("dvchost"),
        Some("host"),
        Some("GatewayHost"),
        None,
        "Host running the gateway",
    ),
    f(
        "correlation_id",
        Some("correlation_id"),
        Some("cs4"),
        Some("correlationId"),
        Some("CorrelationId"),
        None,
        "Request correlation id",
    ),
    f(
        "session_id",
        Some("session_id"),
        Some("cs3"),
        Some("sessionId"),
        Some("SessionId"),
        Some("Gatekit Session"),
        "MCP session id",
    ),
    f(
        "client_id",
        Some("client_info.client_id"),
        None,
        Some("clientId"),
        Some("ClientId"),
        None,
        "MCP client name",
    ),
    f(
        "client_version",
        Some("client_info.client_version"),
        None,
        Some("clientVersion"),
        Some("ClientVersion"),
        None,
        "MCP client version",
    ),
    f(
        "user",
        Some("client_info.user"),
        Some("suser"),
        Some("usrName"),
        Some("ClientUser"),
        None,
        "Principal behind the client",
    ),
    f(
        "mcp_method",
        Some("mcp_data.method"),
        Some("requestMethod"),
        Some("mcpMethod"),
        Some("McpMethod"),
        None,
        "JSON-RPC method",
    ),
    f(
        "tool",
        Some("mcp_data.tool_name"),
        Some("cs2"),
        Some("resource"),
        Some("ToolName"),
        Some("Gatekit Tool"),
        "Tool name at the upstream server",
    ),
    f(
        "namespaced_tool",
        Some("mcp_data.namespaced_tool_name"),
        Some("GatekitToolNs"),
        Some("toolNs"),
        Some("NamespacedToolName"),
        None,
        "Tool name as the client saw it",
    ),
    f(
        "parameters",
        Some("mcp_data.parameters"),
        Some("cs5"),
        Some("params"),
        Some("Parameters"),
        None,
        "Tool arguments after redaction (JSON)",
    ),
    f(
        "allowed",
        Some("security_decision.allowed"),
        None,
        None,
        Some("Allowed"),
        None,
        "Security decision: allowed (true/false)",
    ),
    f(
        "decision",
        None,
        Some("act"),
        Some("action"),
        Some("Action"),
        Some("Gatekit Decision"),
        "allow or deny",
    ),
    f(
        "outcome",
        None,
        Some("outcome"),
        Some("outcome"),
        Some("Outcome"),
        None,
        "success or failure",
    ),
    f(
        "plugin",
        Some("security_decision.plugin"),
        Some("cs6"),
        Some("policy"),
        Some("Plugin"),
        Some("Gatekit Plugin"),
        "Deciding plugin",
    ),
    f(
        "reason",
        Some("security_decision.reason"),
        Some("reason"),
        Some("reason"),
        Some("Reason"),
        None,
        "Decision reason",
    ),
    f(
        "risk_score",
        Some("security_decision.risk_score"),
        Some("cn1"),
        Some("riskScore"),
        Some("RiskScore"),
        Some("Gatekit Risk Score"),
        "Risk score",
    ),
    f(
        "upstream",
        Some("upstream_server.name"),
        Some("destinationServiceName"),
        Some("upstream"),
        Some("UpstreamName"),
        None,
        "Upstream MCP server",
    ),
    f(
        "upstream_command",
        Some("upstream_server.command"),
        Some("dproc"),
        Some("upstreamCommand"),
        Some("UpstreamCommand"),
        None,
        "Upstream command or URL",
    ),
    f(
        "duration_us",
        Some("duration_us"),
        Some("cn2"),
        Some("durationUs"),
        Some("DurationUs"),
        None,
        "Request duration in microseconds",
    ),
    f(
        "error_code",
        Some("error.code"),
        Some("cn3"),
        Some("errorCode"),
        Some("ErrorCode"),
        None,
        "Error code",
    ),
    f(
        "error_message",
        Some("error.message"),
        Some("GatekitErrorMessage"),
        Some("errorMessage"),
        Some("ErrorMessage"),
        None,
        "Error message (CEF: msg when there is no message)",
    ),
    f(
        "message",
        Some("message"),
        Some("msg"),
        Some("msg"),
        Some("Message"),
        None,
        "Free text",
    ),
    f(
        "prev_hash",
        Some("hash_chain.prev_hash"),
        Some("GatekitPrevHash"),
        Some("prevHash"),
        Some("PrevHash"),
        None,
        "Hash chain: previous hash",
    ),
    f(
        "hash",
        Some("hash_chain.hash"),
        Some("GatekitHash"),
        Some("hash"),
        Some("Hash"),
        None,
        "Hash chain: this event's hash",
    ),
    f(
        "truncated",
        Some("truncated"),
        Some("GatekitTruncated"),
        Some("truncated"),
        Some("Truncated"),
        None,
        "true when the event was shortened to fit the destination's size limit",
    ),
    // Format-specific extras (no Sentinel column).
    f(
        "client_app",
        None,
        Some("requestClientApplication"),
        None,
        None,
        None,
        "client_id/client_version (CEF)",
    ),
    f(
        "device_external_id",
        None,
        Some("deviceExternalId"),
        None,
        None,
        None,
        "Configured device id, else the host (CEF)",
    ),
    f(
        "app",
        None,
        Some("app"),
        None,
        None,
        None,
        "Always MCP (CEF)",
    ),
    f(
        "dev_time_format",
        None,
        None,
        Some("devTimeFormat"),
        None,
        None,
        "LEEF time format, when not epoch",
    ),
];

/// CEF label keys (`csNLabel`, `cnNLabel`) and the fixed label each carries.
pub const CEF_LABELS: &[(&str, &str)] = &[
    ("cs1Label", "eventId"),
    ("cs2Label", "mcpTool"),
    ("cs3Label", "mcpSession"),
    ("cs4Label", "correlationId"),
    ("cs5Label", "mcpParameters"),
    ("cs6Label", "securityPlugin"),
    ("cn1Label", "riskScore"),
    ("cn2Label", "durationUs"),
    ("cn3Label", "errorCode"),
];

/// Keys that the sample events do not produce (the drift test needs to know): LEEF's
/// `devTimeFormat` (only with formatted times) and CEF's `GatekitErrorMessage` (only when an
/// error event also has a message).
pub const NOT_IN_SAMPLES: &[&str] = &["devTimeFormat", "GatekitErrorMessage"];

/// The field named `splunk`.
pub fn field(splunk: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.splunk == splunk)
}

/// One Gatekit event id (CEF Device Event Class ID = LEEF EventID = QRadar EventName).
#[derive(Debug, Clone)]
pub struct EventKind {
    /// The id, from `gatekit_format::cef_signature_id`.
    pub id: &'static str,
    /// CEF Name, from `gatekit_format::cef_event_name`.
    pub name: &'static str,
    /// Event type (LEEF `cat`, QRadar EventCategory).
    pub event_type: EventType,
    /// `Some(allowed)` for the ids that carry a decision.
    pub allowed: Option<bool>,
}

/// Every event id the formatters can emit, asked of the CEF formatter for each event type
/// with no decision, an allowed one and a denied one (duplicates removed).
pub fn event_kinds() -> Vec<EventKind> {
    let mut out: Vec<EventKind> = Vec::new();
    for t in EventType::ALL {
        for allowed in [None, Some(true), Some(false)] {
            let mut e = AuditEvent::new(
                t,
                Severity::Info,
                Timestamp::from_unix_millis(0),
                EventId::from_u128(0),
                0,
            );
            if let Some(a) = allowed {
                e = e.with_decision(SecurityDecision {
                    allowed: a,
                    plugin: String::new(),
                    reason: String::new(),
                    risk_score: None,
                });
            }
            let id = gatekit_format::cef_signature_id(&e);
            if out.iter().any(|k| k.id == id) {
                continue;
            }
            let allowed = if id == t.as_str() { None } else { allowed };
            out.push(EventKind {
                id,
                name: gatekit_format::cef_event_name(&e),
                event_type: t,
                allowed,
            });
        }
    }
    out
}
