//! Gatekit's SIEM connectors.
//!
//! * [`auth`]: authentication failures, counted and reported as `system_event`s.
//! * [`config`]: the `siem` section as the SIEM requirements write it.
//! * [`secret`]: tokens and keys that never reach logs.
//! * [`plan`]: configuration → destinations (formatter, framing, transport, delivery).
//! * [`event`]: gateway audit records → canonical events.
//! * [`sink`]: the SIEM audit sink the gateway writes to.
//! * [`http`]: the HTTP client, status classification and request signatures.
//! * [`transport`]: file, syslog (TCP, UDP, TLS) and HTTP transports.

pub mod auth;
pub mod config;
pub mod event;
pub mod http;
pub mod plan;
pub mod secret;
pub mod sink;
pub mod transport;

use gatekit_config::{Config, ConfigErrors};

pub use sink::SiemSink;

/// Checks the `siem` section offline (for `gatekit check` and start-up).
pub fn validate(cfg: &Config) -> Result<Vec<plan::DestinationPlan>, ConfigErrors> {
    let siem = match plan::parse(cfg) {
        Ok(Some(siem)) => siem,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => return Err(ConfigErrors::single(e)),
    };
    plan::plan(cfg, &siem).map_err(ConfigErrors)
}

/// Seconds between delivery-trouble checks (`siem.monitor_interval`, default 5).
pub fn monitor_interval(cfg: &Config) -> std::time::Duration {
    let secs = plan::parse(cfg)
        .ok()
        .flatten()
        .and_then(|s| s.monitor_interval)
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
        .unwrap_or(5.0);
    std::time::Duration::from_secs_f64(secs)
}
