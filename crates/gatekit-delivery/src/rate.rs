//! Token-bucket rate limiting per destination, in events/s and bytes/s.
//!
//! Job: make a batch wait before the transport until the destination's budget allows it.
//! Nothing is ever dropped here: waiting pushes back into the queue, where the overflow
//! policy (and its counters) applies.
//!
//! Invariants:
//! - Each bucket holds at most one second of budget (burst = rate).
//! - A batch larger than the burst is allowed once the bucket is full and drives it negative
//!   (debt), so later batches wait it off: the long-run rate still holds and a large batch can
//!   never wait forever.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::RateSettings;

#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Self {
        Self {
            rate,
            tokens: rate,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.rate);
        self.last = now;
    }

    /// How long until `cost` may be taken (0 if now).
    fn wait_for(&self, cost: f64) -> Duration {
        // Demand at most a full bucket, so oversize batches proceed (into debt).
        let need = cost.min(self.rate) - self.tokens;
        if need <= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(need / self.rate).unwrap_or(Duration::from_secs(1))
        }
    }
}

/// Events/s and bytes/s buckets for one destination.
#[derive(Debug)]
pub struct RateLimiter {
    events: Option<Bucket>,
    bytes: Option<Bucket>,
}

impl RateLimiter {
    /// A limiter with full buckets.
    pub fn new(settings: RateSettings) -> Self {
        let now = Instant::now();
        Self {
            events: settings.events_per_sec.map(|r| Bucket::new(r, now)),
            bytes: settings.bytes_per_sec.map(|r| Bucket::new(r, now)),
        }
    }

    /// Waits until `events` records totalling `bytes` may be sent, then spends the budget.
    /// Returns whether it had to wait.
    pub async fn acquire(&mut self, events: usize, bytes: usize) -> bool {
        let mut waited = false;
        loop {
            let now = Instant::now();
            let mut wait = Duration::ZERO;
            for (bucket, cost) in [(&mut self.events, events), (&mut self.bytes, bytes)] {
                if let Some(b) = bucket {
                    b.refill(now);
                    wait = wait.max(b.wait_for(cost as f64));
                }
            }
            if wait.is_zero() {
                break;
            }
            waited = true;
            tokio::time::sleep(wait).await;
        }
        for (bucket, cost) in [(&mut self.events, events), (&mut self.bytes, bytes)] {
            if let Some(b) = bucket {
                b.tokens -= cost as f64;
            }
        }
        waited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn long_run_rate_is_respected() {
        let mut rl = RateLimiter::new(RateSettings {
            events_per_sec: Some(100.0),
            bytes_per_sec: None,
        });
        let start = Instant::now();
        for _ in 0..50 {
            rl.acquire(10, 0).await; // 500 events at 100/s: 1 s burst + 4 s
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_secs(4), "{elapsed:?}");
        assert!(elapsed <= Duration::from_secs(5), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn oversize_batch_goes_through_then_pays_debt() {
        let mut rl = RateLimiter::new(RateSettings {
            events_per_sec: None,
            bytes_per_sec: Some(1000.0),
        });
        let start = Instant::now();
        assert!(!rl.acquire(1, 3000).await);
        assert!(rl.acquire(1, 1).await);
        assert!(start.elapsed() >= Duration::from_secs(2));
    }
}
