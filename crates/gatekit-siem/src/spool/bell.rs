//! How the spool keeper sleeps long while the spool is idle, and is woken when an event is
//! spooled.
//!
//! The keeper works in short ticks (acknowledging settled records, interval fsyncs). Ticking
//! on an idle gateway would wake the process many times a second for nothing, so after a run
//! of ticks with nothing to do the keeper *dozes*: it announces it ([`KeeperBell::doze`]),
//! checks once more under the intake's lock that the spool is still idle, and parks.
//!
//! Invariant: an event spooled while the keeper dozes wakes it. The intake appends under its
//! lock and rings the bell after releasing it; the keeper announces the doze before it takes
//! that lock to check. So either the keeper's check sees the appended record (and does not
//! doze), or the append came after the check, the intake's ring sees the announcement, and it
//! unparks the keeper (an unpark before the park makes the park return at once).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::Duration;

/// Wakes a dozing spool keeper.
#[derive(Debug, Default)]
pub(crate) struct KeeperBell {
    dozing: AtomicBool,
    keeper: OnceLock<Thread>,
}

impl KeeperBell {
    /// The thread to wake (set once, when the keeper starts).
    pub(crate) fn attach(&self, keeper: Thread) {
        let _ = self.keeper.set(keeper);
    }

    /// After a spool append: wakes the keeper if it dozes. One atomic load otherwise.
    pub(crate) fn ring(&self) {
        if self.dozing.load(SeqCst) && self.dozing.swap(false, SeqCst) {
            self.wake();
        }
    }

    /// Wakes the keeper whatever it does (its stop).
    pub(crate) fn wake(&self) {
        if let Some(keeper) = self.keeper.get() {
            keeper.unpark();
        }
    }

    /// On the keeper's thread: announces a doze, and parks for up to `limit` if `still_idle`
    /// (checked after the announcement) says so. Returns early when rung.
    pub(crate) fn doze(&self, limit: Duration, still_idle: impl FnOnce() -> bool) {
        self.dozing.store(true, SeqCst);
        if still_idle() {
            std::thread::park_timeout(limit);
        }
        self.dozing.store(false, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_ring_during_the_doze_wakes_the_keeper_long_before_its_limit() {
        let bell = Arc::new(KeeperBell::default());
        let keeper = {
            let bell = Arc::clone(&bell);
            std::thread::spawn(move || {
                let started = Instant::now();
                bell.doze(Duration::from_secs(20), || true);
                started.elapsed()
            })
        };
        bell.attach(keeper.thread().clone());
        // Ring until the keeper has announced its doze and been woken by a ring.
        while !keeper.is_finished() {
            bell.ring();
            std::thread::sleep(Duration::from_millis(5));
        }
        let slept = keeper.join().unwrap_or_else(|_| panic!("keeper panicked"));
        assert!(
            slept < Duration::from_secs(20),
            "woken by the ring, not the limit"
        );
    }

    #[test]
    fn a_spool_that_is_busy_after_the_announcement_is_not_slept_on() {
        let bell = KeeperBell::default();
        bell.attach(std::thread::current());
        let mut checked = false;
        bell.doze(Duration::from_secs(600), || {
            checked = true;
            false
        });
        assert!(checked);
        // The announcement is withdrawn: a later ring does not unpark anyone.
        assert!(!bell.dozing.load(SeqCst));
    }
}
