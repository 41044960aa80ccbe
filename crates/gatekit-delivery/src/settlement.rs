//! Settlement counting: how many of a destination's accepted records no longer need anyone
//! else's copy (durable on its disk buffer, or final: delivered, dead-lettered, dropped and
//! counted).
//!
//! Invariant: the count is positional. `count() >= ticket` promises that the record with that
//! ticket *and every one before it* is settled (see `producer.rs`), so records must be counted
//! in accepted order. One case breaks that order on its own: a batch taken from the memory
//! queue is in flight (older records) while newer ones are spilled to disk or dropped. Rather
//! than stop spilling for as long as the batch is stuck (an outage would then fill the memory
//! queue and apply the overflow policy to records a disk buffer could have kept), the worker
//! *holds* the count: whatever settles meanwhile is added up aside, and released together with
//! the batch once the batch itself is settled.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// The settled count of one destination.
#[derive(Debug, Default)]
pub(crate) struct Settled {
    count: AtomicU64,
    /// `Some(n)` while a memory batch is in flight: `n` records settled after it.
    held: Mutex<Option<u64>>,
}

impl Settled {
    fn held(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records settled so far, in accepted order.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// Counts `n` more records, the oldest not yet counted (held back while a batch is).
    pub(crate) fn settle(&self, n: u64) {
        if n == 0 {
            return;
        }
        let mut held = self.held();
        match held.as_mut() {
            Some(aside) => *aside += n,
            // Added under the lock, so a concurrent `release` cannot miss it.
            None => {
                self.count.fetch_add(n, Relaxed);
            }
        }
    }

    /// Starts holding: a batch older than every queued record is going out.
    pub(crate) fn hold(&self) {
        self.held().get_or_insert(0);
    }

    /// The held batch of `n` records is settled: counts it and everything held behind it
    /// (with nothing held, the same as [`Settled::settle`]).
    pub(crate) fn release(&self, n: u64) {
        let mut held = self.held();
        let aside = held.take().unwrap_or(0);
        self.count.fetch_add(n + aside, Relaxed);
    }

    /// Forgets what was held without counting it (the batch could not be settled; the
    /// owner of the other copy keeps it: duplicates later, never a loss).
    pub(crate) fn abandon_hold(&self) {
        self.held().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settlements_behind_a_held_batch_count_only_with_it() {
        let s = Settled::default();
        s.settle(3);
        s.hold();
        // Newer records spilled while the batch of 5 is in flight.
        s.settle(10);
        assert_eq!(
            s.count(),
            3,
            "newer records must not cover the batch's tickets"
        );
        s.release(5);
        assert_eq!(s.count(), 18);
        s.settle(1);
        assert_eq!(s.count(), 19);
        s.release(2);
        assert_eq!(s.count(), 21, "without a hold, release settles");
    }

    #[test]
    fn an_abandoned_hold_counts_nothing_behind_it() {
        let s = Settled::default();
        s.hold();
        s.settle(7);
        s.abandon_hold();
        assert_eq!(s.count(), 0);
        s.settle(1);
        assert_eq!(s.count(), 1);
    }
}
