//! Many gateway processes on one configuration with a disk buffer: they all start, each
//! buffers in its own directory, and when one is killed with SIGKILL a live one delivers its
//! backlog. Counted at a TCP syslog receiver by unique event ids against answered calls.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

#[test]
fn processes_share_a_disk_buffer_and_a_live_one_delivers_a_killed_ones_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n  qradar:\n    transport: syslog_tcp\n    format: json\n    syslog: {{host: 127.0.0.1, port: {port}}}\n    data_minimization: {{parameters: full}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05, retry_max_delay: 0.2, retry_attempts: 100000, disk: {{path: buffer}}}}\n",
        gatekit().display().to_string()
    );
    let config = write_config(dir.path(), &yaml);
    // Two MCP clients, two gateways, one configuration: both must start.
    let mut a = Gateway::start(&config);
    let mut b = Gateway::start(&config);
    for (gw, name) in [(&mut a, "a"), (&mut b, "b")] {
        let init = gw.initialize();
        assert!(init.get("result").is_some(), "gateway {name}: {init}");
    }
    let mut answered = Vec::new();
    for i in 0..6 {
        for (gw, name) in [(&mut a, "a"), (&mut b, "b")] {
            let text = format!("call-{name}-{i}");
            let reply = gw.call(
                i,
                "tools/call",
                json!({"name": "ex__echo", "arguments": {"text": text}}),
            );
            assert_eq!(result_text(&reply), text);
            answered.push(text);
        }
    }
    // Each process has its own directory under the configured path.
    let own: Vec<_> = std::fs::read_dir(dir.path().join("buffer"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("proc-"))
        .collect();
    assert_eq!(own.len(), 2, "one buffer directory per process");
    // Let the records reach the disk buffer, then kill A without a chance to flush.
    std::thread::sleep(Duration::from_millis(800));
    a.child.kill().unwrap();
    let _ = a.child.wait();
    // The SIEM comes back; B delivers its own events and adopts A's backlog.
    let lines = Arc::new(Mutex::new(Vec::new()));
    receive(port, Arc::clone(&lines));
    let deadline = Instant::now() + Duration::from_secs(60);
    let missing = loop {
        let got = lines.lock().unwrap().join("\n");
        let missing: Vec<&String> = answered
            .iter()
            .filter(|t| !got.contains(&format!("\"text\":\"{t}\"")))
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            break missing.into_iter().cloned().collect::<Vec<_>>();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        missing.is_empty(),
        "answered calls without an event at the receiver: {missing:?}"
    );
    b.close_stdin();
    assert_eq!(b.wait_exit(Duration::from_secs(20)), Some(0));
    // Duplicates are allowed (at-least-once) and keep their event id.
    let got = lines.lock().unwrap().clone();
    let ids: Vec<&str> = got
        .iter()
        .filter_map(|l| l.split("\"event_id\":\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    eprintln!(
        "{} events received, {} unique, {} duplicates",
        ids.len(),
        unique.len(),
        ids.len() - unique.len()
    );
    // A's directory is removed once its backlog is delivered.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("buffer"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("proc-"))
        .collect();
    assert!(
        left.len() <= 1,
        "the killed process's directory is left: {left:?}"
    );
}

/// The event texts of `answered` that no line in `lines` carries.
fn missing_at(lines: &Mutex<Vec<String>>, answered: &[String]) -> Vec<String> {
    let got = lines.lock().unwrap().join("\n");
    answered
        .iter()
        .filter(|t| !got.contains(&format!("\"text\":\"{t}\"")))
        .cloned()
        .collect()
}

/// Committed mode without any disk buffer (`siem.spool.path` alone turns it on): the events of
/// a killed gateway's answered calls exist only in its spool. Its lock is then made to look
/// like a reused PID (a live process, another start time), and a new gateway must still see
/// the spool as dead, adopt it and deliver every answered call.
#[test]
fn a_killed_gateways_spool_is_adopted_even_when_its_pid_was_reused() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n  spool: {{path: spool}}\n  qradar:\n    transport: syslog_tcp\n    format: json\n    syslog: {{host: 127.0.0.1, port: {port}}}\n    data_minimization: {{parameters: full}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05, retry_max_delay: 0.2, retry_attempts: 100000, dead_letter_path: dead.jsonl}}\n",
        gatekit().display().to_string()
    );
    let config = write_config(dir.path(), &yaml);
    let mut a = Gateway::start(&config);
    assert!(a.initialize().get("result").is_some());
    let mut answered = Vec::new();
    for i in 0..8 {
        let text = format!("spooled-{i}");
        let reply = a.call(
            i,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": text}}),
        );
        assert_eq!(result_text(&reply), text);
        answered.push(text);
    }
    // The receiver is down: the events sit in A's memory queue and in its spool.
    a.child.kill().unwrap();
    let _ = a.child.wait();
    let spools: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path().join("spool"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("proc-")
        })
        .collect();
    assert_eq!(spools.len(), 1, "the killed gateway left its spool");
    // A reused PID: a process that is running (this test) with another start time.
    std::fs::write(spools[0].join("lock"), format!("{} 1", std::process::id())).unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    receive(port, Arc::clone(&lines));
    let mut b = Gateway::start(&config);
    assert!(b.initialize().get("result").is_some());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut missing = missing_at(&lines, &answered);
    while !missing.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        missing = missing_at(&lines, &answered);
    }
    assert!(
        missing.is_empty(),
        "answered calls of the killed gateway without an event: {missing:?}"
    );
    b.close_stdin();
    assert_eq!(b.wait_exit(Duration::from_secs(20)), Some(0));
    assert!(
        !spools[0].exists(),
        "the adopted spool is removed once its events are delivered"
    );
}
