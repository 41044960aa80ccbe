//! The client-facing `initialize` handshake: version negotiation and capability merging.
//!
//! Gatekit answers `initialize` itself, as one MCP server that fronts several. It negotiates
//! the protocol version with the client (MCP "Lifecycle": the server answers with the
//! requested version when it supports it, otherwise with its latest), initialises every
//! upstream with the client's own parameters, and advertises the union of what the upstreams
//! offer. Capabilities that Gatekit cannot route (anything outside the list below) are not
//! advertised, so a client never relies on a feature that would fail.

use serde_json::{json, Map, Value};

/// Protocol revisions Gatekit speaks, newest first.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[&str] =
    &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// Server capabilities Gatekit knows how to route.
const ROUTED_CAPABILITIES: &[&str] = &["tools", "prompts", "resources", "logging", "completions"];

/// The version to answer with for a client that requested `requested`.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| SUPPORTED_PROTOCOL_VERSIONS.iter().find(|v| **v == r))
        .copied()
        .unwrap_or(SUPPORTED_PROTOCOL_VERSIONS[0])
}

/// Merges the upstreams' `capabilities` objects: a capability is offered when any upstream
/// offers it, and boolean sub-flags (`listChanged`, `subscribe`) are OR-ed.
pub fn merge_capabilities<'a>(upstream_caps: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut merged = Map::new();
    for caps in upstream_caps {
        let Some(caps) = caps.as_object() else {
            continue;
        };
        for key in ROUTED_CAPABILITIES {
            let Some(Value::Object(offer)) = caps.get(*key) else {
                continue;
            };
            let entry = merged
                .entry((*key).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(into) = entry {
                for (flag, value) in offer {
                    match (into.get(flag), value) {
                        (Some(Value::Bool(a)), Value::Bool(b)) => {
                            let or = *a || *b;
                            into.insert(flag.clone(), Value::Bool(or));
                        }
                        (None, v) => {
                            into.insert(flag.clone(), v.clone());
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Value::Object(merged)
}

/// Joins the upstreams' `instructions`, each under its upstream's name.
pub fn merge_instructions<'a>(
    parts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    let sections: Vec<String> = parts
        .into_iter()
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|(name, text)| format!("[{name}] (tools prefixed `{name}__`)\n{}", text.trim()))
        .collect();
    (!sections.is_empty()).then(|| sections.join("\n\n"))
}

/// Gatekit's `serverInfo`.
pub fn server_info() -> Value {
    json!({
        "name": "gatekit",
        "title": "Gatekit MCP security gateway",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_supported_versions_and_falls_back_to_latest() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2025-11-25")), "2025-11-25");
        assert_eq!(negotiate(Some("1999-01-01")), "2025-11-25");
        assert_eq!(negotiate(None), "2025-11-25");
    }

    #[test]
    fn merges_capabilities_as_a_union() {
        let a = json!({"tools": {"listChanged": false}, "logging": {}, "experimental": {"x": {}}});
        let b = json!({"tools": {"listChanged": true}, "resources": {"subscribe": true}});
        let merged = merge_capabilities([&a, &b]);
        assert_eq!(
            merged,
            json!({"tools": {"listChanged": true}, "logging": {}, "resources": {"subscribe": true}})
        );
    }

    #[test]
    fn instructions_name_their_upstream() {
        let text = merge_instructions([("fs", "Use read_file."), ("gh", "  ")]).unwrap();
        assert!(text.starts_with("[fs]"));
        assert!(!text.contains("[gh]"));
        assert_eq!(merge_instructions([("gh", "")]), None);
    }
}
