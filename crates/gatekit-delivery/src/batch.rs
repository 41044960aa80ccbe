//! When a batch is ready to send.
//!
//! Job: one pure decision shared by the memory and disk paths, so "batch by count, bytes and
//! time" means the same everywhere.
//!
//! The worker asks only when no batch is in flight (one batch in flight per destination), so
//! whatever accumulated during the previous send is what is available now.
//!
//! A batch is sent as soon as any of these holds:
//! - `batch_mode: adaptive` (the default): any event is available and the destination was
//!   idle (no batch resolved in the last [`ADAPTIVE_LINGER`]), or the oldest available event
//!   has waited `ADAPTIVE_LINGER` (capped by `batch_timeout` and `flush_interval`). A lone
//!   event in quiet traffic leaves at once; under load the events that arrived while the
//!   previous batch was in flight form the next one, topped up for at most a few
//!   milliseconds, so batches grow with load by themselves and a very fast endpoint does not
//!   get one event per send at high rates (decision 0207);
//! - `batch_size` events are available, or `batch_max_bytes` bytes;
//! - the oldest available event has waited `batch_timeout` (or `flush_interval`, if shorter)
//!   since data became available (`batch_mode: fixed`);
//! - the pipeline is shutting down (flush everything).

use std::time::Duration;

use tokio::time::Instant;

use crate::config::{BatchMode, BatchSettings};

/// Longest wait for a partial batch under `batch_mode: adaptive` when the previous batch was
/// resolved less than this before the data became available (the destination is busy).
pub(crate) const ADAPTIVE_LINGER: Duration = Duration::from_millis(5);

/// What the worker should do with the data it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Send a batch now.
    Send,
    /// Wait for more data, at most until this instant.
    WaitUntil(Instant),
}

/// Decides whether to send. `since` is when data first became available for the next batch;
/// `busy` whether a batch was resolved less than [`ADAPTIVE_LINGER`] before `since`.
#[allow(
    clippy::too_many_arguments,
    reason = "the batch accounting needs every counter it updates"
)]
pub(crate) fn readiness(
    settings: &BatchSettings,
    flush_interval: Duration,
    events: u64,
    bytes: u64,
    since: Instant,
    now: Instant,
    closing: bool,
    busy: bool,
) -> Readiness {
    let full =
        events >= settings.max_events.get() as u64 || bytes >= settings.max_bytes.get() as u64;
    let wait = match settings.mode {
        BatchMode::Adaptive if busy => ADAPTIVE_LINGER.min(settings.timeout).min(flush_interval),
        BatchMode::Adaptive => Duration::ZERO,
        BatchMode::Fixed => settings.timeout.min(flush_interval),
    };
    let due = crate::instant_after(since, wait);
    if full || closing || now >= due {
        Readiness::Send
    } else {
        Readiness::WaitUntil(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroUsize;

    #[tokio::test(start_paused = true)]
    async fn count_bytes_time_and_closing_each_trigger() {
        let s = BatchSettings {
            max_events: NonZeroUsize::new(10).unwrap(),
            max_bytes: NonZeroUsize::new(1000).unwrap(),
            timeout: Duration::from_secs(2),
            mode: BatchMode::Fixed,
        };
        let fi = Duration::from_secs(30);
        let t0 = Instant::now();
        assert_eq!(
            readiness(&s, fi, 3, 10, t0, t0, false, false),
            Readiness::WaitUntil(t0 + Duration::from_secs(2))
        );
        assert_eq!(
            readiness(&s, fi, 10, 10, t0, t0, false, false),
            Readiness::Send
        );
        assert_eq!(
            readiness(&s, fi, 1, 1000, t0, t0, false, false),
            Readiness::Send
        );
        assert_eq!(
            readiness(&s, fi, 1, 1, t0, t0 + Duration::from_secs(2), false, false),
            Readiness::Send
        );
        assert_eq!(
            readiness(&s, fi, 1, 1, t0, t0, true, false),
            Readiness::Send
        );
        let short = Duration::from_secs(1);
        assert_eq!(
            readiness(&s, short, 1, 1, t0, t0, false, false),
            Readiness::WaitUntil(t0 + short)
        );
        let adaptive = BatchSettings {
            mode: BatchMode::Adaptive,
            ..s
        };
        assert_eq!(
            readiness(&adaptive, fi, 1, 1, t0, t0, false, false),
            Readiness::Send
        );
    }
}
