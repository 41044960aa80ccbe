//! Plugin hooks and the audit trail around one forwarded request.
//!
//! `forward_hooked` is the only path by which a routed request reaches an upstream when plugins
//! or auditing apply: request hooks, request record, forward, response hooks, response record.
//! Invariant: when neither applies to the upstream, params and results pass as raw bytes and
//! nothing is parsed.

use std::sync::Arc;
use std::time::Instant;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{Gateway, Handled, Reply};
use crate::audit::{AuditRecord, ErrorInfo, Phase, SessionInfo};
use crate::hooks::{CallInfo, Hooks, Verdict};
use crate::jsonrpc::{self, codes, ErrorObject, Outcome, RequestId};
use crate::upstream::UpstreamError;

impl Gateway {
    /// The upstream's hooks, when any apply to it.
    pub(super) fn hooks_for(&self, upstream: usize) -> Option<Arc<dyn Hooks>> {
        let topo = self.topo();
        let name = topo.get(upstream)?.name();
        topo.hooks.clone().filter(|h| h.active(name))
    }

    /// Forwards a request through the plugin hooks and the audit trail: hooks may change or
    /// refuse the request before it leaves and the answer before the client sees it; the audit
    /// sink records both, and a critical audit failure refuses the call (-32005).
    pub(super) async fn forward_hooked(
        &self,
        id: &RequestId,
        upstream: usize,
        method: &str,
        params: Map<String, Value>,
    ) -> Handled {
        let hooks = self.hooks_for(upstream);
        let hooks = hooks.as_ref();
        let audit = self.audit();
        let audit = audit.as_ref();
        if hooks.is_none() && audit.is_none() {
            let raw = jsonrpc::to_raw(&params);
            return self
                .forward(Some(id), upstream, method, Some(&raw))
                .await
                .map(Reply::Upstream)
                .map_err(|e| e.to_error_object());
        }
        let received = Instant::now();
        let Some(name) = self.upstream_name(upstream) else {
            return Err(ErrorObject::new(
                codes::UPSTREAM_UNAVAILABLE,
                "the upstream was removed from the configuration",
            ));
        };
        let name: &str = &name;
        let call = CallInfo {
            upstream: name,
            method,
            request_id: id,
        };
        let tool = params
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut params = Value::Object(params);
        let mut stages = Vec::new();
        let rejected = match hooks.map(|h| h.on_request(&call, &mut params, &mut stages)) {
            Some(Verdict::Reject(err)) => Some(err),
            _ => None,
        };
        let session = self.session_info();
        if let Some(audit) = audit {
            self.mark_audited(id);
            if let Err(reason) = audit.check() {
                // Refused, but recorded in every destination that can still write.
                let err = audit_failure(reason);
                self.audit_rejection(Some(id), method, &err);
                return Err(err);
            }
            let record = AuditRecord {
                phase: Phase::Request,
                request_id: Some(id),
                upstream: Some(name),
                method,
                tool: tool.as_deref(),
                stages: &stages,
                blocked: rejected.is_some(),
                body: (rejected.is_none() && audit.wants_bodies()).then_some(&params),
                error: rejected.as_ref().map(error_info),
                duration: None,
                session: &session,
            };
            if let Err(reason) = audit.record(&record) {
                // The refusal the client gets is recorded too, by every destination that can.
                let err = audit_failure(reason);
                self.audit_rejection(Some(id), method, &err);
                return Err(err);
            }
        }
        if let Some(err) = rejected {
            return Err(err);
        }
        let raw = jsonrpc::to_raw(&params);
        let started = Instant::now();
        let forwarded = self.forward(Some(id), upstream, method, Some(&raw)).await;
        let mut stages = Vec::new();
        let mut blocked = false;
        let reply: Handled = match forwarded {
            Err(e) => Err(e.to_error_object()),
            Ok(Outcome::Error(err)) => Ok(Reply::Upstream(Outcome::Error(err))),
            Ok(Outcome::Result(raw_result))
                if hooks.is_none() && !audit.is_some_and(|a| a.wants_response_bodies()) =>
            {
                Ok(Reply::Upstream(Outcome::Result(raw_result)))
            }
            Ok(Outcome::Result(raw_result)) => {
                match serde_json::from_str::<Value>(raw_result.get()) {
                    Err(e) => Err(UpstreamError::InvalidResponse {
                        name: name.to_string(),
                        reason: e.to_string(),
                    }
                    .to_error_object()),
                    Ok(mut result) => match hooks.map(|h| {
                        h.on_response(&call, &params, &mut result, started.elapsed(), &mut stages)
                    }) {
                        Some(Verdict::Reject(err)) => {
                            blocked = true;
                            Err(err)
                        }
                        _ => Ok(Reply::Value(result)),
                    },
                }
            }
        };
        if let Some(audit) = audit {
            let body = match &reply {
                Ok(Reply::Value(v)) if audit.wants_response_bodies() => Some(v),
                _ => None,
            };
            let error = match &reply {
                Err(e) => Some(error_info(e)),
                Ok(Reply::Upstream(Outcome::Error(raw))) => Some(upstream_error_info(raw)),
                _ => None,
            };
            let record = AuditRecord {
                phase: Phase::Response,
                request_id: Some(id),
                upstream: Some(name),
                method,
                tool: tool.as_deref(),
                stages: &stages,
                blocked,
                body,
                error,
                duration: Some(received.elapsed()),
                session: &session,
            };
            audit.record(&record).map_err(audit_failure)?;
        }
        reply
    }

    /// Records a call that could not be routed (an unknown tool, prompt or resource): attempts
    /// to reach something that does not exist are worth auditing too. Returns `err`, or the
    /// audit failure when a critical destination cannot record.
    pub(super) fn audit_unrouted(
        &self,
        id: &RequestId,
        method: &str,
        name: Option<&str>,
        err: ErrorObject,
    ) -> ErrorObject {
        let Some(audit) = self.audit() else {
            return err;
        };
        let session = self.session_info();
        let record = AuditRecord {
            phase: Phase::Response,
            request_id: Some(id),
            upstream: None,
            method,
            tool: name,
            stages: &[],
            blocked: false,
            body: None,
            error: Some(error_info(&err)),
            duration: None,
            session: &session,
        };
        match audit.record(&record) {
            Ok(()) => err,
            Err(reason) => audit_failure(reason),
        }
    }

    /// Records that the client cancelled a call, so its request record has an ending.
    pub(super) fn audit_cancelled(&self, id: &RequestId, method: &str, upstream: Option<&str>) {
        let Some(audit) = self.audit() else {
            return;
        };
        let session = self.session_info();
        let record = AuditRecord {
            phase: Phase::Response,
            request_id: Some(id),
            upstream,
            method,
            tool: None,
            stages: &[],
            blocked: false,
            body: None,
            // MCP has no error code for this; -32800 is LSP's RequestCancelled.
            error: Some(ErrorInfo {
                code: -32800,
                message: "cancelled by the client".into(),
            }),
            duration: None,
            session: &session,
        };
        if let Err(e) = audit.record(&record) {
            tracing::warn!(error = ?gatekit_core::LogSafe(&e), "A cancellation could not be audited.");
        }
    }

    /// The session as the audit trail describes it.
    pub(super) fn session_info(&self) -> Arc<SessionInfo> {
        Arc::clone(&self.session.read().unwrap_or_else(|e| e.into_inner()))
    }
}

fn audit_failure(reason: String) -> ErrorObject {
    ErrorObject::new(
        codes::AUDIT_FAILURE,
        format!("the audit trail cannot be recorded, so the call is refused: {reason}"),
    )
    .with_data(serde_json::json!({ "error_type": "audit_failure" }))
}

fn error_info(err: &ErrorObject) -> ErrorInfo {
    ErrorInfo {
        code: err.code,
        message: err.message.clone(),
    }
}

fn upstream_error_info(raw: &RawValue) -> ErrorInfo {
    let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    ErrorInfo {
        code: value
            .get("code")
            .and_then(Value::as_i64)
            .unwrap_or(codes::INTERNAL_ERROR),
        message: value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}
