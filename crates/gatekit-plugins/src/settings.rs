//! Plugin entry options.
//!
//! Each entry's `config` mixes the framework keys that every plugin has (`enabled`,
//! `priority`, `critical`, as in Python Gatekit) with the handler's own options. The framework
//! keys are taken out first; the rest is parsed into the handler's typed options, which deny
//! unknown keys, so a typo such as `actoin: block` is an error naming its path rather than a
//! filter silently running with defaults.

use gatekit_config::yaml;
use gatekit_config::ConfigError;
use serde::de::DeserializeOwned;

/// The keys every plugin entry has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framework {
    /// Off entries are dropped (and, per upstream, switch off the global entry they replace).
    pub enabled: bool,
    /// 0-100, lower runs first (default 50).
    pub priority: u8,
    /// A failing critical plugin fails the message closed.
    pub critical: bool,
}

/// Takes the framework keys out of `config`; errors name `path`.
pub fn split_framework(
    config: &yaml::Mapping,
    default_critical: bool,
    source: &str,
    path: &str,
) -> Result<(Framework, yaml::Mapping), ConfigError> {
    let mut rest = config.clone();
    let mut framework = Framework {
        enabled: true,
        priority: 50,
        critical: default_critical,
    };
    if let Some(v) = rest.remove("enabled") {
        framework.enabled = v.as_bool().ok_or_else(|| {
            ConfigError::at(source, format!("{path}.enabled"), "must be true or false")
        })?;
    }
    if let Some(v) = rest.remove("critical") {
        framework.critical = v.as_bool().ok_or_else(|| {
            ConfigError::at(source, format!("{path}.critical"), "must be true or false")
        })?;
    }
    if let Some(v) = rest.remove("priority") {
        framework.priority = v
            .as_u64()
            .filter(|p| *p <= 100)
            .and_then(|p| u8::try_from(p).ok())
            .ok_or_else(|| {
                ConfigError::at(
                    source,
                    format!("{path}.priority"),
                    "must be a whole number from 0 to 100",
                )
            })?;
    }
    Ok((framework, rest))
}

/// Parses handler options; errors carry the full key path.
pub fn parse_options<T: DeserializeOwned>(
    rest: yaml::Mapping,
    source: &str,
    path: &str,
) -> Result<T, ConfigError> {
    let value = yaml::Value::Mapping(rest);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let at = if inner == "." {
            path.to_string()
        } else {
            format!("{path}.{inner}")
        };
        // Never echo the value: it may be a secret under the wrong key.
        ConfigError::at(
            source,
            at,
            gatekit_config::error::without_values(&e.into_inner().to_string()),
        )
    })
}
