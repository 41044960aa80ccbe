//! The `siem.spool` block: committed mode (Gatekit addition).
//!
//! Default: on when any destination has a disk buffer (`delivery.disk`) or `path` is given;
//! the spool then lives in `spool/` under the first disk buffer's path. `enabled: false` keeps
//! the memory-only intake, where a killed gateway loses the events not yet handed to a
//! destination's disk buffer (and shutdown losses are counted).

use std::path::PathBuf;
use std::time::Duration;

use gatekit_config::ConfigError;
use gatekit_delivery::config::FsyncPolicy;
use gatekit_delivery::FsyncMode;
use serde::Deserialize;

use crate::platform::DestinationPlan;
use crate::spool::SpoolSettings;

/// Default cap on one process's spool.
const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Smallest spool cap accepted (two 1 MiB segments... and room to rotate).
const MIN_MAX_BYTES: u64 = 4 << 20;

/// `siem.spool`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// On or off; unset: on when `path` is set or any destination has a disk buffer.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Directory of every process's spool (default: `spool/` under the first destination's
    /// disk buffer path).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Cap on one process's spool in bytes (default 1 GiB).
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// `always`, `interval` or `never` (default: the first disk buffer's, else `interval`).
    #[serde(default)]
    pub fsync: Option<FsyncMode>,
    /// Milliseconds between fsyncs under `interval` (default: the disk buffer's, else 100).
    #[serde(default)]
    pub fsync_interval_ms: Option<u64>,
}

/// The spool settings `siem.spool` and the plans give, or `None` for the memory-only intake.
pub(crate) fn resolve(
    cfg: &gatekit_config::Config,
    block: Option<&SpoolConfig>,
    plans: &[DestinationPlan],
) -> Result<Option<SpoolSettings>, ConfigError> {
    let block = block.cloned().unwrap_or_default();
    let err = |key: &str, message: String| {
        ConfigError::at(&cfg.source, format!("siem.spool.{key}"), message)
    };
    let disk = plans.iter().find_map(|p| p.delivery.disk.as_ref());
    let enabled = block
        .enabled
        .unwrap_or(block.path.is_some() || disk.is_some());
    if !enabled || plans.is_empty() {
        return Ok(None);
    }
    let path = match (&block.path, disk) {
        // Relative to the configuration file, like the disk buffer's path (the disk path below
        // is already resolved).
        (Some(p), _) if p.as_os_str().is_empty() => p.clone(),
        (Some(p), _) => cfg.resolve_path(&p.display().to_string()),
        (None, Some(d)) => d.path.join("spool"),
        (None, None) => {
            return Err(err(
                "path",
                "is required when the spool is enabled and no destination has a disk buffer".into(),
            ))
        }
    };
    if path.as_os_str().is_empty() {
        return Err(err("path", "must not be empty".into()));
    }
    // A disk buffer's adopter takes every `proc-*` directory under its path as a buffer: the
    // spool's own `proc-*` directories must never sit there.
    if let Some(p) = plans
        .iter()
        .find(|p| p.delivery.disk.as_ref().is_some_and(|d| d.path == path))
    {
        return Err(err(
            "path",
            format!("must differ from the disk buffer path of {}", p.platform),
        ));
    }
    let max_bytes = block.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    if max_bytes < MIN_MAX_BYTES {
        return Err(err(
            "max_bytes",
            format!("must be at least {MIN_MAX_BYTES} (4 MiB)"),
        ));
    }
    let fsync = match (block.fsync, block.fsync_interval_ms) {
        (Some(FsyncMode::Always), _) => FsyncPolicy::Always,
        (Some(FsyncMode::Never), _) => FsyncPolicy::Never,
        (Some(FsyncMode::Interval), ms) | (None, ms @ Some(_)) => {
            interval(ms.unwrap_or(100)).map_err(|m| err("fsync_interval_ms", m))?
        }
        (None, None) => disk.map_or(FsyncPolicy::Every(Duration::from_millis(100)), |d| d.fsync),
    };
    Ok(Some(SpoolSettings {
        path,
        max_bytes,
        fsync,
    }))
}

fn interval(ms: u64) -> Result<FsyncPolicy, String> {
    if ms == 0 || ms > 3_600_000 {
        return Err("must be between 1 and 3600000 (use fsync: always or never)".into());
    }
    Ok(FsyncPolicy::Every(Duration::from_millis(ms)))
}
