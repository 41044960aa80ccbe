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
//! - One rendering per platform: every endpoint receives the records the platform renders
//!   for its primary transport. An entry whose own rendering would differ (HEC envelopes
//!   versus syslog lines, a different syslog header or framing) is refused at load, since
//!   its receiver would get records it cannot parse; a `file` entry is the exception (it
//!   stores the platform's records as lines, whatever they are, see `switchover.rs`).
//! - Keys that decide the rendering or the delivery (`format`, `delivery`,
//!   `data_minimization`, `dsm`, `schema`, `enabled`, `priority`) belong to the platform and
//!   are refused inside an entry.

use gatekit_config::{yaml, Config, ConfigError};
use gatekit_core::{AuditEvent, EventFactory, EventType, Severity};
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

/// Plans every entry of `entries` (found at `path.failover`) and adds its connector to
/// `primary.failover`, in order. `primary` is the platform's plan before data minimisation.
pub(crate) fn attach<T: DeserializeOwned>(
    cfg: &Config,
    siem: &SiemConfig,
    entries: &[yaml::Mapping],
    path: &str,
    mut primary: DestinationPlan,
    planner: Planner<T>,
    warnings: &mut Warnings,
) -> Result<DestinationPlan, ConfigError> {
    if entries.is_empty() {
        return Ok(primary);
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
                        "a failover entry takes only {}; `{name}` is set once for the whole platform (one rendering and one delivery policy per platform)",
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
            return Err(ConfigError::at(
                src,
                format!("{entry_path}.transport"),
                format!(
                    "this endpoint would need a different rendering ({}) from the platform's primary transport ({}); every endpoint of a platform receives the same rendered records, so a failover entry must take the same format and framing (another endpoint of the same kind, or a `file`)",
                    kind(&planned.connector),
                    kind(&primary.connector)
                ),
            ));
        }
        primary.failover.push(planned.connector);
    }
    Ok(primary)
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
fn kind(c: &ConnectorPlan) -> &'static str {
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
