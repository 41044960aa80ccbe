//! The file connector: one line per event appended to a local file, for a Splunk Universal
//! Forwarder or the Azure Monitor Agent to pick up (Splunk's `file` and Sentinel's
//! `log_analytics_agent` transports). Its block, its plan ([`FileSettings`]) and its
//! transport ([`FileTransport`]).

pub mod transport;

use gatekit_config::Config;
use serde::Deserialize;

pub use transport::{FileSettings, FileTransport};

/// A local file destination (Splunk Universal Forwarder, Azure Monitor Agent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEndpoint {
    /// The file; relative to the configuration file.
    pub path: String,
    /// Rotate when the file reaches this size (MiB; default 100; 0: never).
    #[serde(default = "default_file_max_mb")]
    pub max_size_mb: u64,
    /// Rotate when the file is this old (hours; default 24; 0: never).
    #[serde(default = "default_file_max_age_hours")]
    pub max_age_hours: f64,
    /// Rotated files kept (`path.1` ... `path.N`; default 5).
    #[serde(default = "default_file_backups")]
    pub backup_count: u32,
}

fn default_file_max_mb() -> u64 {
    100
}

fn default_file_max_age_hours() -> f64 {
    24.0
}

fn default_file_backups() -> u32 {
    5
}

impl FileEndpoint {
    /// The transport settings, the path resolved against the configuration file.
    pub fn settings(&self, cfg: &Config) -> FileSettings {
        FileSettings {
            path: cfg.resolve_path(&self.path),
            max_bytes: self.max_size_mb.saturating_mul(1024 * 1024),
            max_age: (self.max_age_hours.is_finite() && self.max_age_hours > 0.0)
                .then(|| std::time::Duration::from_secs_f64(self.max_age_hours * 3600.0)),
            backups: self.backup_count,
        }
    }
}
