//! Building, observing and stopping the delivery pipeline of one destination.
//!
//! Job: the public entry point the connector layer uses. [`Pipeline::spawn`] opens (and
//! recovers) the disk buffer, starts the destination's worker task and returns a handle with
//! a cloneable [`Producer`], the metrics, and a graceful [`Pipeline::shutdown`].
//!
//! Invariants:
//! - One worker task per pipeline; pipelines share nothing, so one destination never stalls
//!   another.
//! - `spawn` must be called inside a Tokio runtime; `spawn_on` takes a runtime handle. Segment
//!   writes happen on the worker's thread (page-cache copies); interval fsyncs and ack-file
//!   writes run on the blocking pool. `fsync: always` fsyncs on the worker's thread, so with it
//!   use `spawn_on` with a runtime dedicated to delivery.
//! - After `shutdown` starts, producers get `SubmitError::Closed`.

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::backpressure::Backpressure;
use crate::config::DeliverySettings;
use crate::dead_letter::DeadLetter;
use crate::disk::{DiskBuffer, DiskError, FileSystem, RecoveryReport, StdFs};
use crate::failover::{Deliverer, Policies};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::producer::{Producer, Shared};
use crate::queue::MemQueue;
use crate::rate::RateLimiter;
use crate::transport::Transport;
use crate::worker::{ShutdownReport, Worker};

/// Why a pipeline could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// No transports were given.
    #[error("destination {0} has no endpoints")]
    NoEndpoints(String),
    /// The disk buffer could not be opened.
    #[error("cannot open the disk buffer of {destination}")]
    Disk {
        /// Destination name.
        destination: String,
        /// The cause.
        #[source]
        source: DiskError,
    },
}

/// A running delivery pipeline for one destination.
#[derive(Debug)]
pub struct Pipeline {
    producer: Producer,
    metrics: Arc<Metrics>,
    shared: Arc<Shared>,
    shutdown: watch::Sender<Option<Instant>>,
    task: JoinHandle<ShutdownReport>,
    recovery: Option<RecoveryReport>,
    timeout: std::time::Duration,
    /// The primary endpoint's [`Transport::prepare`], stopped at shutdown if still running.
    preparing: JoinHandle<()>,
}

impl Pipeline {
    /// Starts a pipeline named `destination` delivering to `transports` in failover order.
    pub fn spawn(
        destination: &str,
        settings: DeliverySettings,
        transports: Vec<Arc<dyn Transport>>,
    ) -> Result<Self, PipelineError> {
        Self::spawn_with_fs(destination, settings, transports, Arc::new(StdFs))
    }

    /// Like [`Pipeline::spawn`], running the worker on `runtime` instead of the current one.
    ///
    /// The gateway uses this to keep delivery on its own runtime (for example a small
    /// multi-threaded one), so disk writes and fsyncs can never delay MCP traffic even when
    /// the gateway itself runs a single-threaded runtime.
    pub fn spawn_on(
        runtime: &tokio::runtime::Handle,
        destination: &str,
        settings: DeliverySettings,
        transports: Vec<Arc<dyn Transport>>,
    ) -> Result<Self, PipelineError> {
        let _guard = runtime.enter();
        Self::spawn_with_fs(destination, settings, transports, Arc::new(StdFs))
    }

    /// Like [`Pipeline::spawn`] with an injected file system for the disk buffer (tests).
    pub fn spawn_with_fs(
        destination: &str,
        settings: DeliverySettings,
        transports: Vec<Arc<dyn Transport>>,
        fs: Arc<dyn FileSystem>,
    ) -> Result<Self, PipelineError> {
        if transports.is_empty() {
            return Err(PipelineError::NoEndpoints(destination.to_owned()));
        }
        let names = transports.iter().map(|t| t.name().to_owned()).collect();
        let metrics = Arc::new(Metrics::new(destination, names));
        let (disk, recovery) = match &settings.disk {
            Some(d) => {
                let (buf, report) =
                    DiskBuffer::open_with(d.clone(), fs).map_err(|source| PipelineError::Disk {
                        destination: destination.to_owned(),
                        source,
                    })?;
                if report.events > 0 || report.corrupt_regions > 0 {
                    tracing::info!(
                        destination,
                        events = report.events,
                        corrupt = report.corrupt_regions,
                        "Disk buffer recovered a backlog."
                    );
                }
                if report.unreadable_segments > 0 {
                    tracing::error!(
                        destination,
                        segments = report.unreadable_segments,
                        "Disk buffer segments could not be read and were skipped; see the metric unreadable_lost_estimate."
                    );
                }
                if !report.losses.is_empty() || report.ack_refused {
                    tracing::error!(
                        destination,
                        damaged = report.losses.len(),
                        lost_records = report.lost_records(),
                        lost_bytes = report.lost_bytes(),
                        ack_refused = report.ack_refused,
                        "Disk buffer recovery could not recover everything; see Pipeline::recovery()."
                    );
                }
                metrics
                    .redelivered_after_restart
                    .store(report.events, Relaxed);
                // Published before the worker runs: a caller that checks whether the
                // pipeline is drained right after spawning must see the backlog (an adopted
                // directory was once removed as "drained" before its worker looked at it).
                metrics
                    .disk_events
                    .store(buf.stats().unread_events.max(report.events), Relaxed);
                metrics
                    .recovery_losses
                    .store(report.losses.len() as u64, Relaxed);
                metrics
                    .recovery_lost_records
                    .store(report.lost_records(), Relaxed);
                metrics
                    .recovery_lost_bytes
                    .store(report.lost_bytes(), Relaxed);
                metrics
                    .ack_refused
                    .store(u64::from(report.ack_refused), Relaxed);
                (Some(buf), Some(report))
            }
            None => (None, None),
        };
        let pressure = Arc::new(Backpressure::default());
        let shared = Arc::new(Shared {
            queue: Mutex::new(MemQueue::new(
                settings.queue_events.get(),
                settings.queue_bytes.get(),
            )),
            policy: settings.overflow,
            work: Notify::new(),
            space: Notify::new(),
            closed: Default::default(),
            metrics: Arc::clone(&metrics),
            batch_events: settings.batch.max_events.get(),
            pressure: Arc::clone(&pressure),
            accepted: Default::default(),
            settled: Default::default(),
            spills: settings.disk.is_some(),
        });
        let dead_letter = DeadLetter::new(settings.dead_letter_path.clone(), destination);
        dead_letter.check_private(settings.disk.as_ref().map(|d| d.path.as_path()));
        // The primary endpoint opens its connection now rather than on the first event
        // (decision 0211): a TLS handshake and its rejection probe would otherwise be paid by
        // the first event of a quiet gateway.
        let primary = Arc::clone(&transports[0]);
        let deliverer = Deliverer::new(
            transports,
            Policies {
                breaker: settings.breaker,
                retry: settings.retry,
                request_timeout: settings.request_timeout,
                rate: settings.rate.map(RateLimiter::new),
                max_age: settings.max_event_age,
            },
            dead_letter,
            Arc::clone(&metrics),
            pressure,
        );
        let (tx, rx) = watch::channel(None);
        let timeout = settings.shutdown_timeout;
        let worker = Worker {
            shared: Arc::clone(&shared),
            settings,
            deliverer,
            disk,
            shutdown: rx,
            disk_retry_at: None,
            read_retry_at: None,
            jobs: Default::default(),
        };
        let task = tokio::spawn(worker.run());
        let preparing = tokio::spawn(async move { primary.prepare().await });
        Ok(Self {
            preparing,
            producer: Producer::new(Arc::clone(&shared), destination),
            metrics,
            shared,
            shutdown: tx,
            task,
            recovery,
            timeout,
        })
    }

    /// A handle for submitting records; clone it freely.
    pub fn producer(&self) -> Producer {
        self.producer.clone()
    }

    /// Live metrics (read with [`Metrics::snapshot`]).
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Whether the primary endpoint's [`Transport::prepare`] has finished (it opened its
    /// connection, or failed and left that to the first batch). A load test waits for this
    /// so that it measures delivery, not the start.
    pub fn prepared(&self) -> bool {
        self.preparing.is_finished()
    }

    /// A snapshot of the metrics now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// What the disk buffer found at startup (`None` without a disk buffer): the backlog,
    /// and every place where records could not be recovered (`RecoveryReport::losses`,
    /// each with segment, offset, bytes and, when knowable, records), whether the ack file
    /// was refused, and modes tightened. The gateway reports the losses as `system_event`s.
    pub fn recovery(&self) -> Option<RecoveryReport> {
        self.recovery.clone()
    }

    /// Stops accepting records, flushes for up to the configured `shutdown_timeout`, then
    /// persists the rest to the disk buffer (or counts it as lost without one).
    pub async fn shutdown(self) -> ShutdownReport {
        let timeout = self.timeout;
        self.shutdown_within(timeout).await
    }

    /// Like [`Pipeline::shutdown`] with an explicit flush deadline.
    pub async fn shutdown_within(self, timeout: std::time::Duration) -> ShutdownReport {
        self.preparing.abort();
        self.shared.closed.store(true, Relaxed);
        self.shared.space.notify_waiters();
        let _ = self
            .shutdown
            .send(Some(crate::instant_after(Instant::now(), timeout)));
        self.shared.work.notify_one();
        match self.task.await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "Delivery worker failed.");
                let lost = self.metrics.snapshot().queue_events;
                ShutdownReport {
                    lost,
                    ..ShutdownReport::default()
                }
            }
        }
    }
}

/// Convenience: the default dead-letter path inside a directory.
pub fn default_dead_letter_path(dir: &Path) -> std::path::PathBuf {
    dir.join("dead-letter.jsonl")
}
