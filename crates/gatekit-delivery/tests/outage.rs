//! Long outages and their end: with a disk buffer nothing is dead-lettered however long the
//! destination is down; without one the retry budget ends in the dead-letter file, counted;
//! `fail_closed` stops refusing within a second of the destination accepting again;
//! `max_event_age` dead-letters records that waited too long. All in paused time.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatekit_delivery::{
    BatchOutcome, DeliveryConfig, DiskConfig, FsyncMode, OverflowPolicy, Pipeline, Record,
    RecordId, SubmitError, Transport,
};
use tokio::time::Instant;

fn spawn(c: &DeliveryConfig, t: &Arc<Scripted>) -> Pipeline {
    let t: Arc<dyn Transport> = t.clone();
    Pipeline::spawn("d", settings(c), vec![t]).unwrap()
}

fn with_disk(dir: &std::path::Path) -> DeliveryConfig {
    let mut c = config(dir);
    c.disk = Some(DiskConfig {
        path: dir.join("buffer"),
        max_bytes: 64 << 20,
        segment_bytes: 1 << 20,
        fsync: FsyncMode::Interval,
        fsync_interval_ms: 50,
    });
    c
}

#[tokio::test(start_paused = true)]
async fn an_outage_longer_than_the_retry_budget_dead_letters_nothing_with_a_disk_buffer() {
    let dir = tempfile::tempdir().unwrap();
    // Default retry budget and breaker: 3 retries (about 7 s of backoff at most) and a
    // breaker that opens after 5 failures, against a 10-minute outage.
    let c = with_disk(dir.path());
    assert_eq!(c.retry_attempts, DeliveryConfig::default().retry_attempts);
    let t = Scripted::new("down", retry("HTTP 503"));
    let p = spawn(&c, &t);
    let prod = p.producer();
    for i in 0..6000u128 {
        prod.try_submit(rec(i)).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        t.calls().len() > 10,
        "the outage outlasted the retry budget"
    );
    let s = p.snapshot();
    assert_eq!(s.dead_lettered, 0, "{s:#?}");
    t.set_default(Step::Answer(BatchOutcome::Delivered));
    wait_or_show(200_000, || t.delivered().len() >= 6000, || p.snapshot()).await;
    assert_eq!(
        t.delivered(),
        (0..6000).collect::<Vec<_>>(),
        "all, in order"
    );
    let s = p.snapshot();
    assert_eq!((s.dead_lettered, s.dropped_total), (0, 0));
    assert!(dead_letters(dir.path()).is_empty());
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn without_a_disk_buffer_the_budget_ends_in_the_dead_letter_file_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.retry_attempts = 2;
    c.breaker.failure_threshold = 100;
    let t = Scripted::new("down", retry("HTTP 503"));
    let p = spawn(&c, &t);
    for i in 0..10 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(100_000, || p.snapshot().dead_lettered == 10).await;
    let s = p.snapshot();
    assert_eq!(
        s.retries_exhausted, 10,
        "counted as an outage, not a rejection"
    );
    assert_eq!(s.rejected, 0);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn fail_closed_stops_refusing_within_a_second_of_the_destination_accepting() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.buffer_size = 20;
    c.overflow = OverflowPolicy::FailClosed;
    // Operators who prefer buffering to dead letters raise the budget; the default breaker
    // (open for 15 s) used to keep the refusals going that long after the outage.
    c.retry_attempts = 1000;
    let t = Scripted::new("down", retry("HTTP 503"));
    let p = spawn(&c, &t);
    let prod = p.producer();
    let mut next = 0u128;
    let mut refused = 0;
    // A minute of outage with a tool call every 100 ms.
    for _ in 0..600 {
        match prod.try_submit(rec(next)) {
            Ok(_) => next += 1,
            Err(SubmitError::Full { .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused > 500, "the queue filled and calls were refused");
    assert!(prod.try_submit(rec(next)).is_err(), "still refusing");
    let s = p.snapshot();
    assert_eq!(s.dead_lettered, 0, "refusing, not dead-lettering");
    t.set_default(Step::Answer(BatchOutcome::Delivered));
    let back = Instant::now();
    loop {
        if prod.try_submit(rec(next)).is_ok() {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(60), "never recovered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = back.elapsed();
    assert!(
        took <= Duration::from_secs(1),
        "refused for {took:?} after the destination came back"
    );
    wait_until(10_000, || t.delivered().len() as u128 == next + 1).await;
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn records_older_than_max_event_age_are_dead_lettered_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = with_disk(dir.path());
    c.max_event_age = Some(3600.0);
    let t = Scripted::ok("up");
    let p = spawn(&c, &t);
    let now = gatekit_delivery::record::now_unix_us();
    for i in 0..20u128 {
        // Even ids were enqueued two hours ago (a backlog from a long outage); the disk
        // buffer keeps their enqueue time.
        let age_us = if i % 2 == 0 { 7_200_000_000 } else { 0 };
        let r = Record {
            id: RecordId(i),
            enqueued_us: now - age_us,
            payload: format!("event {i}").into_bytes(),
        };
        p.producer().try_submit(r).unwrap();
    }
    wait_until(10_000, || {
        let s = p.snapshot();
        s.delivered + s.dead_lettered == 20
    })
    .await;
    let s = p.snapshot();
    assert_eq!((s.delivered, s.expired, s.dead_lettered), (10, 10, 10));
    assert!(t.delivered().iter().all(|id| id % 2 == 1));
    let dl = dead_letters(dir.path());
    assert_eq!(dl.len(), 10);
    assert!(dl[0]["reason"].as_str().unwrap().contains("max_event_age"));
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn max_event_age_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    assert_eq!(c.max_event_age, None);
    let t = Scripted::ok("up");
    let p = spawn(&c, &t);
    let r = Record {
        id: RecordId(1),
        enqueued_us: 1,
        payload: b"from 1970".to_vec(),
    };
    p.producer().try_submit(r).unwrap();
    wait_until(10_000, || p.snapshot().delivered == 1).await;
    assert_eq!(p.snapshot().expired, 0);
    p.shutdown().await;
}
