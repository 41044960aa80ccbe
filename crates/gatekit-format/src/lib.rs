//! Gatekit's SIEM format engine.
//!
//! Job: render the canonical [`gatekit_core::AuditEvent`] into every wire format Gatekit's
//! SIEM connectors send: CEF:0 ([`CefFormatter`]), LEEF 1.0/2.0 ([`LeefFormatter`]),
//! canonical JSON ([`JsonFormatter`]), key=value pairs for plain syslog ([`KeyValueFormatter`]), the Splunk HEC envelope ([`HecFormatter`]), the
//! Sentinel Logs Ingestion record ([`SentinelFormatter`], schema [`SENTINEL_COLUMNS`]),
//! syslog RFC 5424 / RFC 3164 headers around any of these ([`Syslog5424Formatter`],
//! [`Syslog3164Formatter`]), stream framing ([`Framing`]) and per-destination data
//! minimisation ([`DataPolicy`], [`Minimised`]) and the whole-event size limit ([`SizeLimited`]).
//!
//! Layers: `Formatter` (body) → optional syslog header → `Framing` → transport (not here).
//!
//! Invariants: pure and synchronous (no tokio, no I/O, no clock reads); every formatter
//! appends one event and never writes a raw CR or LF inside it; settings are validated
//! once, at construction. Field mappings and sanitisation rules: `docs/formats.md`.
//!
//! ```
//! use gatekit_format::{render_samples, FormatKind};
//! let kind: FormatKind = "cef".parse().unwrap();
//! let text = render_samples(kind).unwrap();
//! assert!(text.starts_with(b"CEF:0|Gatekit|"));
//! ```

mod cef;
mod error;
mod formatter;
mod framing;
mod json;
mod jsonw;
mod kv;
mod leef;
mod policy;
mod registry;
mod samples;
mod sentinel;
mod size;
mod syslog;
mod text;

pub use cef::{
    escape_extension_value as cef_escape_extension_value, escape_header as cef_escape_header,
    event_name as cef_event_name, signature_id as cef_signature_id, CefFormatter, CefSettings,
};
pub use error::FormatError;
pub use formatter::Formatter;
pub use framing::Framing;
pub use json::{HecField, HecFormatter, HecSettings, JsonFormatter};
pub use kv::{escape_kv_value, KeyValueFormatter, KV_PARAMETERS_MAX, KV_TEXT_MAX};
pub use leef::{
    parse_delimiter as leef_parse_delimiter, sanitize_header as leef_sanitize_header,
    sanitize_value as leef_sanitize_value, LeefFormatter, LeefSettings, LeefTimeFormat,
    LeefVersion,
};
pub use policy::{DataPolicy, Field, FnRedactor, Minimised, Redactor};
pub use registry::{render_lines, render_samples, FormatKind};
pub use samples::sample_events;
pub use sentinel::{
    write_batch as sentinel_write_batch, Column, ColumnType, SentinelFormatter, SENTINEL_COLUMNS,
    SENTINEL_STREAM, SENTINEL_TABLE,
};
pub use size::{SizeLimited, MIN_EVENT_BYTES, PARAMETERS_TRUNCATED_KEY};
pub use syslog::{
    escape_sd_value, SeverityMap, Syslog3164Formatter, Syslog5424Formatter, SyslogSettings,
};
pub use text::{truncate, TRUNCATION_MARKER};
