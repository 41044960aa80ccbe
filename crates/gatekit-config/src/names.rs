//! Names that the configuration file gives to things, checked where they are read.
//!
//! Checking inside `Deserialize` means the YAML parser attaches the line and column to the
//! error, so `gatekit check` can point at the exact spot.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// Longest upstream name. Tool names are exposed as `<upstream>__<tool>` and many MCP clients
/// cap tool names at 64 characters, so long prefixes would crowd the tool name out.
pub const MAX_UPSTREAM_NAME_LEN: usize = 32;

/// The name of an upstream MCP server: `^[a-z][a-z0-9_-]*$`, no `__`, at most 32 characters.
///
/// Python Gatekit only enforced this pattern on plugin scope keys and accepted names such as
/// `My Server.v2`, which then produced tool names many clients reject. Gatekit enforces it
/// on the upstream itself.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UpstreamName(String);

impl UpstreamName {
    /// Checks `name` and wraps it.
    pub fn new(name: &str) -> Result<Self, String> {
        check_upstream_name(name).map(|()| UpstreamName(name.to_string()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Returns why `name` is not a valid upstream name, if it is not.
pub fn check_upstream_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid_start = matches!(chars.next(), Some('a'..='z'));
    let valid_rest = chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'));
    if !valid_start || !valid_rest {
        return Err(format!(
            "invalid upstream name {name:?}: use lowercase letters, digits, `_` and `-`, starting with a letter"
        ));
    }
    if name.contains("__") {
        return Err(format!(
            "invalid upstream name {name:?}: `__` separates the upstream from the tool name in namespaced names"
        ));
    }
    if name.len() > MAX_UPSTREAM_NAME_LEN {
        return Err(format!(
            "invalid upstream name {name:?}: longer than {MAX_UPSTREAM_NAME_LEN} characters"
        ));
    }
    Ok(())
}

impl fmt::Debug for UpstreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for UpstreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UpstreamName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        UpstreamName::new(&raw).map_err(serde::de::Error::custom)
    }
}

/// Built-in plugin handlers, by category. Names match Python Gatekit 0.3 so its files load.
pub const MIDDLEWARE_HANDLERS: &[&str] = &["tool_manager", "call_trace"];
/// Security plugin handlers.
pub const SECURITY_HANDLERS: &[&str] = &[
    "basic_pii_filter",
    "basic_secrets_filter",
    "basic_prompt_injection_defense",
];
/// Auditing plugin handlers.
pub const AUDITING_HANDLERS: &[&str] = &[
    "audit_jsonl",
    "audit_csv",
    "audit_human_readable",
    "token_usage",
];

/// The closest known name to `unknown`, for "did you mean" hints.
pub fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(unknown, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_python_gatekit_style_names() {
        for ok in ["filesystem", "github", "my-server", "a1_b2", "x"] {
            assert!(check_upstream_name(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_names_that_break_namespacing() {
        for bad in [
            "My Server.v2",
            "Upper",
            "1abc",
            "a__b",
            "",
            "-x",
            "a.b",
            &"a".repeat(33),
        ] {
            assert!(check_upstream_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn suggests_near_handler_names() {
        assert_eq!(
            closest("basic_pi_filter", SECURITY_HANDLERS),
            Some("basic_pii_filter")
        );
        assert_eq!(
            closest("audit_json", AUDITING_HANDLERS),
            Some("audit_jsonl")
        );
        assert_eq!(closest("zzzzzz", AUDITING_HANDLERS), None);
    }
}
