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
use crate::audit_context::AuditContext;
use crate::namespace;
use gatekit_core::{
    AuditEvent, ClientInfo, EventFactory, EventType, McpData, SecurityDecision, Severity,
    UpstreamServer,
};
use serde_json::Value;

/// The risk score of a record (0-100) from what the security plugins decided: a block 90, a
/// redaction 60, a detection that was only reported (`audit_only`) 40, a security check that
/// found nothing 0; the highest over the plugins that ran. `None` when no security plugin ran.
/// Middleware decisions (a tool renamed or hidden) do not count.
pub fn risk_score(record: &AuditRecord<'_>) -> Option<u32> {
    record
        .stages
        .iter()
        .filter(|s| s.category == "security")
        .map(|s| match s.outcome {
            "blocked" => 90,
            "modified" => 60,
            "observed" => 40,
            _ => 0,
        })
        .max()
}

/// Builds the event for `record`, stamped by `factory` (id, sequence, time, host).
pub fn to_event(factory: &EventFactory, record: &AuditRecord<'_>) -> AuditEvent {
    to_event_in(factory, record, &AuditContext::default())
}

/// [`to_event`] with the process's user and the upstreams' command lines.
pub fn to_event_in(
    factory: &EventFactory,
    record: &AuditRecord<'_>,
    context: &AuditContext,
) -> AuditEvent {
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
    if record.session.client_name.is_some() || context.user.is_some() {
        event = event.with_client(ClientInfo {
            client_id: record.session.client_name.clone().unwrap_or_default(),
            client_version: record.session.client_version.clone().unwrap_or_default(),
            user: context.user.clone(),
        });
    }
    let parameters = match (record.phase, record.body) {
        // A resource is named by its URI: kept as the one parameter of the request.
        (Phase::Request, Some(body)) if record.method.starts_with("resources/") => body
            .get("uri")
            .map(|uri| serde_json::Map::from_iter([("uri".to_string(), uri.clone())])),
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
            risk_score: risk_score(record),
        });
    }
    if let Some(up) = record.upstream {
        event = event.with_upstream(UpstreamServer {
            name: up.to_string(),
            command: context.commands.get(up).cloned(),
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
