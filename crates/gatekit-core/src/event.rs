//! The canonical audit event and its parts.
//!
//! Job: one struct, [`AuditEvent`], that the gateway fills from MCP traffic and plugin
//! decisions and that every formatter renders. Its serde form is the requirements'
//! "Core Event Structure" with the exact field names, extended per docs/reference/targets.md §2
//! (`event_id`, `sequence`, `host`, `gateway_version`, `schema_version`, the namespaced
//! tool name, `duration_us`, `error`, `message`, `hash_chain`).
//!
//! Invariants: optional parts are `Option`s and are omitted from JSON when absent;
//! field order in the struct is the JSON order, so the JSON form is deterministic;
//! `mcp_data.parameters` keeps the tool arguments as JSON (in key order, since
//! `serde_json` without `preserve_order` uses a sorted map).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::time::Timestamp;

/// `source` value Gatekit writes: the requirements' example uses `"gatekit"`.
pub const SOURCE: &str = "gatekit";
/// `version` value of the requirements' event structure (`"1.0"`).
pub const EVENT_VERSION: &str = "1.0";
/// Revision of Gatekit's extended schema (the decision-3 additions). Bump when a field's
/// meaning changes; adding an optional field does not need a bump.
pub const SCHEMA_VERSION: u32 = 1;

/// Event identifier: a UUIDv7 created once when the event is born and never changed,
/// so a SIEM can de-duplicate re-sent events (delivery is at-least-once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(uuid::Uuid);

/// A string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event id {0:?}: expected a hyphenated UUID")]
pub struct EventIdError(String);

impl EventId {
    /// A new time-ordered UUIDv7: 48 bits of Unix milliseconds, then 74 random bits
    /// (RFC 9562 §5.7).
    ///
    /// The random bits come from a per-thread generator seeded once from the OS, not from a
    /// `getrandom` system call per id (which cost about 6 % of the CPU of a SIEM load run).
    /// Event ids must be unique, not secret: nothing relies on them being unpredictable, and
    /// ordering within one millisecond comes from `sequence`.
    pub fn new_v7() -> Self {
        thread_local! {
            static RANDOM: std::cell::RefCell<fastrand::Rng> = std::cell::RefCell::new(fastrand::Rng::new());
        }
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut random = [0u8; 10];
        RANDOM.with(|rng| rng.borrow_mut().fill(&mut random));
        Self(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
    }

    /// Wraps an existing UUID (fixtures, events re-read from a buffer).
    pub const fn from_uuid(u: uuid::Uuid) -> Self {
        Self(u)
    }

    /// Builds an id from its 128-bit value (deterministic fixtures and tests).
    pub const fn from_u128(v: u128) -> Self {
        Self(uuid::Uuid::from_u128(v))
    }

    /// The wrapped UUID.
    pub const fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }

    /// Appends the lower-case hyphenated form (36 ASCII bytes).
    pub fn write_hyphenated(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        out.extend_from_slice(self.0.hyphenated().encode_lower(&mut buf).as_bytes());
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for EventId {
    type Err = EventIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| EventIdError(s.to_owned()))
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        s.serialize_str(self.0.hyphenated().encode_lower(&mut buf))
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A name that is not one of an enum's documented values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownName {
    kind: &'static str,
    value: String,
}

/// The six event types of the requirements ("Event Types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// An MCP method invocation (client to server).
    McpRequest,
    /// An MCP method response (server to client).
    McpResponse,
    /// A security policy decision by a plugin.
    SecurityDecision,
    /// A general audit event.
    AuditEvent,
    /// An error or exception.
    ErrorEvent,
    /// A Gatekit system event (start, stop, SIEM drops, configuration).
    SystemEvent,
}

impl EventType {
    /// Every event type, in documentation order.
    pub const ALL: [EventType; 6] = [
        Self::McpRequest,
        Self::McpResponse,
        Self::SecurityDecision,
        Self::AuditEvent,
        Self::ErrorEvent,
        Self::SystemEvent,
    ];

    /// The snake_case wire name (`mcp_request`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::McpRequest => "mcp_request",
            Self::McpResponse => "mcp_response",
            Self::SecurityDecision => "security_decision",
            Self::AuditEvent => "audit_event",
            Self::ErrorEvent => "error_event",
            Self::SystemEvent => "system_event",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "event type",
                value: s.to_owned(),
            })
    }
}

/// Event severity, named after the syslog severities (RFC 5424 §6.2.1) so that the
/// mapping to syslog is the identity; formatters map it onto CEF 0-10 and LEEF 1-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Debug-level detail.
    Debug,
    /// Normal operation (the requirements' example uses `"info"`).
    Info,
    /// Normal but significant, e.g. a modified request.
    Notice,
    /// A denied call or a degraded SIEM destination.
    Warning,
    /// An error.
    Error,
    /// A critical condition, e.g. the audit trail cannot be kept.
    Critical,
    /// Action must be taken immediately.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 8] = [
        Self::Debug,
        Self::Info,
        Self::Notice,
        Self::Warning,
        Self::Error,
        Self::Critical,
        Self::Alert,
        Self::Emergency,
    ];

    /// The lower-case wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
            Self::Alert => "alert",
            Self::Emergency => "emergency",
        }
    }

    /// The syslog severity code (RFC 5424 §6.2.1 table 2): 0 Emergency .. 7 Debug.
    pub const fn syslog_code(self) -> u8 {
        match self {
            Self::Emergency => 0,
            Self::Alert => 1,
            Self::Critical => 2,
            Self::Error => 3,
            Self::Warning => 4,
            Self::Notice => 5,
            Self::Info => 6,
            Self::Debug => 7,
        }
    }

    /// Default CEF severity 0-10 (CEF Implementation Standard: 0-3 Low, 4-6 Medium,
    /// 7-8 High, 9-10 Very-High). Also usable as LEEF `sev` after clamping to 1..=10.
    pub const fn cef_code(self) -> u8 {
        match self {
            Self::Debug => 1,
            Self::Info => 3,
            Self::Notice => 4,
            Self::Warning => 6,
            Self::Error => 7,
            Self::Critical => 8,
            Self::Alert => 9,
            Self::Emergency => 10,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "severity",
                value: s.to_owned(),
            })
    }
}

/// The MCP client, from the `initialize` request's `clientInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClientInfo {
    /// Client name, e.g. `claude-desktop`.
    pub client_id: String,
    /// Client version, e.g. `1.0.0`.
    pub client_version: String,
    /// Authenticated principal, when the gateway knows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// What the MCP message was about.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct McpData {
    /// JSON-RPC method, e.g. `tools/call`.
    pub method: String,
    /// Plain tool name as the upstream server knows it (`read_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Tool name as the client saw it, namespaced by upstream (`filesystem__read_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaced_tool_name: Option<String>,
    /// Tool arguments (after redaction by the destination's policy, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A security plugin's decision.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SecurityDecision {
    /// Whether the message was let through.
    pub allowed: bool,
    /// Name of the deciding plugin.
    pub plugin: String,
    /// Human-readable reason.
    pub reason: String,
    /// Risk score 0-10 when the plugin gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_score: Option<u32>,
}

/// The upstream MCP server involved.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpstreamServer {
    /// Configured server name.
    pub name: String,
    /// Command line (stdio servers) or URL (HTTP servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// Error details for `error_event`s and failed responses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ErrorDetails {
    /// JSON-RPC error code (e.g. `-32000`) or a Gatekit error code.
    pub code: i64,
    /// Error message.
    pub message: String,
}

/// Tamper-evidence chain link: `hash` covers this event's canonical form and
/// `prev_hash`; both are lower-case hex written by the component that keeps the chain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HashChain {
    /// Hash of the previous event in this instance's chain.
    pub prev_hash: String,
    /// Hash of this event.
    pub hash: String,
}

/// One audit event: the canonical model every formatter renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When the event happened (RFC 3339 with milliseconds in JSON).
    pub timestamp: Timestamp,
    /// Which of the six event types this is.
    pub event_type: EventType,
    /// Severity.
    pub severity: Severity,
    /// Producer, `"gatekit"`.
    pub source: String,
    /// The requirements' event-structure version, `"1.0"`.
    pub version: String,
    /// UUIDv7, stable across retries and failover.
    pub event_id: EventId,
    /// Per-instance sequence number (gaps reveal loss; restarts at process start).
    pub sequence: u64,
    /// Host the gateway runs on.
    pub host: String,
    /// Gatekit version (semver).
    pub gateway_version: String,
    /// Gatekit extended-schema revision ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Request correlation id (JSON-RPC id or a generated one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// MCP session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// MCP client identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<ClientInfo>,
    /// MCP method, tool and arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_data: Option<McpData>,
    /// Security decision, for `security_decision` events and decided requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_decision: Option<SecurityDecision>,
    /// Upstream server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_server: Option<UpstreamServer>,
    /// Time from request to response, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_us: Option<u64>,
    /// Error details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetails>,
    /// Free text for system and audit events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Optional tamper-evidence chain link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_chain: Option<HashChain>,
    /// Set when a destination's whole-event size limit made Gatekit shorten this event
    /// (parameters, then long values) before sending it; absent (false) otherwise. Each
    /// format carries it (`truncated` in JSON, `GatekitTruncated` in CEF, ...), so SIEM
    /// content can tell a cut event from a complete one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl AuditEvent {
    /// A minimal event with explicit identity and time (deterministic; the gateway uses
    /// [`crate::EventFactory`] instead). `host` and `gateway_version` start empty.
    pub fn new(
        event_type: EventType,
        severity: Severity,
        timestamp: Timestamp,
        event_id: EventId,
        sequence: u64,
    ) -> Self {
        Self {
            timestamp,
            event_type,
            severity,
            source: SOURCE.to_owned(),
            version: EVENT_VERSION.to_owned(),
            event_id,
            sequence,
            host: String::new(),
            gateway_version: String::new(),
            schema_version: SCHEMA_VERSION,
            correlation_id: None,
            session_id: None,
            client_info: None,
            mcp_data: None,
            security_decision: None,
            upstream_server: None,
            duration_us: None,
            error: None,
            message: None,
            hash_chain: None,
            truncated: false,
        }
    }

    /// Sets `host` and `gateway_version`.
    #[must_use]
    pub fn with_origin(
        mut self,
        host: impl Into<String>,
        gateway_version: impl Into<String>,
    ) -> Self {
        self.host = host.into();
        self.gateway_version = gateway_version.into();
        self
    }

    /// Sets `correlation_id`.
    #[must_use]
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets `session_id`.
    #[must_use]
    pub fn with_session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Sets `client_info`.
    #[must_use]
    pub fn with_client(mut self, client: ClientInfo) -> Self {
        self.client_info = Some(client);
        self
    }

    /// Sets `mcp_data`.
    #[must_use]
    pub fn with_mcp(mut self, mcp: McpData) -> Self {
        self.mcp_data = Some(mcp);
        self
    }

    /// Sets `security_decision`.
    #[must_use]
    pub fn with_decision(mut self, decision: SecurityDecision) -> Self {
        self.security_decision = Some(decision);
        self
    }

    /// Sets `upstream_server`.
    #[must_use]
    pub fn with_upstream(mut self, upstream: UpstreamServer) -> Self {
        self.upstream_server = Some(upstream);
        self
    }

    /// Sets `duration_us`.
    #[must_use]
    pub fn with_duration_us(mut self, us: u64) -> Self {
        self.duration_us = Some(us);
        self
    }

    /// Sets `error`.
    #[must_use]
    pub fn with_error(mut self, code: i64, message: impl Into<String>) -> Self {
        self.error = Some(ErrorDetails {
            code,
            message: message.into(),
        });
        self
    }

    /// Sets `message`.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets `hash_chain`.
    #[must_use]
    pub fn with_hash_chain(
        mut self,
        prev_hash: impl Into<String>,
        hash: impl Into<String>,
    ) -> Self {
        self.hash_chain = Some(HashChain {
            prev_hash: prev_hash.into(),
            hash: hash.into(),
        });
        self
    }

    /// Marks the event as shortened to fit a destination's size limit.
    #[must_use]
    pub fn with_truncated(mut self) -> Self {
        self.truncated = true;
        self
    }

    /// Plain tool name, if any.
    pub fn tool_name(&self) -> Option<&str> {
        self.mcp_data.as_ref()?.tool_name.as_deref()
    }

    /// `true` when a security decision denied the message or the event carries an error:
    /// the formats' "outcome = failure".
    pub fn is_failure(&self) -> bool {
        self.security_decision.as_ref().is_some_and(|d| !d.allowed)
            || self.error.is_some()
            || self.event_type == EventType::ErrorEvent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditEvent {
        AuditEvent::new(
            EventType::McpRequest,
            Severity::Info,
            Timestamp::parse_rfc3339("2024-01-15T10:30:00.000Z").unwrap(),
            EventId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
            7,
        )
        .with_origin("gk01", "0.1.0")
        .with_correlation_id("req-123456")
        .with_session_id("session-abc")
        .with_client(ClientInfo {
            client_id: "claude-desktop".into(),
            client_version: "1.0.0".into(),
            user: None,
        })
        .with_mcp(McpData {
            method: "tools/call".into(),
            tool_name: Some("filesystem".into()),
            namespaced_tool_name: None,
            parameters: Some(
                serde_json::json!({"path": "/tmp/test.txt", "operation": "read"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        })
        .with_decision(SecurityDecision {
            allowed: true,
            plugin: "filesystem_security".into(),
            reason: "Path allowed by policy".into(),
            risk_score: Some(2),
        })
        .with_upstream(UpstreamServer {
            name: "filesystem-server".into(),
            command: Some("node filesystem-mcp-server.js".into()),
        })
    }

    #[test]
    fn json_uses_the_requirements_field_names() {
        let v = serde_json::to_value(sample()).unwrap();
        // Every key of the requirements' "Core Event Structure" example, with its value.
        let expected = serde_json::json!({
          "timestamp": "2024-01-15T10:30:00.000Z",
          "event_type": "mcp_request",
          "severity": "info",
          "source": "gatekit",
          "version": "1.0",
          "correlation_id": "req-123456",
          "session_id": "session-abc",
          "client_info": {"client_id": "claude-desktop", "client_version": "1.0.0"},
          "mcp_data": {"method": "tools/call", "tool_name": "filesystem",
                       "parameters": {"path": "/tmp/test.txt", "operation": "read"}},
          "security_decision": {"allowed": true, "plugin": "filesystem_security",
                                "reason": "Path allowed by policy", "risk_score": 2},
          "upstream_server": {"name": "filesystem-server", "command": "node filesystem-mcp-server.js"}
        });
        for (k, want) in expected.as_object().unwrap() {
            assert_eq!(v.get(k), Some(want), "field {k}");
        }
        assert_eq!(v["event_id"], "01900000-0000-7000-8000-000000000001");
        assert_eq!(v["sequence"], 7);
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
    }

    #[test]
    fn json_roundtrips() {
        let e = sample()
            .with_error(-32000, "boom")
            .with_hash_chain("00", "ff");
        let s = serde_json::to_string(&e).unwrap();
        let back: AuditEvent = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn names_parse_back() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
            assert!(s.cef_code() <= 10 && s.syslog_code() <= 7);
        }
        assert!("MCP_REQUEST".parse::<EventType>().is_err());
    }

    #[test]
    fn v7_ids_are_version_7_and_distinct() {
        let a = EventId::new_v7();
        let b = EventId::new_v7();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert_ne!(a, b);
        assert_eq!(a.to_string().parse::<EventId>().unwrap(), a);
    }
}
