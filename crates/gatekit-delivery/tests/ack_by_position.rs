//! Acknowledging by position (`DiskBuffer::last_appended` and `ack_through`), as the SIEM spool
//! does: records are never read back in the writing process, yet exactly the acknowledged ones
//! are gone after a restart, segments wholly before the mark are deleted, and the counters
//! follow.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::Path;

use gatekit_delivery::disk::{DiskBuffer, Mark};
use gatekit_delivery::{DiskSettings, FsyncPolicy, Record, RecordId};

/// 64-byte payloads: 96 bytes on disk, so a 4096-byte segment holds exactly 42 records.
const PER_SEGMENT: u128 = 42;

fn settings(dir: &Path) -> DiskSettings {
    DiskSettings {
        path: dir.to_path_buf(),
        max_bytes: 1 << 20,
        segment_bytes: 4096,
        fsync: FsyncPolicy::Never,
    }
}

fn rec(i: u128) -> Record {
    Record::new(RecordId(i), format!("{i:064}").into_bytes())
}

/// Appends records `0..n` one at a time; the mark after each.
fn fill(buf: &mut DiskBuffer, n: u128) -> Vec<Mark> {
    (0..n)
        .map(|i| {
            assert_eq!(buf.append(&[rec(i)]).accepted, 1);
            buf.last_appended().unwrap()
        })
        .collect()
}

fn segment_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count()
}

/// Reopens the buffer and reads every record left: their ids in order.
fn ids_after_restart(dir: &Path) -> Vec<u128> {
    let (mut buf, _) = DiskBuffer::open(settings(dir)).unwrap();
    let mut ids = Vec::new();
    loop {
        let batch = buf.read_batch(1000, usize::MAX).unwrap();
        if batch.is_empty() {
            break;
        }
        ids.extend(batch.iter().map(|r| r.id.0));
        buf.ack_read().unwrap();
    }
    ids
}

#[test]
fn exactly_the_records_before_the_mark_are_gone_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut buf, _) = DiskBuffer::open(settings(dir.path())).unwrap();
    let marks = fill(&mut buf, 3 * PER_SEGMENT);
    assert_eq!(segment_count(dir.path()), 3);
    // Records 0..=60: the whole first segment and part of the second.
    let acked = 61u64;
    let bytes = acked * rec(0).size() as u64;
    buf.ack_through(marks[60], acked, bytes).unwrap();
    let stats = buf.stats();
    assert_eq!(stats.unread_events, 3 * PER_SEGMENT as u64 - acked);
    assert_eq!(
        stats.unread_bytes,
        (3 * PER_SEGMENT as u64 - acked) * rec(0).size() as u64
    );
    assert_eq!(
        segment_count(dir.path()),
        2,
        "the first segment, wholly acknowledged, is deleted at once"
    );
    buf.close().unwrap();
    let left = ids_after_restart(dir.path());
    assert_eq!(left, (61..3 * PER_SEGMENT).collect::<Vec<_>>());
}

#[test]
fn an_older_mark_changes_nothing_and_reading_goes_on_from_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let (mut buf, _) = DiskBuffer::open(settings(dir.path())).unwrap();
    let marks = fill(&mut buf, 50);
    buf.ack_through(marks[9], 10, 10 * rec(0).size() as u64)
        .unwrap();
    buf.ack_through(marks[4], 5, 5 * rec(0).size() as u64)
        .unwrap();
    assert_eq!(buf.stats().unread_events, 40, "the older mark was ignored");
    let batch = buf.read_batch(3, usize::MAX).unwrap();
    let ids: Vec<u128> = batch.iter().map(|r| r.id.0).collect();
    assert_eq!(ids, vec![10, 11, 12], "reading starts at the mark");
}

#[test]
fn a_batch_in_flight_is_never_skipped_by_a_mark() {
    let dir = tempfile::tempdir().unwrap();
    let (mut buf, _) = DiskBuffer::open(settings(dir.path())).unwrap();
    let marks = fill(&mut buf, 20);
    let batch = buf.read_batch(5, usize::MAX).unwrap();
    assert_eq!(batch.len(), 5);
    buf.ack_through(marks[15], 16, 16 * rec(0).size() as u64)
        .unwrap();
    buf.close().unwrap();
    // The in-flight batch was not acknowledged, so a restart delivers everything again.
    assert_eq!(ids_after_restart(dir.path()), (0..20).collect::<Vec<_>>());
}

#[test]
fn a_refused_append_leaves_no_mark() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.max_bytes = 8 + 96; // the segment header and one record
    let (mut buf, _) = DiskBuffer::open(s).unwrap();
    assert_eq!(buf.append(&[rec(0)]).accepted, 1);
    assert!(buf.last_appended().is_some());
    assert_eq!(buf.append(&[rec(1)]).accepted, 0, "full");
    assert!(buf.last_appended().is_none());
}
