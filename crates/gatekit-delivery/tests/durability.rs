//! End-to-end durability with the disk buffer on: restart with a backlog, a destination that
//! is down for a while, and a 503 storm that must not grow memory.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatekit_delivery::{BatchOutcome, DeliveryConfig, DiskConfig, FsyncMode, Pipeline, Transport};

fn disk_config(dir: &std::path::Path) -> DeliveryConfig {
    let mut c = config(dir);
    c.buffer_size = 1000;
    c.batch_size = 200;
    c.disk = Some(DiskConfig {
        path: dir.join("buffer"),
        max_bytes: 256 << 20,
        segment_bytes: 1 << 20,
        fsync: FsyncMode::Interval,
        fsync_interval_ms: 50,
    });
    c
}

fn spawn(c: &DeliveryConfig, t: &Arc<Scripted>) -> Pipeline {
    let t: Arc<dyn Transport> = t.clone();
    Pipeline::spawn("d", settings(c), vec![t]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_backlog_delivers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = disk_config(dir.path());
    // `block` so a burst from this test cannot overflow the memory queue: this test is about
    // the disk backlog surviving a restart, not about overflow.
    c.overflow = gatekit_delivery::OverflowPolicy::Block;
    // First life: the destination hangs; everything spills to disk.
    let hung = Scripted::new("down", Step::Hang);
    let p = spawn(&c, &hung);
    let prod = p.producer();
    for i in 0..20_000u128 {
        prod.submit(rec(i)).await.unwrap();
        if i % 1000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    wait_or_show(2_000, || p.snapshot().spilled == 20_000, || p.snapshot()).await;
    let r = p.shutdown_within(Duration::from_millis(50)).await;
    assert_eq!(r.lost, 0);
    assert_eq!(
        r.persisted, 20_000,
        "including the in-flight batch, unacknowledged"
    );
    // Second life: the destination works; the backlog is delivered without new submits.
    let ok = Scripted::ok("up");
    let p = spawn(&c, &ok);
    assert_eq!(p.recovery().unwrap().events, 20_000);
    wait_until(20_000, || ok.delivered().len() >= 20_000).await;
    let got: Vec<u128> = ok.delivered();
    assert_eq!(
        got,
        (0..20_000).collect::<Vec<_>>(),
        "in order, no loss, no duplicates"
    );
    let s = p.snapshot();
    assert_eq!((s.dropped_total, s.dead_lettered), (0, 0));
    p.shutdown().await;
    // Third life: nothing left.
    let p = spawn(&c, &ok);
    assert_eq!(p.recovery().unwrap().events, 0);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn destination_down_for_a_while_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = disk_config(dir.path());
    c.retry_attempts = u32::MAX;
    c.breaker.failure_threshold = 3;
    c.breaker.open_for = 5.0;
    let t = Scripted::new(
        "flaky",
        Step::Answer(BatchOutcome::Retry {
            reason: "HTTP 503".into(),
            retry_after: None,
        }),
    );
    let p = spawn(&c, &t);
    let prod = p.producer();
    // 5 minutes of outage while events keep arriving.
    for i in 0..3000u128 {
        prod.submit(rec(i)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls_during_outage = t.calls().len();
    t.set_default(Step::Answer(BatchOutcome::Delivered));
    wait_until(100_000, || t.delivered().len() >= 3000).await;
    let got: HashSet<u128> = t.delivered().into_iter().collect();
    assert_eq!(got.len(), 3000);
    assert_eq!(t.delivered(), (0..3000).collect::<Vec<_>>(), "in order");
    let s = p.snapshot();
    assert_eq!(
        (s.dropped_total, s.dead_lettered, s.lost_at_shutdown),
        (0, 0, 0)
    );
    assert!(s.failed_attempts > 0);
    // The breaker kept probing rate low: far fewer attempts than one per 100 ms.
    assert!(
        calls_during_outage < 300,
        "{calls_during_outage} attempts in 300 s"
    );
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_storm_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = disk_config(dir.path());
    // `block` so every record really goes through the disk buffer (none dropped in memory).
    c.overflow = gatekit_delivery::OverflowPolicy::Block;
    c.retry_attempts = u32::MAX;
    c.retry_initial_delay = 0.01;
    c.retry_max_delay = 0.05;
    c.breaker.open_for = 0.05;
    let t = Scripted::new(
        "storm",
        Step::Answer(BatchOutcome::Retry {
            reason: "HTTP 503".into(),
            retry_after: None,
        }),
    );
    let p = spawn(&c, &t);
    let prod = p.producer();
    let payload = vec![b'x'; 500];
    let submit = |from: u128, to: u128| {
        let prod = prod.clone();
        let payload = payload.clone();
        async move {
            for i in from..to {
                let r =
                    gatekit_delivery::Record::new(gatekit_delivery::RecordId(i), payload.clone());
                prod.submit(r).await.unwrap();
                if i % 500 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }
    };
    // Warm up, then measure growth over a much larger volume.
    let settled = |want: u64| {
        let s = p.snapshot();
        s.spilled + s.dropped_total >= want
    };
    submit(0, 20_000).await;
    wait_until(2_000, || settled(20_000)).await;
    let rss_before = rss_bytes();
    let n = 200_000u128;
    submit(20_000, 20_000 + n).await;
    wait_until(4_000, || settled(20_000 + n as u64)).await;
    let rss_after = rss_bytes();
    let s = p.snapshot();
    let data = n as u64 * 524;
    let growth = rss_after.saturating_sub(rss_before);
    eprintln!(
        "503 storm: {} MB submitted, RSS grew {} KB, memory queue {} bytes, disk {} MB",
        data >> 20,
        growth >> 10,
        s.memory_bytes,
        s.disk_bytes >> 20
    );
    // Memory queue within its cap; RSS growth a small fraction of what went through.
    assert!(s.memory_bytes <= 16 << 20);
    assert!(
        growth * 4 < data,
        "RSS grew {growth} bytes for {data} bytes submitted"
    );
    assert_eq!(s.delivered, 0);
    // Nothing is lost: what was not dropped by `drop_oldest` (counted) is on disk.
    assert_eq!(
        s.disk_events + s.in_flight_events + s.dropped_total,
        20_000 + n as u64
    );
    let r = p.shutdown_within(Duration::from_millis(50)).await;
    assert_eq!(r.lost, 0);
}

/// A file system whose segment writes fail while `failing` is set (a dead or full disk).
#[derive(Debug)]
struct FlakyFs {
    failing: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Debug)]
struct FlakyFile {
    inner: Box<dyn gatekit_delivery::disk::SegmentFile>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl gatekit_delivery::disk::SegmentFile for FlakyFile {
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "injected ENOSPC",
            ));
        }
        self.inner.write_all(buf)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.inner.sync()
    }
}

impl gatekit_delivery::disk::FileSystem for FlakyFs {
    fn create_segment(
        &self,
        path: &std::path::Path,
    ) -> std::io::Result<Box<dyn gatekit_delivery::disk::SegmentFile>> {
        let inner = gatekit_delivery::disk::StdFs.create_segment(path)?;
        Ok(Box::new(FlakyFile {
            inner,
            failing: Arc::clone(&self.failing),
        }))
    }
    fn write_atomic(
        &self,
        path: &std::path::Path,
        bytes: &[u8],
        sync: bool,
    ) -> std::io::Result<()> {
        gatekit_delivery::disk::StdFs.write_atomic(path, bytes, sync)
    }
    fn remove(&self, path: &std::path::Path) -> std::io::Result<()> {
        gatekit_delivery::disk::StdFs.remove(path)
    }
}

#[tokio::test(start_paused = true)]
async fn disk_write_errors_are_counted_and_records_still_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = disk_config(dir.path());
    c.overflow = gatekit_delivery::OverflowPolicy::Block;
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let fs = Arc::new(FlakyFs {
        failing: Arc::clone(&failing),
    });
    let t = Scripted::ok("a");
    let transport: Arc<dyn Transport> = t.clone();
    let p = Pipeline::spawn_with_fs("d", settings(&c), vec![transport], fs).unwrap();
    let prod = p.producer();
    for i in 0..3000u128 {
        prod.submit(rec(i)).await.unwrap();
    }
    wait_until(100_000, || t.delivered().len() == 3000).await;
    let s = p.snapshot();
    assert!(s.disk_errors > 0, "write errors must be surfaced");
    assert_eq!(s.spilled, 0);
    assert_eq!((s.dropped_total, s.dead_lettered), (0, 0));
    // The disk comes back: records are buffered on disk again.
    failing.store(false, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 3000..4000u128 {
        prod.submit(rec(i)).await.unwrap();
    }
    wait_until(100_000, || t.delivered().len() == 4000).await;
    assert!(p.snapshot().spilled > 0);
    assert_eq!(t.delivered(), (0..4000).collect::<Vec<_>>());
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn fail_closed_refuses_when_the_disk_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = disk_config(dir.path());
    c.overflow = gatekit_delivery::OverflowPolicy::FailClosed;
    c.buffer_size = 100;
    if let Some(d) = c.disk.as_mut() {
        d.segment_bytes = 4096;
        d.max_bytes = 64 * 1024;
    }
    let t = Scripted::new("down", Step::Hang);
    let p = spawn(&c, &t);
    let prod = p.producer();
    let mut accepted = 0u64;
    let mut refused = 0u64;
    for i in 0..5000u128 {
        match prod.submit(rec(i)).await {
            Ok(_) => accepted += 1,
            Err(gatekit_delivery::SubmitError::Full { .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let s = p.snapshot();
    assert!(refused > 0, "a full disk must refuse under fail_closed");
    assert_eq!(s.refused, refused);
    assert_eq!(s.dropped_total, 0);
    assert!(s.disk_bytes <= 64 * 1024);
    let r = p.shutdown_within(Duration::from_millis(10)).await;
    // Every accepted record is accounted for: still on disk (unread, or read by the hung
    // in-flight batch and unacknowledged; both count as persisted), or reported lost because
    // the full disk could not take the memory queue at shutdown.
    assert_eq!(r.persisted + r.lost, accepted);
}

#[tokio::test(start_paused = true)]
async fn a_503_storm_without_disk_drops_oldest_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.retry_attempts = u32::MAX;
    c.buffer_size = 1000;
    c.buffer_max_bytes = 64 * 1024;
    let t = Scripted::new(
        "storm",
        Step::Answer(BatchOutcome::Retry {
            reason: "HTTP 503".into(),
            retry_after: None,
        }),
    );
    let p = spawn(&c, &t);
    for i in 0..50_000u128 {
        p.producer().try_submit(rec(i)).unwrap();
        if i % 1000 == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let s = p.snapshot();
        assert!(s.memory_bytes <= 64 * 1024 && s.memory_events <= 1000);
    }
    let s = p.snapshot();
    assert_eq!(s.delivered, 0);
    // Everything submitted is either still queued/in flight or counted as dropped.
    assert_eq!(
        s.memory_events + s.in_flight_events + s.dropped_total,
        50_000
    );
    let r = p.shutdown_within(Duration::from_millis(10)).await;
    assert_eq!(r.lost, s.memory_events + s.in_flight_events);
}

#[tokio::test(start_paused = true)]
async fn drop_oldest_on_a_full_disk_frees_space_while_a_batch_is_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = disk_config(dir.path());
    c.buffer_size = 100;
    if let Some(d) = c.disk.as_mut() {
        d.segment_bytes = 4096;
        d.max_bytes = 64 * 1024;
    }
    let t = Scripted::new("down", Step::Hang);
    let p = spawn(&c, &t);
    let prod = p.producer();
    for i in 0..20_000u128 {
        prod.try_submit(rec(i)).unwrap();
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let s = p.snapshot();
    assert!(s.dropped_for(gatekit_delivery::DropReason::DiskFullOldest) > 0);
    assert!(s.disk_bytes <= 64 * 1024);
    // The newest records survive (drop_oldest), and the accounting is exact.
    assert_eq!(
        s.memory_events + s.disk_events + s.in_flight_events + s.dropped_total,
        20_000
    );
    assert!(
        s.disk_events > 500,
        "the disk keeps the newest records: {}",
        s.disk_events
    );
    p.shutdown_within(Duration::from_millis(10)).await;
    // After a restart the survivors are the newest ids, in order, after the stuck batch.
    let ok = Scripted::ok("up");
    let p = spawn(&c, &ok);
    wait_until(10_000, || {
        p.snapshot().queue_events == 0 && !ok.delivered().is_empty()
    })
    .await;
    let got = ok.delivered();
    // At least everything that was kept; a few records dropped from the segment that also
    // held the stuck batch may come back too (that segment could not be deleted yet).
    let kept = s.disk_events + s.in_flight_events + s.memory_events;
    assert!(got.len() as u64 >= kept);
    assert!((got.len() as u64) < kept + 200);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(*got.last().unwrap(), 19_999);
    p.shutdown().await;
}

#[test]
fn spawn_on_runs_delivery_on_a_dedicated_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let delivery_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let gateway_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Scripted::ok("a");
    let transport: Arc<dyn Transport> = t.clone();
    let c = disk_config(dir.path());
    let p = Pipeline::spawn_on(delivery_rt.handle(), "d", settings(&c), vec![transport]).unwrap();
    gateway_rt.block_on(async {
        for i in 0..1000u128 {
            p.producer().try_submit(rec(i)).unwrap();
        }
        wait_until(20_000, || t.delivered().len() == 1000).await;
        assert_eq!(p.shutdown().await.lost, 0);
    });
}
