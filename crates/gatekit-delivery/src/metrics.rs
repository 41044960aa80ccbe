//! Per-destination delivery metrics: lock-free counters and a snapshot API.
//!
//! Job: count every outcome in one place so the CLI, a metrics endpoint and tests read the
//! same numbers. Writers are the producer handle and the destination's worker task; readers
//! call [`Metrics::snapshot`] at any time.
//!
//! Invariants:
//! - Every record handed to `submit` ends up in exactly one terminal counter eventually:
//!   `delivered`, `dead_lettered`, a `dropped` reason, `lost_at_shutdown`, or
//!   `unreadable_lost_estimate` (records in a disk segment that could not be read back; an
//!   estimate, as they cannot be counted without reading them), or is still counted in a
//!   queue depth. Duplicates re-read after a crash add to `delivered` again and
//!   are additionally counted in `redelivered_after_restart`.
//! - Counters only grow; gauges (depths, breaker state) are overwritten by the worker.
//! - All atomics use `Relaxed`: these are statistics, not synchronisation.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::time::Duration;

use serde::Serialize;

use crate::record::now_unix_us;

/// Why a record was dropped. Every drop is counted under exactly one reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// `drop_oldest`: the memory queue was full.
    QueueFullOldest,
    /// `drop_newest`: the memory queue was full.
    QueueFullNewest,
    /// `drop_oldest`: the disk buffer reached its size cap.
    DiskFullOldest,
    /// `drop_newest`: the disk buffer reached its size cap.
    DiskFullNewest,
    /// The record is larger than the whole disk buffer, or than the disk format allows
    /// (`disk::MAX_PAYLOAD_LEN`, 64 MiB).
    TooLargeForBuffer,
    /// The event never became a record for this destination: its formatter refused it (for
    /// example, still over the destination's size limit with every field cut). Counted by
    /// the producer's owner with [`Metrics::record_unrenderable`].
    Unrenderable,
}

const DROP_REASONS: [DropReason; 6] = [
    DropReason::QueueFullOldest,
    DropReason::QueueFullNewest,
    DropReason::DiskFullOldest,
    DropReason::DiskFullNewest,
    DropReason::TooLargeForBuffer,
    DropReason::Unrenderable,
];

/// Breaker state as a gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Sending normally.
    Closed,
    /// Not sending until the open period ends.
    Open,
    /// One probe allowed.
    HalfOpen,
}

impl BreakerState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Open,
            2 => Self::HalfOpen,
            _ => Self::Closed,
        }
    }
    pub(crate) fn as_u8(self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }
}

/// Number of latency buckets; bucket `i` holds latencies in `[2^(i-1), 2^i)` microseconds
/// (bucket 0 holds < 1 us), so 40 buckets reach about 6 days.
pub const LATENCY_BUCKETS: usize = 40;

/// Fixed log2 histogram of delivery latency (enqueue to acknowledgement).
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; LATENCY_BUCKETS],
    /// Sum of every sample in microseconds (a Prometheus histogram's `_sum`).
    sum_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Adds `count` samples of `micros`.
    pub fn record(&self, micros: u64, count: u64) {
        let idx = (64 - micros.leading_zeros() as usize).min(LATENCY_BUCKETS - 1);
        self.buckets[idx].fetch_add(count, Relaxed);
        self.sum_us.fetch_add(micros.saturating_mul(count), Relaxed);
    }

    fn snapshot(&self) -> Vec<u64> {
        self.buckets.iter().map(|b| b.load(Relaxed)).collect()
    }
}

/// Upper bound (exclusive) of bucket `i`, in microseconds.
pub fn bucket_upper_us(i: usize) -> u64 {
    1u64.checked_shl(i as u32).unwrap_or(u64::MAX)
}

/// Counters and gauges for one destination.
#[derive(Debug)]
pub struct Metrics {
    destination: String,
    endpoints: Vec<String>,
    pub(crate) submitted: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) failed_attempts: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) split_batches: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) dead_letter_errors: AtomicU64,
    pub(crate) retries_exhausted: AtomicU64,
    pub(crate) expired: AtomicU64,
    dropped: [AtomicU64; DROP_REASONS.len()],
    pub(crate) refused: AtomicU64,
    pub(crate) blocked_submits: AtomicU64,
    pub(crate) spilled: AtomicU64,
    pub(crate) disk_errors: AtomicU64,
    pub(crate) corrupt_skipped: AtomicU64,
    pub(crate) unreadable_segments: AtomicU64,
    pub(crate) unreadable_lost_estimate: AtomicU64,
    pub(crate) redelivered_after_restart: AtomicU64,
    pub(crate) recovery_losses: AtomicU64,
    pub(crate) recovery_lost_records: AtomicU64,
    pub(crate) recovery_lost_bytes: AtomicU64,
    pub(crate) ack_refused: AtomicU64,
    pub(crate) lost_at_shutdown: AtomicU64,
    pub(crate) failovers: AtomicU64,
    pub(crate) rate_limited_waits: AtomicU64,
    pub(crate) memory_events: AtomicU64,
    pub(crate) memory_bytes: AtomicU64,
    pub(crate) disk_events: AtomicU64,
    pub(crate) disk_bytes: AtomicU64,
    pub(crate) in_flight_events: AtomicU64,
    /// Enqueue time (unix us) of the oldest record not yet resolved; 0 when empty.
    pub(crate) oldest_enqueued_us: AtomicU64,
    pub(crate) active_endpoint: AtomicU64,
    breakers: Vec<AtomicU8>,
    pub(crate) latency: LatencyHistogram,
    /// Unix microseconds of the last delivered batch; 0 before the first.
    last_success_us: AtomicU64,
    /// Unix microseconds of the last failed attempt or rejection; 0 before the first.
    last_failure_us: AtomicU64,
    /// What went wrong last (the transport's words, already free of secrets).
    last_error: std::sync::Mutex<Option<String>>,
}

impl Metrics {
    pub(crate) fn new(destination: &str, endpoints: Vec<String>) -> Self {
        let breakers = endpoints.iter().map(|_| AtomicU8::new(0)).collect();
        Self {
            destination: destination.to_owned(),
            endpoints,
            submitted: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            failed_attempts: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            split_batches: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            dead_letter_errors: AtomicU64::new(0),
            retries_exhausted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            dropped: std::array::from_fn(|_| AtomicU64::new(0)),
            refused: AtomicU64::new(0),
            blocked_submits: AtomicU64::new(0),
            spilled: AtomicU64::new(0),
            disk_errors: AtomicU64::new(0),
            corrupt_skipped: AtomicU64::new(0),
            unreadable_segments: AtomicU64::new(0),
            unreadable_lost_estimate: AtomicU64::new(0),
            redelivered_after_restart: AtomicU64::new(0),
            recovery_losses: AtomicU64::new(0),
            recovery_lost_records: AtomicU64::new(0),
            recovery_lost_bytes: AtomicU64::new(0),
            ack_refused: AtomicU64::new(0),
            lost_at_shutdown: AtomicU64::new(0),
            failovers: AtomicU64::new(0),
            rate_limited_waits: AtomicU64::new(0),
            memory_events: AtomicU64::new(0),
            memory_bytes: AtomicU64::new(0),
            disk_events: AtomicU64::new(0),
            disk_bytes: AtomicU64::new(0),
            in_flight_events: AtomicU64::new(0),
            oldest_enqueued_us: AtomicU64::new(0),
            active_endpoint: AtomicU64::new(0),
            breakers,
            latency: LatencyHistogram::default(),
            last_success_us: AtomicU64::new(0),
            last_failure_us: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
        }
    }

    /// Counts `n` dropped records under `reason`; the single place drops are recorded.
    /// Counts an event that could not be rendered for this destination
    /// ([`DropReason::Unrenderable`]): nothing reached the pipeline, but the loss is counted
    /// and reported like any other drop.
    pub fn record_unrenderable(&self) {
        self.record_dropped(DropReason::Unrenderable, 1);
    }

    pub(crate) fn record_dropped(&self, reason: DropReason, n: u64) {
        if n == 0 {
            return;
        }
        let i = DROP_REASONS.iter().position(|r| *r == reason).unwrap_or(0);
        let before = self.dropped[i].fetch_add(n, Relaxed);
        // Log when the total crosses a power of two: a storm of drops on the request path
        // must not become a storm of log lines. The exact count is always in the metrics.
        let after = before + n;
        if before.leading_zeros() != after.leading_zeros() {
            tracing::warn!(destination = %self.destination, ?reason, total = after, "Audit records dropped.");
        }
    }

    /// Counts delivered records and their latency from `enqueued_us`.
    pub(crate) fn record_delivered(&self, enqueued_us: impl Iterator<Item = u64>) {
        let now = now_unix_us();
        let mut n = 0;
        for t in enqueued_us {
            self.latency.record(now.saturating_sub(t), 1);
            n += 1;
        }
        self.delivered.fetch_add(n, Relaxed);
        if n > 0 {
            self.last_success_us.store(now, Relaxed);
        }
    }

    /// Remembers a failed attempt or a rejection for status reports (`siem status`).
    pub(crate) fn record_failure(&self, endpoint: &str, reason: &str) {
        self.last_failure_us.store(now_unix_us(), Relaxed);
        // Bounded: a status file or a metrics label must never carry a whole response body.
        let mut text = format!("{endpoint}: {reason}");
        if text.len() > 300 {
            let mut cut = 300;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("...");
        }
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
    }

    pub(crate) fn set_breaker(&self, endpoint: usize, state: BreakerState) {
        if let Some(b) = self.breakers.get(endpoint) {
            b.store(state.as_u8(), Relaxed);
        }
    }

    /// Total dropped records over all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|d| d.load(Relaxed)).sum()
    }

    /// A consistent-enough copy of every counter and gauge.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let latency_buckets = self.latency.snapshot();
        let oldest = self.oldest_enqueued_us.load(Relaxed);
        MetricsSnapshot {
            destination: self.destination.clone(),
            submitted: self.submitted.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            retried: self.retried.load(Relaxed),
            failed_attempts: self.failed_attempts.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            split_batches: self.split_batches.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            dead_letter_errors: self.dead_letter_errors.load(Relaxed),
            retries_exhausted: self.retries_exhausted.load(Relaxed),
            expired: self.expired.load(Relaxed),
            dropped: DROP_REASONS
                .iter()
                .zip(&self.dropped)
                .map(|(r, c)| (*r, c.load(Relaxed)))
                .collect(),
            dropped_total: self.dropped_total(),
            refused: self.refused.load(Relaxed),
            blocked_submits: self.blocked_submits.load(Relaxed),
            spilled: self.spilled.load(Relaxed),
            disk_errors: self.disk_errors.load(Relaxed),
            corrupt_skipped: self.corrupt_skipped.load(Relaxed),
            unreadable_segments: self.unreadable_segments.load(Relaxed),
            unreadable_lost_estimate: self.unreadable_lost_estimate.load(Relaxed),
            redelivered_after_restart: self.redelivered_after_restart.load(Relaxed),
            recovery_losses: self.recovery_losses.load(Relaxed),
            recovery_lost_records: self.recovery_lost_records.load(Relaxed),
            recovery_lost_bytes: self.recovery_lost_bytes.load(Relaxed),
            ack_refused: self.ack_refused.load(Relaxed),
            lost_at_shutdown: self.lost_at_shutdown.load(Relaxed),
            failovers: self.failovers.load(Relaxed),
            rate_limited_waits: self.rate_limited_waits.load(Relaxed),
            queue_events: self.memory_events.load(Relaxed)
                + self.disk_events.load(Relaxed)
                + self.in_flight_events.load(Relaxed),
            memory_events: self.memory_events.load(Relaxed),
            memory_bytes: self.memory_bytes.load(Relaxed),
            disk_events: self.disk_events.load(Relaxed),
            disk_bytes: self.disk_bytes.load(Relaxed),
            in_flight_events: self.in_flight_events.load(Relaxed),
            oldest_event_age: if oldest == 0 {
                None
            } else {
                Some(Duration::from_micros(now_unix_us().saturating_sub(oldest)))
            },
            active_endpoint: self
                .endpoints
                .get(self.active_endpoint.load(Relaxed) as usize)
                .cloned(),
            breakers: self
                .endpoints
                .iter()
                .zip(&self.breakers)
                .map(|(e, b)| (e.clone(), BreakerState::from_u8(b.load(Relaxed))))
                .collect(),
            latency_buckets,
            latency_sum_us: self.latency.sum_us.load(Relaxed),
            last_success_unix_ms: unix_ms(self.last_success_us.load(Relaxed)),
            last_failure_unix_ms: unix_ms(self.last_failure_us.load(Relaxed)),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

fn unix_ms(us: u64) -> Option<u64> {
    (us > 0).then_some(us / 1000)
}

/// A point-in-time copy of a destination's metrics (serialisable for the CLI).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    /// Destination name.
    pub destination: String,
    /// Records accepted by `submit` (including those later dropped by `drop_oldest`).
    pub submitted: u64,
    /// Records acknowledged by a transport.
    pub delivered: u64,
    /// Records sent again after a retryable failure.
    pub retried: u64,
    /// Batch sends that failed with a retryable error.
    pub failed_attempts: u64,
    /// Records rejected permanently by a destination.
    pub rejected: u64,
    /// Batches split because they were too large.
    pub split_batches: u64,
    /// Records written to the dead-letter file.
    pub dead_lettered: u64,
    /// Failed writes to the dead-letter file (retried; records stay buffered meanwhile).
    pub dead_letter_errors: u64,
    /// Of `dead_lettered`: records held only in memory (no disk buffer, or the disk was
    /// failing) whose `retry_attempts` ran out during an outage. Records read from the disk
    /// buffer are never dead-lettered for this reason.
    pub retries_exhausted: u64,
    /// Of `dead_lettered`: records older than `max_event_age` when their turn came.
    pub expired: u64,
    /// Dropped records by reason.
    pub dropped: Vec<(DropReason, u64)>,
    /// Sum of `dropped`.
    pub dropped_total: u64,
    /// Records refused by `fail_closed` (the caller kept them; not counted as submitted).
    pub refused: u64,
    /// Submits that had to wait under `block`.
    pub blocked_submits: u64,
    /// Records written to the disk buffer.
    pub spilled: u64,
    /// Disk write, fsync or ack-file errors.
    pub disk_errors: u64,
    /// Torn or corrupt disk regions skipped during reads.
    pub corrupt_skipped: u64,
    /// Disk segment files skipped because they could not be opened or read (deleted file,
    /// persistent I/O error).
    pub unreadable_segments: u64,
    /// Estimated records lost in those segments (from the average record size).
    pub unreadable_lost_estimate: u64,
    /// Records found on disk at startup that may already have been delivered before a crash.
    pub redelivered_after_restart: u64,
    /// Damaged regions, empty, missing or unreadable segments found when the disk buffer was
    /// opened (details in `Pipeline::recovery()`).
    pub recovery_losses: u64,
    /// Records known lost in them (estimated for unreadable segments; a missing or empty
    /// segment adds nothing here, as its count cannot be known).
    pub recovery_lost_records: u64,
    /// Bytes that could not be recovered at start.
    pub recovery_lost_bytes: u64,
    /// 1 if the ack file found at start pointed where no acknowledged data can be and was
    /// refused (the whole backlog is re-sent), else 0.
    pub ack_refused: u64,
    /// Records lost at shutdown because there was no disk buffer and the deadline passed.
    pub lost_at_shutdown: u64,
    /// Batches sent to an endpoint other than the first.
    pub failovers: u64,
    /// Times the rate limiter made a batch wait.
    pub rate_limited_waits: u64,
    /// Records buffered anywhere (memory + disk + in flight).
    pub queue_events: u64,
    /// Records in the memory queue.
    pub memory_events: u64,
    /// Bytes in the memory queue.
    pub memory_bytes: u64,
    /// Unread records in the disk buffer.
    pub disk_events: u64,
    /// Bytes of segment files on disk.
    pub disk_bytes: u64,
    /// Records in the batch being delivered.
    pub in_flight_events: u64,
    /// Age of the oldest unresolved record the worker knows of.
    pub oldest_event_age: Option<Duration>,
    /// The endpoint that last delivered.
    pub active_endpoint: Option<String>,
    /// Breaker state per endpoint, in failover order.
    pub breakers: Vec<(String, BreakerState)>,
    /// Latency histogram counts, bucket `i` below [`bucket_upper_us`]`(i)` microseconds.
    pub latency_buckets: Vec<u64>,
    /// Sum of every latency sample, in microseconds.
    pub latency_sum_us: u64,
    /// When a batch was last delivered (unix milliseconds).
    pub last_success_unix_ms: Option<u64>,
    /// When an attempt last failed or a record was last rejected (unix milliseconds).
    pub last_failure_unix_ms: Option<u64>,
    /// The last failure, as `endpoint: reason` (bounded).
    pub last_error: Option<String>,
}

impl MetricsSnapshot {
    /// Latency percentile `p` in `0.0..=1.0`, as the upper bound of the bucket holding it.
    pub fn latency_percentile(&self, p: f64) -> Option<Duration> {
        let total: u64 = self.latency_buckets.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((p.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.latency_buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Duration::from_micros(bucket_upper_us(i)));
            }
        }
        None
    }

    /// Drops per reason since `earlier` (an older snapshot of the same destination), only
    /// the reasons that grew. The gateway polls this to emit one `system_event` per reason
    /// (docs/reference/targets.md §3) without keeping its own counters.
    pub fn drops_since(&self, earlier: &MetricsSnapshot) -> Vec<(DropReason, u64)> {
        self.dropped
            .iter()
            .filter_map(|(r, now)| {
                let delta = now.saturating_sub(earlier.dropped_for(*r));
                (delta > 0).then_some((*r, delta))
            })
            .collect()
    }

    /// Count dropped for one reason.
    pub fn dropped_for(&self, reason: DropReason) -> u64 {
        self.dropped
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, c)| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_use_bucket_bounds() {
        let m = Metrics::new("d", vec!["a".into()]);
        m.latency.record(3, 90); // bucket 2: [2,4)
        m.latency.record(1000, 10); // bucket 10: [512,1024)
        let s = m.snapshot();
        assert_eq!(s.latency_percentile(0.5), Some(Duration::from_micros(4)));
        assert_eq!(
            s.latency_percentile(0.99),
            Some(Duration::from_micros(1024))
        );
        assert_eq!(s.latency_buckets.iter().sum::<u64>(), 100);
    }

    #[test]
    fn drops_are_counted_by_reason() {
        let m = Metrics::new("d", vec![]);
        m.record_dropped(DropReason::DiskFullNewest, 3);
        m.record_dropped(DropReason::QueueFullOldest, 2);
        let s = m.snapshot();
        assert_eq!(s.dropped_for(DropReason::DiskFullNewest), 3);
        assert_eq!(s.dropped_total, 5);
        m.record_dropped(DropReason::DiskFullNewest, 4);
        let later = m.snapshot();
        assert_eq!(later.drops_since(&s), vec![(DropReason::DiskFullNewest, 4)]);
        assert!(later.drops_since(&later).is_empty());
        let json = serde_json::to_value(&later).unwrap();
        assert_eq!(json["dropped_total"], 9);
    }
}
