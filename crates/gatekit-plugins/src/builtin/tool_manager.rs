//! `tool_manager`: one upstream's tool allowlist, with optional renames and descriptions.
//!
//! `tools/list` shows only the listed tools, under their display names. A call by display name
//! is translated back to the server's name. A call to anything else, including a renamed
//! tool's original name, is answered by Gatekit with -32601 "Tool 'x' is not available"
//! (`data.reason = hidden_by_policy`), as in Python Gatekit: a hidden tool looks absent, so the
//! error does not confirm that it exists.

use std::collections::HashMap;

use gatekit_config::{yaml, ConfigError};
use gatekit_mcp::gateway::ListKind;
use gatekit_mcp::hooks::CallInfo;
use gatekit_mcp::jsonrpc::codes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::plugin::{config_error, Action, Denial, Plugin, PluginError};
use crate::settings::parse_options;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    tools: Vec<ToolEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolEntry {
    tool: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    display_description: Option<String>,
}

/// The plugin.
#[derive(Debug)]
pub struct ToolManager {
    /// Server name → (display name, description override).
    by_server_name: HashMap<String, (String, Option<String>)>,
    /// Display name → server name.
    by_display_name: HashMap<String, String>,
}

impl ToolManager {
    /// Parses the options (`tools: [{tool, display_name?, display_description?}]`).
    pub fn from_options(
        options: yaml::Mapping,
        source: &str,
        path: &str,
    ) -> Result<Self, ConfigError> {
        let o: Options = parse_options(options, source, path)?;
        let mut by_server_name = HashMap::new();
        let mut by_display_name = HashMap::new();
        for (i, entry) in o.tools.into_iter().enumerate() {
            let at = format!("{path}.tools[{i}]");
            if entry.tool.is_empty() {
                return Err(config_error(source, &at, "`tool` must not be empty"));
            }
            let display = entry.display_name.unwrap_or_else(|| entry.tool.clone());
            if display.is_empty() || display.contains("__") {
                return Err(config_error(
                    source,
                    &at,
                    "`display_name` must be non-empty and must not contain `__`",
                ));
            }
            if by_display_name
                .insert(display.clone(), entry.tool.clone())
                .is_some()
            {
                return Err(config_error(
                    source,
                    &at,
                    format!("two tools are shown as `{display}`"),
                ));
            }
            by_server_name.insert(entry.tool, (display, entry.display_description));
        }
        Ok(ToolManager {
            by_server_name,
            by_display_name,
        })
    }
}

impl Plugin for ToolManager {
    fn handler(&self) -> &'static str {
        "tool_manager"
    }

    fn on_list(&self, kind: ListKind, items: &mut Vec<Value>) {
        if kind != ListKind::Tools {
            return;
        }
        items.retain_mut(|tool| {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                return false;
            };
            let Some((display, description)) = self.by_server_name.get(name) else {
                return false;
            };
            tool["name"] = Value::from(display.as_str());
            if let Some(d) = description {
                tool["description"] = Value::from(d.as_str());
            }
            true
        });
    }

    fn on_request(&self, call: &CallInfo<'_>, params: &mut Value) -> Result<Action, PluginError> {
        if call.method != "tools/call" {
            return Ok(Action::Allow);
        }
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match self.by_display_name.get(&name) {
            Some(server_name) if *server_name == name => Ok(Action::Allow),
            Some(server_name) => {
                params["name"] = Value::from(server_name.as_str());
                Ok(Action::Modified {
                    reason: format!("renamed tool `{name}` to `{server_name}`"),
                })
            }
            None => Ok(Action::Deny(Denial {
                code: codes::METHOD_NOT_FOUND,
                message: format!("Tool '{name}' is not available"),
                reason: format!("tool `{name}` is not in the allowlist"),
                data: json!({"reason": "hidden_by_policy", "plugin": "tool_manager"}),
            })),
        }
    }
}
