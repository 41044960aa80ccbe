//! Records larger than the disk format allows are refused by the buffer and counted as
//! `too_large_for_buffer` drops: never written (they would read back as corruption, and past
//! 4 GiB the length field would wrap), never lost silently.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::sync::Arc;

use common::*;
use gatekit_delivery::disk::{AppendStop, DiskBuffer, MAX_PAYLOAD_LEN};
use gatekit_delivery::{
    DiskConfig, DiskSettings, DropReason, FsyncMode, FsyncPolicy, Pipeline, Record, RecordId,
    Transport,
};

fn huge(id: u128) -> Record {
    Record::new(RecordId(id), vec![b'h'; MAX_PAYLOAD_LEN + 1])
}

#[test]
fn append_refuses_a_record_the_format_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (mut b, _) = DiskBuffer::open(DiskSettings {
        path: dir.path().to_owned(),
        max_bytes: 1 << 30,
        segment_bytes: 8 << 20,
        fsync: FsyncPolicy::Never,
    })
    .unwrap();
    let a = b.append(&[rec(1), huge(2), rec(3)]);
    assert_eq!(a.accepted, 1);
    assert!(matches!(a.stop, Some(AppendStop::TooLarge)));
    assert!(
        b.stats().bytes < 1 << 20,
        "nothing of the huge record was written"
    );
    assert_eq!(b.append(&[rec(3)]).accepted, 1);
    let ids: Vec<u128> = b
        .read_batch(10, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.id.0)
        .collect();
    assert_eq!(ids, vec![1, 3]);
    assert_eq!(b.stats().corrupt_regions, 0);
}

#[tokio::test(start_paused = true)]
async fn an_oversized_record_is_counted_and_the_rest_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    // Room in memory for the huge record: this test is about the disk refusing it.
    c.buffer_max_bytes = 256 << 20;
    c.disk = Some(DiskConfig {
        path: dir.path().join("buffer"),
        max_bytes: 1 << 30,
        segment_bytes: 8 << 20,
        fsync: FsyncMode::Never,
        fsync_interval_ms: 100,
    });
    let t = Scripted::ok("a");
    let transport: Arc<dyn Transport> = t.clone();
    let p = Pipeline::spawn("d", settings(&c), vec![transport]).unwrap();
    let prod = p.producer();
    prod.submit(rec(1)).await.unwrap();
    prod.submit(huge(2)).await.unwrap();
    prod.submit(rec(3)).await.unwrap();
    wait_or_show(10_000, || t.delivered().len() == 2, || p.snapshot()).await;
    assert_eq!(t.delivered(), vec![1, 3]);
    let s = p.snapshot();
    assert_eq!(s.dropped_for(DropReason::TooLargeForBuffer), 1);
    assert_eq!(s.corrupt_skipped, 0);
    p.shutdown().await;
}
