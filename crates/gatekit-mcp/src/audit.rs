//! Where the audit trail meets the gateway.
//!
//! The gateway describes each thing that happened as an [`AuditRecord`] and hands it to an
//! [`AuditSink`] (implemented by the audit plugins). Records are built only when a sink is
//! configured.
//!
//! The gateway holds one [`crate::audit_fanout::Fanout`]: it builds the one canonical
//! [`AuditEvent`] of each record ([`crate::audit_event::to_event`]: one factory, one
//! classifier) and hands the record and the event to every sink, so every destination carries
//! the same `event_id` and `sequence`.
//!
//! Contract:
//! * [`AuditSink::check`] is asked before a call is forwarded; an error means a *critical*
//!   audit destination cannot record, and the call is refused with -32005 instead of running
//!   unaudited.
//! * [`AuditSink::record`] returns an error only when a critical destination failed to write
//!   this record; the gateway then answers -32005 rather than pretend the trail is complete.
//! * A record never carries content a plugin blocked: `body` is `None` for blocked messages,
//!   and carries the post-plugin (redacted) value otherwise.

use std::sync::Arc;
use std::time::Duration;

use gatekit_core::AuditEvent;
use serde_json::Value;

use crate::hooks::StageRecord;
use crate::jsonrpc::RequestId;

/// Which point of an exchange a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A client request, after the request plugins.
    Request,
    /// The answer the client received.
    Response,
    /// A notification, either direction.
    Notification,
}

/// Who the client is, from `initialize`.
#[derive(Debug, Clone, Default)]
pub struct SessionInfo {
    /// Unique per gateway session.
    pub session_id: String,
    /// `clientInfo.name`.
    pub client_name: Option<String>,
    /// `clientInfo.version`.
    pub client_version: Option<String>,
    /// Negotiated protocol version.
    pub protocol_version: Option<String>,
}

/// An error the client received.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// JSON-RPC code.
    pub code: i64,
    /// Message.
    pub message: String,
}

/// One auditable event.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    /// Request, response or notification.
    pub phase: Phase,
    /// The client's request id (none for notifications).
    pub request_id: Option<&'a RequestId>,
    /// Upstream involved, if one.
    pub upstream: Option<&'a str>,
    /// MCP method.
    pub method: &'a str,
    /// Tool or prompt name as the upstream knows it.
    pub tool: Option<&'a str>,
    /// Plugin decisions on this message.
    pub stages: &'a [StageRecord],
    /// A plugin refused the message.
    pub blocked: bool,
    /// Post-plugin params (request), result (response) or params (notification); `None` when
    /// blocked or not captured.
    pub body: Option<&'a Value>,
    /// The error the client received, for responses.
    pub error: Option<ErrorInfo>,
    /// Time from receiving the request to answering it, for responses.
    pub duration: Option<Duration>,
    /// The session.
    pub session: &'a SessionInfo,
}

/// How serious a system record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemSeverity {
    /// A normal decision (a sandbox applied).
    Info,
    /// Something the operator must act on (a server not started).
    Error,
}

/// Something Gatekit decided on its own, outside any client message (a `system_event`): today
/// the sandbox decisions for an upstream.
#[derive(Debug, Clone)]
pub struct SystemRecord<'a> {
    /// Severity.
    pub severity: SystemSeverity,
    /// What happened, as a short machine-readable name (`sandbox_applied`, `sandbox_failed`).
    pub action: &'a str,
    /// The upstream concerned.
    pub upstream: Option<&'a str>,
    /// One human-readable sentence.
    pub message: &'a str,
    /// Structured details (granted and denied paths, network).
    pub details: &'a Value,
    /// The session.
    pub session: &'a SessionInfo,
}

/// The audit trail, as the gateway sees it.
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Whether every critical destination can record; the reason when not.
    fn check(&self) -> Result<(), String>;

    /// Records one record as its canonical `event` (built once by the [`Fanout`] for every
    /// sink, shared so a sink that keeps it past the call holds it without a copy); an error
    /// means a critical destination lost it.
    fn record(&self, record: &AuditRecord<'_>, event: &Arc<AuditEvent>) -> Result<(), String>;

    /// Whether request records should carry the request's params.
    fn wants_bodies(&self) -> bool;

    /// Whether response records should carry the result. Asking for it makes the gateway
    /// parse every result it would otherwise pass through as raw bytes (and write it out
    /// again), so a sink that does not use results says no.
    fn wants_response_bodies(&self) -> bool {
        self.wants_bodies()
    }

    /// Records a system event as its canonical `event` (a `system_event`); sinks that do not
    /// record them ignore it. An error means a critical destination lost it (the gateway logs
    /// that; there is no call to refuse).
    fn system(&self, record: &SystemRecord<'_>, event: &Arc<AuditEvent>) -> Result<(), String> {
        let _ = (record, event);
        Ok(())
    }
}
