//! From the `siem` configuration to destinations: the requirements' `splunk`, `qradar` and
//! `azure_sentinel` blocks mapped onto connectors, each with its formatter, framing and
//! delivery settings.
//!
//! Every destination's formatter sits behind its data minimisation ([`minimise`]): by
//! default a SIEM receives tool parameter names, not values, and the secrets and PII
//! detectors redact what else is sent.
//!
//! Platform defaults follow the platforms (docs/reference/platform-facts.md): Splunk `sc4s` is
//! CEF in RFC 5424 over TLS with LF framing; QRadar takes LEEF 2.0 in RFC 5424; the file
//! connectors write one JSON object (or CEF line) per line; HEC, the HTTP Receiver and the Azure
//! APIs take their own bodies. A configuration that could not deliver (an unknown transport, a
//! missing endpoint, QRadar's search API as a target) is an error at load that says so; a
//! configuration that delivers with less protection than it could (certificate verification
//! off, plain `http://`, a credential in plain text, a retired API) is a [`Warning`], returned
//! as a value ([`Warnings`]) so `gatekit check` prints every one that `gatekit run` would
//! log.

use gatekit_config::{yaml, Config, ConfigError};
use gatekit_delivery::{DeliveryConfig, DeliverySettings};
use gatekit_format::{Formatter, Framing};

use crate::config::SiemConfig;
use crate::connector::ConnectorPlan;

mod failover;
pub mod minimise;
pub mod mixed;
mod qradar;
mod sentinel;
pub mod size;
mod splunk;

pub use crate::checks::Warnings;

/// One enabled platform, ready to build.
pub struct DestinationPlan {
    /// `splunk`, `qradar` or `azure_sentinel`.
    pub platform: &'static str,
    /// Renders one event.
    pub formatter: Box<dyn Formatter>,
    /// Frames one event on the wire.
    pub framing: Framing,
    /// Where it goes.
    pub connector: ConnectorPlan,
    /// Queue, batching, retry, disk buffer.
    pub delivery: DeliverySettings,
    /// Whether a full queue refuses tool calls (`overflow: fail_closed`).
    pub fail_closed: bool,
    /// Alternative endpoints, tried in order after `connector` (the `failover` list); they
    /// receive the same rendered records (`failover.rs`), unless `rerender` is set.
    pub failover: Vec<ConnectorPlan>,
    /// The whole-event size limit the formatter keeps (`max_event_bytes`, [`size`]); set
    /// when the plan is completed, 0 before. For a mixed platform, the limit of the
    /// canonical record ([`mixed`]); each endpoint's own is in `rerender`.
    pub max_event_bytes: usize,
    /// Set when the endpoints need different renderings (a mixed platform, [`mixed`],
    /// decision 0624): `formatter` then stores the minimised canonical JSON, and each
    /// endpoint (primary first, then `failover` in order) renders it at send time.
    pub rerender: Option<std::sync::Arc<crate::rerender::Renderings>>,
}

impl DestinationPlan {
    /// How many endpoints: the primary and the `failover` entries.
    pub fn endpoints(&self) -> usize {
        1 + self.failover.len()
    }

    /// `event` exactly as endpoint `i` (0 the primary, then the `failover` entries) receives
    /// it: the record the render thread stores, then, for a mixed platform, that endpoint's
    /// rendering of it, and for a `file` entry of a single-rendering platform the line
    /// feed its transport adds (`gatekit siem sample --config`, `gatekit siem test`).
    pub fn render_for(
        &self,
        i: usize,
        event: &gatekit_core::AuditEvent,
    ) -> Result<Vec<u8>, String> {
        let mut record = Vec::new();
        self.framing
            .write_frame(self.formatter.as_ref(), event, &mut record)
            .map_err(|e| e.to_string())?;
        if let Some(r) = &self.rerender {
            return r.render(i, &record).map_err(|e| e.to_string());
        }
        let file_entry = i > 0 && matches!(self.failover.get(i - 1), Some(ConnectorPlan::File(_)));
        if file_entry && !record.ends_with(b"\n") {
            record.push(b'\n');
        }
        Ok(record)
    }

    /// The connector of endpoint `i` (0 the primary).
    pub fn endpoint_connector(&self, i: usize) -> Option<&ConnectorPlan> {
        match i {
            0 => Some(&self.connector),
            n => self.failover.get(n - 1),
        }
    }
}

impl std::fmt::Debug for DestinationPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationPlan")
            .field("platform", &self.platform)
            .field("framing", &self.framing)
            .field("connector", &self.connector)
            .field("failover", &self.failover)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("rerender", &self.rerender)
            .finish_non_exhaustive()
    }
}

/// Parses and checks the `siem` section; `None` when there is none or it is disabled.
pub fn parse(cfg: &Config) -> Result<Option<SiemConfig>, ConfigError> {
    let Some(value) = cfg.file.siem.clone() else {
        return Ok(None);
    };
    let siem: SiemConfig = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ConfigError::at(
            &cfg.source,
            format!("siem.{path}").trim_end_matches('.'),
            e.into_inner().to_string(),
        )
    })?;
    Ok(siem.enabled.then_some(siem))
}

/// The delivery settings of one platform: its `delivery` block over the global defaults.
pub(crate) fn delivery(
    cfg: &Config,
    siem: &SiemConfig,
    block: Option<&yaml::Mapping>,
    platform: &str,
    path: &str,
) -> Result<(DeliverySettings, bool), ConfigError> {
    delivery_with(cfg, siem, block, platform, path, &[])
}

/// [`delivery`] with defaults of the transport (for example HEC's request size) that the
/// platform's own `delivery` block can override.
pub(crate) fn delivery_with(
    cfg: &Config,
    siem: &SiemConfig,
    block: Option<&yaml::Mapping>,
    platform: &str,
    path: &str,
    transport_defaults: &[(&str, yaml::Value)],
) -> Result<(DeliverySettings, bool), ConfigError> {
    let mut map = block.cloned().unwrap_or_default();
    for (key, value) in transport_defaults {
        map.entry(yaml::Value::from(*key))
            .or_insert_with(|| value.clone());
    }
    let mut default = |key: &str, value: Option<yaml::Value>| {
        if let Some(v) = value {
            map.entry(yaml::Value::from(key)).or_insert(v);
        }
    };
    default(
        "buffer_size",
        siem.buffer_size.map(|v| yaml::Value::from(v as u64)),
    );
    default("flush_interval", siem.flush_interval.map(yaml::Value::from));
    default("retry_attempts", siem.retry_attempts.map(yaml::Value::from));
    default("retry_backoff", siem.retry_backoff.map(yaml::Value::from));
    // Dead letters need a home even without a disk buffer: next to the configuration.
    let dead_letter = cfg.resolve_path(&format!("logs/siem-{platform}-dead-letter.jsonl"));
    default(
        "dead_letter_path",
        Some(yaml::Value::from(dead_letter.display().to_string())),
    );
    let config: DeliveryConfig = serde_path_to_error::deserialize(yaml::Value::Mapping(map))
        .map_err(|e| {
            ConfigError::at(
                &cfg.source,
                format!("{path}.delivery.{}", e.path()),
                e.into_inner().to_string(),
            )
        })?;
    let fail_closed = config.overflow == gatekit_delivery::OverflowPolicy::FailClosed;
    let mut settings = config
        .validate(&format!("{path}.delivery"))
        .map_err(|e| ConfigError::at(&cfg.source, e.key, e.reason))?;
    // Relative paths are relative to the configuration file, like every other path in it
    // (they used to be relative to whatever directory the MCP client started Gatekit in).
    if let Some(disk) = settings.disk.as_mut() {
        disk.path = cfg.resolve_path(&disk.path.display().to_string());
    }
    settings.dead_letter_path = cfg.resolve_path(&settings.dead_letter_path.display().to_string());
    Ok((settings, fail_closed))
}

/// A platform configured directly (`siem.<key>`) or under `siem.platforms.<key>`, with the
/// path it was found at; both at once is an error.
fn locate<'a, T>(
    src: &str,
    direct: &'a Option<T>,
    nested: &'a Option<T>,
    key: &str,
    label: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<(&'a T, String)> {
    match (direct, nested) {
        (Some(_), Some(_)) => {
            errors.push(ConfigError::at(
                src,
                format!("siem.{key}"),
                format!("configure {label} either here or under siem.platforms.{key}, not both"),
            ));
            None
        }
        (Some(t), None) => Some((t, format!("siem.{key}"))),
        (None, Some(t)) => Some((t, format!("siem.platforms.{key}"))),
        (None, None) => None,
    }
}

/// One platform block planned in full: its primary connector, its `failover` entries
/// (through the same planner), then data minimisation and the size limit (per endpoint for a
/// platform whose endpoints render differently, [`mixed`]).
#[allow(
    clippy::too_many_arguments,
    reason = "the pieces of one platform block, passed as they are"
)]
fn plan_block<T: serde::de::DeserializeOwned>(
    cfg: &Config,
    siem: &SiemConfig,
    block: &T,
    path: &str,
    planner: failover::Planner<T>,
    failover_entries: &[yaml::Mapping],
    policy: (Option<&crate::config::DataMinimization>, Option<usize>),
    warnings: &mut Warnings,
) -> Result<DestinationPlan, ConfigError> {
    let primary = planner(cfg, siem, block, path, warnings)?;
    match failover::attach(
        cfg,
        siem,
        failover_entries,
        path,
        primary,
        planner,
        warnings,
    )? {
        (p, None) => minimised(cfg, siem, policy, path, p, warnings),
        (p, Some(entries)) => mixed::plan(cfg, siem, policy, path, p, entries, warnings),
    }
}

/// `plan` with its formatter behind the destination's size limit (`max_event_bytes`, else
/// the transport's default, [`size`]) and, around that, the platform's data minimisation
/// (its own `data_minimization` block, else `siem.data_minimization`, else the default:
/// parameter names only, detectors on). The order matters: the size limit shortens the
/// event as minimisation left it, so redaction always sees whole values.
fn minimised(
    cfg: &Config,
    siem: &SiemConfig,
    (own, max_event_bytes): (Option<&crate::config::DataMinimization>, Option<usize>),
    path: &str,
    mut plan: DestinationPlan,
    warnings: &mut Warnings,
) -> Result<DestinationPlan, ConfigError> {
    let src = cfg.source.as_str();
    let limit = size::limit(src, path, plan.platform, &plan.connector, max_event_bytes)?;
    plan.max_event_bytes = limit;
    let limited = size::wrap(src, path, plan.formatter, limit)?;
    let block = minimise::block(own, siem.data_minimization.as_ref());
    let block_path = if own.is_some() { path } else { "siem" };
    plan.formatter = minimise::wrap(cfg, &block, siem.hash_chain, block_path, limited, warnings)?;
    Ok(plan)
}

/// Every enabled platform that plans as a destination plan, and the errors of the others;
/// warnings are added to `warnings`.
pub fn plan(
    cfg: &Config,
    siem: &SiemConfig,
    warnings: &mut Warnings,
) -> (Vec<DestinationPlan>, Vec<ConfigError>) {
    let src = cfg.source.as_str();
    let mut plans = Vec::new();
    let mut errors = Vec::new();

    let splunk = locate(
        src,
        &siem.splunk,
        &siem.platforms.splunk,
        "splunk",
        "Splunk",
        &mut errors,
    )
    .filter(|(s, _)| s.enabled)
    .map(|(s, path)| {
        let planned = plan_block(
            cfg,
            siem,
            s,
            &path,
            splunk::plan,
            &s.failover,
            (s.data_minimization.as_ref(), s.max_event_bytes),
            warnings,
        );
        (s.priority, planned)
    });
    let qradar = locate(
        src,
        &siem.qradar,
        &siem.platforms.qradar,
        "qradar",
        "QRadar",
        &mut errors,
    )
    .filter(|(q, _)| q.enabled)
    .map(|(q, path)| {
        let planned = plan_block(
            cfg,
            siem,
            q,
            &path,
            qradar::plan,
            &q.failover,
            (q.data_minimization.as_ref(), q.max_event_bytes),
            warnings,
        );
        (q.priority, planned)
    });
    let sentinel_block = &siem.platforms.azure_sentinel;
    let sentinel = locate(
        src,
        &siem.azure_sentinel,
        sentinel_block,
        "azure_sentinel",
        "Sentinel",
        &mut errors,
    )
    .filter(|(s, _)| s.enabled)
    .map(|(s, path)| {
        let planned = plan_block(
            cfg,
            siem,
            s,
            &path,
            sentinel::plan,
            &s.failover,
            (s.data_minimization.as_ref(), s.max_event_bytes),
            warnings,
        );
        (s.priority, planned)
    });
    // `priority` orders the destinations, lower first, unset ones last (decision 0620); the
    // sort is stable, so equal priorities keep the order splunk, qradar, azure_sentinel.
    let mut planned: Vec<_> = [splunk, qradar, sentinel].into_iter().flatten().collect();
    planned.sort_by_key(|(priority, _)| priority.unwrap_or(u32::MAX));
    for (_, planned) in planned {
        match planned {
            Ok(p) => plans.push(p),
            Err(e) => errors.push(e),
        }
    }

    (plans, errors)
}
