//! `${VAR}` expansion for configuration strings.
//!
//! Expansion happens on each string value while the file is deserialised, never on the raw
//! text: a variable's value can therefore never inject YAML structure (a new key, a second
//! upstream) into the file. Supported forms:
//!
//! * `${NAME}`: the variable's value; an unset variable is an error.
//! * `${NAME:-fallback}`: the value, or `fallback` when the variable is unset or empty.
//! * `$${`: a literal `${`.
//!
//! A lone `$` (as in `$HOME`) is left as written, so shell-like strings in tool commands are not
//! altered behind the user's back.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A string from the configuration file with `${VAR}` references expanded.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ConfigString(String);

impl ConfigString {
    /// The expanded value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<&str> for ConfigString {
    fn from(s: &str) -> Self {
        ConfigString(s.to_string())
    }
}

impl fmt::Debug for ConfigString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ConfigString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for ConfigString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ConfigString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        expand(&raw, |name| std::env::var(name).ok())
            .map(ConfigString)
            .map_err(serde::de::Error::custom)
    }
}

/// Expands `${VAR}` references in `input`, looking variables up with `lookup`.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(stripped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = stripped;
        } else if let Some(body_start) = after.strip_prefix("${") {
            let end = body_start
                .find('}')
                .ok_or_else(|| format!("unterminated `${{` in {input:?}"))?;
            let body = &body_start[..end];
            let (name, fallback) = match body.split_once(":-") {
                Some((n, f)) => (n, Some(f)),
                None => (body, None),
            };
            if !is_var_name(name) {
                return Err(format!(
                    "invalid environment variable name {name:?} in {input:?}"
                ));
            }
            match (lookup(name), fallback) {
                (Some(v), Some(f)) if v.is_empty() => out.push_str(f),
                (Some(v), _) => out.push_str(&v),
                (None, Some(f)) => out.push_str(f),
                (None, None) => {
                    return Err(format!(
                        "environment variable `{name}` is not set (referenced as `${{{name}}}`)"
                    ))
                }
            }
            rest = &body_start[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/ada".into()),
            "EMPTY" => Some(String::new()),
            "INJECT" => Some("x\nproxy: {}".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_known_variables_and_fallbacks() {
        assert_eq!(expand("${HOME}/data", env).unwrap(), "/home/ada/data");
        assert_eq!(expand("${NOPE:-/tmp}", env).unwrap(), "/tmp");
        assert_eq!(expand("${EMPTY:-dflt}", env).unwrap(), "dflt");
        assert_eq!(
            expand("a${HOME}b${HOME}c", env).unwrap(),
            "a/home/adab/home/adac"
        );
    }

    #[test]
    fn leaves_plain_dollars_and_escapes_alone() {
        assert_eq!(
            expand("cost $5 and $HOME", env).unwrap(),
            "cost $5 and $HOME"
        );
        assert_eq!(expand("$${HOME}", env).unwrap(), "${HOME}");
        assert_eq!(expand("trailing $", env).unwrap(), "trailing $");
    }

    #[test]
    fn unset_variable_is_an_error_naming_it() {
        let err = expand("${GATEKIT_SURELY_UNSET}", env).unwrap_err();
        assert!(err.contains("GATEKIT_SURELY_UNSET"), "{err}");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(expand("${HOME", env).is_err());
        assert!(expand("${1BAD}", env).is_err());
        assert!(expand("${}", env).is_err());
    }

    #[test]
    fn values_are_inserted_verbatim() {
        // Expansion works on parsed strings, so a value with YAML syntax stays a value.
        assert_eq!(expand("${INJECT}", env).unwrap(), "x\nproxy: {}");
    }
}
