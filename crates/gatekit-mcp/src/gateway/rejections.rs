//! Audit records of requests the gateway answers itself with an error: a frame that is not
//! JSON-RPC or is too large, a duplicate id, a call before `initialize`, an unknown method,
//! invalid params, a call refused because a critical audit destination cannot write.
//!
//! Invariant: every request the gateway answers leaves a record. Requests that reach
//! `forward_hooked` are recorded there (the inflight entry is marked `audited`); everything
//! answered with an error before that point is recorded here, as a response record carrying
//! the error the client received. A record that a critical destination cannot take still
//! reaches every destination that works (the fan-out gives each sink its chance).

use tracing::warn;

use super::{lock, Gateway};
use crate::audit::{AuditRecord, ErrorInfo, Phase};
use crate::jsonrpc::{ErrorObject, RequestId};

/// Method name recorded for a frame that could not be parsed as JSON-RPC.
pub(super) const UNPARSED: &str = "(invalid message)";
/// Method name recorded for a frame over `max_message_size`.
pub(super) const OVERSIZED: &str = "(oversized message)";

impl Gateway {
    /// Records that the gateway answered request `id` (`method`) with `err` itself.
    pub(super) fn audit_rejection(&self, id: Option<&RequestId>, method: &str, err: &ErrorObject) {
        let Some(audit) = self.audit() else {
            return;
        };
        let session = self.session_info();
        let record = AuditRecord {
            phase: Phase::Response,
            request_id: id,
            upstream: None,
            method,
            tool: None,
            stages: &[],
            blocked: false,
            body: None,
            error: Some(ErrorInfo {
                code: err.code,
                message: err.message.clone(),
            }),
            duration: None,
            session: &session,
        };
        if let Err(reason) = audit.record(&record) {
            warn!(error = %reason, "The record of a refused request was lost by a critical audit destination.");
        }
    }

    /// The request `id` has its audit record (made by the forwarding path).
    pub(super) fn mark_audited(&self, id: &RequestId) {
        if let Some(entry) = lock(&self.inflight).get_mut(id) {
            entry.audited = true;
        }
    }
}
