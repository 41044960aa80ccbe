//! Circuit breaker for one endpoint: closed, open, half-open with a single probe.
//!
//! Job: stop sending to an endpoint that keeps failing, and let exactly one probe through
//! after `open_for` to find out whether it recovered (which is also how failover fails back).
//!
//! Invariants:
//! - Only retryable failures (the endpoint did not take the batch) count as failures; a
//!   rejection, a split or a partial answer proves the endpoint is up.
//! - In half-open at most one probe is outstanding; its result closes or re-opens the breaker.
//! - Time comes from `tokio::time::Instant`, so tests drive it with paused time.
//! - An early probe (`try_acquire_early`) is allowed no sooner than `early` after the breaker
//!   opened; the caller uses it only while producers are being refused (see
//!   `backpressure.rs`), so a dead endpoint still sees at most one probe per `early`.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::BreakerSettings;
use crate::metrics::BreakerState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant, since: Instant },
    HalfOpen { probing: bool },
}

/// A breaker for one endpoint.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    state: State,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            state: State::Closed { failures: 0 },
        }
    }

    /// Whether a send may start now. In half-open this takes the single probe permit.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        self.try_acquire_early(now, None)
    }

    /// Like [`Breaker::try_acquire`], but an open breaker also lets its probe through once
    /// `early` has passed since it opened (used while producers are being refused, so the
    /// destination's recovery is noticed within `early` instead of `open_for`).
    pub fn try_acquire_early(&mut self, now: Instant, early: Option<Duration>) -> bool {
        match self.state {
            State::Closed { .. } => true,
            State::Open { until, since }
                if now >= until || early.is_some_and(|e| now >= crate::instant_after(since, e)) =>
            {
                self.state = State::HalfOpen { probing: true };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { probing } => {
                if probing {
                    false
                } else {
                    self.state = State::HalfOpen { probing: true };
                    true
                }
            }
        }
    }

    /// When an open breaker will allow a probe; `None` if it allows sends now.
    pub fn reopens_at(&self) -> Option<Instant> {
        self.reopens_at_early(None)
    }

    /// When an open breaker will allow a probe through [`Breaker::try_acquire_early`].
    pub fn reopens_at_early(&self, early: Option<Duration>) -> Option<Instant> {
        match self.state {
            State::Open { until, since } => Some(match early {
                Some(e) => until.min(crate::instant_after(since, e)),
                None => until,
            }),
            _ => None,
        }
    }

    /// Records an answer that proves the endpoint is up.
    pub fn on_success(&mut self) {
        self.state = State::Closed { failures: 0 };
    }

    /// Records a retryable failure at `now`.
    pub fn on_failure(&mut self, now: Instant) {
        self.state = match self.state {
            State::Closed { failures } => {
                let failures = failures + 1;
                if failures >= self.settings.failure_threshold.get() {
                    State::Open {
                        until: crate::instant_after(now, self.settings.open_for),
                        since: now,
                    }
                } else {
                    State::Closed { failures }
                }
            }
            // A failed probe (or a failure while open) re-opens for a full period.
            State::HalfOpen { .. } | State::Open { .. } => State::Open {
                until: crate::instant_after(now, self.settings.open_for),
                since: now,
            },
        };
    }

    /// The state as a metrics gauge.
    pub fn state(&self) -> BreakerState {
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings {
            failure_threshold: NonZeroU32::new(2).unwrap(),
            open_for: Duration::from_secs(10),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_open_period_saturates_instead_of_panicking() {
        let mut b = Breaker::new(BreakerSettings {
            failure_threshold: NonZeroU32::new(1).unwrap(),
            open_for: Duration::MAX,
        });
        let t0 = Instant::now();
        b.on_failure(t0);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b
            .reopens_at()
            .is_some_and(|at| at > t0 + Duration::from_secs(86_400)));
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold_and_probes_once() {
        let mut b = breaker();
        let t0 = Instant::now();
        assert!(b.try_acquire(t0));
        b.on_failure(t0);
        assert_eq!(b.state(), BreakerState::Closed);
        b.on_failure(t0);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.try_acquire(t0 + Duration::from_secs(9)));
        assert_eq!(b.reopens_at(), Some(t0 + Duration::from_secs(10)));
        let t1 = t0 + Duration::from_secs(10);
        assert!(b.try_acquire(t1), "first probe allowed");
        assert!(!b.try_acquire(t1), "second probe refused");
        b.on_failure(t1);
        assert_eq!(b.state(), BreakerState::Open);
        let t2 = t1 + Duration::from_secs(10);
        assert!(b.try_acquire(t2));
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire(t2));
    }

    #[tokio::test(start_paused = true)]
    async fn an_early_probe_comes_after_the_early_interval_only() {
        let mut b = breaker();
        let t0 = Instant::now();
        b.on_failure(t0);
        b.on_failure(t0);
        let early = Some(Duration::from_secs(1));
        assert_eq!(b.reopens_at_early(early), Some(t0 + Duration::from_secs(1)));
        assert!(!b.try_acquire_early(t0 + Duration::from_millis(999), early));
        assert!(b.try_acquire_early(t0 + Duration::from_secs(1), early));
        assert!(
            !b.try_acquire_early(t0 + Duration::from_secs(1), early),
            "one probe"
        );
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
