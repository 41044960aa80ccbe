//! Read-side faults of the disk buffer: a segment that fails to open (once, always, or because
//! it was deleted) must neither lose the records already gathered into a batch, nor stall the
//! destination, nor keep the buffer from opening. Unreadable segments are skipped and counted.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use gatekit_delivery::disk::{
    segment_name, DiskBuffer, FileSystem, SegmentFile, SegmentRead, StdFs,
};
use gatekit_delivery::{
    DiskConfig, DiskSettings, FsyncMode, FsyncPolicy, Pipeline, Record, RecordId, Transport,
};

#[derive(Clone, Copy, Debug)]
enum Fail {
    Once,
    Always,
}

/// Fails `open_read` of chosen segment files and records when each open was attempted.
#[derive(Debug, Default)]
struct ReadFaultFs {
    fail: Mutex<HashMap<String, Fail>>,
    attempts: Mutex<HashMap<String, Vec<tokio::time::Instant>>>,
}

impl ReadFaultFs {
    fn arm(&self, seq: u64, how: Fail) {
        self.fail.lock().unwrap().insert(segment_name(seq), how);
    }
    fn attempts(&self, seq: u64) -> Vec<tokio::time::Instant> {
        let a = self.attempts.lock().unwrap();
        a.get(&segment_name(seq)).cloned().unwrap_or_default()
    }
}

impl FileSystem for ReadFaultFs {
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        StdFs.create_segment(path)
    }
    fn write_atomic(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        StdFs.write_atomic(path, bytes, sync)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        StdFs.remove(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn SegmentRead>> {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // `Instant::now` needs no runtime context, so this works in plain tests too.
        let now = tokio::time::Instant::now();
        self.attempts
            .lock()
            .unwrap()
            .entry(name.clone())
            .or_default()
            .push(now);
        let mut fail = self.fail.lock().unwrap();
        match fail.get(&name).copied() {
            Some(Fail::Once) => {
                fail.remove(&name);
                Err(io::Error::other("injected read failure"))
            }
            Some(Fail::Always) => Err(io::Error::other("injected read failure")),
            None => StdFs.open_read(path),
        }
    }
}

fn disk_settings(dir: &Path) -> DiskSettings {
    DiskSettings {
        path: dir.to_owned(),
        max_bytes: 1 << 20,
        segment_bytes: 4096,
        fsync: FsyncPolicy::Never,
    }
}

fn record(id: u128) -> Record {
    Record {
        id: RecordId(id),
        enqueued_us: 1,
        payload: vec![b'x'; 100],
    }
}

/// Writes `n` records (by slice, so none is in the hot tail and reads go to the files) and
/// returns the ids in each segment, in order.
fn fill(dir: &Path, n: u128) -> Vec<Vec<u128>> {
    let (mut b, _) = DiskBuffer::open(disk_settings(dir)).unwrap();
    let mut per_segment = Vec::new();
    for id in 0..n {
        let before = b.stats().segments;
        assert_eq!(b.append(&[record(id)]).accepted, 1);
        if b.stats().segments != before {
            per_segment.push(Vec::new());
        }
        per_segment.last_mut().unwrap().push(id);
    }
    b.close().unwrap();
    assert!(per_segment.len() >= 3, "test needs at least three segments");
    per_segment
}

/// Reads and acknowledges until the buffer reports the end; returns the ids read and the
/// number of calls that failed.
fn drain(b: &mut DiskBuffer) -> (Vec<u128>, usize) {
    let (mut ids, mut errors) = (Vec::new(), 0);
    for _ in 0..100 {
        match b.read_batch(1000, usize::MAX) {
            Ok(batch) if batch.is_empty() => return (ids, errors),
            Ok(batch) => {
                ids.extend(batch.iter().map(|r| r.id.0));
                b.ack_read().unwrap();
            }
            Err(_) => errors += 1,
        }
    }
    panic!("reading never reached the end");
}

#[test]
fn a_read_error_mid_batch_loses_none_of_the_gathered_records() {
    let dir = tempfile::tempdir().unwrap();
    let segs = fill(dir.path(), 80);
    let fs = Arc::new(ReadFaultFs::default());
    let (mut b, _) = DiskBuffer::open_with(disk_settings(dir.path()), fs.clone()).unwrap();
    // The batch spans segments 0 and 1; opening segment 1 fails once, after segment 0's
    // records were gathered.
    fs.arm(1, Fail::Once);
    let first = b.read_batch(1000, usize::MAX).unwrap();
    assert_eq!(
        first.iter().map(|r| r.id.0).collect::<Vec<_>>(),
        segs[0],
        "the records read before the error are handed out"
    );
    b.ack_read().unwrap();
    let (rest, _) = drain(&mut b);
    let mut all: Vec<u128> = first.iter().map(|r| r.id.0).collect();
    all.extend(rest);
    assert_eq!(all, (0..80).collect::<Vec<_>>());
    assert_eq!(b.stats().read_errors, 1);
    assert_eq!(
        b.stats().unreadable_segments,
        0,
        "a transient error skips nothing"
    );
}

#[test]
fn an_unreadable_segment_is_retried_then_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let segs = fill(dir.path(), 80);
    let fs = Arc::new(ReadFaultFs::default());
    let (mut b, _) = DiskBuffer::open_with(disk_settings(dir.path()), fs.clone()).unwrap();
    fs.arm(1, Fail::Always);
    let opened_at_start = fs.attempts(1).len();
    let (ids, errors) = drain(&mut b);
    let expected: Vec<u128> = segs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .flat_map(|(_, s)| s.clone())
        .collect();
    assert_eq!(
        ids, expected,
        "everything around the bad segment is delivered"
    );
    let s = b.stats();
    assert_eq!(s.unreadable_segments, 1);
    assert_eq!(
        s.unreadable_events,
        segs[1].len() as u64,
        "uniform records: exact estimate"
    );
    assert_eq!(s.unread_events, 0);
    assert!(
        errors >= 1,
        "the failure is reported before the segment is given up"
    );
    assert_eq!(fs.attempts(1).len() - opened_at_start, 3, "bounded retries");
}

#[test]
fn a_deleted_segment_is_skipped_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let segs = fill(dir.path(), 80);
    let (mut b, _) = DiskBuffer::open(disk_settings(dir.path())).unwrap();
    std::fs::remove_file(dir.path().join(segment_name(1))).unwrap();
    let (ids, errors) = drain(&mut b);
    let expected: Vec<u128> = segs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .flat_map(|(_, s)| s.clone())
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(errors, 0, "a missing file is not worth retrying");
    assert_eq!(b.stats().unreadable_events, segs[1].len() as u64);
}

#[test]
fn open_skips_a_segment_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let segs = fill(dir.path(), 80);
    let fs = Arc::new(ReadFaultFs::default());
    fs.arm(1, Fail::Always);
    let (mut b, report) = DiskBuffer::open_with(disk_settings(dir.path()), fs.clone()).unwrap();
    assert_eq!(report.unreadable_segments, 1);
    assert_eq!(report.events, 80 - segs[1].len() as u64);
    let before = fs.attempts(1).len();
    let (ids, errors) = drain(&mut b);
    assert_eq!(errors, 0);
    assert_eq!(
        fs.attempts(1).len(),
        before,
        "skipped segments are not read again"
    );
    let expected: Vec<u128> = segs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .flat_map(|(_, s)| s.clone())
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(b.stats().unreadable_events, segs[1].len() as u64);
}

#[tokio::test(start_paused = true)]
async fn the_worker_backs_off_on_an_unreadable_segment_and_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let buffer = dir.path().join("buffer");
    let segs = fill(&buffer, 80);
    let mut c = config(dir.path());
    c.disk = Some(DiskConfig {
        path: buffer,
        max_bytes: 1 << 20,
        segment_bytes: 4096,
        fsync: FsyncMode::Never,
        fsync_interval_ms: 100,
    });
    c.batch_size = 1000;
    let fs = Arc::new(ReadFaultFs::default());
    let t = Scripted::ok("a");
    let transport: Arc<dyn Transport> = t.clone();
    let p = Pipeline::spawn_with_fs("d", settings(&c), vec![transport], fs.clone()).unwrap();
    // Armed after the open (which counted every segment): the worker meets the failure.
    fs.arm(1, Fail::Always);
    let opened_at_start = fs.attempts(1).len();
    let expected: Vec<u128> = segs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .flat_map(|(_, s)| s.clone())
        .collect();
    wait_or_show(
        10_000,
        || t.delivered().len() == expected.len(),
        || p.snapshot(),
    )
    .await;
    assert_eq!(t.delivered(), expected);
    let s = p.snapshot();
    assert_eq!(s.unreadable_segments, 1);
    assert_eq!(s.unreadable_lost_estimate, segs[1].len() as u64);
    assert!(s.disk_errors >= 1, "the failed reads are reported");
    let attempts = &fs.attempts(1)[opened_at_start..];
    assert_eq!(attempts.len(), 3);
    // The first failure ends a batch early (its records are sent); every retry after a
    // failed read waits.
    for w in attempts[1..].windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_secs(1),
            "retries of an unreadable segment must back off, got {:?}",
            w[1] - w[0]
        );
    }
    p.shutdown().await;
}
