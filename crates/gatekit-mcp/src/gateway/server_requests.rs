//! Traffic that servers start: requests to the client (`sampling/createMessage`,
//! `elicitation/create`, `roots/list`) and notifications, and the client's answers; also the
//! supervisors' own decisions (sandbox applied or failed), which go to the audit trail only.
//!
//! Invariant: the client sees ids that Gatekit assigned, so requests from different upstreams
//! never collide; an answer goes back only to the upstream process generation that asked.

use std::sync::atomic::Ordering;

use gatekit_core::LogSafe;
use serde_json::value::RawValue;
use serde_json::Value;
use tracing::{debug, warn};

use super::{lock, params_object, Gateway, ServerRequest};
use crate::audit::{AuditRecord, Phase, SystemRecord, SystemSeverity};
use crate::jsonrpc::{self, Outcome, RequestId};
use crate::upstream::{Inbound, InboundKind, Status};

/// Requests from one upstream to the client that may wait for an answer at the same time.
const MAX_SERVER_REQUESTS: usize = 256;

impl Gateway {
    pub(super) async fn on_client_response(
        self: &std::sync::Arc<Self>,
        id: Option<RequestId>,
        outcome: Outcome,
    ) {
        let Some(RequestId::Number(n)) = id else {
            warn!(id = ?id.as_ref().map(LogSafe), "Client sent a response Gatekit cannot match; ignored.");
            return;
        };
        let Some(sr) = lock(&self.server_requests).remove(&n) else {
            debug!(
                id = n,
                "Client answered an unknown server request; ignored."
            );
            return;
        };
        // From its own task, like every write to an upstream from the client loop.
        let gw = std::sync::Arc::clone(self);
        tokio::spawn(async move { gw.answer_upstream(sr, outcome).await });
    }

    pub(super) async fn answer_upstream(&self, sr: ServerRequest, outcome: Outcome) {
        let status = self.topo().get(sr.upstream).map(|u| u.status());
        match status {
            Some(Status::Ready(session)) if session.generation == sr.generation => {
                let _ = session
                    .send_line(jsonrpc::encode_response(&sr.id, &outcome))
                    .await;
            }
            _ => debug!("The upstream restarted; the client's answer is dropped."),
        }
    }

    pub(super) async fn on_upstream_message(&self, msg: Inbound) {
        let Some(name) = self.upstream_name(msg.upstream) else {
            debug!("A message from an upstream removed from the configuration; dropped.");
            return;
        };
        let name: &str = &name;
        match msg.kind {
            InboundKind::System {
                ok,
                action,
                message,
                details,
            } => {
                let Some(audit) = self.audit() else {
                    return;
                };
                let session = self.session_info();
                let record = SystemRecord {
                    severity: if ok {
                        SystemSeverity::Info
                    } else {
                        SystemSeverity::Error
                    },
                    action,
                    upstream: Some(name),
                    message: &message,
                    details: &details,
                    session: &session,
                };
                if let Err(e) = audit.system(&record) {
                    warn!(error = %e, action, "A system event could not be audited.");
                }
            }
            InboundKind::Request { id, method, params } => {
                // Bounded: a server that keeps asking a client that never answers must not grow
                // this table without limit.
                let outstanding = lock(&self.server_requests)
                    .values()
                    .filter(|sr| sr.upstream == msg.upstream)
                    .count();
                if outstanding >= MAX_SERVER_REQUESTS {
                    warn!(
                        upstream = name,
                        "Too many requests to the client outstanding; refused."
                    );
                    let err = jsonrpc::ErrorObject::new(
                        jsonrpc::codes::INTERNAL_ERROR,
                        format!("too many requests to the client outstanding (limit {MAX_SERVER_REQUESTS})"),
                    );
                    let sr = ServerRequest {
                        upstream: msg.upstream,
                        generation: msg.generation,
                        id,
                    };
                    self.answer_upstream(sr, Outcome::Error(jsonrpc::to_raw(&err)))
                        .await;
                    return;
                }
                let client_id = self.next_server_request.fetch_add(1, Ordering::Relaxed);
                lock(&self.server_requests).insert(
                    client_id,
                    ServerRequest {
                        upstream: msg.upstream,
                        generation: msg.generation,
                        id,
                    },
                );
                let line = jsonrpc::encode_request(
                    &RequestId::Number(client_id),
                    &method,
                    params.as_deref(),
                );
                self.send_to_client(line).await;
            }
            InboundKind::Notification { method, mut params } => {
                let mut stages = Vec::new();
                let mut blocked = false;
                let mut value: Option<Value> = None;
                if let Some(hooks) = self.hooks_for(msg.upstream) {
                    let parsed = params
                        .as_deref()
                        .map(|p| serde_json::from_str::<Value>(p.get()));
                    let mut v = match parsed {
                        None => Value::Null,
                        Some(Ok(v)) => v,
                        Some(Err(_)) => {
                            // Content the plugins cannot inspect does not pass them.
                            warn!(upstream = name, method = ?LogSafe(&method), "Notification params cannot be inspected; dropped.");
                            self.audit_blocked_notification(name, &method);
                            return;
                        }
                    };
                    blocked = !hooks.on_notification(name, &method, &mut v, &mut stages);
                    if !blocked && !v.is_null() {
                        params = Some(jsonrpc::to_raw(&v));
                    }
                    value = Some(v);
                }
                // Notifications are audited too (progress and log messages from servers), as
                // `audit_event`s; a blocked one is recorded without its content.
                if let Some(audit) = self.audit() {
                    if value.is_none() && audit.wants_bodies() {
                        value = params
                            .as_deref()
                            .and_then(|p| serde_json::from_str(p.get()).ok());
                    }
                    let session = self.session_info();
                    let record = AuditRecord {
                        phase: Phase::Notification,
                        request_id: None,
                        upstream: Some(name),
                        method: &method,
                        tool: None,
                        stages: &stages,
                        blocked,
                        body: if blocked || !audit.wants_bodies() {
                            None
                        } else {
                            value.as_ref()
                        },
                        error: None,
                        duration: None,
                        session: &session,
                    };
                    if let Err(e) = audit.record(&record) {
                        warn!(error = ?LogSafe(&e), "A notification could not be audited.");
                    }
                }
                if blocked {
                    debug!(upstream = name, method = ?LogSafe(&method), "Notification dropped by a plugin.");
                    return;
                }
                let params = if method == "notifications/cancelled" {
                    match self.remap_server_cancel(msg.upstream, msg.generation, params.as_deref())
                    {
                        Some(p) => Some(p),
                        None => return,
                    }
                } else {
                    params
                };
                self.send_to_client(jsonrpc::encode_notification(&method, params.as_deref()))
                    .await;
            }
        }
    }

    fn audit_blocked_notification(&self, upstream: &str, method: &str) {
        if let Some(audit) = self.audit() {
            let session = self.session_info();
            let record = AuditRecord {
                phase: Phase::Notification,
                request_id: None,
                upstream: Some(upstream),
                method,
                tool: None,
                stages: &[],
                blocked: true,
                body: None,
                error: None,
                duration: None,
                session: &session,
            };
            if let Err(e) = audit.record(&record) {
                warn!(error = ?LogSafe(&e), "A notification could not be audited.");
            }
        }
    }

    /// A server cancelling its own request to the client names its id; the client knows the
    /// request under the id Gatekit gave it.
    pub(super) fn remap_server_cancel(
        &self,
        upstream: usize,
        generation: u64,
        params: Option<&RawValue>,
    ) -> Option<Box<RawValue>> {
        let mut params = params_object(params).ok()?;
        let server_id: RequestId = serde_json::from_value(params.get("requestId")?.clone()).ok()?;
        let mut table = lock(&self.server_requests);
        let client_id = table
            .iter()
            .find(|(_, sr)| {
                sr.upstream == upstream && sr.generation == generation && sr.id == server_id
            })
            .map(|(k, _)| *k)?;
        table.remove(&client_id);
        params.insert("requestId".into(), Value::from(client_id));
        Some(jsonrpc::to_raw(&params))
    }
}
