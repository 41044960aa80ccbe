//! `gatekit siem replay` against a real TCP syslog receiver: a dead-letter file, a disk
//! buffer, a spool and JSONL audit trails (audit_jsonl lines and canonical events) arrive
//! with their event ids; inputs are left as they were; unreadable input is refused with its
//! line before anything is sent; records that still cannot be delivered fail the command.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatekit_core::{AuditEvent, EventFactory, EventType, Severity};
use gatekit_delivery::disk::DiskBuffer;
use gatekit_delivery::{DiskSettings, FsyncPolicy, Record, RecordId};
use support::*;

/// A TCP syslog line receiver on 127.0.0.1.
struct Receiver {
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l = Arc::clone(&lines);
        // The thread ends with the test process; it holds no file.
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let l = Arc::clone(&l);
                std::thread::spawn(move || {
                    // Lines as bytes: a payload that is not UTF-8 must not stop the reading.
                    let mut reader = BufReader::new(stream);
                    let mut line = Vec::new();
                    while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                        l.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&line).trim_end().to_owned());
                        line.clear();
                    }
                });
            }
        });
        Receiver { port, lines }
    }

    fn ids(&self) -> HashSet<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| event_id(l))
            .collect()
    }

    fn wait_for(&self, ids: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = self.ids();
            let missing: Vec<&String> = ids.iter().filter(|id| !seen.contains(*id)).collect();
            if missing.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} ids never arrived, e.g. {:?}",
                missing.len(),
                missing.first()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The `event_id` of a key=value line.
fn event_id(line: &str) -> Option<String> {
    let start = line.find("event_id=\"")? + "event_id=\"".len();
    let len = line[start..].find('"')?;
    Some(line[start..start + len].to_owned())
}

/// A Sentinel destination over TCP syslog with key=value bodies (every line carries
/// `event_id="..."`), a disk buffer under `buffer/`.
fn config(dir: &Path, port: u16, extra_delivery: &str) -> PathBuf {
    write_config(
        dir,
        &format!(
            "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n  azure_sentinel:\n    transport: syslog\n    format: syslog\n    syslog: {{host: 127.0.0.1, port: {port}}}\n    delivery:\n      batch_timeout: 0.05\n      disk: {{path: buffer}}\n{extra_delivery}"
        ),
    )
}

fn replay(config: &Path, args: &[&str]) -> Output {
    std::process::Command::new(gatekit())
        .args(["siem", "replay", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn events(n: usize) -> Vec<AuditEvent> {
    let factory = EventFactory::new("replay-test", "9.9.9");
    (0..n)
        .map(|i| {
            factory
                .event(EventType::SystemEvent, Severity::Notice)
                .with_message(format!("replayed event {i}"))
        })
        .collect()
}

fn id_of(e: &AuditEvent) -> String {
    e.event_id.to_string()
}

/// A rendered key=value syslog line for `e`, as a Sentinel syslog destination would have
/// buffered it.
fn rendered(e: &AuditEvent) -> Record {
    Record::new(
        RecordId(e.event_id.as_uuid().as_u128()),
        format!(
            "<133>1 {} replay-test gatekit - system_event - event_id=\"{}\" message=\"buffered\"\n",
            e.timestamp.to_rfc3339_millis(),
            e.event_id
        )
        .into_bytes(),
    )
}

/// A disk buffer in `dir` holding `records`, the first `acked` acknowledged.
fn buffer(dir: &Path, records: &[Record], acked: usize) {
    let (mut disk, _) = DiskBuffer::open(DiskSettings {
        path: dir.to_path_buf(),
        max_bytes: 64 << 20,
        segment_bytes: 8 << 20,
        fsync: FsyncPolicy::Always,
    })
    .unwrap();
    let appended = disk.append(records);
    assert_eq!(appended.accepted, records.len());
    if acked > 0 {
        let read = disk.read_batch(acked, usize::MAX).unwrap();
        assert_eq!(read.len(), acked);
        disk.ack_read().unwrap();
    }
    disk.close().unwrap();
}

fn snapshot(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    if path.is_dir() {
        for e in walk(path) {
            files.push((e.clone(), std::fs::read(&e).unwrap()));
        }
    } else {
        files.push((path.to_path_buf(), std::fs::read(path).unwrap()));
    }
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_dead_letter_file_is_replayed_with_its_ids_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let cfg = config(dir.path(), rx.port, "");
    let evs = events(40);
    let records: Vec<Record> = evs.iter().map(rendered).collect();
    let dl = dir.path().join("old-dead-letter.jsonl");
    let writer = gatekit_delivery::dead_letter::DeadLetter::new(dl.clone(), "azure_sentinel");
    writer.write(&records[..30], "syslog:x", "refused").unwrap();
    // A payload that is not UTF-8 is stored as base64; it is replayed byte for byte.
    let mut odd = rendered(&evs[30]);
    odd.payload.splice(0..0, [0xff]);
    writer
        .write(std::slice::from_ref(&odd), "syslog:x", "refused")
        .unwrap();
    writer.write(&records[31..], "syslog:x", "refused").unwrap();
    let before = snapshot(&dl);

    let out = replay(&cfg, &[dl.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("40 of 40 delivered"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("azure_sentinel: 40/40 delivered"),
        "{}",
        stderr(&out)
    );
    rx.wait_for(&evs.iter().map(id_of).collect::<Vec<_>>());
    assert_eq!(snapshot(&dl), before, "the input is not modified");
}

#[test]
fn a_disk_buffer_replays_its_unacknowledged_records() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let cfg = config(dir.path(), rx.port, "");
    let evs = events(50);
    let records: Vec<Record> = evs.iter().map(rendered).collect();
    // A dead process's directory under the configured disk.path: the platform is known.
    let proc_dir = dir.path().join("buffer/proc-1-1");
    buffer(&proc_dir, &records, 10);
    let before = snapshot(&proc_dir);

    let out = replay(&cfg, &[dir.path().join("buffer").to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("40 of 40 delivered"),
        "{}",
        stdout(&out)
    );
    let ids: Vec<String> = evs.iter().map(id_of).collect();
    rx.wait_for(&ids[10..]);
    let seen = rx.ids();
    assert!(
        ids[..10].iter().all(|id| !seen.contains(id)),
        "acknowledged records are not replayed"
    );
    assert_eq!(snapshot(&proc_dir), before, "the buffer is not modified");

    // With --include-acknowledged, all 50; outside every disk.path, --destination is needed.
    let elsewhere = dir.path().join("copy");
    buffer(&elsewhere, &records, 10);
    let out = replay(&cfg, &[elsewhere.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--destination"), "{}", stderr(&out));
    let out = replay(
        &cfg,
        &[
            "--destination",
            "azure_sentinel",
            "--include-acknowledged",
            elsewhere.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("50 of 50 delivered"),
        "{}",
        stdout(&out)
    );
    rx.wait_for(&ids);
}

#[test]
fn a_spool_is_rendered_for_the_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let cfg = config(dir.path(), rx.port, "");
    let evs = events(30);
    let records: Vec<Record> = evs
        .iter()
        .map(|e| {
            Record::new(
                RecordId(e.event_id.as_uuid().as_u128()),
                serde_json::to_vec(e).unwrap(),
            )
        })
        .collect();
    let spool = dir.path().join("spool/proc-7-7");
    buffer(&spool, &records, 0);
    std::fs::write(spool.join("destinations"), "azure_sentinel").unwrap();

    let out = replay(&cfg, &[dir.path().join("spool").to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("(spool): 30 records"),
        "{}",
        stderr(&out)
    );
    rx.wait_for(&evs.iter().map(id_of).collect::<Vec<_>>());
    // Rendered by the destination's own formatter: the message is in the key=value body.
    let lines = rx.lines.lock().unwrap().clone();
    assert!(lines
        .iter()
        .any(|l| l.contains("message=\"replayed event 7\"")));
}

#[test]
fn audit_trails_and_canonical_events_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let cfg = config(dir.path(), rx.port, "");
    let evs = events(20);
    // audit_jsonl lines, in the shape the audit_jsonl handler writes.
    let mut trail = String::new();
    for (i, e) in evs[..10].iter().enumerate() {
        let line = serde_json::json!({
            "timestamp": e.timestamp.to_rfc3339_millis(),
            "event_type": "REQUEST",
            "request_id": format!("r{i}"),
            "server_name": "fs",
            "method": "tools/call",
            "pipeline_outcome": "allowed",
            "reason": "",
            "tool": "read_file",
            "event_id": id_of(e),
            "sequence": i,
            "session_id": "s1",
            "host": "replay-test",
            "gateway_version": "9.9.9",
            "schema_version": 1,
            "severity": "info",
            "event_category": "mcp_request",
            "client_info": {"client_id": "cli", "client_version": "1"}
        });
        trail.push_str(&line.to_string());
        trail.push('\n');
    }
    let trail_path = dir.path().join("gatekit_audit.jsonl");
    std::fs::write(&trail_path, &trail).unwrap();
    // Canonical events, one per line.
    // Canonical events, one per line; the last one inside a HEC envelope, as a JSON stream
    // received through HEC holds it.
    let mut canonical: String = evs[10..19]
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    canonical.push_str(
        &(serde_json::json!({"time": 1.0, "host": "h", "event": evs[19]}).to_string() + "\n"),
    );
    let canonical_path = dir.path().join("events.jsonl");
    std::fs::write(&canonical_path, &canonical).unwrap();

    let out = replay(
        &cfg,
        &[
            trail_path.to_str().unwrap(),
            canonical_path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("20 of 20 delivered"),
        "{}",
        stdout(&out)
    );
    rx.wait_for(&evs.iter().map(id_of).collect::<Vec<_>>());
    let lines = rx.lines.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("tool=\"read_file\"") && l.contains("upstream=\"fs\"")),
        "the audit_jsonl fields are carried over: {lines:?}"
    );
    assert_eq!(std::fs::read_to_string(&trail_path).unwrap(), trail);
}

#[test]
fn unreadable_input_is_refused_with_its_line_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let cfg = config(dir.path(), rx.port, "");
    let evs = events(3);
    let good: Vec<String> = evs
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let path = dir.path().join("mixed.jsonl");
    std::fs::write(
        &path,
        format!("{}\n{}\n{{\"event_id\": 1\n{}\n", good[0], good[1], good[2]),
    )
    .unwrap();
    let out = replay(&cfg, &[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("mixed.jsonl:3:"), "{err}");
    // A JSON object that is none of the known inputs, named with its line too.
    std::fs::write(&path, format!("{}\n{{\"hello\": 1}}\n", good[0])).unwrap();
    let out = replay(&cfg, &[path.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("mixed.jsonl:2: neither"),
        "{}",
        stderr(&out)
    );
    // A damaged buffer is refused with its segment and offset.
    let buf = dir.path().join("damaged");
    buffer(&buf, &evs.iter().map(rendered).collect::<Vec<_>>(), 0);
    let seg = walk(&buf)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&seg, bytes).unwrap();
    let out = replay(
        &cfg,
        &["--destination", "azure_sentinel", buf.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("damaged record data at byte offset 8"),
        "{}",
        stderr(&out)
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(rx.ids().is_empty(), "nothing was sent");
}

#[test]
fn records_that_still_cannot_be_delivered_fail_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config(
        dir.path(),
        port,
        "      retry_attempts: 1\n      retry_initial_delay: 0.01\n      retry_max_delay: 0.02\n",
    );
    let evs = events(5);
    let path = dir.path().join("events.jsonl");
    let text: String = evs
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    std::fs::write(&path, text).unwrap();
    let failed = dir.path().join("failed.jsonl");
    let out = replay(
        &cfg,
        &[
            "--dead-letter",
            failed.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("0 of 5 delivered"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("failed 5"), "{}", stdout(&out));
    let dead = std::fs::read_to_string(&failed).unwrap();
    for e in &evs {
        assert!(dead.contains(&id_of(e)), "dead letter keeps the id");
    }
    // Replaying the replay's own dead letters into themselves is refused.
    let out = replay(
        &cfg,
        &[
            "--dead-letter",
            failed.to_str().unwrap(),
            failed.to_str().unwrap(),
        ],
    );
    assert!(
        stderr(&out).contains("is one of the inputs"),
        "{}",
        stderr(&out)
    );
}
