//! A platform's `failover` list: alternative endpoints tried in order when the one before is
//! broken (the delivery engine's ordered failover, breaker and failback; see
//! `crate::switchover` for the transports and docs/decisions/0621).
//!
//! Each entry holds the platform's connector keys only (`transport` and that transport's
//! block, e.g. `sc4s:`, `hec:`, `file:`). It is planned exactly like the primary: the
//! platform block with its connector keys replaced by the entry's, through the same planner,
//! so every error the primary would get names `<platform>.failover[i].<key>` (and its line).
//!
//! Invariants:
//! - Each endpoint receives records it can parse. When every entry renders a fixed event
//!   byte for byte like the primary (another HEC, another SC4S, a syslog endpoint with the
//!   same header and framing), or is a `file`, the platform keeps one rendering: every
//!   endpoint receives the records rendered for the primary, and a `file` entry stores them
//!   as lines (`switchover.rs`; decision 0621). When an entry renders differently (HEC
//!   envelopes versus syslog lines), the platform is *mixed*: [`attach`] hands back every
//!   entry's own formatter and framing, and `mixed.rs` plans per-endpoint rendering at send
//!   time (decision 0624).
//! - Keys that decide the rendering or the delivery (`format`, `delivery`,
//!   `data_minimization`, `dsm`, `schema`, `enabled`, `priority`) belong to the platform and
//!   are refused inside an entry.

use gatekit_config::{yaml, Config, ConfigError};
use gatekit_core::{AuditEvent, EventFactory, EventType, Severity};
use gatekit_format::{Formatter, Framing};
use serde::de::DeserializeOwned;

use super::{DestinationPlan, Warnings};
use crate::config::SiemConfig;
use crate::connector::ConnectorPlan;

/// A platform's planner (`splunk::plan`, `qradar::plan`, `sentinel::plan`).
pub(crate) type Planner<T> =
    fn(&Config, &SiemConfig, &T, &str, &mut Warnings) -> Result<DestinationPlan, ConfigError>;

/// The connector keys of each platform: what an entry may set.
pub(crate) fn connector_keys(platform: &str) -> &'static [&'static str] {
    match platform {
        "splunk" => &["transport", "sc4s", "hec", "file"],
        "qradar" => &["transport", "syslog", "rest_api"],
        _ => &[
            "transport",
            "data_collector_api",
            "event_hubs",
            "logs_ingestion_api",
            "log_analytics_agent",
            "syslog",
            "auth",
        ],
    }
}

/// Each failover entry's own formatter and framing (before data minimisation and the size
/// limit), in order; handed back only when the platform is mixed.
pub(crate) type EntryRenderings = Vec<(Box<dyn Formatter>, Framing)>;

/// Plans every entry of `entries` (found at `path.failover`) and adds its connector to
/// `primary.failover`, in order. `primary` is the platform's plan before data minimisation.
/// The entries' own renderings come back when one of them (a `file` aside) renders unlike
/// the primary (a mixed platform, `mixed.rs`), `None` when the platform keeps one rendering.
pub(crate) fn attach<T: DeserializeOwned>(
    cfg: &Config,
    siem: &SiemConfig,
    entries: &[yaml::Mapping],
    path: &str,
    mut primary: DestinationPlan,
    planner: Planner<T>,
    warnings: &mut Warnings,
) -> Result<(DestinationPlan, Option<EntryRenderings>), ConfigError> {
    if entries.is_empty() {
        return Ok((primary, None));
    }
    let src = cfg.source.as_str();
    let base = raw_block(cfg, path).ok_or_else(|| {
        ConfigError::at(
            src,
            path,
            "cannot read this block again for its failover list",
        )
    })?;
    let keys = connector_keys(primary.platform);
    // One event for every comparison (its id and time are part of every rendering).
    let event = EventFactory::new("failover-check.invalid", "0.0.0")
        .event(EventType::SystemEvent, Severity::Notice)
        .with_message("failover rendering check");
    let sample = sample_render(&primary, &event);
    let mut renderings: EntryRenderings = Vec::with_capacity(entries.len());
    let mut mixed = false;
    for (i, entry) in entries.iter().enumerate() {
        let entry_path = format!("{path}.failover[{i}]");
        let mut merged = base.clone();
        merged.retain(|k, _| {
            !k.as_str()
                .is_some_and(|k| keys.contains(&k) || k == "failover")
        });
        for (key, value) in entry {
            let name = key.as_str().unwrap_or_default();
            if !keys.contains(&name) {
                return Err(ConfigError::at(
                    src,
                    format!("{entry_path}.{name}"),
                    format!(
                        "a failover entry takes only {}; `{name}` is set once for the whole platform (one format, data minimisation and delivery policy per platform)",
                        keys.join(", ")
                    ),
                ));
            }
            merged.insert(key.clone(), value.clone());
        }
        if !entry.contains_key("transport") {
            return Err(ConfigError::at(
                src,
                entry_path,
                format!("a failover entry needs `transport` (one of the {} transports) and that transport's block", primary.platform),
            ));
        }
        let typed: T =
            serde_path_to_error::deserialize(yaml::Value::Mapping(merged)).map_err(|e| {
                ConfigError::at(
                    src,
                    format!("{entry_path}.{}", e.path()).trim_end_matches('.'),
                    e.into_inner().to_string(),
                )
            })?;
        let planned = planner(cfg, siem, &typed, &entry_path, warnings)?;
        let is_file = matches!(planned.connector, ConnectorPlan::File(_));
        if !is_file && sample_render(&planned, &event) != sample {
            // Rendered per endpoint at send time (decision 0624).
            mixed = true;
        }
        renderings.push((planned.formatter, planned.framing));
        primary.failover.push(planned.connector);
    }
    Ok((primary, mixed.then_some(renderings)))
}

/// `event` rendered and framed by `plan`: two plans that render it alike render every event
/// alike (the formatters are pure functions of the event and their settings).
fn sample_render(plan: &DestinationPlan, event: &AuditEvent) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    plan.framing
        .write_frame(plan.formatter.as_ref(), event, &mut out)
        .map(|()| out)
        .map_err(|e| e.to_string())
}

/// A short name of what a connector sends, for messages.
pub(crate) fn kind(c: &ConnectorPlan) -> &'static str {
    match c {
        ConnectorPlan::File(_) => "file lines",
        ConnectorPlan::SyslogTcp(_)
        | ConnectorPlan::SyslogUdp(_)
        | ConnectorPlan::SyslogTls(_)
        | ConnectorPlan::Relp(_) => "syslog messages",
        ConnectorPlan::Hec(_) => "HEC event envelopes",
        ConnectorPlan::QRadarHttp(_) => "QRadar HTTP Receiver events",
        ConnectorPlan::LogsIngestion(_) => "Logs Ingestion records",
        ConnectorPlan::DataCollector(_) => "Data Collector records",
        ConnectorPlan::EventHubs(_) => "Event Hubs events",
    }
}

/// The platform's block as written (`path` is `siem.<platform>` or
/// `siem.platforms.<platform>`).
fn raw_block(cfg: &Config, path: &str) -> Option<yaml::Mapping> {
    let mut value = cfg.file.siem.as_ref()?;
    for segment in path.split('.').skip(1) {
        value = value.as_mapping()?.get(segment)?;
    }
    value.as_mapping().cloned()
}
