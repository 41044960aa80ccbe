//! Options of the audit handlers, as Python Gatekit 0.3 wrote them, plus Gatekit's rotation
//! and fsync keys. Unknown keys are errors.

use serde::Deserialize;

use crate::line_file::Fsync;

fn default_max_body_size() -> usize {
    10240
}

fn default_max_file_size_mb() -> u64 {
    10
}

fn default_backup_count() -> u32 {
    5
}

fn default_fsync() -> Fsync {
    Fsync::Interval
}

/// Options every audit file has.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOptions {
    /// Output file, relative to the config file; `~` and `${VAR}` are expanded.
    pub output_file: Option<String>,
    /// Rotate at this size (MB); 0 never rotates.
    #[serde(default = "default_max_file_size_mb")]
    pub max_file_size_mb: u64,
    /// Rotated files kept.
    #[serde(default = "default_backup_count")]
    pub backup_count: u32,
    /// `never`, `interval` (default: once per second) or `always`.
    #[serde(default = "default_fsync")]
    pub fsync: Fsync,
}

/// `audit_jsonl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlOptions {
    /// File options.
    pub output_file: Option<String>,
    /// Include post-plugin request params.
    #[serde(default)]
    pub include_request_body: bool,
    /// Include post-plugin results.
    #[serde(default)]
    pub include_response_body: bool,
    /// Include notification params.
    #[serde(default)]
    pub include_notification_body: bool,
    /// Largest body kept, in bytes (0 = no limit).
    #[serde(default = "default_max_body_size")]
    pub max_body_size: usize,
    /// Rotation size (MB).
    #[serde(default = "default_max_file_size_mb")]
    pub max_file_size_mb: u64,
    /// Rotated files kept.
    #[serde(default = "default_backup_count")]
    pub backup_count: u32,
    /// Sync policy.
    #[serde(default = "default_fsync")]
    pub fsync: Fsync,
    /// Link every line to the previous one with a SHA-256 hash chain, so `gatekit audit
    /// verify` finds a changed, removed or reordered line (Gatekit addition; default off).
    #[serde(default)]
    pub hash_chain: bool,
}

/// `audit_csv`'s `csv_config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvConfig {
    /// `,`, `\t`, `;` or `|`.
    #[serde(default = "comma")]
    pub delimiter: String,
    /// Quote character.
    #[serde(default = "double_quote")]
    pub quote_char: String,
    /// `minimal`, `all`, `nonnumeric` or `none`.
    #[serde(default = "minimal")]
    pub quote_style: String,
    /// Escape character for `quote_style: none`.
    #[serde(default)]
    pub escape_char: Option<String>,
    /// Text written for missing values.
    #[serde(default)]
    pub null_value: String,
}

fn comma() -> String {
    ",".into()
}

fn double_quote() -> String {
    "\"".into()
}

fn minimal() -> String {
    "minimal".into()
}

impl Default for CsvConfig {
    fn default() -> Self {
        CsvConfig {
            delimiter: comma(),
            quote_char: double_quote(),
            quote_style: minimal(),
            escape_char: None,
            null_value: String::new(),
        }
    }
}

/// `audit_csv`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    /// Output file.
    pub output_file: Option<String>,
    /// CSV dialect.
    #[serde(default)]
    pub csv_config: CsvConfig,
    /// Rotation size (MB).
    #[serde(default = "default_max_file_size_mb")]
    pub max_file_size_mb: u64,
    /// Rotated files kept.
    #[serde(default = "default_backup_count")]
    pub backup_count: u32,
    /// Sync policy.
    #[serde(default = "default_fsync")]
    pub fsync: Fsync,
}
