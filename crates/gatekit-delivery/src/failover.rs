//! Resolving one batch: ordered failover across endpoints, breakers, retry, split, partial
//! acceptance and dead-lettering.
//!
//! Job: take a batch and not return until every record in it is either acknowledged by an
//! endpoint or written to the dead-letter file. The caller (the pipeline worker) then
//! acknowledges the batch to the disk buffer.
//!
//! Policy, in order:
//! 1. A *round* tries the endpoints in configured order, skipping those whose breaker is open.
//!    Each send is bounded by `request_timeout`; a send that does not answer in time counts
//!    as a retryable failure.
//!    The first endpoint that answers definitively ends the round. A retryable failure moves on
//!    to the next endpoint at once (failover); the next batch starts again from the first
//!    endpoint, so the primary takes traffic back as soon as its breaker lets a probe through
//!    (failback).
//! 2. If every endpoint failed in a round, the batch waits (backoff with full jitter, or the
//!    largest `Retry-After` seen) and starts a new round. A *durable* batch (read from the
//!    disk buffer, so it survives anything but the loss of the disk) is retried for as long
//!    as it takes, the backoff capped at `retry_max_delay`: an outage never dead-letters
//!    (decision 0206). A batch held only in memory is dead-lettered with the last reason
//!    after `retry_attempts` retries, counted in `retries_exhausted` as well.
//! 3. If every breaker is open, the batch waits for the earliest probe time; this does not
//!    use up attempts (the records stay buffered, which is the at-least-once promise).
//! 4. While producers are refused or blocked (`backpressure.rs`), every backoff wait is
//!    capped at `PRESSURE_PROBE` (a server's `Retry-After` is still honoured) and breakers
//!    let their probe through after that long, so delivery resumes within about that
//!    interval once the destination accepts again. A wait cut short this way does not use up
//!    an attempt.
//! 5. `TooLarge` halves the batch (order kept); a single record that is still too large is
//!    dead-lettered. `Reject` dead-letters the batch. `Partial` counts the accepted prefix,
//!    dead-letters the rejected record and resends the rest. These are the only definitive
//!    rejections; the transport decides which answers are definitive.
//! 6. With `max_event_age`, records older than it (by their enqueue time) are dead-lettered
//!    before each round instead of being sent, counted in `expired`.
//!
//! Invariants: no record leaves `deliver` unaccounted; one send at a time (so the half-open
//! probe is naturally single); a failed dead-letter write is retried, never skipped.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::backpressure::{Backpressure, PRESSURE_PROBE};
use crate::breaker::Breaker;
use crate::config::{BreakerSettings, RetrySettings};
use crate::dead_letter::DeadLetter;
use crate::metrics::Metrics;
use crate::rate::RateLimiter;
use crate::record::{now_unix_us, Record};
use crate::retry::retry_delay;
use crate::transport::{BatchOutcome, Transport};

struct Endpoint {
    transport: Arc<dyn Transport>,
    breaker: Breaker,
}

/// Owns the endpoints and policies of one destination and resolves batches.
pub(crate) struct Deliverer {
    endpoints: Vec<Endpoint>,
    retry: RetrySettings,
    /// Longest wait for one send; a hung endpoint then fails over like any retryable error.
    request_timeout: Duration,
    rate: Option<RateLimiter>,
    dead_letter: DeadLetter,
    metrics: Arc<Metrics>,
    rng: fastrand::Rng,
    /// Raised by producers that are refused or waiting: shortens every wait (module doc, 4).
    pressure: Arc<Backpressure>,
    /// Records older than this are dead-lettered instead of sent (module doc, 6).
    max_age: Option<Duration>,
}

/// What the deliverer needs besides the endpoints, grouped so `Deliverer::new` stays short.
pub(crate) struct Policies {
    pub(crate) breaker: BreakerSettings,
    pub(crate) retry: RetrySettings,
    pub(crate) request_timeout: Duration,
    pub(crate) rate: Option<RateLimiter>,
    pub(crate) max_age: Option<Duration>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("endpoints", &self.endpoints.len())
            .field("dead_letter", &self.dead_letter)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    pub(crate) fn new(
        transports: Vec<Arc<dyn Transport>>,
        policies: Policies,
        dead_letter: DeadLetter,
        metrics: Arc<Metrics>,
        pressure: Arc<Backpressure>,
    ) -> Self {
        Self {
            endpoints: transports
                .into_iter()
                .map(|transport| Endpoint {
                    transport,
                    breaker: Breaker::new(policies.breaker),
                })
                .collect(),
            retry: policies.retry,
            request_timeout: policies.request_timeout,
            rate: policies.rate,
            dead_letter,
            metrics,
            rng: fastrand::Rng::new(),
            pressure,
            max_age: policies.max_age,
        }
    }

    /// Resolves every record of `batch` (see the module doc). `durable`: the records are
    /// safe in the disk buffer until acknowledged, so retryable failures never dead-letter
    /// them.
    pub(crate) async fn deliver(&mut self, batch: Vec<Record>, durable: bool) {
        // A stack of pieces still to resolve; the next piece in order is on top.
        let mut work = vec![batch];
        while let Some(piece) = work.pop() {
            if !piece.is_empty() {
                self.deliver_piece(piece, &mut work, durable).await;
            }
        }
    }

    /// Dead-letters the records of `records` older than `max_event_age`; returns the rest.
    async fn drop_expired(&mut self, records: Vec<Record>) -> Vec<Record> {
        let Some(max) = self.max_age else {
            return records;
        };
        let max_us = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        let now = now_unix_us();
        let (old, keep): (Vec<Record>, Vec<Record>) = records
            .into_iter()
            .partition(|r| now.saturating_sub(r.enqueued_us) > max_us);
        if !old.is_empty() {
            let reason = format!("older than max_event_age ({}s)", max.as_secs_f64());
            self.dead_letter(&old, "none", &reason).await;
            self.metrics.expired.fetch_add(old.len() as u64, Relaxed);
        }
        keep
    }

    /// Waits `full` (capped while producers are refused, unless the server asked for it with
    /// `Retry-After`: probing a throttling server faster would only be refused again).
    /// Returns whether the wait was cut short by back-pressure, in which case it does not
    /// count as a retry round.
    async fn pause(&self, full: Duration, server_asked: bool) -> bool {
        if server_asked {
            tokio::time::sleep(full).await;
            return false;
        }
        let wait = self.pressure.cap(full);
        tokio::select! {
            _ = tokio::time::sleep(wait) => wait < full,
            _ = self.pressure.raised() => true,
        }
    }

    async fn deliver_piece(
        &mut self,
        records: Vec<Record>,
        work: &mut Vec<Vec<Record>>,
        durable: bool,
    ) {
        let mut records = records;
        let mut failed_rounds: u32 = 0;
        let mut warned_budget = false;
        loop {
            records = self.drop_expired(records).await;
            if records.is_empty() {
                return;
            }
            let bytes: usize = records.iter().map(|r| r.payload.len()).sum();
            let mut tried = false;
            let mut retry_after: Option<Duration> = None;
            let mut last_reason = String::new();
            let early = self.pressure.is_active().then_some(PRESSURE_PROBE);
            for i in 0..self.endpoints.len() {
                if !self.endpoints[i]
                    .breaker
                    .try_acquire_early(Instant::now(), early)
                {
                    continue;
                }
                self.publish_breaker(i);
                tried = true;
                if let Some(rate) = &mut self.rate {
                    if rate.acquire(records.len(), bytes).await {
                        self.metrics.rate_limited_waits.fetch_add(1, Relaxed);
                    }
                }
                let transport = Arc::clone(&self.endpoints[i].transport);
                let outcome = match tokio::time::timeout(
                    self.request_timeout,
                    transport.send(&records),
                )
                .await
                {
                    Ok(outcome) => outcome,
                    // Nothing can be assumed delivered: retry (the receiver de-duplicates
                    // on the record id if the send did land).
                    Err(_) => BatchOutcome::Retry {
                        reason: format!(
                            "no answer within {:?} (request_timeout)",
                            self.request_timeout
                        ),
                        retry_after: None,
                    },
                };
                let name = transport.name();
                if matches!(outcome, BatchOutcome::Retry { .. }) {
                    self.endpoints[i].breaker.on_failure(Instant::now());
                } else {
                    self.endpoints[i].breaker.on_success();
                    self.metrics.active_endpoint.store(i as u64, Relaxed);
                    if i > 0 {
                        self.metrics.failovers.fetch_add(1, Relaxed);
                    }
                }
                self.publish_breaker(i);
                match outcome {
                    BatchOutcome::Delivered => {
                        self.metrics
                            .record_delivered(records.iter().map(|r| r.enqueued_us));
                        return;
                    }
                    BatchOutcome::Retry {
                        reason,
                        retry_after: after,
                    } => {
                        self.metrics.failed_attempts.fetch_add(1, Relaxed);
                        self.metrics.record_failure(name, &reason);
                        tracing::warn!(endpoint = %name, %reason, events = records.len(), "Delivery attempt failed.");
                        retry_after = retry_after.max(after);
                        last_reason = format!("{name}: {reason}");
                    }
                    BatchOutcome::TooLarge => {
                        if records.len() == 1 {
                            self.reject(&records, name, "record too large for destination")
                                .await;
                        } else {
                            self.metrics.split_batches.fetch_add(1, Relaxed);
                            let mut left = records;
                            let right = left.split_off(left.len() / 2);
                            work.push(right);
                            work.push(left);
                        }
                        return;
                    }
                    BatchOutcome::Reject { reason } => {
                        self.reject(&records, name, &reason).await;
                        return;
                    }
                    BatchOutcome::Partial { delivered, reason } => {
                        let n = delivered.min(records.len());
                        self.metrics
                            .record_delivered(records[..n].iter().map(|r| r.enqueued_us));
                        if n < records.len() {
                            self.reject(&records[n..=n], name, &reason).await;
                            if n + 1 < records.len() {
                                work.push(records[n + 1..].to_vec());
                            }
                        }
                        return;
                    }
                }
            }
            if !tried {
                // Every breaker is open: wait for the first probe slot without using an attempt
                // (or until producers start being refused, which allows an earlier probe).
                let at = self
                    .endpoints
                    .iter()
                    .filter_map(|e| e.breaker.reopens_at_early(early))
                    .min()
                    .unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = self.pressure.raised() => {}
                }
                continue;
            }
            failed_rounds = failed_rounds.saturating_add(1);
            if failed_rounds > self.retry.attempts {
                if !durable {
                    let reason = format!(
                        "retries exhausted after {failed_rounds} rounds; last error: {last_reason}"
                    );
                    self.dead_letter(&records, "all", &reason).await;
                    self.metrics
                        .retries_exhausted
                        .fetch_add(records.len() as u64, Relaxed);
                    return;
                }
                if !warned_budget {
                    warned_budget = true;
                    tracing::warn!(events = records.len(), rounds = failed_rounds, last_error = %last_reason, "Retry budget used up; the records are safe in the disk buffer and are retried until the destination takes them.");
                }
            }
            self.metrics
                .retried
                .fetch_add(records.len() as u64, Relaxed);
            let delay = retry_delay(&self.retry, failed_rounds, retry_after, &mut self.rng);
            if self.pause(delay, retry_after.is_some()).await {
                // Cut short by back-pressure: a probe, not a spent attempt.
                failed_rounds -= 1;
            }
        }
    }

    fn publish_breaker(&self, i: usize) {
        self.metrics
            .set_breaker(i, self.endpoints[i].breaker.state());
    }

    async fn reject(&mut self, records: &[Record], endpoint: &str, reason: &str) {
        self.metrics
            .rejected
            .fetch_add(records.len() as u64, Relaxed);
        self.metrics.record_failure(endpoint, reason);
        self.dead_letter(records, endpoint, reason).await;
    }

    /// Writes to the dead-letter file, retrying until it succeeds: dropping here would be the
    /// silent loss the design forbids. The records stay unacknowledged meanwhile.
    async fn dead_letter(&mut self, records: &[Record], endpoint: &str, reason: &str) {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.dead_letter.write(records, endpoint, reason) {
                Ok(()) => {
                    self.metrics
                        .dead_lettered
                        .fetch_add(records.len() as u64, Relaxed);
                    tracing::warn!(endpoint = %endpoint, %reason, events = records.len(), "Records written to the dead-letter file.");
                    return;
                }
                Err(e) => {
                    self.metrics.dead_letter_errors.fetch_add(1, Relaxed);
                    tracing::error!(path = %self.dead_letter.path().display(), error = %e, "Dead-letter write failed; will retry.");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}
