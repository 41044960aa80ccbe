//! Model-based property test of the disk buffer with injected faults.
//!
//! Random operation sequences (append, read, ack, sync, drop-oldest, crash-and-reopen with
//! a torn tail) run against the real `DiskBuffer` on a temp dir, through a file-system
//! wrapper that injects torn writes, ENOSPC, failed fsyncs and failed segment opens during
//! reads (transient: never twice in a row for one segment, so none is given up). An in-memory model tracks which
//! record ids must come back, in which order, and which may reappear (acknowledged but
//! possibly not persisted, or written by a failed append). Checked after every step:
//! - every record read has exactly the payload that was appended under its id (CRC works);
//! - records come back in append order, and none that was accepted is ever skipped: a short
//!   read means the model has nothing left;
//! - segment bytes never exceed the cap;
//! - at the end, after a final crash and reopen, everything accepted and not acknowledged
//!   is delivered.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use gatekit_delivery::disk::{AppendStop, DiskBuffer, FileSystem, SegmentFile, SegmentRead, StdFs};
use gatekit_delivery::{DiskSettings, FsyncPolicy, Record, RecordId};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The next write stores only this many bytes, then fails.
    TornWrite(usize),
    /// The next write stores half its bytes, then fails with ENOSPC.
    DiskFull,
    /// The next fsync fails.
    SyncFail,
    /// The next ack-file write fails.
    AckFail,
    /// The next segment open made by `read_batch` fails (unless that segment's previous
    /// open failed: a transient error, not an unreadable file).
    ReadFail,
}

#[derive(Debug, Default)]
struct Faults {
    armed: Option<Fault>,
    /// Set around `read_batch`, the only reader the `ReadFail` fault targets.
    reading: bool,
    /// The segment whose last open failed.
    last_failed: Option<std::path::PathBuf>,
    /// Whether a `ReadFail` fired since last cleared.
    read_failed: bool,
}

#[derive(Debug)]
struct FaultyFs {
    faults: Arc<Mutex<Faults>>,
}

#[derive(Debug)]
struct FaultyFile {
    inner: Box<dyn SegmentFile>,
    faults: Arc<Mutex<Faults>>,
}

impl SegmentFile for FaultyFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut f = self.faults.lock().unwrap();
        match f.armed {
            Some(Fault::TornWrite(k)) => {
                f.armed = None;
                self.inner.write_all(&buf[..k.min(buf.len())])?;
                Err(io::Error::other("injected torn write"))
            }
            Some(Fault::DiskFull) => {
                f.armed = None;
                self.inner.write_all(&buf[..buf.len() / 2])?;
                Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "injected ENOSPC",
                ))
            }
            _ => self.inner.write_all(buf),
        }
    }
    fn sync(&mut self) -> io::Result<()> {
        let mut f = self.faults.lock().unwrap();
        if let Some(Fault::SyncFail) = f.armed {
            f.armed = None;
            return Err(io::Error::other("injected fsync failure"));
        }
        self.inner.sync()
    }
}

impl FileSystem for FaultyFs {
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        Ok(Box::new(FaultyFile {
            inner: StdFs.create_segment(path)?,
            faults: Arc::clone(&self.faults),
        }))
    }
    fn write_atomic(&self, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
        let mut f = self.faults.lock().unwrap();
        if let Some(Fault::AckFail) = f.armed {
            f.armed = None;
            return Err(io::Error::other("injected ack write failure"));
        }
        drop(f);
        StdFs.write_atomic(path, bytes, sync)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        StdFs.remove(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn SegmentRead>> {
        let mut f = self.faults.lock().unwrap();
        let repeat = f.last_failed.as_deref() == Some(path);
        if f.reading && !repeat && matches!(f.armed, Some(Fault::ReadFail)) {
            f.armed = None;
            f.last_failed = Some(path.to_owned());
            f.read_failed = true;
            return Err(io::Error::other("injected read failure"));
        }
        if repeat {
            f.last_failed = None;
        }
        drop(f);
        StdFs.open_read(path)
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Payload lengths; `true` appends through `append_vec` (hot tail), `false` by slice.
    Append(Vec<usize>, bool),
    Read(usize),
    Ack,
    Sync,
    /// `true`: the worker's way (fsync and ack jobs run separately, as on the blocking pool).
    Maintain(bool),
    DropOldest,
    Arm(Fault),
    Crash(Option<Vec<u8>>),
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        (0usize..200).prop_map(Fault::TornWrite),
        Just(Fault::DiskFull),
        Just(Fault::SyncFail),
        Just(Fault::AckFail),
        Just(Fault::ReadFail),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop::collection::vec(0usize..300, 1..12), any::<bool>())
            .prop_map(|(lens, owned)| Op::Append(lens, owned)),
        4 => (1usize..15).prop_map(Op::Read),
        3 => Just(Op::Ack),
        1 => Just(Op::Sync),
        1 => any::<bool>().prop_map(Op::Maintain),
        1 => Just(Op::DropOldest),
        2 => fault().prop_map(Op::Arm),
        1 => prop::option::of(prop::collection::vec(any::<u8>(), 1..40)).prop_map(Op::Crash),
    ]
}

struct Model {
    queue: VecDeque<u128>,
    in_flight: Vec<u128>,
    maybe: HashSet<u128>,
    payloads: HashMap<u128, Vec<u8>>,
    next_id: u128,
    duplicates: u64,
}

const MAX_BYTES: u64 = 24 * 1024;

fn settings(dir: &Path, fsync: FsyncPolicy) -> DiskSettings {
    DiskSettings {
        path: dir.to_owned(),
        max_bytes: MAX_BYTES,
        segment_bytes: 4096,
        fsync,
    }
}

fn newest_segment(dir: &Path) -> Option<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v.pop()
}

fn check_read(m: &mut Model, batch: &[Record], asked: usize) -> Result<(), TestCaseError> {
    for r in batch {
        let id = r.id.0;
        prop_assert_eq!(
            Some(&r.payload),
            m.payloads.get(&id),
            "payload of {} corrupted",
            id
        );
        if m.queue.front() == Some(&id) {
            m.queue.pop_front();
            m.in_flight.push(id);
        } else if m.maybe.contains(&id) {
            m.duplicates += 1;
        } else {
            prop_assert!(
                false,
                "record {} out of order or unexpected; model front {:?}",
                id,
                m.queue.front()
            );
        }
    }
    if batch.len() < asked {
        prop_assert!(
            m.queue.is_empty(),
            "short read while {} accepted records remain (first {:?})",
            m.queue.len(),
            m.queue.front()
        );
    }
    Ok(())
}

fn run(ops: Vec<Op>, always: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(Mutex::new(Faults::default()));
    let fs: Arc<dyn FileSystem> = Arc::new(FaultyFs {
        faults: Arc::clone(&faults),
    });
    let policy = if always {
        FsyncPolicy::Always
    } else {
        FsyncPolicy::Never
    };
    let open = |fs: &Arc<dyn FileSystem>| {
        DiskBuffer::open_with(settings(dir.path(), policy), Arc::clone(fs))
            .unwrap()
            .0
    };
    let mut disk = open(&fs);
    let mut m = Model {
        queue: VecDeque::new(),
        in_flight: Vec::new(),
        maybe: HashSet::new(),
        payloads: HashMap::new(),
        next_id: 1,
        duplicates: 0,
    };
    for op in ops {
        match op {
            Op::Append(lens, owned) => {
                let recs: Vec<Record> = lens
                    .iter()
                    .map(|&len| {
                        let id = m.next_id;
                        m.next_id += 1;
                        let payload: Vec<u8> =
                            (0..len).map(|i| (id as usize * 31 + i) as u8).collect();
                        m.payloads.insert(id, payload.clone());
                        Record {
                            id: RecordId(id),
                            enqueued_us: id as u64,
                            payload,
                        }
                    })
                    .collect();
                let ids: Vec<u128> = recs.iter().map(|r| r.id.0).collect();
                let a = if owned {
                    let (a, rest) = disk.append_vec(recs.clone());
                    prop_assert_eq!(rest.len(), recs.len() - a.accepted);
                    a
                } else {
                    disk.append(&recs)
                };
                prop_assert_eq!(&ids, &recs.iter().map(|r| r.id.0).collect::<Vec<_>>());
                m.queue.extend(recs[..a.accepted].iter().map(|r| r.id.0));
                if let Some(AppendStop::Io(_)) = a.stop {
                    // Part of the failed write may be on disk and reappear after a restart.
                    m.maybe.extend(recs[a.accepted..].iter().map(|r| r.id.0));
                }
            }
            Op::Read(n) => {
                {
                    let mut f = faults.lock().unwrap();
                    f.reading = true;
                    f.read_failed = false;
                }
                let result = disk.read_batch(n, usize::MAX);
                let failed = {
                    let mut f = faults.lock().unwrap();
                    f.reading = false;
                    f.read_failed
                };
                match result {
                    // A read error may end a batch early (what was gathered is handed out,
                    // nothing skipped), so a short batch proves nothing then.
                    Ok(batch) => check_read(&mut m, &batch, if failed { batch.len() } else { n })?,
                    Err(e) => prop_assert!(failed, "read failed without an injected fault: {}", e),
                }
                prop_assert_eq!(disk.stats().unreadable_segments, 0);
            }
            Op::Ack => {
                let _ = disk.ack_read();
                m.maybe.extend(m.in_flight.drain(..));
            }
            Op::Sync => {
                let _ = disk.sync();
            }
            Op::Maintain(background) => {
                if background {
                    if let Some(job) = disk.begin_ack() {
                        let _ = disk.finish_ack(job.run());
                    }
                    if let Some(job) = disk.begin_sync() {
                        let (seq, r) = job.run();
                        let _ = disk.finish_sync(seq, r);
                    }
                }
                let _ = disk.maintain();
            }
            Op::DropOldest => {
                let n = disk.drop_oldest_segment().unwrap();
                for _ in 0..n {
                    if let Some(id) = m.queue.pop_front() {
                        m.maybe.insert(id);
                    }
                }
            }
            Op::Arm(f) => faults.lock().unwrap().armed = Some(f),
            Op::Crash(garbage) => {
                drop(disk);
                faults.lock().unwrap().armed = None;
                if let (Some(g), Some(seg)) = (garbage, newest_segment(dir.path())) {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new().append(true).open(seg).unwrap();
                    f.write_all(&g).unwrap();
                }
                disk = open(&fs);
                // In-flight records were never acknowledged: they come back first.
                for id in m.in_flight.drain(..).rev() {
                    m.queue.push_front(id);
                }
            }
        }
        prop_assert!(
            disk.stats().bytes <= MAX_BYTES,
            "cap exceeded: {}",
            disk.stats().bytes
        );
    }
    // Final restart, then everything still owed must come back.
    drop(disk);
    faults.lock().unwrap().armed = None;
    let mut disk = open(&fs);
    for id in m.in_flight.drain(..).rev() {
        m.queue.push_front(id);
    }
    loop {
        let batch = disk.read_batch(50, usize::MAX).unwrap();
        check_read(&mut m, &batch, 50)?;
        disk.ack_read().unwrap();
        m.in_flight.clear();
        if batch.is_empty() {
            break;
        }
    }
    prop_assert!(m.queue.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
            "proptest-regressions/disk_model.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn disk_buffer_matches_model_fsync_always(ops in prop::collection::vec(op(), 1..60)) {
        run(ops, true)?;
    }

    #[test]
    fn disk_buffer_matches_model_fsync_never(ops in prop::collection::vec(op(), 1..60)) {
        run(ops, false)?;
    }
}

#[test]
fn corrupt_record_in_the_middle_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), FsyncPolicy::Never);
    let (mut d, _) = DiskBuffer::open(s.clone()).unwrap();
    let recs: Vec<Record> = (1..=5)
        .map(|i| Record {
            id: RecordId(i),
            enqueued_us: 0,
            payload: vec![i as u8; 10],
        })
        .collect();
    assert_eq!(d.append(&recs).accepted, 5);
    d.close().unwrap();
    // Flip a payload byte of record 3 (header 8 + 2 records of 8+24+10 + 8+24 header/id/time).
    let seg = newest_segment(dir.path()).unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = 8 + 2 * 42 + 8 + 24;
    bytes[at] ^= 0xff;
    std::fs::write(&seg, bytes).unwrap();
    let (mut d, report) = DiskBuffer::open(s).unwrap();
    assert_eq!(report.events, 4);
    assert_eq!(report.corrupt_regions, 1);
    let ids: Vec<u128> = d
        .read_batch(100, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.id.0)
        .collect();
    assert_eq!(ids, vec![1, 2, 4, 5]);
    assert_eq!(d.stats().corrupt_regions, 1);
}

#[test]
fn acknowledged_segments_are_deleted_only_after_ack_is_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), FsyncPolicy::Never);
    let (mut d, _) = DiskBuffer::open(s.clone()).unwrap();
    let recs: Vec<Record> = (1..=200)
        .map(|i| Record {
            id: RecordId(i),
            enqueued_us: 0,
            payload: vec![0; 50],
        })
        .collect();
    assert_eq!(d.append(&recs).accepted, 200);
    assert!(d.stats().segments > 2);
    let before = d.stats().segments;
    let got = d.read_batch(150, usize::MAX).unwrap();
    assert_eq!(got.len(), 150);
    assert_eq!(d.stats().segments, before, "nothing deleted before ack");
    d.ack_read().unwrap();
    assert!(d.stats().segments < before);
    drop(d);
    let (mut d, report) = DiskBuffer::open(s).unwrap();
    assert_eq!(report.events, 50, "acked records are not re-read");
    assert_eq!(d.read_batch(100, usize::MAX).unwrap()[0].id, RecordId(151));
}
