//! Gatekit's SIEM connectors.
//!
//! * [`config`]: the `siem` section as the SIEM requirements write it, typed at load.
//! * [`platform`]: the `splunk`, `qradar` and `azure_sentinel` blocks mapped onto connectors,
//!   with formatter, framing and delivery settings; warnings returned as values.
//! * [`connector`]: one folder per connector (file, syslog TCP/UDP/TLS, Splunk HEC, QRadar
//!   HTTP Receiver, Sentinel Logs Ingestion and Data Collector, Event Hubs): its block, its
//!   plan and its transport, behind one closed enum ([`connector::ConnectorPlan`]).
//! * [`tls`] and [`http`]: the TLS settings and the HTTP client every connector shares;
//!   [`azure`]: what the Azure connectors share (Entra ID, signatures, bodies).
//! * [`checks`]: warnings and the insecure-setting rules every connector applies at load.
//! * [`error`]: typed connector errors; [`auth`]: authentication failures counted and
//!   reported as `system_event`s, decided by error kind.
//! * [`adopt`]: many gateway processes on one configuration, each with its own buffer
//!   directory; live processes deliver the backlogs of dead ones.
//! * [`switchover`]: a destination's endpoints in failover order, and a `system_event` on
//!   every switch between them; [`rerender`]: per-endpoint rendering at send time for a
//!   platform whose endpoints need different renderings.
//! * [`sink`]: the SIEM audit sink (canonical events come from `gatekit_mcp::audit_event`).
//! * [`replay`]: `gatekit siem replay`, dead letters, buffers, spools and audit trails sent
//!   again with their event ids.
//! * [`secret`]: tokens and keys that never reach logs.
//! * [`monitor`]: alerts, the heartbeat and the status file, from the delivery metrics.
//! * [`status`]: the status file each process writes in its spool directory.

pub mod adopt;
pub mod auth;
pub mod azure;
pub mod cert_info;
pub mod checks;
pub mod config;
pub mod connector;
mod destination;
pub mod error;
pub mod http;
mod intake;
pub mod monitor;
pub mod platform;
pub mod replay;
pub mod rerender;
pub mod secret;
pub mod sink;
pub mod spool;
pub mod status;
pub mod switchover;
pub mod tls;

use gatekit_config::{Config, ConfigErrors, Warning};

pub use error::SiemError;
pub use intake::defer::{defer_wakes_on_this_thread, wake_deferred};
pub use sink::SiemSink;

/// The `siem` section, checked offline: the destinations to start and every warning.
#[derive(Debug, Default)]
pub struct Checked {
    /// One plan per enabled platform.
    pub plans: Vec<platform::DestinationPlan>,
    /// Settings that load but deserve the operator's attention (printed by `gatekit check`,
    /// logged by `gatekit run`).
    pub warnings: Vec<Warning>,
    /// `siem.hash_chain`.
    pub hash_chain: bool,
    /// `siem.test_target`: every destination is a test target (`gatekit siem load`).
    pub test_target: bool,
    /// `siem.spool`, resolved: committed mode when set.
    pub spool: Option<spool::SpoolSettings>,
    /// `siem.agent`, resolved.
    pub agent: config::observe::AgentSettings,
    /// `siem.alerts`, resolved.
    pub alerts: config::observe::AlertSettings,
}

/// Checks the `siem` section offline (for `gatekit check` and start-up); every error found,
/// each with its key path and, where the file shows it, its line.
pub fn validate(cfg: &Config) -> Result<Checked, ConfigErrors> {
    let (checked, errors) = check(cfg);
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// [`validate`], keeping the warnings when there are errors too (`gatekit check` prints
/// both): the plans of the platforms that planned, every warning, and every error.
pub fn check(cfg: &Config) -> (Checked, Vec<gatekit_config::ConfigError>) {
    let siem = match platform::parse(cfg) {
        Ok(Some(siem)) => siem,
        Ok(None) => return (Checked::default(), Vec::new()),
        Err(e) => return (Checked::default(), vec![cfg.locate(e)]),
    };
    let mut warnings = platform::Warnings::default();
    let (plans, mut errors) = platform::plan(cfg, &siem, &mut warnings);
    let warnings = warnings.0;
    let spool = config::spool::resolve(cfg, siem.spool.as_ref(), &plans).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let agent = config::observe::agent(&cfg.source, siem.agent.as_ref()).unwrap_or_else(|e| {
        errors.push(e);
        config::observe::AgentSettings::default()
    });
    let alerts = config::observe::alerts(&cfg.source, siem.alerts.as_ref()).unwrap_or_else(|e| {
        errors.push(e);
        config::observe::AlertSettings::default()
    });
    let errors = errors.into_iter().map(|e| cfg.locate(e)).collect();
    let hash_chain = siem.hash_chain;
    (
        Checked {
            plans,
            warnings,
            hash_chain,
            test_target: siem.test_target,
            spool,
            agent,
            alerts,
        },
        errors,
    )
}

/// Seconds between delivery-trouble checks (`siem.monitor_interval`, default 5).
pub fn monitor_interval(cfg: &Config) -> std::time::Duration {
    let secs = platform::parse(cfg)
        .ok()
        .flatten()
        .and_then(|s| s.monitor_interval)
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
        .unwrap_or(5.0);
    std::time::Duration::from_secs_f64(secs)
}
