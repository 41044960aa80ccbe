//! Gatekit's own diagnostic log.
//!
//! Stdout belongs to the MCP protocol, so logs go to stderr or to `logging.file_path`. The
//! `GATEKIT_LOG` environment variable (tracing filter syntax, e.g. `gatekit_mcp=debug` or
//! `info,gatekit_delivery=debug`) overrides the configured level. `logging.format: json`
//! writes one JSON object per line (timestamp, level, fields with `message`, target), for
//! log shippers; any other value (Python's format strings) keeps the plain text lines. The log
//! file rotates by size (`logging.max_file_size_mb`, `logging.backup_count`;
//! [`crate::log_file`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::log_file::RotatingFile;
use gatekit_config::model::{LogHandler, LogLevel, LoggingConfig};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber for `cfg`'s `logging` section (`logging.file_path` resolved
/// against the configuration file's directory); `verbose` forces debug level.
pub fn init_for(cfg: &gatekit_config::Config, verbose: bool) {
    let file = cfg
        .file
        .logging
        .file_path
        .as_deref()
        .map(|p| cfg.resolve_path(p));
    init(Some(&cfg.file.logging), file, verbose);
}

/// Installs the global subscriber. `file` is `logging.file_path` resolved against the config
/// directory; `verbose` forces debug level.
fn init(config: Option<&LoggingConfig>, file: Option<PathBuf>, verbose: bool) {
    let level = match config.map(|c| c.level) {
        _ if verbose => "debug",
        Some(LogLevel::Debug) => "debug",
        Some(LogLevel::Info) | None => "info",
        Some(LogLevel::Warning) => "warn",
        Some(LogLevel::Error) | Some(LogLevel::Critical) => "error",
    };
    let filter = EnvFilter::try_from_env("GATEKIT_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let json = config.is_some_and(|c| c.format.as_deref().map(str::trim) == Some("json"));
    let wants_file = config.is_some_and(|c| c.handlers.contains(&LogHandler::File));
    let rotation = config.map_or((0, 0), |c| {
        (
            c.max_file_size_mb.saturating_mul(1024 * 1024),
            c.backup_count,
        )
    });
    let file = file
        .filter(|_| wants_file)
        .and_then(|path| open_log_file(&path, rotation));
    let writer = match file {
        Some(file) => tracing_subscriber::fmt::writer::BoxMakeWriter::new(Mutex::new(file)),
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let _ = if json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(writer)
            .try_init()
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_ansi(false)
            .with_writer(writer)
            .try_init()
    };
}

/// The log file, rotating at `max_bytes` with `backups` old files (`logging.max_file_size_mb`,
/// `logging.backup_count`).
fn open_log_file(path: &Path, (max_bytes, backups): (u64, u32)) -> Option<RotatingFile> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match RotatingFile::open(path, max_bytes, backups) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!(
                "gatekit: cannot open log file {}: {e}; logging to stderr",
                path.display()
            );
            None
        }
    }
}
