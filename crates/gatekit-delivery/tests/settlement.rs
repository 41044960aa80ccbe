//! Settlement: a destination reports a record settled once it is on its disk buffer or final
//! (delivered, dead-lettered, dropped), never while it is only in memory or in flight from
//! memory. The spool in gatekit-siem deletes its own copy of an event on this signal, so a
//! record counted settled too early is a record a SIGKILL can lose.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatekit_delivery::{
    BatchOutcome, DeliveryConfig, DiskConfig, FsyncMode, OverflowPolicy, Pipeline, Ticket,
    Transport,
};

/// A 64 MiB disk buffer under `dir`.
fn disk(dir: &std::path::Path) -> DiskConfig {
    DiskConfig {
        path: dir.join("buffer"),
        max_bytes: 64 << 20,
        segment_bytes: 1 << 20,
        fsync: FsyncMode::Interval,
        fsync_interval_ms: 50,
    }
}

fn spawn(c: &DeliveryConfig, t: &Arc<Scripted>) -> Pipeline {
    let t: Arc<dyn Transport> = t.clone();
    Pipeline::spawn("d", settings(c), vec![t]).unwrap()
}

#[tokio::test(start_paused = true)]
async fn without_a_disk_buffer_only_delivery_settles_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let t = Scripted::new("down", retry("HTTP 503"));
    let mut c = config(dir.path());
    // Retries are jittered down to zero delay: with the default three attempts the failing
    // batch could run out of them (and be dead-lettered, which settles it) within the two
    // seconds below.
    c.retry_attempts = 1000;
    let p = spawn(&c, &t);
    let prod = p.producer();
    let mut last = Ticket(0);
    for i in 0..25u128 {
        last = prod.submit_tracked(rec(i)).await.unwrap();
    }
    assert_eq!(last, Ticket(25), "tickets count accepted records");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!t.calls().is_empty(), "the worker tried to deliver");
    assert!(
        prod.settled() < last,
        "records that only sit in memory (or in a failing batch) are not settled: {:?}",
        prod.settled()
    );
    t.set_default(Step::Answer(BatchOutcome::Delivered));
    wait_or_show(20_000, || prod.settled() >= last, || p.snapshot()).await;
    assert_eq!(t.delivered().len(), 25, "{:?}", p.snapshot());
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn with_a_disk_buffer_a_record_settles_when_it_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.disk = Some(disk(dir.path()));
    let t = Scripted::new("down", retry("HTTP 503"));
    let p = spawn(&c, &t);
    let prod = p.producer();
    let mut last = Ticket(0);
    for i in 0..40u128 {
        last = prod.submit_tracked(rec(i)).await.unwrap();
    }
    // The destination is down, yet every record is on disk: settled.
    wait_or_show(20_000, || prod.settled() >= last, || p.snapshot()).await;
    assert!(t.delivered().is_empty());
    assert_eq!(p.snapshot().delivered, 0);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn dropped_records_settle_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.buffer_size = 5;
    c.overflow = OverflowPolicy::DropOldest;
    let t = Scripted::new("hung", Step::Hang);
    let p = spawn(&c, &t);
    let prod = p.producer();
    let mut tickets = Vec::new();
    for i in 0..30u128 {
        tickets.push(prod.submit_tracked(rec(i)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let settled = prod.settled();
    let dropped = p.snapshot().dropped_total;
    assert!(dropped > 0, "the small queue overflowed");
    // Exactly the evicted (oldest) records are settled: the ones still queued or in flight
    // are not.
    assert_eq!(settled.0, dropped, "{:#?}", p.snapshot());
    assert!(settled < tickets[29]);
}

/// With a disk buffer the memory queue is only where records wait for the next spill: a
/// tracked submission (the spool's, which keeps its own copy) that finds it full waits for
/// the spill instead of applying `drop_oldest` to records the disk has room for. The policy
/// is for a full disk.
#[tokio::test(start_paused = true)]
async fn with_a_disk_buffer_a_full_queue_waits_for_the_spill_instead_of_dropping() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.buffer_size = 5;
    c.overflow = OverflowPolicy::DropOldest;
    c.disk = Some(disk(dir.path()));
    let t = Scripted::new("down", retry("HTTP 503"));
    let p = spawn(&c, &t);
    let prod = p.producer();
    let mut last = Ticket(0);
    for i in 0..200u128 {
        last = prod.submit_tracked(rec(i)).await.unwrap();
    }
    wait_or_show(20_000, || prod.settled() >= last, || p.snapshot()).await;
    let s = p.snapshot();
    assert_eq!(s.dropped_total, 0, "{s:#?}");
    assert_eq!(s.spilled, 200, "every record went to disk: {s:#?}");
    t.set_default(Step::Answer(BatchOutcome::Delivered));
    wait_or_show(20_000, || p.snapshot().delivered == 200, || p.snapshot()).await;
    p.shutdown().await;
}
