//! What a plugin is: the [`Plugin`] trait the built-in plugins implement, what a plugin may
//! decide ([`Action`], [`Denial`]) and how it fails ([`PluginError`]). On its own so that the
//! pipeline (which builds plugins) and the plugins (which implement the trait) do not depend on
//! each other.

use gatekit_mcp::hooks::CallInfo;
use gatekit_mcp::jsonrpc::ErrorObject;
use gatekit_mcp::list_kind::ListKind;
use serde_json::Value;
use std::time::Duration;

use gatekit_config::ConfigError;

/// Plugin category; security plugins must decide, middleware may only transform or answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// Transforms traffic (allowlists, renames, traces).
    Middleware,
    /// Decides on traffic (filters).
    Security,
}

/// What a plugin decided about one message.
#[derive(Debug)]
pub enum Action {
    /// Nothing to do.
    Allow,
    /// The message was changed in place.
    Modified {
        /// Why, for the log and audit trail.
        reason: String,
    },
    /// Something was detected and only recorded (`action: audit_only`).
    Observed {
        /// What was seen (kinds and counts, never the matched text).
        reason: String,
    },
    /// Refuse the message.
    Deny(Denial),
}

/// A refusal, as the client will see it.
#[derive(Debug, Clone)]
pub struct Denial {
    /// JSON-RPC error code.
    pub code: i64,
    /// Error message.
    pub message: String,
    /// Why, for the log and audit trail.
    pub reason: String,
    /// Structured details (never the sensitive content itself).
    pub data: Value,
}

impl Denial {
    pub(crate) fn into_error(self) -> ErrorObject {
        ErrorObject::new(self.code, self.message).with_data(self.data)
    }
}

/// A plugin failed to process a message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PluginError(pub String);

/// A middleware or security plugin. Calls happen on the request path: they must be quick and
/// never block on I/O. Default methods allow everything.
pub trait Plugin: Send + Sync + std::fmt::Debug {
    /// Handler name, as in the configuration.
    fn handler(&self) -> &'static str;

    /// Before a request is forwarded.
    fn on_request(&self, _call: &CallInfo<'_>, _params: &mut Value) -> Result<Action, PluginError> {
        Ok(Action::Allow)
    }

    /// After a successful answer.
    fn on_response(
        &self,
        _call: &CallInfo<'_>,
        _params: &Value,
        _result: &mut Value,
        _elapsed: Duration,
    ) -> Result<Action, PluginError> {
        Ok(Action::Allow)
    }

    /// On the items one upstream listed, before namespacing.
    fn on_list(&self, _kind: ListKind, _items: &mut Vec<Value>) {}

    /// On a notification from the upstream.
    fn on_notification(&self, _method: &str, _params: &mut Value) -> Result<Action, PluginError> {
        Ok(Action::Allow)
    }
}

/// Convenience for errors raised while constructing a plugin.
pub(crate) fn config_error(source: &str, path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::at(source, path, message)
}
