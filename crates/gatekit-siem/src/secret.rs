//! Secrets in the `siem` configuration (HEC tokens, client secrets, shared keys).
//!
//! A secret is written as `${ENV_VAR}` (expanded at load), as `{file: /path}` (read at load,
//! trailing newline removed), or, discouraged, in plain text, which loads with a warning.
//! Invariant: the value never appears in `Debug` or `Display` output, so it cannot leak into
//! logs or error messages.

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
                Ok(Secret {
                    value: text.trim_end_matches(['\n', '\r']).to_string(),
                    plain_text: false,
                })
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}
