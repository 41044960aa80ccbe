//! Data minimisation before a SIEM: the `data_minimization` block turned into a
//! `gatekit_format::DataPolicy` in front of the destination's formatter.
//!
//! Job: decide what of each event leaves the gateway for one platform: tool parameters off,
//! names only (default), keyed hashes, or full values; the secrets and PII detectors of
//! `gatekit-plugins` on everything that is still sent (redact, never block), whether or not
//! a security plugin is configured for the upstream.
//!
//! Invariants:
//! - the default is never "full": without a block, parameter values are replaced by
//!   `"[omitted]"` (decision 0103);
//! - `hashed` values are HMAC-SHA256 under the operator's key (RFC 2104), written
//!   `hmac-sha256:<64 hex>`: equal values give equal hashes under one key, and nobody without
//!   the key can test a guess; strings are hashed as their UTF-8 bytes (so an operator can
//!   compute the hash of a known value with any HMAC tool), other JSON values as their
//!   compact JSON text;
//! - a parameter whose *name* says it is a credential (`password`, `token`, `api_key`, ...) is
//!   never sent in clear, even in `full` mode;
//! - detected spans are replaced by `[REDACTED:<kind>]`, in values, in object keys at any
//!   depth, and in messages; the matched text is never kept; a `system_event`'s own text
//!   (which names endpoints and addresses) goes through the secrets detector only;
//! - every choice that sends more than the default is a load-time warning.

use std::sync::Arc;

use gatekit_config::{Config, ConfigError};
use gatekit_core::EventType;
use gatekit_format::{DataPolicy, Formatter, Minimised, Redactor};
use gatekit_plugins::detect::pii::{PiiDetector, PiiKinds};
use gatekit_plugins::detect::secrets::{SecretsDetector, SECRET_KINDS};
use gatekit_plugins::detect::{redact, Detection, Detector};
use serde_json::Value;

use crate::checks::Warnings;
use crate::config::{DataMinimization, ParameterMode};

/// What a parameter value becomes in `names` mode.
pub const OMITTED: &str = "[omitted]";

/// Shortest accepted `hash_key`, in bytes: the HMAC-SHA256 output size (RFC 2104 §3 advises
/// keys no shorter than the hash output).
pub const MIN_HASH_KEY_BYTES: usize = 32;

/// Parameter names that carry credentials by convention (compared lower-case, with `-`
/// read as `_`): their values are never sent in clear.
const CREDENTIAL_NAMES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "client_secret",
    "authorization",
    "credential",
    "credentials",
    "cookie",
];

fn is_credential_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('-', "_");
    CREDENTIAL_NAMES
        .iter()
        .any(|c| n == *c || n.ends_with(&format!("_{c}")) || n.starts_with(&format!("{c}_")))
        || n.contains("password")
        || n.contains("secret")
}

/// The detectors run on what goes to a SIEM: every built-in secret shape and every PII kind.
struct Detectors {
    secrets: SecretsDetector,
    pii: PiiDetector,
}

impl Detectors {
    fn new() -> Self {
        let kinds: Vec<&'static str> = SECRET_KINDS.iter().map(|(k, _)| *k).collect();
        Detectors {
            secrets: SecretsDetector::new(&kinds, None),
            pii: PiiDetector::new(PiiKinds::default()),
        }
    }

    /// `text` with every detected span replaced, or `None` when nothing was found.
    fn scrub(&self, text: &str) -> Option<String> {
        self.scrub_with(text, true)
    }

    /// [`Self::scrub`], with or without the PII detector.
    fn scrub_with(&self, text: &str, pii: bool) -> Option<String> {
        let mut found: Vec<Detection> = Vec::new();
        self.secrets.find(text, &mut found);
        if pii {
            self.pii.find(text, &mut found);
        }
        (!found.is_empty()).then(|| redact(text, &found, |kind| format!("[REDACTED:{kind}]")))
    }

    /// Scrubs every string and every object key inside `v`.
    fn scrub_value(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some(clean) = self.scrub(s) {
                    *s = clean;
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.scrub_value(x)),
            Value::Object(o) => {
                let old = std::mem::take(o);
                for (k, mut x) in old {
                    if is_credential_name(&k) {
                        x = Value::String("[REDACTED:credential]".into());
                    } else {
                        self.scrub_value(&mut x);
                    }
                    o.insert(self.scrub(&k).unwrap_or(k), x);
                }
            }
            _ => {}
        }
    }
}

impl std::fmt::Debug for Detectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Detectors")
    }
}

/// The redactor one destination runs: the parameter mode, then the detectors.
pub struct SiemRedactor {
    mode: ParameterMode,
    key: Option<ring::hmac::Key>,
    detectors: Option<Detectors>,
}

impl std::fmt::Debug for SiemRedactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiemRedactor")
            .field("mode", &self.mode)
            .field("hash_key", &self.key.as_ref().map(|_| "***"))
            .field("pii_filtering", &self.detectors.is_some())
            .finish()
    }
}

impl SiemRedactor {
    /// A redactor for `mode`; `hash_key` is required for `hashed`.
    pub fn new(mode: ParameterMode, hash_key: Option<&[u8]>, pii_filtering: bool) -> Self {
        SiemRedactor {
            mode,
            key: hash_key.map(|k| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k)),
            detectors: pii_filtering.then(Detectors::new),
        }
    }

    /// `hmac-sha256:<hex>` of `value` (see the module invariants).
    pub fn hash(&self, value: &Value) -> Option<String> {
        let key = self.key.as_ref()?;
        let tag = match value {
            Value::String(s) => ring::hmac::sign(key, s.as_bytes()),
            other => ring::hmac::sign(key, other.to_string().as_bytes()),
        };
        let mut out = String::from("hmac-sha256:");
        for b in tag.as_ref() {
            out.push_str(&format!("{b:02x}"));
        }
        Some(out)
    }
}

impl Redactor for SiemRedactor {
    fn redact(&self, name: &str, value: &mut Value) {
        match self.mode {
            // `off` removes the whole map through the policy's field list.
            ParameterMode::Off | ParameterMode::Names => *value = Value::String(OMITTED.into()),
            ParameterMode::Hashed => {
                *value = Value::String(self.hash(value).unwrap_or_else(|| OMITTED.into()));
            }
            ParameterMode::Full => {
                if is_credential_name(name) {
                    *value = Value::String("[REDACTED:credential]".into());
                } else if let Some(d) = &self.detectors {
                    d.scrub_value(value);
                }
            }
        }
    }

    fn redact_key(&self, name: &str) -> Option<String> {
        self.detectors.as_ref()?.scrub(name)
    }

    fn redact_text(&self, event_type: EventType, text: &mut String) {
        // A system_event's text is Gatekit's own (endpoints, counts, server error text): it
        // names SIEM hosts and addresses on purpose, so only the secrets detector runs there
        // (a server that echoes a token must not put it in the SIEM).
        let pii = event_type != EventType::SystemEvent;
        if let Some(clean) = self
            .detectors
            .as_ref()
            .and_then(|d| d.scrub_with(text, pii))
        {
            *text = clean;
        }
    }
}

/// The platform's block, else the global one, else the default.
pub(crate) fn block<'a>(
    platform: Option<&'a DataMinimization>,
    global: Option<&'a DataMinimization>,
) -> std::borrow::Cow<'a, DataMinimization> {
    match platform.or(global) {
        Some(b) => std::borrow::Cow::Borrowed(b),
        None => std::borrow::Cow::Owned(DataMinimization::default()),
    }
}

/// `formatter` behind the policy of `block` (found at `path`); warnings for every choice
/// that sends more than the default.
pub(crate) fn wrap(
    cfg: &Config,
    block: &DataMinimization,
    hash_chain: bool,
    path: &str,
    formatter: Box<dyn Formatter>,
    warnings: &mut Warnings,
) -> Result<Box<dyn Formatter>, ConfigError> {
    let src = cfg.source.as_str();
    let at = |key: &str| format!("{path}.data_minimization.{key}");
    let fields: Vec<&str> = block.exclude_fields.iter().map(String::as_str).collect();
    let mut policy = DataPolicy::default()
        .with_exclude_fields(&fields)
        .map_err(|e| ConfigError::at(src, at("exclude_fields"), e.to_string()))?;
    let key = match (block.parameters, &block.hash_key) {
        (ParameterMode::Hashed, None) => {
            return Err(ConfigError::at(
                src,
                at("hash_key"),
                "`parameters: hashed` needs `hash_key` (at least 32 bytes, from ${ENV_VAR} or {file: PATH})",
            ))
        }
        (ParameterMode::Hashed, Some(k)) => {
            if k.expose().len() < MIN_HASH_KEY_BYTES {
                return Err(ConfigError::at(
                    src,
                    at("hash_key"),
                    format!("must be at least {MIN_HASH_KEY_BYTES} bytes"),
                ));
            }
            if k.plain_text {
                warnings.add(at("hash_key"), "the HMAC key is written in the configuration file in plain text; anyone who reads the file can test guesses against the hashed values; use ${ENV_VAR} or {file: PATH}");
            }
            Some(k.expose().as_bytes())
        }
        (_, Some(_)) => {
            warnings.add(
                at("hash_key"),
                "`hash_key` is ignored unless `parameters: hashed`",
            );
            None
        }
        (_, None) => None,
    };
    match block.parameters {
        ParameterMode::Off => {
            policy = policy
                .with_exclude_fields(&["mcp_data.parameters"])
                .map_err(|e| ConfigError::at(src, at("parameters"), e.to_string()))?;
        }
        ParameterMode::Full => {
            let also = if block.pii_filtering {
                "only the secret and PII shapes the detectors know are redacted"
            } else {
                "and `pii_filtering: false` sends them unfiltered"
            };
            warnings.add(
                at("parameters"),
                format!("`parameters: full` sends tool argument values to the SIEM ({also}); prefer `names` or `hashed`"),
            );
        }
        ParameterMode::Names | ParameterMode::Hashed => {}
    }
    if !block.pii_filtering {
        warnings.add(
            at("pii_filtering"),
            "the secrets and PII detectors are off for this SIEM destination: messages, reasons and any argument that is sent go out unfiltered",
        );
    }
    if hash_chain && block.parameters != ParameterMode::Full {
        warnings.add(
            at("parameters"),
            "`siem.hash_chain` covers each event before minimisation: `gatekit audit verify` reports this destination's events with parameters as changed",
        );
    }
    let redactor = SiemRedactor::new(block.parameters, key, block.pii_filtering);
    policy = policy.with_redactor(Arc::new(redactor));
    Ok(Box::new(Minimised::new(policy, formatter)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names() {
        for n in [
            "password",
            "DB_PASSWORD",
            "api-key",
            "x_token",
            "client_secret",
            "Cookie",
        ] {
            assert!(is_credential_name(n), "{n}");
        }
        for n in ["path", "content", "tokenizer_model", "author", "query"] {
            assert!(!is_credential_name(n), "{n}");
        }
    }

    #[test]
    fn hashes_are_stable_per_key_and_differ_across_keys() {
        let a = SiemRedactor::new(ParameterMode::Hashed, Some(&[7u8; 32]), true);
        let b = SiemRedactor::new(ParameterMode::Hashed, Some(&[8u8; 32]), true);
        let v = Value::String("/etc/passwd".into());
        let ha = a.hash(&v).unwrap();
        assert_eq!(ha, a.hash(&v).unwrap());
        assert_ne!(ha, b.hash(&v).unwrap());
        assert_ne!(ha, a.hash(&Value::String("/etc/shadow".into())).unwrap());
        assert!(
            ha.starts_with("hmac-sha256:") && ha.len() == 12 + 64,
            "{ha}"
        );
    }
}
