//! Gateway audit records → canonical [`AuditEvent`]s: the one factory and classifier of the
//! audit fan-out ([`crate::audit::Fanout`]), so the JSONL trail and every SIEM destination
//! carry the same `event_id`, `sequence`, event type and severity for one record.
//!
//! One function, so that every destination renders the same facts: the event type and
//! severity follow what happened (a security block is a `security_decision` at warning, an
//! error response an `error_event`), the plugin decision that mattered is carried in
//! `security_decision`, and tool arguments appear only as the plugins left them (redacted
//! content stays redacted; blocked content never reaches this point).

use crate::audit::{AuditRecord, Phase};
use crate::namespace;
use gatekit_core::{
    AuditEvent, ClientInfo, EventFactory, EventType, McpData, SecurityDecision, Severity,
    UpstreamServer,
};
use serde_json::Value;

/// Builds the event for `record`, stamped by `factory` (id, sequence, time, host).
pub fn to_event(factory: &EventFactory, record: &AuditRecord<'_>) -> AuditEvent {
    // The decision worth reporting: a block, else what a security plugin did (redaction,
    // detection), else what middleware did (a rename).
    let acted = |s: &&crate::hooks::StageRecord| s.outcome == "modified" || s.outcome == "observed";
    let deciding = record
        .stages
        .iter()
        .find(|s| s.outcome == "blocked")
        .or_else(|| {
            record
                .stages
                .iter()
                .filter(|s| s.category == "security")
                .find(acted)
        })
        .or_else(|| record.stages.iter().find(acted));
    let security_block = record.blocked && deciding.is_some_and(|s| s.category == "security");
    let (event_type, severity) = match (record.phase, record.blocked, &record.error) {
        (_, true, _) if security_block => (EventType::SecurityDecision, Severity::Warning),
        (_, true, _) => (EventType::SecurityDecision, Severity::Notice),
        (Phase::Response, false, Some(_)) => (EventType::ErrorEvent, Severity::Error),
        (Phase::Response, false, None) => (EventType::McpResponse, Severity::Info),
        (Phase::Request, false, _) if deciding.is_some() => {
            (EventType::McpRequest, Severity::Notice)
        }
        (Phase::Request, false, _) => (EventType::McpRequest, Severity::Info),
        (Phase::Notification, false, _) => (EventType::AuditEvent, Severity::Info),
    };
    let mut event = factory
        .event(event_type, severity)
        .with_session_id(record.session.session_id.clone());
    if let Some(id) = record.request_id {
        event = event.with_correlation_id(match id {
            crate::jsonrpc::RequestId::Number(n) => n.to_string(),
            crate::jsonrpc::RequestId::String(s) => s.clone(),
        });
    }
    if let Some(name) = &record.session.client_name {
        event = event.with_client(ClientInfo {
            client_id: name.clone(),
            client_version: record.session.client_version.clone().unwrap_or_default(),
            user: None,
        });
    }
    let parameters = match (record.phase, record.body) {
        (Phase::Request, Some(body)) => body.get("arguments").and_then(Value::as_object).cloned(),
        _ => None,
    };
    event = event.with_mcp(McpData {
        method: record.method.to_string(),
        tool_name: record.tool.map(str::to_string),
        namespaced_tool_name: match (record.upstream, record.tool) {
            (Some(up), Some(tool)) => Some(namespace::join(up, tool)),
            _ => None,
        },
        parameters,
    });
    if let Some(stage) = deciding {
        event = event.with_decision(SecurityDecision {
            allowed: !record.blocked,
            plugin: stage.plugin.to_string(),
            reason: stage.reason.clone(),
            risk_score: None,
        });
    }
    if let Some(up) = record.upstream {
        event = event.with_upstream(UpstreamServer {
            name: up.to_string(),
            command: None,
        });
    }
    if let Some(d) = record.duration {
        event = event.with_duration_us(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }
    if let Some(e) = &record.error {
        event = event.with_error(e.code, e.message.clone());
    }
    event
}

/// A `security_decision` event that repeats the decision carried by `event` (a redaction),
/// with its own id and sequence.
pub fn decision_event(factory: &EventFactory, event: &AuditEvent) -> AuditEvent {
    let mut decision = factory.event(EventType::SecurityDecision, Severity::Notice);
    decision.session_id = event.session_id.clone();
    decision.correlation_id = event.correlation_id.clone();
    decision.client_info = event.client_info.clone();
    decision.mcp_data = event.mcp_data.as_ref().map(|m| McpData {
        parameters: None,
        ..m.clone()
    });
    decision.security_decision = event.security_decision.clone();
    decision.upstream_server = event.upstream_server.clone();
    decision
}
