//! `call_trace`: appends a "Gatekit Gateway Trace" text block to every successful
//! `tools/call` result, so a user can see in the chat which server answered and how long it
//! took. Fields and parameter truncation follow Python Gatekit's options.

use std::time::Duration;

use gatekit_config::{yaml, ConfigError};
use gatekit_core::Timestamp;
use gatekit_mcp::hooks::CallInfo;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::plugin::{Action, Plugin, PluginError};
use crate::settings::parse_options;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_max_param_length")]
    max_param_length: usize,
    #[serde(default)]
    trace_fields: Fields,
}

fn default_max_param_length() -> usize {
    200
}

/// Which lines the trace shows (all by default).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Fields {
    server: bool,
    tool: bool,
    params: bool,
    response_size: bool,
    duration: bool,
    request_id: bool,
    timestamp: bool,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            server: true,
            tool: true,
            params: true,
            response_size: true,
            duration: true,
            request_id: true,
            timestamp: true,
        }
    }
}

/// The plugin.
#[derive(Debug)]
pub struct CallTrace {
    max_param_length: usize,
    fields: Fields,
}

impl CallTrace {
    /// Parses the options.
    pub fn from_options(
        options: yaml::Mapping,
        source: &str,
        path: &str,
    ) -> Result<Self, ConfigError> {
        let o: Options = parse_options(options, source, path)?;
        Ok(CallTrace {
            max_param_length: o.max_param_length,
            fields: o.trace_fields,
        })
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}... ({} bytes)", &s[..cut], s.len()),
        None => s.to_string(),
    }
}

impl Plugin for CallTrace {
    fn handler(&self) -> &'static str {
        "call_trace"
    }

    fn on_response(
        &self,
        call: &CallInfo<'_>,
        params: &Value,
        result: &mut Value,
        elapsed: Duration,
    ) -> Result<Action, PluginError> {
        // Only a well-formed result object gets a trace; anything else is left untouched
        // (never index into a non-object: a misbehaving server must not crash the call).
        if call.method != "tools/call"
            || !result.is_object()
            || result.get("isError") == Some(&Value::Bool(true))
        {
            return Ok(Action::Allow);
        }
        let f = self.fields;
        let mut lines = vec!["---".to_string(), "Gatekit Gateway Trace".to_string()];
        if f.server {
            lines.push(format!("- Server: {}", call.upstream));
        }
        if f.tool {
            let tool = params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            lines.push(format!("- Tool: {tool}"));
        }
        if f.params {
            let args = params
                .get("arguments")
                .map(Value::to_string)
                .unwrap_or_else(|| "{}".into());
            lines.push(format!(
                "- Params: {}",
                truncate_chars(&args, self.max_param_length)
            ));
        }
        if f.response_size {
            lines.push(format!(
                "- Response size: {} bytes",
                result.to_string().len()
            ));
        }
        if f.duration {
            lines.push(format!(
                "- Duration: {:.1} ms",
                elapsed.as_secs_f64() * 1000.0
            ));
        }
        if f.request_id {
            lines.push(format!("- Request ID: {}", call.request_id));
        }
        if f.timestamp {
            lines.push(format!(
                "- Timestamp: {}",
                Timestamp::now().to_rfc3339_millis()
            ));
        }
        let block = json!({"type": "text", "text": lines.join("\n")});
        match result.get_mut("content") {
            Some(Value::Array(content)) => content.push(block),
            _ => {
                if let Some(obj) = result.as_object_mut() {
                    obj.insert("content".into(), json!([block]));
                }
            }
        }
        Ok(Action::Modified {
            reason: "appended a call trace".into(),
        })
    }
}
