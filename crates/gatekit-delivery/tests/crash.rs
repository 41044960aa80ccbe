//! Crash test: a child process appends to and consumes from the disk buffer under load and
//! is killed with SIGKILL at random points, many times. Every id it reported as accepted must
//! be delivered by a later run or by the final drain; duplicates are allowed and counted.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use gatekit_delivery::disk::DiskBuffer;
use gatekit_delivery::{DiskSettings, FsyncPolicy};

const ROUNDS: u128 = 25;

fn parse(out: &str, accepted: &mut HashSet<u128>, delivered: &mut HashMap<u128, u32>) {
    // Only complete lines count: a line cut by the kill was never reported.
    let complete = match out.rfind('\n') {
        Some(i) => &out[..=i],
        None => "",
    };
    for line in complete.lines() {
        let mut parts = line.split(' ');
        match parts.next() {
            Some("A") => {
                let a: u128 = parts.next().unwrap().parse().unwrap();
                let b: u128 = parts.next().unwrap().parse().unwrap();
                accepted.extend(a..=b);
            }
            Some("D") => {
                for id in parts {
                    *delivered.entry(id.parse().unwrap()).or_default() += 1;
                }
            }
            other => panic!("unexpected helper output {other:?}"),
        }
    }
}

#[test]
fn sigkill_at_random_points_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_gatekit-delivery-crash-helper");
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut accepted = HashSet::new();
    let mut delivered: HashMap<u128, u32> = HashMap::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(exe)
            .arg(dir.path())
            .arg((round * 100_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            stdout.read_to_string(&mut s).unwrap();
            s
        });
        std::thread::sleep(Duration::from_millis(rng.u64(5..80)));
        // Child::kill sends SIGKILL on Unix.
        let _ = child.kill();
        let status = child.wait().unwrap();
        let out = reader.join().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            err.is_empty(),
            "helper failed in round {round} ({status}): {err}"
        );
        parse(&out, &mut accepted, &mut delivered);
    }
    // Final drain in this process.
    let settings = DiskSettings {
        path: dir.path().to_owned(),
        max_bytes: 64 << 20,
        segment_bytes: 64 << 10,
        fsync: FsyncPolicy::Never,
    };
    let (mut disk, report) = DiskBuffer::open(settings).unwrap();
    loop {
        let batch = disk.read_batch(1000, usize::MAX).unwrap();
        if batch.is_empty() {
            break;
        }
        for r in &batch {
            *delivered.entry(r.id.0).or_default() += 1;
        }
        disk.ack_read().unwrap();
    }
    let lost: Vec<u128> = accepted
        .iter()
        .copied()
        .filter(|id| !delivered.contains_key(id))
        .collect();
    let duplicates: u32 = delivered.values().map(|c| c - 1).sum();
    eprintln!(
        "crash test: {} rounds, {} accepted, {} delivered ({} duplicates), final backlog {}, corrupt regions {}",
        ROUNDS,
        accepted.len(),
        delivered.len(),
        duplicates,
        report.events,
        disk.stats().corrupt_regions + report.corrupt_regions
    );
    assert!(
        accepted.len() > 1000,
        "the helper did too little work to mean anything"
    );
    assert!(
        lost.is_empty(),
        "{} accepted records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}
