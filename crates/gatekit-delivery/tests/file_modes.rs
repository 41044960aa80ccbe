//! File modes under a permissive umask: buffer segments, the ack and lock files and the
//! dead-letter file are 0600 and the buffer directory 0700 whatever the umask; existing wider
//! files are tightened at start-up.
//!
//! The umask is process-wide and changing it needs `unsafe` (denied in this workspace), so
//! `under_umask_000` runs this same test binary again in a child process started by
//! `sh -c 'umask 000; exec …'`, selecting the `private_*` tests, which are `#[ignore]`d so
//! they never run with the ordinary umask. Each of them first checks that the umask really
//! is 000 (from `/proc/self/status`).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatekit_delivery::{BatchOutcome, DiskConfig, FsyncMode, Pipeline, Transport};

fn permissive_umask() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .map(str::trim);
    assert_eq!(umask, Some("0000"), "run through `under_umask_000`");
}

#[test]
fn under_umask_000() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000 && exec "$0" --ignored --test-threads=1 private_"#)
        .arg(exe)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("3 passed"), "{stdout}\n{stderr}");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn disk_config(dir: &Path) -> gatekit_delivery::DeliveryConfig {
    let mut c = config(dir);
    c.dead_letter_path = None; // default: inside the buffer directory
    c.disk = Some(DiskConfig {
        path: dir.join("state/buffer"),
        max_bytes: 1 << 20,
        segment_bytes: 64 << 10,
        fsync: FsyncMode::Always,
        fsync_interval_ms: 100,
    });
    c
}

#[ignore = "run by under_umask_000"]
#[tokio::test(start_paused = true)]
async fn private_every_file_is_private_under_umask_000() {
    permissive_umask();
    let dir = tempfile::tempdir().unwrap();
    let c = disk_config(dir.path());
    let buffer = dir.path().join("state/buffer");
    let t = Scripted::new(
        "a",
        Step::Answer(BatchOutcome::Reject {
            reason: "HTTP 400".into(),
        }),
    );
    let transport: Arc<dyn Transport> = t.clone();
    let p = Pipeline::spawn("d", settings(&c), vec![transport]).unwrap();
    for i in 0..5 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(10_000, || p.snapshot().dead_lettered == 5).await;
    assert_eq!(mode(&buffer), 0o700);
    assert_eq!(
        mode(&dir.path().join("state")),
        0o700,
        "created parents too"
    );
    assert_eq!(mode(&buffer.join("lock")), 0o600);
    assert_eq!(mode(&buffer.join("dead-letter.jsonl")), 0o600);
    let mut segments = 0;
    for e in std::fs::read_dir(&buffer).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().ends_with(".seg") {
            segments += 1;
            assert_eq!(mode(&e.path()), 0o600, "{:?}", e.path());
        }
    }
    assert!(segments > 0);
    p.shutdown_within(Duration::from_secs(1)).await;
    assert_eq!(mode(&buffer.join("ack")), 0o600);
}

#[ignore = "run by under_umask_000"]
#[tokio::test(start_paused = true)]
async fn private_wider_files_from_before_are_tightened_at_start() {
    permissive_umask();
    let dir = tempfile::tempdir().unwrap();
    let c = disk_config(dir.path());
    let buffer = dir.path().join("state/buffer");
    // A first life leaves a backlog, an ack file and a dead letter.
    let t = Scripted::new("a", Step::Hang);
    let transport: Arc<dyn Transport> = t.clone();
    let p = Pipeline::spawn("d", settings(&c), vec![transport]).unwrap();
    for i in 0..5 {
        p.producer().try_submit(rec(i)).unwrap();
    }
    wait_until(10_000, || p.snapshot().spilled == 5).await;
    p.shutdown_within(Duration::from_millis(10)).await;
    std::fs::write(buffer.join("dead-letter.jsonl"), b"{}\n").unwrap();
    // As an older version (or a careless operator) left them: world-readable.
    for e in std::fs::read_dir(&buffer).unwrap() {
        let path = e.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(&buffer, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ok = Scripted::ok("b");
    let transport: Arc<dyn Transport> = ok.clone();
    let p = Pipeline::spawn("d", settings(&c), vec![transport]).unwrap();
    let report = p.recovery().unwrap();
    // Directory, segment(s) and ack by the buffer; the dead-letter file by the pipeline.
    assert!(report.permissions_tightened >= 3, "{report:?}");
    assert_eq!(mode(&buffer), 0o700);
    for e in std::fs::read_dir(&buffer).unwrap() {
        let path = e.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{path:?}");
    }
    wait_until(10_000, || ok.delivered().len() == 5).await;
    p.shutdown().await;
}

#[ignore = "run by under_umask_000"]
#[tokio::test(start_paused = true)]
async fn private_a_shared_dead_letter_directory_is_left_alone_but_the_file_is_private() {
    permissive_umask();
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("log");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = config(dir.path());
    c.dead_letter_path = Some(shared.join("dl.jsonl"));
    let t = Scripted::new(
        "a",
        Step::Answer(BatchOutcome::Reject {
            reason: "HTTP 400".into(),
        }),
    );
    let transport: Arc<dyn Transport> = t.clone();
    let p = Pipeline::spawn("d", settings(&c), vec![transport]).unwrap();
    p.producer().try_submit(rec(1)).unwrap();
    wait_until(10_000, || p.snapshot().dead_lettered == 1).await;
    assert_eq!(mode(&shared.join("dl.jsonl")), 0o600);
    assert_eq!(mode(&shared), 0o755, "not ours to change");
    p.shutdown().await;
}
