//! The built-in middleware and security plugins, constructed by handler name.

pub mod call_trace;
pub mod content_filter;
pub mod tool_manager;

use std::sync::Arc;

use gatekit_config::{yaml, ConfigError};

use crate::plugin::{config_error, Plugin};

/// Builds the plugin for `handler` from its options (framework keys already removed).
/// `scope` is `_global` or an upstream name; `path` names the entry's `config` for errors.
pub fn construct(
    handler: &str,
    scope: &str,
    options: yaml::Mapping,
    source: &str,
    path: &str,
) -> Result<Arc<dyn Plugin>, ConfigError> {
    match handler {
        "tool_manager" => {
            if scope == "_global" {
                // Tool names belong to one server; a global allowlist would hide every other
                // server's tools (Python Gatekit rejects it too).
                return Err(config_error(
                    source,
                    path,
                    "`tool_manager` lists one server's tools; configure it under that upstream, not `_global`",
                ));
            }
            Ok(Arc::new(tool_manager::ToolManager::from_options(
                options, source, path,
            )?))
        }
        "call_trace" => Ok(Arc::new(call_trace::CallTrace::from_options(
            options, source, path,
        )?)),
        "basic_pii_filter" => Ok(Arc::new(content_filter::pii(options, source, path)?)),
        "basic_secrets_filter" => Ok(Arc::new(content_filter::secrets(options, source, path)?)),
        "basic_prompt_injection_defense" => {
            Ok(Arc::new(content_filter::injection(options, source, path)?))
        }
        other => Err(config_error(
            source,
            path,
            format!("handler `{other}` is not a middleware or security plugin"),
        )),
    }
}
