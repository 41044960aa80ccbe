//! Timers of the worker while a batch is in flight: periodic disk maintenance (interval fsync,
//! ack write) must keep its period under steady traffic, not be restarted by every wake-up.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatekit_delivery::disk::{FileSystem, SegmentFile, StdFs};
use gatekit_delivery::{DiskConfig, FsyncMode, OverflowPolicy, Pipeline, Transport};

/// Counts segment fsyncs. Its files offer no second handle, so the buffer syncs them inline
/// from `maintain`, on the worker's timer.
#[derive(Debug, Default)]
struct CountingFs {
    syncs: Arc<AtomicU64>,
}

#[derive(Debug)]
struct CountingFile {
    inner: Box<dyn SegmentFile>,
    syncs: Arc<AtomicU64>,
}

impl SegmentFile for CountingFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.syncs.fetch_add(1, Relaxed);
        self.inner.sync()
    }
}

impl FileSystem for CountingFs {
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        Ok(Box::new(CountingFile {
            inner: StdFs.create_segment(path)?,
            syncs: Arc::clone(&self.syncs),
        }))
    }
    fn write_atomic(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        StdFs.write_atomic(path, bytes, sync)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        StdFs.remove(path)
    }
}

#[tokio::test(start_paused = true)]
async fn interval_fsyncs_keep_their_period_under_steady_traffic_while_a_batch_is_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.overflow = OverflowPolicy::Block;
    c.disk = Some(DiskConfig {
        path: dir.path().join("buffer"),
        max_bytes: 64 << 20,
        segment_bytes: 1 << 20,
        fsync: FsyncMode::Interval,
        fsync_interval_ms: 50,
    });
    let fs = Arc::new(CountingFs::default());
    let syncs = Arc::clone(&fs.syncs);
    let hung = Scripted::new("down", Step::Hang);
    let transport: Arc<dyn Transport> = hung.clone();
    let p = Pipeline::spawn_with_fs("d", settings(&c), vec![transport], fs).unwrap();
    let prod = p.producer();
    prod.submit(rec(0)).await.unwrap();
    wait_until(1000, || !hung.calls().is_empty()).await;
    let before = syncs.load(Relaxed);
    // Two seconds of traffic, one record every 10 ms: each wakes the worker, which spills it.
    for i in 1..=200u128 {
        prod.submit(rec(i)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let during = syncs.load(Relaxed) - before;
    // 2 s at a 50 ms period is 40 due fsyncs; allow for timer slack, but not for starvation.
    assert!(
        during >= 20,
        "only {during} fsyncs in 2 s of traffic with a 50 ms interval"
    );
    assert_eq!(p.snapshot().spilled, 201);
    p.shutdown_within(Duration::from_millis(10)).await;
}
