//! The producer handle: how the request path hands records to a destination.
//!
//! Job: put a record into the destination's memory queue and wake its worker, applying the
//! overflow policy, without ever waiting on the SIEM.
//!
//! Invariants:
//! - [`Producer::try_submit`] never waits (one short mutex section, no I/O).
//! - [`Producer::submit`] awaits only under `block`, and only while the queue is full.
//! - Under `fail_closed` a full queue returns [`SubmitError::Full`] with the record, so the
//!   gateway can refuse the tool call; the record is not counted as submitted.
//! - Every drop is counted through `Metrics::record_dropped` before the call returns.
//! - `closed` is checked under the queue lock, and the worker sets it under the same lock
//!   before its final drain ([`Shared::close_and_drain`]): a push either lands before that
//!   drain (and is persisted or counted) or gets `SubmitError::Closed` with its record back.
//! - Settlement: every accepted record gets a [`Ticket`], its place in this destination's
//!   accepted order (taken under the queue lock, so tickets follow queue order). The worker
//!   counts a record *settled* once it is durable (appended to the disk buffer) or final
//!   (delivered, dead-lettered or counted as dropped), and records leave the queue in order, so
//!   `settled() >= ticket` means that record and every one before it no longer need anyone
//!   else's copy. The spool (gatekit-siem) keeps its own copy of an event until then.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::backpressure::Backpressure;
use crate::config::OverflowPolicy;
use crate::metrics::{DropReason, Metrics};
use crate::queue::{MemQueue, PushResult};
use crate::record::Record;

/// State shared by producers and the worker of one destination.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: Mutex<MemQueue>,
    pub(crate) policy: OverflowPolicy,
    /// Wakes the worker: new data arrived.
    pub(crate) work: Notify,
    /// Wakes `block` producers: room was made (or the pipeline closed).
    pub(crate) space: Notify,
    pub(crate) closed: AtomicBool,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) batch_events: usize,
    /// Raised when a producer is refused or has to wait (see `backpressure.rs`).
    pub(crate) pressure: Arc<Backpressure>,
    /// Records accepted so far (queued, or dropped as the newest): the last ticket issued.
    pub(crate) accepted: AtomicU64,
    /// Records settled so far, in accepted order (see the module doc and `settlement.rs`).
    pub(crate) settled: crate::settlement::Settled,
    /// Whether the worker spills the queue to a disk buffer: then a tracked submission finds a
    /// full queue only until the next spill, and waits for it instead of applying the
    /// overflow policy, which applies when the disk itself is full (see `worker.rs`).
    pub(crate) spills: bool,
}

impl Shared {
    /// Locks the queue. A poisoned lock only means another thread panicked mid-push; the
    /// queue's own invariants hold between calls, so keep going rather than lose the data.
    pub(crate) fn lock(&self) -> MutexGuard<'_, MemQueue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts `n` more records, the oldest not yet counted, as durable or final.
    pub(crate) fn settle(&self, n: u64) {
        self.settled.settle(n);
    }

    pub(crate) fn publish_queue(&self, q: &MemQueue) {
        self.metrics.memory_events.store(q.len() as u64, Relaxed);
        self.metrics.memory_bytes.store(q.bytes() as u64, Relaxed);
    }

    /// The worker's final drain: marks the pipeline closed and empties the queue, both under
    /// `q` (the held queue lock), so no push can slip in after the drain unseen.
    pub(crate) fn close_and_drain(&self, q: &mut MemQueue) -> Vec<Record> {
        self.closed.store(true, Relaxed);
        let v = q.drain_all();
        self.publish_queue(q);
        v
    }
}

/// What happened to a submitted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Queued for delivery.
    Queued,
    /// Queued; this many older records were dropped (`drop_oldest`) and counted.
    QueuedDroppedOldest(u64),
    /// The queue was full and the record was dropped (`drop_newest`) and counted.
    DroppedNewest,
}

/// A record's place in its destination's accepted order: the record is durable or final once
/// [`Producer::settled`] reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// Why a record was not accepted. The record is handed back.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The queue is full under `fail_closed` (or `block` through `try_submit`): the audit
    /// trail cannot be kept right now.
    #[error("delivery queue for {destination} is full")]
    Full {
        /// Destination name.
        destination: String,
        /// The record, returned to the caller.
        record: Record,
    },
    /// The pipeline is shutting down.
    #[error("delivery pipeline for {destination} is closed")]
    Closed {
        /// Destination name.
        destination: String,
        /// The record, returned to the caller.
        record: Record,
    },
}

/// Whether queuing a record wakes the worker (see [`Producer::try_submit_tracked_deferred`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Now,
    Deferred,
}

/// A cheap, cloneable handle for submitting records to one destination.
#[derive(Clone, Debug)]
pub struct Producer {
    shared: Arc<Shared>,
    destination: Arc<str>,
}

impl Producer {
    pub(crate) fn new(shared: Arc<Shared>, destination: &str) -> Self {
        Self {
            shared,
            destination: destination.into(),
        }
    }

    /// Submits without ever waiting. Under `block` a full queue returns
    /// [`SubmitError::Full`] (use [`Producer::submit`] to wait instead).
    pub fn try_submit(&self, record: Record) -> Result<Submitted, SubmitError> {
        let r = self.push(record);
        if let Err(SubmitError::Full { .. }) = &r {
            self.shared.metrics.refused.fetch_add(1, Relaxed);
        }
        r
    }

    /// Submits; awaits only under `block` while the queue is full.
    pub async fn submit(&self, record: Record) -> Result<Submitted, SubmitError> {
        if self.shared.policy != OverflowPolicy::Block {
            return self.try_submit(record);
        }
        let mut record = record;
        let mut counted = false;
        loop {
            let notified = self.shared.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.push(record) {
                Err(SubmitError::Full { record: r, .. }) => {
                    if !counted {
                        counted = true;
                        self.shared.metrics.blocked_submits.fetch_add(1, Relaxed);
                    }
                    record = r;
                    notified.await;
                }
                other => return other,
            }
        }
    }

    /// Submits and returns the record's [`Ticket`]. Waits while the queue is full under
    /// `block` *and* `fail_closed`, and under every policy when the destination has a disk
    /// buffer (the queue is then only a staging area the worker empties onto disk; the
    /// policy applies once the disk is full): the caller (the spool's render thread) holds its
    /// own copy of the record, so waiting delays it but cannot lose it. Without a disk buffer
    /// `drop_*` policies never wait.
    pub async fn submit_tracked(&self, record: Record) -> Result<Ticket, SubmitError> {
        let mut record = record;
        let mut counted = false;
        loop {
            let notified = self.shared.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.push_ticketed(record, self.shared.spills, Wake::Now) {
                Err(SubmitError::Full { record: r, .. }) => {
                    if !counted {
                        counted = true;
                        self.shared.metrics.blocked_submits.fetch_add(1, Relaxed);
                    }
                    record = r;
                    notified.await;
                }
                Err(e) => return Err(e),
                Ok((_, ticket)) => return Ok(ticket),
            }
        }
    }

    /// [`Producer::submit_tracked`] without waiting, and without waking the worker when the
    /// record is queued. A full queue under `block` or `fail_closed` (or any policy with a
    /// disk buffer) returns [`SubmitError::Full`] with the record, and nothing is counted.
    ///
    /// The caller submits a burst and calls [`Producer::wake_worker`] after it (and every few
    /// hundred records within it). One wake-up per burst instead of one per record matters
    /// with a disk buffer: each wake-up of an idle worker is a spill of its own, a `write`
    /// per record. A full queue still wakes the worker, so a caller that then waits is
    /// never left waiting on a worker nobody woke.
    pub fn try_submit_tracked_deferred(&self, record: Record) -> Result<Ticket, SubmitError> {
        self.push_ticketed(record, self.shared.spills, Wake::Deferred)
            .map(|(_, t)| t)
    }

    /// Wakes the worker for records queued by [`Producer::try_submit_tracked_deferred`].
    pub fn wake_worker(&self) {
        self.shared.work.notify_one();
    }

    /// Records of this destination settled so far (durable on its disk buffer, or final);
    /// compare with a [`Ticket`].
    pub fn settled(&self) -> Ticket {
        Ticket(self.shared.settled.count())
    }

    /// Whether this destination refuses records now: its queue is full under `fail_closed`
    /// (the back-pressure flag is up until the worker makes room).
    pub fn refusing(&self) -> bool {
        self.shared.policy == OverflowPolicy::FailClosed && self.shared.pressure.is_active()
    }

    fn push(&self, record: Record) -> Result<Submitted, SubmitError> {
        self.push_ticketed(record, false, Wake::Now).map(|(s, _)| s)
    }

    /// Queues `record`; `staged` makes a full queue refuse (to be waited on) whatever the
    /// overflow policy.
    fn push_ticketed(
        &self,
        record: Record,
        staged: bool,
        wake: Wake,
    ) -> Result<(Submitted, Ticket), SubmitError> {
        let shared = &*self.shared;
        let policy = if staged {
            OverflowPolicy::Block
        } else {
            shared.policy
        };
        let mut q = shared.lock();
        // Under the lock: see `Shared::close_and_drain`.
        if shared.closed.load(Relaxed) {
            drop(q);
            return Err(SubmitError::Closed {
                destination: self.destination.to_string(),
                record,
            });
        }
        let was_empty = q.is_empty();
        let result = q.push(record, policy);
        let ticket = match &result {
            PushResult::Queued { dropped_oldest } => {
                // The evicted records were the oldest in the queue: they settle (as dropped)
                // before the new one, which keeps `settled` in accepted order.
                shared.settle(*dropped_oldest);
                Ticket(shared.accepted.fetch_add(1, Relaxed) + 1)
            }
            PushResult::DroppedNewest => {
                let t = shared.accepted.fetch_add(1, Relaxed) + 1;
                shared.settle(1);
                Ticket(t)
            }
            PushResult::Full(_) => Ticket(0),
        };
        let len = q.len();
        shared.publish_queue(&q);
        drop(q);
        match result {
            PushResult::Queued { dropped_oldest } => {
                shared.metrics.submitted.fetch_add(1, Relaxed);
                // Wake the worker when data appears or a full batch is ready; in between
                // it is either busy or waiting for its batch timer anyway.
                if wake == Wake::Now && (was_empty || len % shared.batch_events == 0) {
                    shared.work.notify_one();
                }
                if dropped_oldest > 0 {
                    shared
                        .metrics
                        .record_dropped(DropReason::QueueFullOldest, dropped_oldest);
                    Ok((Submitted::QueuedDroppedOldest(dropped_oldest), ticket))
                } else {
                    Ok((Submitted::Queued, ticket))
                }
            }
            PushResult::DroppedNewest => {
                shared.metrics.submitted.fetch_add(1, Relaxed);
                shared
                    .metrics
                    .record_dropped(DropReason::QueueFullNewest, 1);
                Ok((Submitted::DroppedNewest, ticket))
            }
            PushResult::Full(record) => {
                // Make sure the worker is draining (it may be waiting on a batch timer), and
                // tell the deliverer that producers are being refused: it probes more often.
                shared.pressure.raise();
                shared.work.notify_one();
                Err(SubmitError::Full {
                    destination: self.destination.to_string(),
                    record,
                })
            }
        }
    }

    /// Whether a record of `size` bytes would currently be queued without dropping or
    /// waiting (a hint for callers under `fail_closed`; it can change at once).
    pub fn has_room(&self, size: usize) -> bool {
        self.shared.lock().has_room(size)
    }

    /// This destination's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordId;

    #[test]
    fn a_push_racing_the_final_drain_is_refused_not_lost() {
        let metrics = Arc::new(Metrics::new("d", vec!["a".into()]));
        let shared = Arc::new(Shared {
            queue: Mutex::new(MemQueue::new(100, 1 << 20)),
            policy: OverflowPolicy::DropOldest,
            work: Notify::new(),
            space: Notify::new(),
            closed: AtomicBool::new(false),
            metrics,
            batch_events: 10,
            pressure: Default::default(),
            accepted: Default::default(),
            settled: Default::default(),
            spills: false,
        });
        let producer = Producer::new(Arc::clone(&shared), "d");
        // The worker is in its final drain (holds the lock) when a producer arrives.
        let mut q = shared.lock();
        let pusher = std::thread::spawn(move || {
            producer.try_submit(Record::new(RecordId(1), b"x".to_vec()))
        });
        // Give the producer time to get past any check done before the lock (not a timing
        // assertion: if it is slower, the test passes either way).
        std::thread::sleep(std::time::Duration::from_millis(100));
        let drained = shared.close_and_drain(&mut q);
        drop(q);
        let result = pusher.join().unwrap_or_else(|_| panic!("pusher panicked"));
        assert!(drained.is_empty());
        assert!(
            matches!(result, Err(SubmitError::Closed { .. })),
            "a push after the final drain must be refused, got {result:?}"
        );
        assert!(shared.lock().is_empty(), "nothing left behind unseen");
    }
}
