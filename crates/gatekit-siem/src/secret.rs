//! Secrets in the `siem` configuration (HEC tokens, client secrets, shared keys).
//!
//! A secret is written as `${ENV_VAR}` (expanded at load), as `{file: /path}` (read at load,
//! trailing newline removed), or, discouraged, in plain text, which loads with a warning.
//! Invariant: the value never appears in `Debug` or `Display` output, so it cannot leak into
//! logs or error messages. Every secret loaded from the configuration is also remembered by
//! [`scrub`], which removes it from text that came from outside (a SIEM endpoint's error
//! answer that echoes the token) before that text is logged or written to a dead letter.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// A secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    /// Whether it was written in the configuration file in plain text.
    pub plain_text: bool,
}

impl Secret {
    /// The secret itself; call only where it is sent.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// A secret obtained at run time (an access token, a signature), never from the file.
    pub fn runtime(value: String) -> Secret {
        Secret {
            value,
            plain_text: false,
        }
    }
}

/// Shortest value [`scrub`] looks for: shorter ones would match ordinary words.
const MIN_SCRUBBED_LEN: usize = 6;

fn known() -> &'static std::sync::RwLock<Vec<String>> {
    static KNOWN: std::sync::OnceLock<std::sync::RwLock<Vec<String>>> = std::sync::OnceLock::new();
    KNOWN.get_or_init(Default::default)
}

fn remember(value: &str) {
    if value.len() >= MIN_SCRUBBED_LEN {
        let mut known = known().write().unwrap_or_else(|e| e.into_inner());
        if !known.iter().any(|k| k == value) {
            known.push(value.to_string());
        }
    }
}

/// `text` with every configured secret replaced by `***`.
pub fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    let known = known().read().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| text.contains(k.as_str())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for k in known.iter() {
        out = out.replace(k.as_str(), "***");
    }
    std::borrow::Cow::Owned(out)
}

/// `text` from outside (a SIEM endpoint's answer, a TLS alert, a token endpoint's error) made
/// fit for a log line, a `system_event` or a dead letter: configured secrets scrubbed
/// ([`scrub`]), then control characters and line separators escaped and the length bounded
/// ([`gatekit_core::LogSafe`]).
pub fn log_safe(text: &str) -> String {
    gatekit_core::LogSafe(scrub(text)).to_string()
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;
        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string (preferably \"${ENV_VAR}\") or {file: PATH}")
            }
            fn visit_str<E: de::Error>(self, raw: &str) -> Result<Secret, E> {
                let value = gatekit_config::expand::expand(raw, |name| std::env::var(name).ok())
                    .map_err(E::custom)?;
                remember(&value);
                Ok(Secret {
                    value,
                    plain_text: !raw.contains("${"),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| de::Error::custom("expected `file`"))?;
                if key != "file" {
                    return Err(de::Error::custom(format!(
                        "unknown key `{key}`; use `file`"
                    )));
                }
                let path: String = map.next_value()?;
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    de::Error::custom(format!("cannot read secret file {path}: {e}"))
                })?;
                let value = text.trim_end_matches(['\n', '\r']).to_string();
                remember(&value);
                Ok(Secret {
                    value,
                    plain_text: false,
                })
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::*;

    #[test]
    fn configured_secrets_are_scrubbed_from_outside_text() {
        let secret: Secret = serde_json::from_value(serde_json::json!("tok-0123456789-scrub-me"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(secret.expose(), "tok-0123456789-scrub-me");
        assert_eq!(
            scrub("HTTP 403: invalid token tok-0123456789-scrub-me for channel x"),
            "HTTP 403: invalid token *** for channel x"
        );
        assert_eq!(scrub("nothing here"), "nothing here");
    }
}
