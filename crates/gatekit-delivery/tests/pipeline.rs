//! Pipeline behaviour with paused time and scripted transports: batching, backoff,
//! Retry-After, dead-lettering, splitting, partial acceptance, breaker, failover, failback,
//! rate limiting, overflow policies, isolation between destinations, and shutdown.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatekit_delivery::{
    BatchOutcome, BreakerState, DropReason, OverflowPolicy, Pipeline, RateLimitConfig, SubmitError,
    Submitted, Transport,
};
use tokio::time::Instant;

fn spawn(name: &str, c: &gatekit_delivery::DeliveryConfig, t: Vec<Arc<Scripted>>) -> Pipeline {
    let ts: Vec<Arc<dyn Transport>> = t.into_iter().map(|t| t as Arc<dyn Transport>).collect();
    Pipeline::spawn(name, settings(c), ts).unwrap()
}

#[tokio::test(start_paused = true)]
async fn delivers_everything_in_order_in_bounded_batches() {
    let dir = tempfile::tempdir().unwrap();
    let t = Scripted::ok("a");
    let p = spawn("d", &config(dir.path()), vec![t.clone()]);
    let prod = p.producer();
    for i in 0..95 {
        assert_eq!(prod.submit(rec(i)).await.unwrap(), Submitted::Queued);
    }
    wait_until(10_000, || t.delivered().len() == 95).await;
    assert_eq!(t.delivered(), (0..95).collect::<Vec<_>>());
    assert!(t.calls().iter().all(|c| c.ids.len() <= 10));
    let s = p.snapshot();
    assert_eq!(
        (s.submitted, s.delivered, s.dropped_total, s.dead_lettered),
        (95, 95, 0, 0)
    );
    assert!(s.latency_percentile(0.99).is_some());
    let r = p.shutdown().await;
    assert_eq!(r.lost, 0);
}

#[tokio::test(start_paused = true)]
async fn fixed_mode_partial_batch_waits_for_batch_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.batch_mode = gatekit_delivery::BatchMode::Fixed;
    c.batch_timeout = 2.0;
    c.flush_interval = 60.0;
    let t = Scripted::ok("a");
    let p = spawn("d", &c, vec![t.clone()]);
    let start = Instant::now();
    for i in 0..3 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(t.calls().is_empty(), "sent before batch_timeout");
    wait_until(10_000, || t.delivered().len() == 3).await;
    assert!(t.calls()[0].at - start >= Duration::from_secs(2));
    // A full batch goes at once.
    let before = t.calls().len();
    let at = Instant::now();
    for i in 10..20 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(10_000, || t.calls().len() == before + 1).await;
    assert!(t.calls()[before].at - at < Duration::from_secs(2));
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn retries_with_jittered_exponential_backoff_then_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.retry_attempts = 5;
    c.retry_initial_delay = 1.0;
    c.retry_backoff = 3.0;
    let t = Scripted::ok("a");
    for _ in 0..4 {
        t.push(retry("503"));
    }
    let p = spawn("d", &c, vec![t.clone()]);
    for i in 0..10 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(100_000, || t.delivered().len() == 10).await;
    let calls = t.calls();
    assert_eq!(calls.len(), 5);
    // Retry n waits at most initial * 3^(n-1) (full jitter: anywhere from zero).
    let mut total = Duration::ZERO;
    for (n, w) in calls.windows(2).enumerate() {
        let gap = w[1].at - w[0].at;
        let ceiling = Duration::from_secs(3u64.pow(n as u32));
        assert!(
            gap <= ceiling,
            "retry {} waited {gap:?} > {ceiling:?}",
            n + 1
        );
        // Under paused time a retry without a backoff sleep happens at the same instant.
        assert!(gap > Duration::ZERO, "retry {} did not back off", n + 1);
        total += gap;
    }
    // Uniform jitter over windows of 1, 3, 9 and 27 s: a total under 100 ms has a
    // probability of about 6e-9, so this fails only if the backoff shrank.
    assert!(
        total >= Duration::from_millis(100),
        "backoff total {total:?}"
    );
    let s = p.snapshot();
    assert_eq!(s.failed_attempts, 4);
    assert_eq!(s.retried, 40);
    assert_eq!(s.dead_lettered, 0);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_hung_send_times_out_and_fails_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.request_timeout = 2.0;
    let a = Scripted::ok("a");
    a.push(Step::Hang);
    let b = Scripted::ok("b");
    let p = spawn("d", &c, vec![a.clone(), b.clone()]);
    for i in 0..10 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(100_000, || b.delivered().len() == 10).await;
    assert_eq!(b.calls()[0].at - a.calls()[0].at, Duration::from_secs(2));
    let s = p.snapshot();
    assert_eq!((s.failed_attempts, s.failovers), (1, 1));
    // The next batch goes to the primary again, which answers now.
    for i in 10..20 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(100_000, || a.delivered().len() == 10).await;
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let t = Scripted::ok("a");
    t.push(Step::Answer(BatchOutcome::Retry {
        reason: "429".into(),
        retry_after: Some(Duration::from_secs(7)),
    }));
    let p = spawn("d", &config(dir.path()), vec![t.clone()]);
    for i in 0..10 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(100_000, || t.delivered().len() == 10).await;
    let calls = t.calls();
    assert_eq!(calls[1].at - calls[0].at, Duration::from_secs(7));
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_go_to_the_dead_letter_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.retry_attempts = 2;
    c.breaker.failure_threshold = 100;
    let t = Scripted::new("a", retry("HTTP 503"));
    let p = spawn("d", &c, vec![t.clone()]);
    for i in 0..10 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(100_000, || p.snapshot().dead_lettered == 10).await;
    assert_eq!(t.calls().len(), 3, "first attempt + 2 retries");
    let dl = dead_letters(dir.path());
    assert_eq!(dl.len(), 10);
    assert!(dl[0]["reason"].as_str().unwrap().contains("HTTP 503"));
    assert_eq!(dl[3]["payload"], "event 3");
    assert_eq!(p.snapshot().delivered, 0);
    p.shutdown().await;
}

/// Answers TooLarge for batches above `max`, else Delivered.
#[derive(Debug)]
struct SizeLimited {
    max: usize,
    inner: Arc<Scripted>,
}
impl Transport for SizeLimited {
    fn name(&self) -> &str {
        "limited"
    }
    fn send<'a>(
        &'a self,
        batch: &'a [gatekit_delivery::Record],
    ) -> gatekit_delivery::SendFuture<'a> {
        if batch.len() > self.max || batch.iter().any(|r| r.payload.len() > 100) {
            return Box::pin(async { BatchOutcome::TooLarge });
        }
        self.inner.send(batch)
    }
}

#[tokio::test(start_paused = true)]
async fn too_large_batches_are_halved_and_oversize_records_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let inner = Scripted::ok("inner");
    let t: Arc<dyn Transport> = Arc::new(SizeLimited {
        max: 3,
        inner: inner.clone(),
    });
    let p = Pipeline::spawn("d", settings(&config(dir.path())), vec![t]).unwrap();
    for i in 0..10 {
        if i == 4 {
            let mut r = rec(i);
            r.payload = vec![b'x'; 500];
            p.producer().try_submit(r).unwrap();
        } else {
            p.producer().try_submit(rec(i)).unwrap();
        }
    }
    wait_until(10_000, || {
        p.snapshot().delivered == 9 && p.snapshot().dead_lettered == 1
    })
    .await;
    assert_eq!(
        inner.delivered(),
        vec![0, 1, 2, 3, 5, 6, 7, 8, 9],
        "order kept across splits"
    );
    assert!(p.snapshot().split_batches >= 2);
    let dl = dead_letters(dir.path());
    assert_eq!(dl.len(), 1);
    assert!(dl[0]["reason"].as_str().unwrap().contains("too large"));
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn partial_acceptance_resends_only_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let t = Scripted::ok("hec");
    t.push(Step::Answer(BatchOutcome::Partial {
        delivered: 3,
        reason: "code 6 invalid-event-number 3".into(),
    }));
    let p = spawn("d", &config(dir.path()), vec![t.clone()]);
    for i in 0..10 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(10_000, || p.snapshot().delivered == 9).await;
    assert_eq!(t.calls()[1].ids, vec![4, 5, 6, 7, 8, 9]);
    assert_eq!(t.delivered(), vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);
    let dl = dead_letters(dir.path());
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0]["payload"], "event 3");
    let s = p.snapshot();
    assert_eq!((s.rejected, s.dead_lettered, s.failed_attempts), (1, 1, 0));
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn rejected_batches_are_dead_lettered_without_retry() {
    let dir = tempfile::tempdir().unwrap();
    let t = Scripted::new(
        "a",
        Step::Answer(BatchOutcome::Reject {
            reason: "HTTP 403".into(),
        }),
    );
    let p = spawn("d", &config(dir.path()), vec![t.clone()]);
    for i in 0..10 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(10_000, || p.snapshot().dead_lettered == 10).await;
    assert_eq!(t.calls().len(), 1);
    assert_eq!(
        p.snapshot().breakers[0].1,
        BreakerState::Closed,
        "a rejection proves the endpoint is up"
    );
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn breaker_opens_fails_over_and_fails_back_after_probe() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.breaker.failure_threshold = 2;
    c.breaker.open_for = 10.0;
    let primary = Scripted::new("hec", retry("connection refused"));
    let secondary = Scripted::ok("syslog");
    let p = spawn("splunk", &c, vec![primary.clone(), secondary.clone()]);
    let prod = p.producer();
    let mut next = 0u128;
    let mut send_batch = || {
        for _ in 0..10 {
            prod.try_submit(rec(next)).unwrap();
            next += 1;
        }
    };
    // Two batches: the primary fails each time, the secondary takes them; then it opens.
    send_batch();
    wait_until(10_000, || secondary.delivered().len() == 10).await;
    send_batch();
    wait_until(10_000, || secondary.delivered().len() == 20).await;
    assert_eq!(primary.calls().len(), 2);
    let s = p.snapshot();
    assert_eq!(s.breakers[0].1, BreakerState::Open);
    assert_eq!(s.active_endpoint.as_deref(), Some("syslog"));
    assert_eq!(s.dead_lettered, 0);
    // While open, the primary is skipped entirely.
    send_batch();
    wait_until(10_000, || secondary.delivered().len() == 30).await;
    assert_eq!(primary.calls().len(), 2);
    // The primary recovers; after open_for one probe goes to it and traffic fails back.
    primary.set_default(Step::Answer(BatchOutcome::Delivered));
    tokio::time::sleep(Duration::from_secs(10)).await;
    send_batch();
    wait_until(10_000, || primary.delivered().len() == 10).await;
    send_batch();
    wait_until(10_000, || primary.delivered().len() == 20).await;
    assert_eq!(secondary.delivered().len(), 30);
    let s = p.snapshot();
    assert_eq!(s.breakers[0].1, BreakerState::Closed);
    assert_eq!(s.active_endpoint.as_deref(), Some("hec"));
    assert_eq!(s.failovers, 3);
    assert_eq!(s.delivered, 50);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn all_breakers_open_waits_without_using_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.breaker.failure_threshold = 1;
    c.breaker.open_for = 60.0;
    c.retry_attempts = 1;
    c.retry_max_delay = 1.0;
    let t = Scripted::new("a", retry("down"));
    let p = spawn("d", &c, vec![t.clone()]);
    for i in 0..10 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    // Attempt 1 fails and opens the breaker; the retry must wait for the probe at +60 s.
    wait_until(100, || t.calls().len() == 1).await;
    let t0 = t.calls()[0].at;
    t.set_default(Step::Answer(BatchOutcome::Delivered));
    wait_until(100_000, || p.snapshot().delivered == 10).await;
    let calls = t.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls[1].at - t0 >= Duration::from_secs(60));
    assert_eq!(p.snapshot().dead_lettered, 0);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn rate_limit_delays_but_never_drops() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.rate_limit = Some(RateLimitConfig {
        events_per_sec: Some(100.0),
        bytes_per_sec: None,
    });
    c.buffer_size = 10_000;
    let t = Scripted::ok("a");
    let p = spawn("d", &c, vec![t.clone()]);
    let start = Instant::now();
    for i in 0..500 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(1_000_000, || t.delivered().len() == 500).await;
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "500 events at 100/s with a 1 s burst"
    );
    let s = p.snapshot();
    assert_eq!(s.dropped_total, 0);
    assert!(s.rate_limited_waits > 0);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn overflow_policies_count_every_drop() {
    for policy in [
        OverflowPolicy::DropOldest,
        OverflowPolicy::DropNewest,
        OverflowPolicy::FailClosed,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.buffer_size = 20;
        c.overflow = policy;
        let t = Scripted::new("a", Step::Hang);
        let p = spawn("d", &c, vec![t.clone()]);
        // The first batch of 10 gets stuck in flight; 20 fit in the queue; 70 overflow.
        for i in 0..10 {
            p.producer().try_submit(rec(i)).unwrap();
        }
        wait_until(100, || t.calls().len() == 1).await;
        let mut refused = 0;
        for i in 10..100 {
            match p.producer().try_submit(rec(i)) {
                Ok(_) => {}
                Err(SubmitError::Full { record, .. }) => {
                    assert_eq!(record.id.0, i);
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let s = p.snapshot();
        assert_eq!(s.memory_events, 20);
        match policy {
            OverflowPolicy::DropOldest => {
                assert_eq!(s.dropped_for(DropReason::QueueFullOldest), 70)
            }
            OverflowPolicy::DropNewest => {
                assert_eq!(s.dropped_for(DropReason::QueueFullNewest), 70)
            }
            _ => {
                assert_eq!(refused, 70);
                assert_eq!(s.refused, 70);
                assert_eq!(s.dropped_total, 0);
            }
        }
        let r = p.shutdown_within(Duration::from_millis(10)).await;
        assert_eq!(
            r.lost, 30,
            "{policy:?}: 10 in flight + 20 queued, no disk buffer"
        );
        assert_eq!(t.calls().len(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn block_policy_waits_for_room() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.buffer_size = 10;
    c.overflow = OverflowPolicy::Block;
    let t = Scripted::new(
        "a",
        Step::After(Duration::from_secs(1), BatchOutcome::Delivered),
    );
    let p = spawn("d", &c, vec![t.clone()]);
    let prod = p.producer();
    for i in 0..60 {
        prod.submit(rec(i)).await.unwrap();
    }
    wait_until(100_000, || t.delivered().len() == 60).await;
    assert_eq!(t.delivered(), (0..60).collect::<Vec<_>>());
    let s = p.snapshot();
    assert_eq!(s.dropped_total, 0);
    assert!(s.blocked_submits > 0);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_hung_destination_does_not_stall_another() {
    let dir = tempfile::tempdir().unwrap();
    let dead = Scripted::new("dead", Step::Hang);
    let live = Scripted::ok("live");
    let p1 = spawn("dead", &config(dir.path()), vec![dead.clone()]);
    let p2 = spawn("live", &config(dir.path()), vec![live.clone()]);
    for i in 0..100 {
        p1.producer().try_submit(rec(i)).unwrap();
        p2.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(10_000, || live.delivered().len() == 100).await;
    assert!(dead.delivered().is_empty());
    p2.shutdown().await;
    let r = p1.shutdown_within(Duration::from_millis(50)).await;
    assert_eq!(r.lost, 100);
    assert_eq!(r.flushed, 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_within_deadline_and_refuses_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.batch_timeout = 60.0;
    c.flush_interval = 60.0;
    let t = Scripted::ok("a");
    let p = spawn("d", &c, vec![t.clone()]);
    let prod = p.producer();
    for i in 0..5 {
        prod.try_submit(rec(i)).unwrap();
    }
    let r = p.shutdown().await;
    assert_eq!((r.flushed, r.lost, r.persisted), (5, 0, 0));
    assert_eq!(t.delivered().len(), 5);
    assert!(matches!(
        prod.try_submit(rec(9)),
        Err(SubmitError::Closed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn adaptive_batching_sends_a_lone_event_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.batch_timeout = 1.0; // the shipped default; adaptive mode does not wait for it
    assert_eq!(
        c.batch_mode,
        gatekit_delivery::BatchMode::Adaptive,
        "the default"
    );
    let t = Scripted::ok("a");
    let p = spawn("d", &c, vec![t.clone()]);
    tokio::time::sleep(Duration::from_secs(5)).await; // quiet for a while
    let at = Instant::now();
    p.producer().try_submit(rec(1)).unwrap();
    wait_until(10_000, || t.delivered().len() == 1).await;
    assert_eq!(t.calls()[0].at, at, "no batch wait in (paused) time");
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn adaptive_batches_fill_while_the_previous_one_is_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path()); // batch_size 10
    let t = Scripted::new(
        "slow",
        Step::After(Duration::from_millis(100), BatchOutcome::Delivered),
    );
    let p = spawn("d", &c, vec![t.clone()]);
    let prod = p.producer();
    prod.try_submit(rec(0)).unwrap();
    // 25 more arrive while the first one is in flight.
    for i in 1..26 {
        tokio::time::sleep(Duration::from_millis(2)).await;
        prod.try_submit(rec(i)).unwrap();
    }
    wait_until(10_000, || t.delivered().len() == 26).await;
    let sizes: Vec<usize> = t.calls().iter().map(|c| c.ids.len()).collect();
    assert_eq!(
        sizes,
        vec![1, 10, 10, 5],
        "full batches under load, limits kept"
    );
    assert_eq!(t.delivered(), (0..26).collect::<Vec<_>>());
    p.shutdown().await;
}
