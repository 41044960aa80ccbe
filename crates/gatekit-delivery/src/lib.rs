//! Gatekit's delivery core: moves opaque, already-encoded records to destinations with
//! at-least-once delivery.
//!
//! This crate knows nothing about formats or SIEM platforms. A connector encodes events into
//! [`Record`]s, implements [`Transport`] for its wire protocol, and starts one [`Pipeline`]
//! per destination. The pipeline gives it:
//!
//! - a cheap cloneable [`Producer`] whose `submit` never waits on the SIEM (except under the
//!   explicit `block` policy; `fail_closed` returns an error instead);
//! - a bounded memory queue and an optional crash-safe [`disk`] buffer;
//! - batching by count, bytes and time; retry with exponential backoff and full jitter;
//!   splitting of too-large batches; a dead-letter file for what cannot be delivered;
//! - a circuit breaker per endpoint with ordered failover and failback;
//! - rate limiting; graceful shutdown; per-destination [`Metrics`].
//!
//! The promise (docs/reference/targets.md §3): every record handed to `submit` is delivered, still
//! buffered, dead-lettered with a reason, or counted as dropped by the configured overflow
//! policy. Never silently lost. See `docs/delivery.md`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use gatekit_delivery::{DeliveryConfig, Pipeline, Record, RecordId, Transport};
//! # async fn demo(hec: Arc<dyn Transport>, syslog: Arc<dyn Transport>) -> Result<(), Box<dyn std::error::Error>> {
//! let settings = DeliveryConfig { dead_letter_path: Some("/var/lib/gatekit/dl.jsonl".into()), ..Default::default() }
//!     .validate("siem.platforms.splunk.delivery")?;
//! let pipeline = Pipeline::spawn("splunk", settings, vec![hec, syslog])?;
//! let producer = pipeline.producer();
//! producer.submit(Record::new(RecordId(1), b"CEF:0|...".to_vec())).await?;
//! println!("{:?}", pipeline.snapshot());
//! let report = pipeline.shutdown().await;
//! # let _ = report; Ok(()) }
//! ```

mod backpressure;
mod batch;
pub mod breaker;
pub mod config;
pub mod dead_letter;
pub mod disk;
mod disk_jobs;
mod failover;
pub mod metrics;
mod pipeline;
pub mod private;
mod producer;
mod queue;
pub mod rate;
pub mod record;
pub mod retry;
mod settlement;
pub mod transport;
mod worker;

pub use config::{
    BatchMode, BatchSettings, BreakerConfig, BreakerSettings, ConfigError, DeliveryConfig,
    DeliverySettings, DiskConfig, DiskSettings, FsyncMode, FsyncPolicy, OverflowPolicy,
    RateLimitConfig, RateSettings, RetrySettings,
};
pub use disk::{dir_owner_alive, process_start_time};
pub use metrics::{BreakerState, DropReason, Metrics, MetricsSnapshot};
pub use pipeline::{default_dead_letter_path, Pipeline, PipelineError};
pub use producer::{Producer, SubmitError, Submitted, Ticket};
pub use record::{Record, RecordId};
pub use transport::{BatchOutcome, PrepareFuture, SendFuture, Transport};
pub use worker::ShutdownReport;

/// `now + d`, saturating at a far-future instant: `Instant + Duration` panics on overflow,
/// and the settings structs are public, so a caller can hand in any duration (validation
/// caps the configured ones at a year).
pub(crate) fn instant_after(
    now: tokio::time::Instant,
    d: std::time::Duration,
) -> tokio::time::Instant {
    const FAR: std::time::Duration = std::time::Duration::from_secs(30 * 365 * 86_400);
    now.checked_add(d)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}
