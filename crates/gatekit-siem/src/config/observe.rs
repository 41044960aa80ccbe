//! The `siem.agent` and `siem.alerts` blocks (Gatekit additions): how a gateway and the host
//! agent split delivery, where the agent serves its metrics and health, and when delivery
//! trouble becomes an alert.
//!
//! Invariant: every value is checked at load with a message naming its key; an unset key
//! takes the default documented in `docs/operations.md`.

use std::net::SocketAddr;
use std::time::Duration;

use gatekit_config::ConfigError;
use serde::Deserialize;

/// Default address of the agent's HTTP endpoint (the port Prometheus exporters of this kind
/// commonly use; loopback only unless configured).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// `siem.agent`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// A host agent delivers for this host: gateways leave other processes' spools and
    /// buffers to it (default false: every gateway adopts, as before).
    #[serde(default)]
    pub enabled: bool,
    /// Address of `/metrics`, `/health` and `/ready` (default `127.0.0.1:9464`).
    #[serde(default)]
    pub listen: Option<String>,
}

/// `siem.alerts`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Records waiting for one destination (memory, disk and in flight) above which an alert
    /// fires (default 10000).
    #[serde(default)]
    pub backlog_events: Option<u64>,
    /// Seconds the oldest undelivered record of one destination may wait before an alert
    /// fires (default 300).
    #[serde(default)]
    pub backlog_age_secs: Option<f64>,
    /// Seconds between heartbeat `system_event`s; 0 turns them off (default 300).
    #[serde(default)]
    pub heartbeat_secs: Option<f64>,
}

/// `siem.agent`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSettings {
    /// Gateways leave adoption to the agent.
    pub enabled: bool,
    /// Where the agent listens.
    pub listen: SocketAddr,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

/// `siem.alerts`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    /// Backlog size threshold per destination.
    pub backlog_events: u64,
    /// Backlog age threshold per destination.
    pub backlog_age: Duration,
    /// Heartbeat interval; `None`: no heartbeat.
    pub heartbeat: Option<Duration>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            backlog_events: 10_000,
            backlog_age: Duration::from_secs(300),
            heartbeat: Some(Duration::from_secs(300)),
        }
    }
}

/// Resolves `siem.agent`.
pub(crate) fn agent(
    source: &str,
    block: Option<&AgentConfig>,
) -> Result<AgentSettings, ConfigError> {
    let Some(block) = block else {
        return Ok(AgentSettings::default());
    };
    let text = block.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = text.parse::<SocketAddr>().map_err(|_| {
        ConfigError::at(
            source,
            "siem.agent.listen",
            format!("`{text}` is not an address with a port, such as {DEFAULT_LISTEN}"),
        )
    })?;
    Ok(AgentSettings {
        enabled: block.enabled,
        listen,
    })
}

/// Resolves `siem.alerts`.
pub(crate) fn alerts(
    source: &str,
    block: Option<&AlertsConfig>,
) -> Result<AlertSettings, ConfigError> {
    let defaults = AlertSettings::default();
    let Some(block) = block else {
        return Ok(defaults);
    };
    let secs = |key: &str, v: f64, zero_ok: bool| -> Result<Option<Duration>, ConfigError> {
        if !v.is_finite() || !(0.0..=86_400.0).contains(&v) || (v == 0.0 && !zero_ok) {
            let low = if zero_ok { "0 (off)" } else { "more than 0" };
            return Err(ConfigError::at(
                source,
                format!("siem.alerts.{key}"),
                format!("must be {low} and at most 86400 seconds"),
            ));
        }
        Ok((v > 0.0).then(|| Duration::from_secs_f64(v)))
    };
    let backlog_events = block.backlog_events.unwrap_or(defaults.backlog_events);
    if backlog_events == 0 {
        return Err(ConfigError::at(
            source,
            "siem.alerts.backlog_events",
            "must be at least 1",
        ));
    }
    let backlog_age = match block.backlog_age_secs {
        Some(v) => secs("backlog_age_secs", v, false)?.unwrap_or(defaults.backlog_age),
        None => defaults.backlog_age,
    };
    let heartbeat = match block.heartbeat_secs {
        Some(v) => secs("heartbeat_secs", v, true)?,
        None => defaults.heartbeat,
    };
    Ok(AlertSettings {
        backlog_events,
        backlog_age,
        heartbeat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_key() {
        let e = agent(
            "f",
            Some(&AgentConfig {
                enabled: true,
                listen: Some("localhost".into()),
            }),
        )
        .unwrap_err();
        assert!(e.to_string().contains("siem.agent.listen"), "{e}");
        let e = alerts(
            "f",
            Some(&AlertsConfig {
                backlog_age_secs: Some(-1.0),
                ..AlertsConfig::default()
            }),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("siem.alerts.backlog_age_secs"),
            "{e}"
        );
        let off = alerts(
            "f",
            Some(&AlertsConfig {
                heartbeat_secs: Some(0.0),
                ..AlertsConfig::default()
            }),
        )
        .unwrap();
        assert_eq!(off.heartbeat, None);
        assert_eq!(agent("f", None).unwrap(), AgentSettings::default());
    }
}
