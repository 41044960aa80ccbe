//! Microsoft Sentinel Logs Ingestion API record encoder and its table schema.
//!
//! Job: render an event as one flat JSON object whose properties are the columns of the
//! custom table [`SENTINEL_TABLE`] (declared by the DCR stream [`SENTINEL_STREAM`]), with
//! `TimeGenerated` as a `datetime`. The schema, [`SENTINEL_COLUMNS`], is data: a later
//! issue turns it into the DCR `streamDeclarations` and the table definition, so the
//! encoder and those definitions cannot drift apart.
//!
//! Invariants: every property written is a declared column, with a JSON value of the
//! column's type (a unit test checks this); absent values are omitted (the API stores
//! null); DEL, C1 controls and U+2028/U+2029 are `\u`-escaped as in the JSON format; one
//! object per call — the connector wraps a batch in a JSON array, which the
//! Logs Ingestion API requires (docs/reference/sentinel.md §1.2), or writes one object per line for the
//! Azure Monitor Agent's Custom JSON Logs.

use gatekit_core::AuditEvent;
use serde::Serialize;

use crate::error::FormatError;
use crate::formatter::Formatter;

/// Custom table name (`_CL` suffix required for custom tables, docs/reference/sentinel.md §5).
pub const SENTINEL_TABLE: &str = "GatekitAudit_CL";
/// DCR input stream name (`Custom-<Name>`).
pub const SENTINEL_STREAM: &str = "Custom-GatekitAudit";

/// Column types of the Logs Ingestion stream declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `string`
    String,
    /// `int` (32-bit)
    Int,
    /// `long` (64-bit)
    Long,
    /// `real`
    Real,
    /// `boolean`
    Boolean,
    /// `datetime` (ISO 8601 string)
    DateTime,
    /// `dynamic` (any JSON)
    Dynamic,
}

impl ColumnType {
    /// The type name used in DCR stream declarations and table schemas.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Long => "long",
            Self::Real => "real",
            Self::Boolean => "boolean",
            Self::DateTime => "datetime",
            Self::Dynamic => "dynamic",
        }
    }
}

/// One column of the Gatekit table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name (`[A-Za-z][A-Za-z0-9_]{0,44}`, not reserved).
    pub name: &'static str,
    /// Type.
    pub kind: ColumnType,
    /// Description for the table definition.
    pub description: &'static str,
}

const fn col(name: &'static str, kind: ColumnType, description: &'static str) -> Column {
    Column {
        name,
        kind,
        description,
    }
}

/// The columns, in the order the encoder writes them.
pub const SENTINEL_COLUMNS: &[Column] = &[
    col("TimeGenerated", ColumnType::DateTime, "Event time (UTC)"),
    col(
        "EventId",
        ColumnType::String,
        "UUIDv7, stable across retries",
    ),
    col("Sequence", ColumnType::Long, "Per-instance sequence number"),
    col(
        "EventType",
        ColumnType::String,
        "mcp_request, mcp_response, security_decision, audit_event, error_event or system_event",
    ),
    col("Severity", ColumnType::String, "Syslog-style severity name"),
    col("SeverityLevel", ColumnType::Int, "Severity as CEF 0-10"),
    col("Source", ColumnType::String, "Producer (gatekit)"),
    col("Version", ColumnType::String, "Event structure version"),
    col(
        "SchemaVersion",
        ColumnType::Int,
        "Gatekit extended schema revision",
    ),
    col("GatewayVersion", ColumnType::String, "Gatekit version"),
    col(
        "GatewayHost",
        ColumnType::String,
        "Host running the gateway",
    ),
    col(
        "CorrelationId",
        ColumnType::String,
        "Request correlation id",
    ),
    col("SessionId", ColumnType::String, "MCP session id"),
    col("ClientId", ColumnType::String, "MCP client name"),
    col("ClientVersion", ColumnType::String, "MCP client version"),
    col("ClientUser", ColumnType::String, "Authenticated principal"),
    col("McpMethod", ColumnType::String, "JSON-RPC method"),
    col(
        "ToolName",
        ColumnType::String,
        "Tool name at the upstream server",
    ),
    col(
        "NamespacedToolName",
        ColumnType::String,
        "Tool name as the client saw it",
    ),
    col(
        "Parameters",
        ColumnType::Dynamic,
        "Tool arguments after redaction",
    ),
    col("Allowed", ColumnType::Boolean, "Security decision: allowed"),
    col("Action", ColumnType::String, "allow or deny"),
    col("Outcome", ColumnType::String, "success or failure"),
    col("Plugin", ColumnType::String, "Deciding plugin"),
    col("Reason", ColumnType::String, "Decision reason"),
    col("RiskScore", ColumnType::Int, "Risk score"),
    col("UpstreamName", ColumnType::String, "Upstream MCP server"),
    col(
        "UpstreamCommand",
        ColumnType::String,
        "Upstream command or URL",
    ),
    col(
        "DurationUs",
        ColumnType::Long,
        "Request duration in microseconds",
    ),
    col("ErrorCode", ColumnType::Long, "Error code"),
    col("ErrorMessage", ColumnType::String, "Error message"),
    col("Message", ColumnType::String, "Free text"),
    col("PrevHash", ColumnType::String, "Hash chain: previous hash"),
    col("Hash", ColumnType::String, "Hash chain: this event's hash"),
    col(
        "Truncated",
        ColumnType::Boolean,
        "True when the event was shortened to fit the destination's size limit",
    ),
];

/// The record as serialised; field names are the column names above.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Record<'a> {
    time_generated: &'a gatekit_core::Timestamp,
    event_id: &'a gatekit_core::EventId,
    sequence: u64,
    event_type: &'static str,
    severity: &'static str,
    severity_level: u8,
    source: &'a str,
    version: &'a str,
    schema_version: u32,
    gateway_version: &'a str,
    gateway_host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mcp_method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespaced_tool_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    risk_score: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<bool>,
}

/// Renders one Logs Ingestion record (a JSON object, no separator).
#[derive(Debug, Clone, Copy, Default)]
pub struct SentinelFormatter;

impl Formatter for SentinelFormatter {
    fn format(&self, e: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        let client = e.client_info.as_ref();
        let mcp = e.mcp_data.as_ref();
        let dec = e.security_decision.as_ref();
        let up = e.upstream_server.as_ref();
        let r = Record {
            time_generated: &e.timestamp,
            event_id: &e.event_id,
            sequence: e.sequence,
            event_type: e.event_type.as_str(),
            severity: e.severity.as_str(),
            severity_level: e.severity.cef_code(),
            source: &e.source,
            version: &e.version,
            schema_version: e.schema_version,
            gateway_version: &e.gateway_version,
            gateway_host: &e.host,
            correlation_id: e.correlation_id.as_deref(),
            session_id: e.session_id.as_deref(),
            client_id: client.map(|c| c.client_id.as_str()),
            client_version: client.map(|c| c.client_version.as_str()),
            client_user: client.and_then(|c| c.user.as_deref()),
            mcp_method: mcp.map(|m| m.method.as_str()),
            tool_name: mcp.and_then(|m| m.tool_name.as_deref()),
            namespaced_tool_name: mcp.and_then(|m| m.namespaced_tool_name.as_deref()),
            parameters: mcp.and_then(|m| m.parameters.as_ref()),
            allowed: dec.map(|d| d.allowed),
            action: dec.map(|d| if d.allowed { "allow" } else { "deny" }),
            outcome: if e.is_failure() { "failure" } else { "success" },
            plugin: dec.map(|d| d.plugin.as_str()),
            reason: dec.map(|d| d.reason.as_str()),
            risk_score: dec.and_then(|d| d.risk_score),
            upstream_name: up.map(|u| u.name.as_str()),
            upstream_command: up.and_then(|u| u.command.as_deref()),
            duration_us: e.duration_us,
            error_code: e.error.as_ref().map(|x| x.code),
            error_message: e.error.as_ref().map(|x| x.message.as_str()),
            message: e.message.as_deref(),
            prev_hash: e.hash_chain.as_ref().map(|h| h.prev_hash.as_str()),
            hash: e.hash_chain.as_ref().map(|h| h.hash.as_str()),
            truncated: e.truncated.then_some(true),
        };
        let start = out.len();
        serde_json::to_writer(&mut *out, &r)?;
        crate::jsonw::escape_raw_separators(out, start);
        Ok(())
    }
}

/// Appends a Logs Ingestion request body (a JSON array of records) for `events`.
pub fn write_batch<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    out.push(b'[');
    for (i, e) in events.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        SentinelFormatter.format(e, out)?;
    }
    out.push(b']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_valid_and_unique() {
        let reserved = [
            "_ResourceId",
            "id",
            "_SubscriptionId",
            "TenantId",
            "Type",
            "UniqueId",
            "Title",
        ];
        let mut seen = std::collections::HashSet::new();
        for c in SENTINEL_COLUMNS {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert!(c.name.len() <= 45 && c.name.as_bytes()[0].is_ascii_alphabetic());
            assert!(c
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            assert!(!reserved.contains(&c.name));
        }
        assert_eq!(SENTINEL_COLUMNS[0].name, "TimeGenerated");
    }
}
