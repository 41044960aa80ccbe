//! The "producers are being refused or kept waiting" signal, from producers to the deliverer.
//!
//! Job: under `fail_closed` (and `block`) a full queue stops MCP traffic, so every second the
//! worker spends in a long backoff or behind an open breaker after the SIEM came back is a
//! second of refused tool calls. Producers raise this flag when they refuse or wait; the
//! deliverer then waits at most [`PRESSURE_PROBE`] between attempts and lets a breaker probe
//! through early, so delivery resumes within about that interval once the destination
//! accepts again. The worker clears the flag as soon as the memory queue has room.
//!
//! Invariants:
//! - Raising wakes a waiting deliverer once (on the false → true transition), so a stream of
//!   refusals never becomes a stream of wake-ups.
//! - The flag only shortens waits; it never changes what is delivered, dead-lettered or
//!   dropped.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::Notify;

/// Longest wait between delivery attempts (and breaker probes) while producers are refused
/// or blocked. Short enough that refusals end well within a second of the destination
/// accepting again; long enough that a dead destination sees a few probes a second at most.
pub(crate) const PRESSURE_PROBE: Duration = Duration::from_millis(250);

/// Set while producers are being refused (`fail_closed`) or kept waiting (`block`).
#[derive(Debug, Default)]
pub(crate) struct Backpressure {
    active: AtomicBool,
    wake: Notify,
}

impl Backpressure {
    /// A producer was refused or has to wait.
    pub(crate) fn raise(&self) {
        if !self.active.swap(true, Relaxed) {
            self.wake.notify_one();
        }
    }

    /// The memory queue has room again.
    pub(crate) fn clear(&self) {
        self.active.store(false, Relaxed);
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// Completes when the flag is raised (or was raised since the last wait).
    pub(crate) async fn raised(&self) {
        self.wake.notified().await;
    }

    /// `full`, capped at [`PRESSURE_PROBE`] while the flag is up.
    pub(crate) fn cap(&self, full: Duration) -> Duration {
        if self.is_active() {
            full.min(PRESSURE_PROBE)
        } else {
            full
        }
    }
}
