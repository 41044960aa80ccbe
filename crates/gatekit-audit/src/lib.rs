//! Gatekit's local audit trail: the `audit_jsonl`, `audit_csv` and `audit_human_readable`
//! handlers of Python Gatekit, with the defects its users hit fixed:
//!
//! * every JSONL line is valid JSON whatever the tool arguments contain;
//! * a write failure is never silent: a critical destination refuses calls (-32005) until it
//!   can write again, a non-critical one counts what it lost;
//! * records carry event id, session, sequence, host, versions and client identity;
//! * content a security plugin blocked is never written; redacted content is written redacted;
//! * an entry under an upstream's name audits that upstream only and replaces, for it, the
//!   `_global` entry of the same handler (Python Gatekit's resolution).
//!
//! * [`line_file`]: whole-line appends, rotation, fsync policy.
//! * [`render`]: gateway records → JSONL objects, CSV rows, human-readable lines.
//! * [`csv`]: CSV dialects.
//! * [`token_usage`]: the `token_usage` handler (token estimates, CSV, shared state file).
//! * [`trail`]: the destinations as the gateway's audit sink.

pub mod csv;
pub mod line_file;
pub mod options;
pub mod render;
pub mod token_usage;
pub mod trail;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use gatekit_config::{Config, ConfigError, ConfigErrors};
use gatekit_plugins::settings::{parse_options, split_framework};

use crate::line_file::{LineFile, LineFileSettings};
use crate::options::{CsvOptions, FileOptions, JsonlOptions};
use crate::render::{BodyPolicy, CSV_COLUMNS};
use crate::token_usage::{TokenUsage, TokenUsageOptions};
use crate::trail::{AuditTrail, Destination, Meter, Render, Scope};

pub use trail::AuditTrail as Trail;

/// Audit handlers this crate provides.
pub const HANDLERS: &[&str] = &[
    "audit_jsonl",
    "audit_csv",
    "audit_human_readable",
    "token_usage",
];

/// Builds the audit trail from the `plugins.auditing` section; `None` when nothing audits.
/// Files are opened here, so a path that cannot be written is a start-up error.
pub fn build(cfg: &Config) -> Result<Option<Arc<AuditTrail>>, ConfigErrors> {
    build_with(cfg, true)
}

/// Checks the audit options without creating any file (for `gatekit check`).
pub fn validate(cfg: &Config) -> Result<(), ConfigErrors> {
    build_with(cfg, false).map(|_| ())
}

fn build_with(cfg: &Config, open: bool) -> Result<Option<Arc<AuditTrail>>, ConfigErrors> {
    let mut errors = Vec::new();
    let mut destinations = Vec::new();
    let mut meters = Vec::new();
    let auditing = &cfg.file.plugins.auditing;
    // Python Gatekit's resolution: an upstream's entry replaces the global entry of the same
    // handler for that upstream, even when the upstream's entry is disabled (so a global
    // audit file can be switched off for one upstream).
    let replaced_for = |handler: &str| -> BTreeSet<String> {
        auditing
            .iter()
            .filter(|(scope, entries)| {
                *scope != "_global" && entries.iter().any(|e| e.handler == handler)
            })
            .map(|(scope, _)| scope.clone())
            .collect()
    };
    for (scope, entries) in auditing {
        for (i, entry) in entries.iter().enumerate() {
            if !HANDLERS.contains(&entry.handler.as_str()) {
                continue;
            }
            let path = format!("plugins.auditing.{scope}[{i}].config");
            let scope = if scope == "_global" {
                let except = replaced_for(&entry.handler);
                if except.is_empty() {
                    Scope::Global
                } else {
                    Scope::GlobalExcept(except)
                }
            } else {
                Scope::Upstream(scope.clone())
            };
            if entry.handler == "token_usage" {
                match meter(cfg, &entry.config, &path, open) {
                    Ok(Some((usage, critical))) => meters.push(Meter {
                        usage,
                        scope,
                        critical,
                    }),
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
                continue;
            }
            match destination(cfg, &entry.handler, &entry.config, &path, open) {
                Ok(Some(d)) => destinations.push(d.scoped(scope)),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    if destinations.is_empty() && meters.is_empty() {
        return Ok(None);
    }
    Ok(Some(Arc::new(
        AuditTrail::new(destinations).with_meters(meters),
    )))
}

/// A `token_usage` entry (not critical unless it says so, as in Python Gatekit).
fn meter(
    cfg: &Config,
    config: &gatekit_config::yaml::Mapping,
    path: &str,
    open: bool,
) -> Result<Option<(Arc<TokenUsage>, bool)>, ConfigError> {
    let (framework, rest) = split_framework(config, false, &cfg.source, path)?;
    if !framework.enabled {
        return Ok(None);
    }
    let o: TokenUsageOptions = parse_options(rest, &cfg.source, path)?;
    let interval = o
        .check()
        .map_err(|e| ConfigError::at(&cfg.source, format!("{path}.flush_interval_seconds"), e))?;
    let csv = output_path(cfg, &o.output_file)
        .map_err(|e| ConfigError::at(&cfg.source, format!("{path}.output_file"), e))?;
    let state = output_path(cfg, &o.state_file)
        .map_err(|e| ConfigError::at(&cfg.source, format!("{path}.state_file"), e))?;
    if !open {
        return Ok(None);
    }
    let usage = TokenUsage::start(csv, state, interval)
        .map_err(|e| ConfigError::at(&cfg.source, path, e))?;
    Ok(Some((usage, framework.critical)))
}

fn destination(
    cfg: &Config,
    handler: &str,
    config: &gatekit_config::yaml::Mapping,
    path: &str,
    open: bool,
) -> Result<Option<Destination>, ConfigError> {
    let (framework, rest) = split_framework(config, true, &cfg.source, path)?;
    if !framework.enabled {
        return Ok(None);
    }
    let mut hash_chain = false;
    let (handler, render, file, default_name) = match handler {
        "audit_jsonl" => {
            let o: JsonlOptions = parse_options(rest, &cfg.source, path)?;
            hash_chain = o.hash_chain;
            let bodies = BodyPolicy {
                request: o.include_request_body,
                response: o.include_response_body,
                notification: o.include_notification_body,
                max_size: o.max_body_size,
            };
            let file = FileOptions {
                output_file: o.output_file,
                max_file_size_mb: o.max_file_size_mb,
                backup_count: o.backup_count,
                fsync: o.fsync,
            };
            (
                "audit_jsonl",
                Render::Jsonl(bodies),
                file,
                "logs/gatekit_audit.jsonl",
            )
        }
        "audit_csv" => {
            let o: CsvOptions = parse_options(rest, &cfg.source, path)?;
            let dialect = csv::Dialect::new(&o.csv_config)
                .map_err(|e| ConfigError::at(&cfg.source, format!("{path}.csv_config"), e))?;
            let file = FileOptions {
                output_file: o.output_file,
                max_file_size_mb: o.max_file_size_mb,
                backup_count: o.backup_count,
                fsync: o.fsync,
            };
            (
                "audit_csv",
                Render::Csv(dialect),
                file,
                "logs/gatekit_audit.csv",
            )
        }
        _ => {
            let o: FileOptions = parse_options(rest, &cfg.source, path)?;
            (
                "audit_human_readable",
                Render::Human,
                o,
                "logs/gatekit_audit.log",
            )
        }
    };
    let file_path = output_path(cfg, file.output_file.as_deref().unwrap_or(default_name))
        .map_err(|e| ConfigError::at(&cfg.source, format!("{path}.output_file"), e))?;
    let header = match &render {
        Render::Csv(dialect) => Some(dialect.row(&CSV_COLUMNS.map(Some)).into_bytes()),
        _ => None,
    };
    if !open {
        return Ok(None);
    }
    let settings = LineFileSettings {
        path: file_path.clone(),
        max_bytes: file.max_file_size_mb * 1024 * 1024,
        backups: file.backup_count,
        fsync: file.fsync,
        header,
    };
    let line_file = LineFile::open(settings).map_err(|e| {
        ConfigError::at(
            &cfg.source,
            format!("{path}.output_file"),
            format!("cannot open {}: {e}", file_path.display()),
        )
    })?;
    let destination = Destination::new(handler, render, line_file, framework.critical);
    Ok(Some(if hash_chain {
        destination.with_hash_chain()
    } else {
        destination
    }))
}

/// Expands `~` and `${VAR}`, then resolves against the config file's directory.
fn output_path(cfg: &Config, raw: &str) -> Result<PathBuf, String> {
    let expanded = gatekit_config::expand::expand(raw, |name| std::env::var(name).ok())?;
    let expanded = match expanded.strip_prefix("~/") {
        Some(rest) => match std::env::var("HOME") {
            Ok(home) => format!("{home}/{rest}"),
            Err(_) => return Err("`~` used but HOME is not set".into()),
        },
        None => expanded,
    };
    Ok(cfg.resolve_path(&expanded))
}

/// This machine's host name, as every audit record and SIEM event reports it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
