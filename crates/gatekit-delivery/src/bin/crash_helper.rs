//! Test helper for the crash test (`tests/crash.rs`); not part of the product.
//!
//! Usage: `gatekit-delivery-crash-helper <dir> <first-id>`.
//!
//! Opens the disk buffer in `<dir>` and loops forever, alternating between appending chunks
//! of records and reading + acknowledging batches, until it is killed. It reports on stdout,
//! one line at a time and flushed:
//! - `A <first> <last>` after an append returned: ids `first..=last` are accepted;
//! - `D <id> <id> ...` for a batch it "delivered", printed *before* acknowledging it to the
//!   buffer (so a kill between the two only causes a duplicate, never a loss).
//!
//! The parent kills it with SIGKILL at random points and checks that every accepted id is
//! delivered by some later run.

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use gatekit_delivery::disk::DiskBuffer;
use gatekit_delivery::{DiskSettings, FsyncPolicy, Record, RecordId};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("missing <dir>")?);
    let mut next_id: u128 = args.next().ok_or("missing <first-id>")?.parse()?;
    let settings = DiskSettings {
        path: dir,
        max_bytes: 64 << 20,
        segment_bytes: 64 << 10,
        fsync: FsyncPolicy::Every(Duration::from_millis(5)),
    };
    let (mut disk, _report) = DiskBuffer::open(settings)?;
    let stdout = std::io::stdout();
    let mut rng = fastrand::Rng::new();
    loop {
        let n = rng.usize(1..200);
        let records: Vec<Record> = (0..n)
            .map(|i| {
                let id = next_id + i as u128;
                Record {
                    id: RecordId(id),
                    enqueued_us: 0,
                    payload: format!("payload-{id}-{}", "x".repeat(rng.usize(0..300))).into_bytes(),
                }
            })
            .collect();
        let a = disk.append(&records);
        if a.accepted > 0 {
            let mut out = stdout.lock();
            writeln!(out, "A {} {}", next_id, next_id + a.accepted as u128 - 1)?;
            out.flush()?;
        }
        next_id += n as u128;
        if rng.bool() {
            let batch = disk.read_batch(rng.usize(1..300), usize::MAX)?;
            if !batch.is_empty() {
                let mut line = String::from("D");
                for r in &batch {
                    // The payload names its id: a mismatch would be corruption slipping through.
                    let expect = format!("payload-{}-", r.id.0);
                    if !r.payload.starts_with(expect.as_bytes()) {
                        return Err(format!("record {} has a foreign payload", r.id.0).into());
                    }
                    line.push_str(&format!(" {}", r.id.0));
                }
                let mut out = stdout.lock();
                writeln!(out, "{line}")?;
                out.flush()?;
                drop(out);
                disk.ack_read()?;
            }
        }
        disk.maintain()?;
    }
}
