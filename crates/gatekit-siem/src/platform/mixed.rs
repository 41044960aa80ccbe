//! Planning a *mixed* platform: one whose `failover` endpoints need different renderings
//! (HEC envelopes, then syslog lines for SC4S, then a file; decision 0624).
//!
//! Job: turn the primary's and every entry's own formatter and framing into
//! [`Renderings`] (each behind its endpoint's own size limit), and give the destination the
//! formatter the render thread uses for such a platform: the platform's data minimisation
//! around canonical JSON ([`gatekit_format::JsonFormatter`]), so what is queued, buffered,
//! spooled and dead-lettered is the minimised canonical event. `crate::rerender` renders it
//! per endpoint at send time.
//!
//! Invariants:
//! - The data minimisation runs once, before the record is stored; the size limits run per
//!   endpoint, after it (as for a single rendering: redaction always sees whole values).
//! - Size limits: a configured `max_event_bytes` applies to every endpoint and is checked
//!   against each endpoint's hard cap (a UDP datagram, an Azure request), the error naming the
//!   entry; without it each endpoint takes its own receiver's default.
//! - The canonical record is itself kept within [`CANONICAL_MIN_BYTES`] (or the largest
//!   endpoint limit, if larger), shortened the documented way and marked `truncated`, so a
//!   record in the queue or on disk stays bounded like a rendered one.
//! - The disk buffer of a mixed platform lives in [`CANONICAL_DIR`] under `disk.path`, so a
//!   process never adopts (and sends raw) a backlog whose records are of the other kind after
//!   the configuration changed.
//! - Every endpoint renders the sample events through the whole path (canonical, parsed,
//!   rendered) at load, or the platform is refused with the endpoint's path and line.

use std::sync::Arc;

use gatekit_config::{Config, ConfigError};
use gatekit_format::{Framing, JsonFormatter};

use super::failover::{kind, EntryRenderings};
use super::{minimise, size, DestinationPlan, Warnings};
use crate::config::{DataMinimization, SiemConfig};
use crate::rerender::{EndpointRendering, Renderings};

/// The smallest limit of a mixed platform's canonical record: 1 MiB, past every default
/// endpoint limit (the Data Collector's 1 MiB is the largest), so only events far too long
/// for any receiver are shortened before they are stored.
pub const CANONICAL_MIN_BYTES: usize = 1 << 20;

/// The subdirectory of `disk.path` where a mixed platform buffers.
pub const CANONICAL_DIR: &str = "canonical";

/// `plan` (primary and failover connectors planned, formatters not yet minimised) planned for
/// rendering per endpoint; `entries` are the failover entries' own formatters and framings.
pub(crate) fn plan(
    cfg: &Config,
    siem: &SiemConfig,
    (own, max_event_bytes): (Option<&DataMinimization>, Option<usize>),
    path: &str,
    mut plan: DestinationPlan,
    entries: EntryRenderings,
    warnings: &mut Warnings,
) -> Result<DestinationPlan, ConfigError> {
    let src = cfg.source.as_str();
    let primary = std::mem::replace(&mut plan.formatter, Box::new(JsonFormatter));
    let renderings = std::iter::once((primary, plan.framing)).chain(entries);
    let connectors = std::iter::once(&plan.connector).chain(plan.failover.iter());
    let mut endpoints = Vec::with_capacity(plan.failover.len() + 1);
    for (i, ((formatter, framing), connector)) in renderings.zip(connectors).enumerate() {
        let limit =
            size::limit(src, path, plan.platform, connector, max_event_bytes).map_err(|e| {
                ConfigError::at(
                    src,
                    e.path,
                    format!(
                        "{} (the limit applies to every endpoint; {} sends {})",
                        e.message,
                        endpoint_path(path, i),
                        kind(connector)
                    ),
                )
            })?;
        endpoints.push(EndpointRendering {
            formatter: size::wrap(src, path, formatter, limit)?,
            framing,
            max_event_bytes: limit,
        });
    }
    let largest = endpoints.iter().map(|e| e.max_event_bytes).max();
    let cap = largest.unwrap_or(0).max(CANONICAL_MIN_BYTES);
    let canonical = size::wrap(src, path, Box::new(JsonFormatter), cap)?;
    let block = minimise::block(own, siem.data_minimization.as_ref());
    let block_path = if own.is_some() { path } else { "siem" };
    plan.formatter = minimise::wrap(
        cfg,
        &block,
        siem.hash_chain,
        block_path,
        canonical,
        warnings,
    )?;
    plan.framing = Framing::None;
    plan.max_event_bytes = cap;
    if let Some(disk) = plan.delivery.disk.as_mut() {
        disk.path = disk.path.join(CANONICAL_DIR);
    }
    let renderings = Arc::new(Renderings::new(endpoints));
    check(src, path, &plan, &renderings)?;
    plan.rerender = Some(renderings);
    Ok(plan)
}

/// The configuration path of endpoint `i` (0 the primary).
fn endpoint_path(path: &str, i: usize) -> String {
    match i {
        0 => path.to_owned(),
        n => format!("{path}.failover[{}]", n - 1),
    }
}

/// Every sample event through the whole path to every endpoint: stored as the render thread
/// stores it, then rendered as the endpoint's transport renders it.
fn check(
    src: &str,
    path: &str,
    plan: &DestinationPlan,
    renderings: &Renderings,
) -> Result<(), ConfigError> {
    for event in gatekit_format::sample_events() {
        let mut record = Vec::new();
        plan.framing
            .write_frame(plan.formatter.as_ref(), &event, &mut record)
            .map_err(|e| {
                ConfigError::at(
                    src,
                    path,
                    format!("cannot render the canonical record of a sample event: {e}"),
                )
            })?;
        for i in 0..renderings.len() {
            renderings.render(i, &record).map_err(|e| {
                ConfigError::at(
                    src,
                    format!("{}.transport", endpoint_path(path, i)),
                    format!("this endpoint cannot render a sample event: {e}"),
                )
            })?;
        }
    }
    Ok(())
}
