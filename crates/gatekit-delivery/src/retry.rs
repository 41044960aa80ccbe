//! Retry backoff: exponential growth with full jitter, capped, honouring `Retry-After`.
//!
//! Job: compute how long to wait before retry number `n` of a batch. Pure, so it is tested
//! directly and with paused time.
//!
//! Invariants:
//! - Without `Retry-After`, the delay is uniform in `[0, min(max, initial * multiplier^(n-1))]`
//!   ("full jitter": retries from many gateways do not synchronise into a storm).
//! - With `Retry-After`, the delay is exactly that value capped at `retry_after_max`: the
//!   server told us when it can take traffic again, and jitter would only make us later.

use std::time::Duration;

use crate::config::RetrySettings;

/// The ceiling of the jitter window for retry number `retry` (1-based).
pub fn backoff_ceiling(settings: &RetrySettings, retry: u32) -> Duration {
    let exp = retry.saturating_sub(1).min(64) as i32;
    let secs = settings.initial.as_secs_f64() * settings.multiplier.powi(exp);
    let capped = secs.min(settings.max.as_secs_f64());
    Duration::try_from_secs_f64(capped).unwrap_or(settings.max)
}

/// The delay before retry number `retry` (1-based), using `rng` for jitter.
pub fn retry_delay(
    settings: &RetrySettings,
    retry: u32,
    retry_after: Option<Duration>,
    rng: &mut fastrand::Rng,
) -> Duration {
    if let Some(after) = retry_after {
        return after.min(settings.retry_after_max);
    }
    let ceiling = backoff_ceiling(settings, retry);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.u64(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RetrySettings {
        RetrySettings {
            attempts: 3,
            multiplier: 2.0,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            retry_after_max: Duration::from_secs(300),
        }
    }

    #[test]
    fn ceiling_grows_by_multiplier_and_caps() {
        let s = settings();
        assert_eq!(backoff_ceiling(&s, 1), Duration::from_secs(1));
        assert_eq!(backoff_ceiling(&s, 2), Duration::from_secs(2));
        assert_eq!(backoff_ceiling(&s, 4), Duration::from_secs(8));
        assert_eq!(backoff_ceiling(&s, 10), Duration::from_secs(30));
        assert_eq!(backoff_ceiling(&s, u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_in_window_and_varies() {
        let s = settings();
        let mut rng = fastrand::Rng::with_seed(7);
        let delays: Vec<Duration> = (0..200)
            .map(|_| retry_delay(&s, 3, None, &mut rng))
            .collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(4)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "full jitter should spread delays");
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let s = settings();
        let mut rng = fastrand::Rng::with_seed(1);
        let d = retry_delay(&s, 1, Some(Duration::from_secs(42)), &mut rng);
        assert_eq!(d, Duration::from_secs(42));
        let d = retry_delay(&s, 1, Some(Duration::from_secs(4000)), &mut rng);
        assert_eq!(d, Duration::from_secs(300));
    }
}
