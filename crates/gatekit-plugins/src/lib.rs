//! Gatekit's plugin pipeline and built-in plugins.
//!
//! Python Gatekit's model, kept so its configuration files work: three categories
//! (middleware, security, auditing), `_global` and per-upstream scopes, `priority` ordering,
//! and `critical` plugins that fail closed. Decisions are data ([`plugin::Action`]): allow,
//! modify (in place) or deny with a reason; every non-allow decision is logged with the
//! plugin's name and reason.
//!
//! * [`settings`]: the framework keys (`enabled`, `priority`, `critical`) and typed handler
//!   options parsed from each entry's `config`.
//! * [`plugin`]: the [`plugin::Plugin`] contract and what a plugin may decide.
//! * [`pipeline`]: per-upstream resolution and ordering, and the gateway hooks that run it.
//! * [`detect`]: PII, secret and prompt-injection detectors, reusable by SIEM connectors to
//!   redact before egress.
//! * [`builtin`]: `tool_manager`, `call_trace`, `basic_pii_filter`, `basic_secrets_filter`,
//!   `basic_prompt_injection_defense`.

pub mod builtin;
pub mod detect;
pub mod pipeline;
pub mod plugin;
pub mod settings;
pub mod walk;

pub use pipeline::{build_hooks, PluginHooks};
