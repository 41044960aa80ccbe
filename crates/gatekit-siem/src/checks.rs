//! Load-time checks every connector shares: warnings collected as values, and the rules for
//! settings that would send events or credentials unprotected (plain `http://` to another
//! host, certificate verification turned off).
//!
//! Invariant: a setting that removes protection is never quiet. It is an error unless the
//! operator opted in with `allow_insecure: true` next to it, and then (or when it only weakens
//! protection, like `verify_certs: false`) a warning that `gatekit check` prints and
//! `gatekit run` logs.

use gatekit_config::{Config, ConfigError, Warning};

use crate::http::client::Endpoint;
use crate::tls::{TlsConfig, TlsSettings};

/// What certificate verification turned off means, for the warning.
pub const NO_VERIFY: &str = "TLS certificate verification is off for this SIEM destination: events and credentials can be intercepted by anyone on the path";

/// Warnings found while planning, in the order found.
#[derive(Debug, Default)]
pub struct Warnings(pub Vec<Warning>);

impl Warnings {
    /// Adds a warning about the key at `path`.
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Warning {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Whether `host` is this machine (a name or address on the loopback).
pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A plain `http://` endpoint: fine for a receiver on this machine; to any other host the
/// credential and the events would cross the network in clear text, so it is an error unless
/// `allow_insecure: true` is set (then a warning).
pub fn plain_http(
    cfg: &Config,
    endpoint: &Endpoint,
    allow_insecure: bool,
    path: &str,
    warnings: &mut Warnings,
) -> Result<(), ConfigError> {
    if is_loopback(&endpoint.host) {
        return Ok(());
    }
    let message = format!(
        "`http://{}` is not encrypted: credentials and audit events would cross the network in clear text; use https://",
        endpoint.host
    );
    if allow_insecure {
        warnings.add(
            path,
            format!("{message} (allowed by `allow_insecure: true`)"),
        );
        Ok(())
    } else {
        Err(ConfigError::at(
            &cfg.source,
            path,
            format!("{message}, or set `allow_insecure: true` next to it to accept the risk"),
        ))
    }
}

/// An `https://` (or local `http://`) endpoint with its TLS settings, checked now.
pub fn endpoint(
    cfg: &Config,
    url: &str,
    tls: Option<&TlsConfig>,
    allow_insecure: bool,
    path: &str,
    key: &str,
    warnings: &mut Warnings,
) -> Result<(Endpoint, TlsSettings), ConfigError> {
    let src = cfg.source.as_str();
    let mut endpoint =
        Endpoint::parse(url).map_err(|e| ConfigError::at(src, format!("{path}.{key}"), e))?;
    if endpoint.tls {
        let (proxy, no_proxy) = proxy_settings(cfg);
        endpoint.proxy = crate::http::proxy::for_host(&endpoint.host, proxy.as_deref(), no_proxy)
            .map_err(|e| {
            ConfigError::at(
                src,
                if proxy.is_some() {
                    "siem.https_proxy".to_string()
                } else {
                    format!("{path}.{key}")
                },
                if proxy.is_some() {
                    e
                } else {
                    format!("HTTPS_PROXY: {e}")
                },
            )
        })?;
    }
    let tls = tls.cloned().unwrap_or_default();
    let settings = tls.settings(cfg);
    if endpoint.tls {
        crate::tls::client_config(&settings)
            .map_err(|e| ConfigError::at(src, format!("{path}.tls"), e))?;
        if !tls.verify_certs {
            warnings.add(format!("{path}.tls.verify_certs"), NO_VERIFY);
        }
    } else {
        plain_http(
            cfg,
            &endpoint,
            allow_insecure,
            &format!("{path}.{key}"),
            warnings,
        )?;
    }
    Ok((endpoint, settings))
}

/// `siem.https_proxy` and `siem.no_proxy` as written (a list, or one comma-separated string);
/// `None` where the key is absent, so the environment decides.
fn proxy_settings(cfg: &Config) -> (Option<String>, Option<Vec<String>>) {
    let siem = cfg.file.siem.as_ref();
    let get = |key: &str| siem.and_then(|s| s.get(key));
    let proxy = get("https_proxy").map(|v| v.as_str().unwrap_or_default().to_string());
    let no_proxy = get("no_proxy").map(|v| match v.as_sequence() {
        Some(list) => list
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        None => v
            .as_str()
            .unwrap_or_default()
            .split(',')
            .map(str::to_string)
            .collect(),
    });
    (proxy, no_proxy)
}

/// A duration from the configuration in seconds, `default` when absent: above 0 and at most
/// `max_secs`, else an error at `path`.
pub(crate) fn seconds(
    src: &str,
    path: String,
    value: Option<f64>,
    default: f64,
    max_secs: u32,
) -> Result<std::time::Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if v.is_finite() && v > 0.0 && v <= f64::from(max_secs) {
        Ok(std::time::Duration::from_secs_f64(v))
    } else {
        Err(ConfigError::at(
            src,
            path,
            format!("must be a number of seconds above 0 and at most {max_secs}"),
        ))
    }
}
