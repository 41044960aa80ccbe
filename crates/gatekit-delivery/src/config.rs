//! Delivery configuration: the serde shape users write, and the typed settings it validates into.
//!
//! Job: accept the requirements' delivery keys (`buffer_size`, `flush_interval`, `batch_size`,
//! `batch_timeout`, `retry_attempts`, `retry_backoff`) plus the extra knobs this crate needs,
//! reject unknown keys, and turn everything into [`DeliverySettings`] once, at load.
//!
//! Invariants:
//! - Every struct has `deny_unknown_fields`; every default is a named function documented on
//!   the field.
//! - Durations are written in seconds (integers or decimals, as in the requirements) and
//!   validated into `Duration`; counts that must be positive become `NonZero*`.
//! - Validation errors name the full key path (`<prefix>.batch_size`), so the config loader
//!   can report the path the user wrote.

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A configuration value that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{key}`: {reason}")]
pub struct ConfigError {
    /// Full key path, for example `siem.platforms.splunk.delivery.batch_size`.
    pub key: String,
    /// What is wrong with the value.
    pub reason: String,
}

/// What a full queue does with the next record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowPolicy {
    /// Discard the oldest queued record (the requirements' default); counted and reported.
    #[default]
    DropOldest,
    /// Discard the record being submitted; counted and reported.
    DropNewest,
    /// Make the producer wait for room. Stalls MCP traffic while the SIEM is down: opt-in only.
    Block,
    /// Refuse the record with an error, so the gateway refuses the tool call (compliance mode).
    FailClosed,
}

/// How partial batches are formed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchMode {
    /// Send whatever is available as soon as no batch is in flight; batches fill up (to
    /// `batch_size` / `batch_max_bytes`) while the previous one is in flight. A lone event in
    /// quiet traffic leaves at once; under load batches grow by themselves (decision 0207).
    #[default]
    Adaptive,
    /// Hold a partial batch until `min(batch_timeout, flush_interval)` has passed since its
    /// first event (fewer, fuller batches at moderate rates; a lone event waits).
    Fixed,
}

/// When the disk buffer calls `fsync`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncMode {
    /// After every append (slowest, survives power loss record by record).
    Always,
    /// At most every `fsync_interval_ms` (default): survives process crashes fully and power
    /// loss up to the interval.
    #[default]
    Interval,
    /// Never; the OS decides. Survives process crashes, not power loss.
    Never,
}

/// The `delivery` block of one destination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Memory queue capacity in events (requirements: `buffer_size`, default 1000).
    #[serde(default = "default_buffer_size")]
    pub buffer_size: usize,
    /// Memory queue capacity in bytes (default 16 MiB).
    #[serde(default = "default_buffer_max_bytes")]
    pub buffer_max_bytes: usize,
    /// Seconds: upper bound before anything buffered is sent; a partial batch goes after
    /// `min(batch_timeout, flush_interval)` (requirements: `flush_interval`, default 30).
    /// Disk fsync timing is `disk.fsync_interval_ms`.
    #[serde(default = "default_flush_interval")]
    pub flush_interval: f64,
    /// Maximum events per batch (requirements: `batch_size`, default 100).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Maximum bytes per batch (default 1 MiB, Azure Logs Ingestion's request limit).
    #[serde(default = "default_batch_max_bytes")]
    pub batch_max_bytes: usize,
    /// Seconds a partial batch may wait for more events (default 1: the requirements ask for
    /// batch delivery under one second).
    #[serde(default = "default_batch_timeout")]
    pub batch_timeout: f64,
    /// How partial batches are formed (default `adaptive`: no waiting when the destination
    /// is idle; `fixed`: wait for `batch_timeout`).
    #[serde(default)]
    pub batch_mode: BatchMode,
    /// Retries after the first failed round before a batch is dead-lettered
    /// (requirements: `retry_attempts`, default 3).
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
    /// Backoff multiplier between retries (requirements: `retry_backoff`, default 2.0).
    #[serde(default = "default_retry_backoff")]
    pub retry_backoff: f64,
    /// Seconds: backoff ceiling before the first retry (default 1).
    #[serde(default = "default_retry_initial_delay")]
    pub retry_initial_delay: f64,
    /// Seconds: cap on any computed backoff (default 30).
    #[serde(default = "default_retry_max_delay")]
    pub retry_max_delay: f64,
    /// Seconds: cap on a server's `Retry-After` (default 300).
    #[serde(default = "default_retry_after_max")]
    pub retry_after_max: f64,
    /// Overflow policy (default `drop_oldest`).
    #[serde(default)]
    pub overflow: OverflowPolicy,
    /// Optional disk buffer; absent means memory only.
    #[serde(default)]
    pub disk: Option<DiskConfig>,
    /// Where records that cannot be delivered are written. Defaults to
    /// `<disk.path>/dead-letter.jsonl`; required when there is no disk buffer.
    #[serde(default)]
    pub dead_letter_path: Option<PathBuf>,
    /// Per-endpoint circuit breaker.
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Optional rate limit applied before the transport.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// Seconds the shutdown flush may take before the rest is persisted (default 5).
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: f64,
    /// Seconds one send to one endpoint may take before it counts as a retryable failure
    /// (default 30). Bounds a hung connection that the transport itself never times out.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: f64,
    /// Seconds: records older than this (by enqueue time) when their turn comes are written
    /// to the dead-letter file with the reason instead of being sent, and counted in
    /// `expired`. Absent (the default): no age limit.
    #[serde(default)]
    pub max_event_age: Option<f64>,
}

/// The `delivery.disk` block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskConfig {
    /// Directory owned exclusively by this destination's buffer.
    pub path: PathBuf,
    /// Size cap for all segment files together (default 1 GiB).
    #[serde(default = "default_disk_max_bytes")]
    pub max_bytes: u64,
    /// Size at which a segment file is closed and a new one started (default 8 MiB).
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
    /// Fsync mode (default `interval`).
    #[serde(default)]
    pub fsync: FsyncMode,
    /// Milliseconds between fsyncs in `interval` mode (default 100).
    #[serde(default = "default_fsync_interval_ms")]
    pub fsync_interval_ms: u64,
}

/// The `delivery.breaker` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the breaker (default 5).
    #[serde(default = "default_breaker_threshold")]
    pub failure_threshold: u32,
    /// Seconds the breaker stays open before one probe is allowed (default 15).
    #[serde(default = "default_breaker_open_for")]
    pub open_for: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: default_breaker_threshold(),
            open_for: default_breaker_open_for(),
        }
    }
}

/// The `delivery.rate_limit` block. Either limit may be omitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Events per second sent to the destination.
    #[serde(default)]
    pub events_per_sec: Option<f64>,
    /// Payload bytes per second sent to the destination.
    #[serde(default)]
    pub bytes_per_sec: Option<f64>,
}

fn default_buffer_size() -> usize {
    1000
}
fn default_buffer_max_bytes() -> usize {
    16 << 20
}
fn default_flush_interval() -> f64 {
    30.0
}
fn default_batch_size() -> usize {
    100
}
fn default_batch_max_bytes() -> usize {
    1 << 20
}
fn default_batch_timeout() -> f64 {
    1.0
}
fn default_retry_attempts() -> u32 {
    3
}
fn default_retry_backoff() -> f64 {
    2.0
}
fn default_retry_initial_delay() -> f64 {
    1.0
}
fn default_retry_max_delay() -> f64 {
    30.0
}
fn default_retry_after_max() -> f64 {
    300.0
}
fn default_shutdown_timeout() -> f64 {
    5.0
}
fn default_request_timeout() -> f64 {
    30.0
}
fn default_disk_max_bytes() -> u64 {
    1 << 30
}
fn default_segment_bytes() -> u64 {
    8 << 20
}
fn default_fsync_interval_ms() -> u64 {
    100
}
fn default_breaker_threshold() -> u32 {
    5
}
fn default_breaker_open_for() -> f64 {
    15.0
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            buffer_size: default_buffer_size(),
            buffer_max_bytes: default_buffer_max_bytes(),
            flush_interval: default_flush_interval(),
            batch_size: default_batch_size(),
            batch_max_bytes: default_batch_max_bytes(),
            batch_timeout: default_batch_timeout(),
            batch_mode: BatchMode::default(),
            retry_attempts: default_retry_attempts(),
            retry_backoff: default_retry_backoff(),
            retry_initial_delay: default_retry_initial_delay(),
            retry_max_delay: default_retry_max_delay(),
            retry_after_max: default_retry_after_max(),
            overflow: OverflowPolicy::default(),
            disk: None,
            dead_letter_path: None,
            breaker: BreakerConfig::default(),
            rate_limit: None,
            shutdown_timeout: default_shutdown_timeout(),
            request_timeout: default_request_timeout(),
            max_event_age: None,
        }
    }
}

/// Validated delivery settings for one destination.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliverySettings {
    /// Memory queue capacity in events.
    pub queue_events: NonZeroUsize,
    /// Memory queue capacity in bytes.
    pub queue_bytes: NonZeroUsize,
    /// Upper bound before buffered data is sent.
    pub flush_interval: Duration,
    /// Batch limits.
    pub batch: BatchSettings,
    /// Retry policy.
    pub retry: RetrySettings,
    /// Overflow policy.
    pub overflow: OverflowPolicy,
    /// Disk buffer, if any.
    pub disk: Option<DiskSettings>,
    /// Dead-letter file.
    pub dead_letter_path: PathBuf,
    /// Breaker settings, one breaker per endpoint.
    pub breaker: BreakerSettings,
    /// Rate limit, if any.
    pub rate: Option<RateSettings>,
    /// Shutdown flush deadline.
    pub shutdown_timeout: Duration,
    /// Longest wait for one endpoint's answer to one send.
    pub request_timeout: Duration,
    /// Records older than this are dead-lettered instead of sent; `None`: no limit.
    pub max_event_age: Option<Duration>,
}

/// Batch limits: a batch is sent when any of them is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Maximum events per batch.
    pub max_events: NonZeroUsize,
    /// Maximum bytes per batch (a single larger record still forms a batch of one).
    pub max_bytes: NonZeroUsize,
    /// Longest wait for a partial batch.
    pub timeout: Duration,
    /// `Adaptive`: a partial batch never waits while nothing is in flight.
    pub mode: BatchMode,
}

/// Retry policy: exponential backoff with full jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetrySettings {
    /// Retries after the first failed round.
    pub attempts: u32,
    /// Multiplier per retry (>= 1).
    pub multiplier: f64,
    /// Backoff ceiling before the first retry.
    pub initial: Duration,
    /// Cap on computed backoff.
    pub max: Duration,
    /// Cap on honoured `Retry-After`.
    pub retry_after_max: Duration,
}

/// Validated disk buffer settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskSettings {
    /// Buffer directory.
    pub path: PathBuf,
    /// Cap on all segment files together.
    pub max_bytes: u64,
    /// Segment rotation size.
    pub segment_bytes: u64,
    /// When to fsync.
    pub fsync: FsyncPolicy,
}

/// Typed fsync policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every append.
    Always,
    /// At most this often.
    Every(Duration),
    /// Never.
    Never,
}

/// Validated breaker settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: NonZeroU32,
    /// How long it stays open before one probe.
    pub open_for: Duration,
}

/// Validated rate limits (per second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateSettings {
    /// Events per second.
    pub events_per_sec: Option<f64>,
    /// Bytes per second.
    pub bytes_per_sec: Option<f64>,
}

fn err(prefix: &str, key: &str, reason: impl Into<String>) -> ConfigError {
    let key = if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    };
    ConfigError {
        key,
        reason: reason.into(),
    }
}

/// Longest accepted duration (one year). The worker adds durations to `Instant`s, which
/// panics on overflow; a year is far beyond any useful setting and far from overflowing.
const MAX_SECS: f64 = 365.0 * 24.0 * 3600.0;

fn secs(prefix: &str, key: &str, v: f64, allow_zero: bool) -> Result<Duration, ConfigError> {
    if v > MAX_SECS {
        return Err(err(
            prefix,
            key,
            format!("must be at most {MAX_SECS} seconds (one year), got {v}"),
        ));
    }
    if !v.is_finite() || v < 0.0 || (!allow_zero && v == 0.0) {
        let want = if allow_zero { ">= 0" } else { "> 0" };
        return Err(err(
            prefix,
            key,
            format!("must be a number of seconds {want}, got {v}"),
        ));
    }
    Duration::try_from_secs_f64(v).map_err(|e| err(prefix, key, e.to_string()))
}

fn nonzero(prefix: &str, key: &str, v: usize) -> Result<NonZeroUsize, ConfigError> {
    NonZeroUsize::new(v).ok_or_else(|| err(prefix, key, "must be greater than 0"))
}

fn rate(prefix: &str, key: &str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(r) if !r.is_finite() || r <= 0.0 => Err(err(
            prefix,
            key,
            format!("must be a positive number, got {r}"),
        )),
        other => Ok(other),
    }
}

impl DeliveryConfig {
    /// Validates into typed settings. `prefix` is the key path of this block, used in errors
    /// (for example `siem.platforms.splunk.delivery`); pass `""` for bare keys.
    pub fn validate(&self, prefix: &str) -> Result<DeliverySettings, ConfigError> {
        if !self.retry_backoff.is_finite() || self.retry_backoff < 1.0 {
            return Err(err(
                prefix,
                "retry_backoff",
                format!("must be >= 1.0, got {}", self.retry_backoff),
            ));
        }
        let initial = secs(
            prefix,
            "retry_initial_delay",
            self.retry_initial_delay,
            true,
        )?;
        let max = secs(prefix, "retry_max_delay", self.retry_max_delay, true)?;
        if max < initial {
            return Err(err(
                prefix,
                "retry_max_delay",
                "must be >= retry_initial_delay",
            ));
        }
        let disk = match &self.disk {
            None => None,
            Some(d) => Some(d.validate(&join(prefix, "disk"))?),
        };
        let dead_letter_path = match (&self.dead_letter_path, &disk) {
            (Some(p), _) => p.clone(),
            (None, Some(d)) => d.path.join("dead-letter.jsonl"),
            (None, None) => {
                return Err(err(
                    prefix,
                    "dead_letter_path",
                    "is required when there is no disk buffer",
                ));
            }
        };
        let rate = match &self.rate_limit {
            None => None,
            Some(r) => {
                let p = join(prefix, "rate_limit");
                Some(RateSettings {
                    events_per_sec: rate(&p, "events_per_sec", r.events_per_sec)?,
                    bytes_per_sec: rate(&p, "bytes_per_sec", r.bytes_per_sec)?,
                })
            }
        };
        let bp = join(prefix, "breaker");
        Ok(DeliverySettings {
            queue_events: nonzero(prefix, "buffer_size", self.buffer_size)?,
            queue_bytes: nonzero(prefix, "buffer_max_bytes", self.buffer_max_bytes)?,
            flush_interval: secs(prefix, "flush_interval", self.flush_interval, false)?,
            batch: BatchSettings {
                max_events: nonzero(prefix, "batch_size", self.batch_size)?,
                max_bytes: nonzero(prefix, "batch_max_bytes", self.batch_max_bytes)?,
                timeout: secs(prefix, "batch_timeout", self.batch_timeout, true)?,
                mode: self.batch_mode,
            },
            retry: RetrySettings {
                attempts: self.retry_attempts,
                multiplier: self.retry_backoff,
                initial,
                max,
                retry_after_max: secs(prefix, "retry_after_max", self.retry_after_max, true)?,
            },
            overflow: self.overflow,
            disk,
            dead_letter_path,
            breaker: BreakerSettings {
                failure_threshold: NonZeroU32::new(self.breaker.failure_threshold)
                    .ok_or_else(|| err(&bp, "failure_threshold", "must be greater than 0"))?,
                open_for: secs(&bp, "open_for", self.breaker.open_for, false)?,
            },
            rate,
            shutdown_timeout: secs(prefix, "shutdown_timeout", self.shutdown_timeout, true)?,
            request_timeout: secs(prefix, "request_timeout", self.request_timeout, false)?,
            max_event_age: match self.max_event_age {
                None => None,
                Some(v) => Some(secs(prefix, "max_event_age", v, false)?),
            },
        })
    }
}

impl DiskConfig {
    fn validate(&self, prefix: &str) -> Result<DiskSettings, ConfigError> {
        if self.path.as_os_str().is_empty() {
            return Err(err(prefix, "path", "must not be empty"));
        }
        if self.segment_bytes < 4096 {
            return Err(err(prefix, "segment_bytes", "must be at least 4096"));
        }
        if self.max_bytes < self.segment_bytes.saturating_mul(2) {
            return Err(err(
                prefix,
                "max_bytes",
                "must be at least twice segment_bytes",
            ));
        }
        let fsync = match self.fsync {
            FsyncMode::Always => FsyncPolicy::Always,
            FsyncMode::Never => FsyncPolicy::Never,
            FsyncMode::Interval => {
                if self.fsync_interval_ms == 0 {
                    return Err(err(
                        prefix,
                        "fsync_interval_ms",
                        "must be greater than 0 (use fsync: always)",
                    ));
                }
                // Also the worker's timer period; see `MAX_SECS`.
                if self.fsync_interval_ms as f64 > MAX_SECS * 1000.0 {
                    return Err(err(
                        prefix,
                        "fsync_interval_ms",
                        "must be at most one year (use fsync: never)",
                    ));
                }
                FsyncPolicy::Every(Duration::from_millis(self.fsync_interval_ms))
            }
        };
        Ok(DiskSettings {
            path: self.path.clone(),
            max_bytes: self.max_bytes,
            segment_bytes: self.segment_bytes,
            fsync,
        })
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<DeliveryConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn requirements_keys_are_accepted_with_defaults() {
        let c = parse(r#"{"batch_size":100,"batch_timeout":30,"retry_attempts":3,"retry_backoff":2.0,"buffer_size":1000,"flush_interval":30,"dead_letter_path":"/tmp/dl"}"#).unwrap();
        let s = c.validate("siem.delivery").unwrap();
        assert_eq!(s.batch.max_events.get(), 100);
        assert_eq!(s.batch.timeout, Duration::from_secs(30));
        assert_eq!(s.retry.attempts, 3);
        assert_eq!(s.overflow, OverflowPolicy::DropOldest);
        assert_eq!(s.queue_events.get(), 1000);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = parse(r#"{"batch_sise":1}"#).unwrap_err();
        assert!(e.to_string().contains("batch_sise"), "{e}");
        let e = parse(r#"{"disk":{"path":"/x","fsync":"sometimes"}}"#).unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
    }

    #[test]
    fn errors_name_the_key_path() {
        let mut c = DeliveryConfig {
            dead_letter_path: Some("/tmp/dl".into()),
            ..DeliveryConfig::default()
        };
        c.batch_size = 0;
        let e = c.validate("siem.splunk.delivery").unwrap_err();
        assert_eq!(e.key, "siem.splunk.delivery.batch_size");
        c.batch_size = 10;
        c.retry_backoff = 0.5;
        assert_eq!(c.validate("p").unwrap_err().key, "p.retry_backoff");
        c.retry_backoff = 2.0;
        c.breaker.open_for = f64::NAN;
        assert_eq!(c.validate("p").unwrap_err().key, "p.breaker.open_for");
        c.breaker.open_for = 1.0;
        c.dead_letter_path = None;
        assert_eq!(c.validate("p").unwrap_err().key, "p.dead_letter_path");
    }

    #[test]
    fn durations_too_large_for_an_instant_are_rejected() {
        let base = DeliveryConfig {
            dead_letter_path: Some("/tmp/dl".into()),
            ..DeliveryConfig::default()
        };
        let huge = 1e15;
        type Set = fn(&mut DeliveryConfig, f64);
        let cases: [(&str, Set); 10] = [
            ("p.max_event_age", |c, v| c.max_event_age = Some(v)),
            ("p.flush_interval", |c, v| c.flush_interval = v),
            ("p.batch_timeout", |c, v| c.batch_timeout = v),
            ("p.retry_initial_delay", |c, v| c.retry_initial_delay = v),
            ("p.retry_max_delay", |c, v| c.retry_max_delay = v),
            ("p.retry_after_max", |c, v| c.retry_after_max = v),
            ("p.shutdown_timeout", |c, v| c.shutdown_timeout = v),
            ("p.request_timeout", |c, v| c.request_timeout = v),
            ("p.breaker.open_for", |c, v| c.breaker.open_for = v),
            ("p.disk.fsync_interval_ms", |c, v| {
                c.disk = Some(DiskConfig {
                    path: "/x".into(),
                    max_bytes: 1 << 30,
                    segment_bytes: 8 << 20,
                    fsync: FsyncMode::Interval,
                    fsync_interval_ms: v as u64,
                })
            }),
        ];
        for (key, set) in cases {
            let mut c = base.clone();
            set(&mut c, huge);
            assert_eq!(c.validate("p").unwrap_err().key, key);
        }
        let mut c = base;
        c.retry_max_delay = 3600.0;
        c.request_timeout = 3600.0;
        assert!(c.validate("p").is_ok(), "an hour is fine");
    }

    #[test]
    fn disk_defaults_dead_letter_path_and_fsync() {
        let c = parse(r#"{"disk":{"path":"/var/lib/gk/splunk"}}"#).unwrap();
        let s = c.validate("").unwrap();
        assert_eq!(
            s.dead_letter_path,
            PathBuf::from("/var/lib/gk/splunk/dead-letter.jsonl")
        );
        let d = s.disk.unwrap();
        assert_eq!(d.fsync, FsyncPolicy::Every(Duration::from_millis(100)));
        let c = parse(r#"{"disk":{"path":"/x","segment_bytes":4096,"max_bytes":4096}}"#).unwrap();
        assert_eq!(c.validate("").unwrap_err().key, "disk.max_bytes");
    }
}
