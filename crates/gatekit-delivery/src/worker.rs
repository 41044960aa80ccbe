//! The per-destination worker task: drain, spill, batch, deliver, acknowledge.
//!
//! Job: the only consumer of one destination's memory queue and the only user of its disk
//! buffer and transports. Each destination has its own worker task, so a slow or dead
//! destination only ever delays itself.
//!
//! Flow: producers push into the memory queue. With a disk buffer the worker moves every
//! queued record to disk ("spill", also while a batch is in flight) and reads batches back
//! from disk; without one it takes batches straight from memory. A batch is resolved by the
//! `Deliverer` (delivered or dead-lettered) and only then acknowledged to the disk buffer.
//!
//! Invariants:
//! - One batch in flight at a time; disk acknowledgements therefore cover exactly what was read.
//! - A failed disk read makes the worker leave the disk alone for `DISK_RETRY` (the buffer
//!   gives an unreadable segment up after a few tries): a bad file never spins the worker.
//! - A record too large for the disk format is counted as `too_large_for_buffer` and dropped.
//! - If the disk refuses records (cap under `block`/`fail_closed`, or an I/O error) they go
//!   back to the front of the memory queue, where the overflow policy applies, and the worker
//!   delivers from memory while the disk is unusable: an I/O error never loses records silently.
//! - On shutdown the in-flight batch is abandoned at the deadline: from disk it stays
//!   unacknowledged (re-sent after restart); from memory it is persisted to disk if there is
//!   one, else counted as lost.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::batch::{readiness, Readiness, ADAPTIVE_LINGER};
use crate::config::{DeliverySettings, FsyncPolicy, OverflowPolicy};
use crate::disk::{AppendStop, DiskBuffer, DiskError};
use crate::disk_jobs::DiskJobs;
use crate::failover::Deliverer;
use crate::metrics::{DropReason, Metrics};
use crate::producer::Shared;
use crate::record::Record;

/// Records moved from memory to disk per lock acquisition.
const SPILL_CHUNK: usize = 4096;
/// Pause before using the disk again after an I/O error.
const DISK_RETRY: Duration = Duration::from_secs(1);

/// What the shutdown left behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Records delivered or dead-lettered during the shutdown flush.
    pub flushed: u64,
    /// Records left in the disk buffer for the next start (including an abandoned in-flight
    /// batch, which stays unacknowledged on disk).
    pub persisted: u64,
    /// Records lost (only possible without a disk buffer, or if the disk failed).
    pub lost: u64,
}

pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) settings: DeliverySettings,
    pub(crate) deliverer: Deliverer,
    pub(crate) disk: Option<DiskBuffer>,
    pub(crate) shutdown: watch::Receiver<Option<Instant>>,
    pub(crate) disk_retry_at: Option<Instant>,
    /// After a failed disk read: no disk reads (and no disk records counted as available)
    /// before this, so an unreadable segment costs one attempt per `DISK_RETRY`, never a
    /// busy loop. The buffer gives the segment up after a few attempts.
    pub(crate) read_retry_at: Option<Instant>,
    /// Background fsync and ack-file writes (see `disk_jobs.rs`).
    pub(crate) jobs: DiskJobs,
}

enum Source {
    Disk,
    Memory,
}

impl Worker {
    fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    pub(crate) async fn run(mut self) -> ShutdownReport {
        let mut pending_since: Option<Instant> = None;
        let mut deadline: Option<Instant> = None;
        let mut flushed_at_close: Option<u64> = None;
        let mut abandoned = 0;
        let mut abandoned_on_disk = 0;
        // When the last batch was resolved: adaptive batching tops up a batch for a few
        // milliseconds only while the destination is busy.
        let mut last_resolved: Option<Instant> = None;
        let tick = self.tick();
        loop {
            if deadline.is_none() {
                deadline = self.requested_deadline();
            }
            if deadline.is_some() && flushed_at_close.is_none() {
                flushed_at_close = Some(self.resolved());
            }
            self.spill();
            self.maintain_disk();
            self.publish(None);
            self.ease_pressure();
            let (events, bytes) = self.available();
            if events == 0 {
                if deadline.is_some() {
                    break;
                }
                pending_since = None;
                let ticking = self.disk_has_chores();
                tokio::select! {
                    _ = self.shared.work.notified() => {}
                    _ = self.shutdown.changed() => {}
                    _ = tokio::time::sleep(tick), if ticking => {}
                }
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let since = *pending_since.get_or_insert_with(Instant::now);
            let r = readiness(
                &self.settings.batch,
                self.settings.flush_interval,
                events,
                bytes,
                since,
                Instant::now(),
                deadline.is_some(),
                last_resolved.is_some_and(|t| since.saturating_duration_since(t) < ADAPTIVE_LINGER),
            );
            if let Readiness::WaitUntil(at) = r {
                tokio::select! {
                    _ = self.shared.work.notified() => {}
                    _ = tokio::time::sleep_until(at) => {}
                    _ = self.shutdown.changed() => {}
                }
                continue;
            }
            pending_since = None;
            let Some((batch, source)) = self.take_batch() else {
                continue;
            };
            let keep = match (&source, &self.disk) {
                (Source::Memory, Some(_)) => Some(batch.clone()),
                _ => None,
            };
            let n = batch.len() as u64;
            if keep.is_some() {
                // Spilling goes on while this batch is in flight; what settles meanwhile is
                // counted after it (see `settlement.rs`).
                self.shared.settled.hold();
            }
            self.publish(batch.first().map(|r| r.enqueued_us));
            self.metrics().in_flight_events.store(n, Relaxed);
            let durable = matches!(source, Source::Disk);
            let done = self.deliver(batch, durable, &mut deadline).await;
            self.metrics().in_flight_events.store(0, Relaxed);
            last_resolved = Some(Instant::now());
            if !done {
                // Deadline hit mid-batch.
                match source {
                    // Still unacknowledged on disk: re-sent after the next start.
                    Source::Disk => abandoned_on_disk = n,
                    Source::Memory => {
                        if let Some(records) = keep {
                            // Still held: `finish` persists them first, then the hold ends.
                            self.shared.lock().push_front_all(records);
                        } else {
                            abandoned = n;
                        }
                    }
                }
                break;
            }
            match (source, self.disk.as_mut()) {
                (Source::Disk, Some(disk)) => {
                    if let Err(e) = disk.ack_read() {
                        report_disk_error(&self.shared.metrics, &e);
                    }
                }
                // Records from disk were settled when they were spilled; a memory batch is
                // settled now that it is delivered or dead-lettered, together with whatever
                // its hold kept back (without a hold, `release` is a plain settle).
                (Source::Memory, _) => self.shared.settled.release(n),
                (Source::Disk, None) => {}
            }
        }
        let flushed = self
            .resolved()
            .saturating_sub(flushed_at_close.unwrap_or(0));
        if let Some(d) = self.disk.as_mut() {
            self.jobs.drain(d, &self.shared.metrics).await;
        }
        let mut report = self.finish(abandoned);
        // A batch given back at the deadline was persisted by `finish` with everything behind
        // it; if anything could not be, nothing held is counted (the spool keeps its copies).
        if report.lost == 0 {
            self.shared.settled.release(0);
        } else {
            self.shared.settled.abandon_hold();
        }
        report.flushed = flushed;
        report.persisted += abandoned_on_disk;
        report
    }

    /// The shutdown deadline, if shutdown was requested. A dropped `Pipeline` (sender gone)
    /// counts as a request, so the worker never spins on a closed channel.
    fn requested_deadline(&self) -> Option<Instant> {
        if self.shutdown.has_changed().is_err() {
            self.shared.closed.store(true, Relaxed);
            return Some(crate::instant_after(
                Instant::now(),
                self.settings.shutdown_timeout,
            ));
        }
        *self.shutdown.borrow()
    }

    fn resolved(&self) -> u64 {
        let m = self.metrics();
        m.delivered.load(Relaxed) + m.dead_lettered.load(Relaxed)
    }

    fn tick(&self) -> Duration {
        match self.settings.disk.as_ref().map(|d| d.fsync) {
            // At least 1 ms: a zero period would make `interval` panic (settings can be
            // built without `validate`).
            Some(FsyncPolicy::Every(d)) => d.max(Duration::from_millis(1)),
            _ => Duration::from_millis(500),
        }
    }

    /// Delivers one batch while keeping the disk spill going. Returns false if the shutdown
    /// deadline passed first.
    async fn deliver(
        &mut self,
        batch: Vec<Record>,
        durable: bool,
        deadline: &mut Option<Instant>,
    ) -> bool {
        let tick = self.tick();
        let grace = self.settings.shutdown_timeout;
        let Self {
            shared,
            deliverer,
            disk,
            shutdown,
            disk_retry_at,
            jobs,
            ..
        } = self;
        let fut = deliverer.deliver(batch, durable);
        tokio::pin!(fut);
        // One timer for the whole batch: a fresh `sleep(tick)` per pass would be restarted by
        // every wake-up, so steady traffic would starve fsyncs and ack writes for as long as
        // the batch is stuck. `Delay` keeps the period after a slow pass instead of bursting.
        let mut sync_tick =
            tokio::time::interval_at(crate::instant_after(Instant::now(), tick), tick);
        sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let until = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                biased;
                _ = &mut fut => return true,
                _ = tokio::time::sleep_until(until), if deadline.is_some() => return false,
                r = shutdown.changed(), if deadline.is_none() => {
                    *deadline = if r.is_ok() {
                        *shutdown.borrow()
                    } else {
                        shared.closed.store(true, Relaxed);
                        Some(crate::instant_after(Instant::now(), grace))
                    };
                }
                // Spilling goes on whatever the batch's source: under a memory batch the
                // settlement count is held (see `settlement.rs`).
                _ = shared.work.notified(), if disk.is_some() => {
                    if let Some(d) = disk.as_mut() {
                        spill(d, shared, disk_retry_at);
                    }
                }
                _ = sync_tick.tick(), if disk.is_some() => {
                    if let Some(d) = disk.as_mut() {
                        spill(d, shared, disk_retry_at);
                        jobs.poll(d, &shared.metrics);
                    }
                }
            }
        }
    }

    /// Clears the back-pressure flag once producers would be accepted again.
    fn ease_pressure(&self) {
        if self.shared.pressure.is_active()
            && self.shared.lock().has_room(crate::record::RECORD_OVERHEAD)
        {
            self.shared.pressure.clear();
        }
    }

    /// Whether the disk buffer needs the worker's timer while nothing is queued: data or an
    /// acknowledgement to persist, a job to collect, or a retry to make. Otherwise an idle
    /// worker sleeps until records arrive instead of waking every fsync interval.
    fn disk_has_chores(&self) -> bool {
        self.disk.as_ref().is_some_and(|d| !d.is_quiescent())
            || !self.jobs.is_idle()
            || self.read_retry_at.is_some()
            || self.disk_retry_at.is_some()
    }

    fn spill(&mut self) {
        if let Some(d) = self.disk.as_mut() {
            spill(d, &self.shared, &mut self.disk_retry_at);
        }
    }

    /// Collects and starts background fsync / ack jobs; never waits (see `disk_jobs.rs`).
    fn maintain_disk(&mut self) {
        if let Some(d) = self.disk.as_mut() {
            self.jobs.poll(d, &self.shared.metrics);
        }
    }

    /// Events and bytes ready to batch (disk bytes are estimated from the batch limit).
    fn available(&self) -> (u64, u64) {
        let q = self.shared.lock();
        let (mut events, mut bytes) = (q.len() as u64, q.bytes() as u64);
        drop(q);
        let reading = self.read_retry_at.is_none_or(|t| Instant::now() >= t);
        if let (Some(d), true) = (&self.disk, reading) {
            let s = d.stats();
            if d.has_unread() {
                // `max(1)`: a stashed record counts even when the counter says zero.
                events += s.unread_events.max(1);
                bytes += s.unread_bytes;
            }
        }
        (events, bytes)
    }

    fn take_batch(&mut self) -> Option<(Vec<Record>, Source)> {
        // Records that arrived since the loop's spill go to disk first: with a usable disk, a
        // batch comes from memory only when the disk refused it (an I/O error, or full under
        // `block`/`fail_closed`), so an outage keeps the queue on disk, not in memory.
        self.spill();
        let b = self.settings.batch;
        let reading = self.read_retry_at.is_none_or(|t| Instant::now() >= t);
        if let (Some(d), true) = (self.disk.as_mut(), reading) {
            self.read_retry_at = None;
            if d.has_unread() {
                match d.read_batch(b.max_events.get(), b.max_bytes.get()) {
                    Ok(batch) if !batch.is_empty() => return Some((batch, Source::Disk)),
                    Ok(_) => {}
                    Err(e) => {
                        report_disk_error(&self.shared.metrics, &e);
                        self.read_retry_at = Some(Instant::now() + DISK_RETRY);
                    }
                }
            }
        }
        let mut q = self.shared.lock();
        let batch = q.take_batch(b.max_events.get(), b.max_bytes.get());
        self.shared.publish_queue(&q);
        drop(q);
        self.shared.space.notify_waiters();
        (!batch.is_empty()).then_some((batch, Source::Memory))
    }

    fn publish(&self, in_flight_oldest: Option<u64>) {
        let m = self.metrics();
        if let Some(d) = &self.disk {
            publish_disk(m, d);
        }
        let oldest = in_flight_oldest.or_else(|| self.shared.lock().front_enqueued_us());
        m.oldest_enqueued_us.store(oldest.unwrap_or(0), Relaxed);
    }

    /// Persists or counts whatever is left after the loop ended.
    /// `abandoned`: records of an in-flight memory batch given up at the deadline.
    fn finish(&mut self, abandoned: u64) -> ShutdownReport {
        let leftover = {
            let mut q = self.shared.lock();
            self.shared.close_and_drain(&mut q)
        };
        self.shared.space.notify_waiters();
        let mut report = ShutdownReport {
            lost: abandoned,
            ..ShutdownReport::default()
        };
        match self.disk.take() {
            Some(mut disk) => {
                let mut rest = leftover.as_slice();
                while !rest.is_empty() {
                    let a = disk.append(rest);
                    self.shared
                        .metrics
                        .spilled
                        .fetch_add(a.accepted as u64, Relaxed);
                    self.shared.settle(a.accepted as u64);
                    rest = &rest[a.accepted..];
                    match a.stop {
                        None => {}
                        Some(AppendStop::TooLarge) => {
                            self.shared
                                .metrics
                                .record_dropped(DropReason::TooLargeForBuffer, 1);
                            self.shared.settle(1);
                            rest = rest.get(1..).unwrap_or_default();
                        }
                        Some(stop) => {
                            let lost = rest.len() as u64;
                            tracing::error!(?stop, lost, "Could not persist records at shutdown.");
                            report.lost += lost;
                            break;
                        }
                    }
                }
                report.persisted = disk.stats().unread_events;
                if let Err(e) = disk.close() {
                    report_disk_error(&self.shared.metrics, &e);
                }
            }
            None => report.lost += leftover.len() as u64,
        }
        self.shared
            .metrics
            .lost_at_shutdown
            .fetch_add(report.lost, Relaxed);
        if report.lost > 0 {
            tracing::error!(lost = report.lost, "Audit records lost at shutdown.");
        }
        report
    }
}

fn report_disk_error(metrics: &Metrics, e: &DiskError) {
    crate::disk_jobs::report(metrics, e);
}

/// Moves the memory queue to disk, applying the overflow policy when the disk is full.
fn spill(disk: &mut DiskBuffer, shared: &Shared, retry_at: &mut Option<Instant>) {
    if retry_at.is_some_and(|t| Instant::now() < t) {
        return;
    }
    *retry_at = None;
    let metrics = &shared.metrics;
    loop {
        let chunk = {
            let mut q = shared.lock();
            let c = q.take_batch(SPILL_CHUNK, usize::MAX);
            shared.publish_queue(&q);
            c
        };
        if chunk.is_empty() {
            publish_disk(metrics, disk);
            return;
        }
        shared.space.notify_waiters();
        let mut pending = chunk;
        while !pending.is_empty() {
            let (a, rest) = disk.append_vec(pending);
            pending = rest;
            metrics.spilled.fetch_add(a.accepted as u64, Relaxed);
            shared.settle(a.accepted as u64);
            let left = pending.len() as u64;
            match a.stop {
                None => {}
                Some(AppendStop::Full) => match shared.policy {
                    OverflowPolicy::DropOldest => match disk.drop_oldest_segment() {
                        Ok(n) if n > 0 => metrics.record_dropped(DropReason::DiskFullOldest, n),
                        Ok(_) => {
                            // Nothing unread left to drop (the space is held by the batch in
                            // flight, or the record is larger than the whole buffer): the
                            // newest must go.
                            let reason = if disk.stats().bytes == 0 {
                                DropReason::TooLargeForBuffer
                            } else {
                                DropReason::DiskFullNewest
                            };
                            metrics.record_dropped(reason, left);
                            shared.settle(left);
                            pending.clear();
                        }
                        Err(e) => {
                            report_disk_error(metrics, &e);
                            give_back(shared, pending, retry_at);
                            return;
                        }
                    },
                    OverflowPolicy::DropNewest => {
                        metrics.record_dropped(DropReason::DiskFullNewest, left);
                        shared.settle(left);
                        pending.clear();
                    }
                    OverflowPolicy::Block | OverflowPolicy::FailClosed => {
                        // Back into memory; producers wait or are refused until acks free space.
                        give_back(shared, pending, retry_at);
                        *retry_at = Some(Instant::now() + Duration::from_millis(50));
                        return;
                    }
                },
                Some(AppendStop::TooLarge) => {
                    // Larger than the disk format allows: it could never be stored, and
                    // giving it back would only block everything behind it. Counted.
                    pending.remove(0);
                    metrics.record_dropped(DropReason::TooLargeForBuffer, 1);
                    shared.settle(1);
                }
                Some(AppendStop::Io(e)) => {
                    report_disk_error(metrics, &e);
                    give_back(shared, pending, retry_at);
                    return;
                }
            }
        }
    }
}

fn publish_disk(metrics: &Metrics, disk: &DiskBuffer) {
    let s = disk.stats();
    metrics.disk_events.store(s.unread_events, Relaxed);
    metrics.disk_bytes.store(s.bytes, Relaxed);
    metrics.corrupt_skipped.store(s.corrupt_regions, Relaxed);
    metrics
        .unreadable_segments
        .store(s.unreadable_segments, Relaxed);
    metrics
        .unreadable_lost_estimate
        .store(s.unreadable_events, Relaxed);
}

fn give_back(shared: &Shared, records: Vec<Record>, retry_at: &mut Option<Instant>) {
    let mut q = shared.lock();
    q.push_front_all(records);
    shared.publish_queue(&q);
    *retry_at = Some(Instant::now() + DISK_RETRY);
}
