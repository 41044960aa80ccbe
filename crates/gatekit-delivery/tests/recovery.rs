//! Recovery of damaged buffer directories: nothing that can be kept is lost, and what
//! cannot be recovered is reported (`RecoveryReport::losses`, with segment and offset) and
//! logged. One test per damaged-file case: an empty segment, a deleted segment, an ack file
//! with a valid checksum pointing past the data, a truncated segment (with and without the
//! seal index that makes its lost records countable), a damaged header.
//!
//! The buffer is filled through the real `DiskBuffer`, then the files are damaged the way a
//! disk, an operator or a crash would, then the buffer is reopened and read to the end.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gatekit_delivery::disk::{segment_name, DiskBuffer, LossKind, RecoveryReport};
use gatekit_delivery::{DiskSettings, FsyncPolicy, Record, RecordId};

/// 64-byte payloads: 96 bytes on disk, so a 4096-byte segment holds exactly 42 records.
const PER_SEGMENT: u128 = 42;
const RECORD_LEN: u64 = 96;

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

/// Writes `3 * PER_SEGMENT` records into three segments; returns their paths in order.
fn three_segments(dir: &Path) -> Vec<PathBuf> {
    let (mut buf, _) = DiskBuffer::open(settings(dir)).unwrap();
    for i in 0..3 * PER_SEGMENT {
        let a = buf.append(&[rec(i)]);
        assert_eq!(a.accepted, 1);
    }
    buf.close().unwrap();
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segs.sort();
    assert_eq!(segs.len(), 3);
    assert_eq!(
        std::fs::metadata(&segs[0]).unwrap().len(),
        8 + PER_SEGMENT as u64 * RECORD_LEN
    );
    segs
}

/// Reopens and reads everything, acknowledging as it goes: the report and the ids read.
fn reopen_and_read(dir: &Path) -> (RecoveryReport, BTreeSet<u128>) {
    let (mut buf, report) = DiskBuffer::open(settings(dir)).unwrap();
    let mut ids = BTreeSet::new();
    loop {
        let batch = buf.read_batch(1000, 1 << 20).unwrap();
        if batch.is_empty() {
            break;
        }
        ids.extend(batch.iter().map(|r| r.id.0));
        buf.ack_read().unwrap();
    }
    buf.close().unwrap();
    (report, ids)
}

fn ids(range: std::ops::Range<u128>) -> BTreeSet<u128> {
    range.collect()
}

fn seq_of(path: &Path) -> u64 {
    let name = path.file_name().unwrap().to_string_lossy();
    u64::from_str_radix(name.trim_end_matches(".seg"), 16).unwrap()
}

fn write_ack(dir: &Path, seq: u64, offset: u64) {
    let mut out = Vec::new();
    out.extend_from_slice(b"GKDACK01");
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(dir.join("ack"), out).unwrap();
}

#[test]
fn an_empty_segment_in_the_middle_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let segs = three_segments(dir.path());
    std::fs::write(&segs[1], b"").unwrap();
    let (report, got) = reopen_and_read(dir.path());
    let mut want = ids(0..PER_SEGMENT);
    want.extend(ids(2 * PER_SEGMENT..3 * PER_SEGMENT));
    assert_eq!(got, want, "the other segments are delivered");
    assert_eq!(report.losses.len(), 1, "{report:#?}");
    let loss = &report.losses[0];
    assert_eq!(loss.kind, LossKind::EmptySegment);
    assert_eq!(loss.segment, seq_of(&segs[1]));
    // Counted from the seal index, which knew the segment when it was sealed.
    assert_eq!(loss.records, Some(PER_SEGMENT as u64));
    assert_eq!(loss.bytes, 8 + PER_SEGMENT as u64 * RECORD_LEN);
}

#[test]
fn a_deleted_segment_in_the_middle_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let segs = three_segments(dir.path());
    std::fs::remove_file(&segs[1]).unwrap();
    let (report, got) = reopen_and_read(dir.path());
    let mut want = ids(0..PER_SEGMENT);
    want.extend(ids(2 * PER_SEGMENT..3 * PER_SEGMENT));
    assert_eq!(got, want);
    assert_eq!(report.losses.len(), 1, "{report:#?}");
    let loss = &report.losses[0];
    assert_eq!(loss.kind, LossKind::MissingSegments);
    assert_eq!(
        (loss.segment, loss.last_segment),
        (seq_of(&segs[1]), seq_of(&segs[1]))
    );
    assert_eq!(
        loss.records,
        Some(PER_SEGMENT as u64),
        "from the seal index"
    );
}

#[test]
fn an_ack_past_the_end_of_the_data_is_refused_and_the_backlog_kept() {
    for (case, seq_delta, offset) in [
        ("far past the last segment", 5, 8),
        ("next segment, but not at its start", 1, 4000),
        ("past the end of the last segment", 0, 1 << 40),
        ("inside a record", 0, 8 + 10 * RECORD_LEN + 17),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let segs = three_segments(dir.path());
        let last = seq_of(&segs[2]);
        write_ack(dir.path(), last + seq_delta, offset);
        let (buf, report) = DiskBuffer::open(settings(dir.path())).unwrap();
        assert!(report.ack_refused, "{case}: {report:#?}");
        assert_eq!(report.events, 3 * PER_SEGMENT as u64, "{case}");
        for s in &segs {
            assert!(s.exists(), "{case}: nothing deleted");
        }
        drop(buf);
        let (_, got) = reopen_and_read(dir.path());
        assert_eq!(got, ids(0..3 * PER_SEGMENT), "{case}: backlog kept");
    }
}

#[test]
fn a_valid_ack_is_still_obeyed() {
    let dir = tempfile::tempdir().unwrap();
    let segs = three_segments(dir.path());
    // Acknowledged up to record 10 of the second segment.
    write_ack(dir.path(), seq_of(&segs[1]), 8 + 10 * RECORD_LEN);
    let (report, got) = reopen_and_read(dir.path());
    assert!(!report.ack_refused && !report.ack_missing, "{report:#?}");
    assert!(report.losses.is_empty(), "{report:#?}");
    assert_eq!(got, ids(PER_SEGMENT + 10..3 * PER_SEGMENT));
    assert!(!segs[0].exists(), "the acknowledged segment is deleted");
}

#[test]
fn a_truncated_segment_reports_what_was_cut() {
    let dir = tempfile::tempdir().unwrap();
    let segs = three_segments(dir.path());
    // Cut the middle segment 3 bytes into its 11th record: 32 records are gone.
    let keep = 8 + 10 * RECORD_LEN + 3;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[1])
        .unwrap();
    f.set_len(keep).unwrap();
    drop(f);
    let (report, got) = reopen_and_read(dir.path());
    let mut want = ids(0..PER_SEGMENT + 10);
    want.extend(ids(2 * PER_SEGMENT..3 * PER_SEGMENT));
    assert_eq!(
        got, want,
        "everything before and after the cut is delivered"
    );
    assert_eq!(report.losses.len(), 1, "{report:#?}");
    let loss = &report.losses[0];
    assert_eq!(loss.kind, LossKind::Truncated);
    assert_eq!(loss.segment, seq_of(&segs[1]));
    assert_eq!(loss.offset, 8 + 10 * RECORD_LEN);
    // The seal index knows how long the segment was and how many records it held.
    assert_eq!(loss.records, Some(32), "{report:#?}");
    assert_eq!(loss.bytes, 32 * RECORD_LEN);
}

#[test]
fn a_segment_cut_at_a_record_boundary_still_reports_its_lost_records() {
    let dir = tempfile::tempdir().unwrap();
    let segs = three_segments(dir.path());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[1])
        .unwrap();
    f.set_len(8 + 10 * RECORD_LEN).unwrap(); // nothing torn: reading sees no damage
    drop(f);
    let (report, got) = reopen_and_read(dir.path());
    assert_eq!(got.len() as u128, 3 * PER_SEGMENT - 32);
    assert_eq!(report.losses.len(), 1, "{report:#?}");
    let loss = &report.losses[0];
    assert_eq!(loss.kind, LossKind::Truncated);
    assert_eq!(
        (loss.offset, loss.bytes),
        (8 + 10 * RECORD_LEN, 32 * RECORD_LEN)
    );
    assert_eq!(loss.records, Some(32));
}

#[test]
fn without_the_seal_index_a_truncation_is_reported_in_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let segs = three_segments(dir.path());
    std::fs::remove_file(dir.path().join("seals")).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[1])
        .unwrap();
    f.set_len(8 + 10 * RECORD_LEN + 3).unwrap();
    drop(f);
    let (report, _) = reopen_and_read(dir.path());
    assert_eq!(report.losses.len(), 1, "{report:#?}");
    let loss = &report.losses[0];
    assert_eq!(loss.kind, LossKind::Truncated);
    assert_eq!((loss.bytes, loss.records), (3, None));
}

#[test]
fn a_damaged_header_keeps_the_records_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let segs = three_segments(dir.path());
    let mut bytes = std::fs::read(&segs[1]).unwrap();
    bytes[..8].copy_from_slice(b"garbage!");
    std::fs::write(&segs[1], bytes).unwrap();
    let (report, got) = reopen_and_read(dir.path());
    assert_eq!(got, ids(0..3 * PER_SEGMENT), "all records, header or not");
    assert_eq!(report.losses.len(), 1, "{report:#?}");
    let loss = &report.losses[0];
    assert_eq!(loss.kind, LossKind::DamagedHeader);
    assert_eq!(
        (loss.segment, loss.offset, loss.bytes),
        (seq_of(&segs[1]), 0, 8)
    );
    assert_eq!(loss.records, Some(0));
}

#[test]
fn corruption_in_the_middle_is_reported_with_segment_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let segs = three_segments(dir.path());
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    let at = (8 + 5 * RECORD_LEN) as usize;
    bytes[at + 40] ^= 0xff; // inside record 5's payload
    std::fs::write(&segs[0], bytes).unwrap();
    let (report, got) = reopen_and_read(dir.path());
    let mut want = ids(0..3 * PER_SEGMENT);
    want.remove(&5);
    assert_eq!(got, want);
    assert_eq!(report.losses.len(), 1, "{report:#?}");
    let loss = &report.losses[0];
    assert_eq!(loss.kind, LossKind::Corrupt);
    assert_eq!((loss.segment, loss.offset), (seq_of(&segs[0]), at as u64));
    assert_eq!(loss.bytes, RECORD_LEN);
    let _ = segment_name(0);
}

/// The caller's view: `Pipeline::recovery()` lists the losses and the metrics carry the
/// totals, so the gateway can report them as `system_event`s.
#[tokio::test(start_paused = true)]
async fn the_pipeline_exposes_recovery_losses_and_delivers_the_rest() {
    use gatekit_delivery::{
        BatchOutcome, DeliveryConfig, DiskConfig, FsyncMode, Pipeline, SendFuture, Transport,
    };
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Default)]
    struct Collect(Mutex<Vec<u128>>);
    impl Transport for Collect {
        fn name(&self) -> &str {
            "collect"
        }
        fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
            self.0.lock().unwrap().extend(batch.iter().map(|r| r.id.0));
            Box::pin(async { BatchOutcome::Delivered })
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let segs = three_segments(dir.path());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[1])
        .unwrap();
    f.set_len(8 + 10 * RECORD_LEN + 3).unwrap();
    drop(f);
    let config = DeliveryConfig {
        dead_letter_path: Some(dir.path().join("dl.jsonl")),
        disk: Some(DiskConfig {
            path: dir.path().to_path_buf(),
            max_bytes: 1 << 20,
            segment_bytes: 4096,
            fsync: FsyncMode::Never,
            fsync_interval_ms: 100,
        }),
        ..DeliveryConfig::default()
    };
    let t = Arc::new(Collect::default());
    let transport: Arc<dyn Transport> = t.clone();
    let p = Pipeline::spawn("d", config.validate("t").unwrap(), vec![transport]).unwrap();
    let report = p.recovery().unwrap();
    assert_eq!(report.lost_records(), 32);
    let s = p.snapshot();
    assert_eq!(
        (
            s.recovery_losses,
            s.recovery_lost_records,
            s.recovery_lost_bytes
        ),
        (1, 32, 32 * RECORD_LEN)
    );
    assert_eq!(s.ack_refused, 0);
    for _ in 0..1000 {
        if t.0.lock().unwrap().len() as u128 == 3 * PER_SEGMENT - 32 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(t.0.lock().unwrap().len() as u128, 3 * PER_SEGMENT - 32);
    p.shutdown().await;
}
