//! Where plugins meet the gateway.
//!
//! The gateway calls a [`Hooks`] implementation at four points: before a request is forwarded,
//! after its successful answer, on each upstream's list items, and on notifications from an
//! upstream. Names are the upstream's own (the `upstream__` prefix is already removed on the
//! way in and not yet added on the way out), so plugins configured with Python Gatekit's tool
//! names match.
//!
//! Contract: hooks run on the request path and must be quick; they never block on I/O. A hook
//! that refuses returns the JSON-RPC error the client receives. When [`Hooks::active`] is false
//! for an upstream, the gateway skips parsing and re-encoding entirely, so an unplugged gateway
//! pays nothing.

use std::time::Duration;

use serde_json::Value;

use crate::jsonrpc::{ErrorObject, RequestId};
use crate::list_kind::ListKind;

/// The request a hook is looking at.
#[derive(Debug, Clone, Copy)]
pub struct CallInfo<'a> {
    /// Upstream that serves it.
    pub upstream: &'a str,
    /// MCP method (`tools/call`, `prompts/get`, `resources/read`, ...).
    pub method: &'a str,
    /// The client's request id.
    pub request_id: &'a RequestId,
}

/// One plugin's decision on one message, for the audit trail. Never holds the sensitive
/// content that triggered it (kinds and counts only).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRecord {
    /// Handler name.
    pub plugin: &'static str,
    /// `middleware` or `security`.
    #[serde(rename = "type")]
    pub category: &'static str,
    /// `allowed`, `modified`, `observed`, `blocked` or `error`.
    pub outcome: &'static str,
    /// Why.
    pub reason: String,
    /// Time spent in the plugin.
    pub processing_ms: f64,
}

/// What a hook decided.
#[derive(Debug)]
pub enum Verdict {
    /// Go on (the message may have been modified in place).
    Continue,
    /// Refuse; the client gets this error and the upstream never sees the request.
    Reject(ErrorObject),
}

/// Plugin entry points, implemented by the plugin pipeline.
pub trait Hooks: Send + Sync + std::fmt::Debug {
    /// Whether any hook applies to traffic of `upstream`.
    fn active(&self, upstream: &str) -> bool;

    /// Before forwarding; `params` may be modified in place. Each plugin that ran appends its
    /// decision to `stages`.
    fn on_request(
        &self,
        call: &CallInfo<'_>,
        params: &mut Value,
        stages: &mut Vec<StageRecord>,
    ) -> Verdict;

    /// After a successful answer; `result` may be modified in place.
    fn on_response(
        &self,
        call: &CallInfo<'_>,
        params: &Value,
        result: &mut Value,
        elapsed: Duration,
        stages: &mut Vec<StageRecord>,
    ) -> Verdict;

    /// The items one upstream listed (`tools`, `prompts`, ...), before namespacing; items may be
    /// removed or changed.
    fn on_list(&self, upstream: &str, kind: ListKind, items: &mut Vec<Value>);

    /// A notification from an upstream; return false to drop it.
    fn on_notification(
        &self,
        upstream: &str,
        method: &str,
        params: &mut Value,
        stages: &mut Vec<StageRecord>,
    ) -> bool;
}
