//! The spool keeper of an idle gateway sleeps instead of ticking (`spool/bell.rs`), and an
//! event spooled after that still reaches its destination and leaves the spool.
//!
//! One test in this file: it finds the keeper by its thread name in this process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the failure report"
)]

use std::path::Path;
use std::time::Duration;

use gatekit_config::Config;
use gatekit_core::Severity;
use gatekit_siem::sink::SinkOptions;
use gatekit_siem::SiemSink;
use gatekit_testkit::wait::wait_until;

/// Voluntary context switches of this process's thread named `name` (each sleep is one).
fn sleeps_of(name: &str) -> u64 {
    // The kernel keeps the first 15 bytes of a thread's name.
    let name = &name[..name.len().min(15)];
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap();
            return status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("voluntary_ctxt_switches in status");
        }
    }
    panic!("no thread named {name}");
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn an_idle_keeper_dozes_and_the_next_event_still_leaves_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "proxy:\n  transport: stdio\n  upstreams: [{name: a, command: [x]}]\nsiem:\n  spool: {path: spool}\n  splunk: {transport: file, format: json, file: {path: out.jsonl}}\n";
    let cfg = Config::from_yaml(yaml, "t.yaml", dir.path().to_path_buf()).unwrap();
    let checked = gatekit_siem::validate(&cfg).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let options = SinkOptions {
        monitor_interval: Duration::from_secs(3600),
        spool: checked.spool.clone(),
        ..SinkOptions::default()
    };
    let sink =
        SiemSink::start_with_options(checked.plans, runtime.handle(), "idle".into(), options)
            .unwrap();
    let out = dir.path().join("out.jsonl");
    wait_until("the start event", Duration::from_secs(20), || {
        lines(&out) >= 1
    });

    // Half a second of quiet ticks, then the keeper dozes. Over the next two seconds a keeper
    // ticking every 20 ms would sleep about 100 times; a dozing one wakes about once a second.
    std::thread::sleep(Duration::from_millis(1500));
    let before = sleeps_of("gatekit-siem-spool");
    std::thread::sleep(Duration::from_secs(2));
    let slept = sleeps_of("gatekit-siem-spool") - before;
    assert!(slept <= 10, "the idle keeper woke {slept} times in 2 s");

    let seen = lines(&out);
    sink.commit_event(sink.system_event(Severity::Info, "after the doze".into()))
        .unwrap();
    wait_until(
        "the event at the destination",
        Duration::from_secs(20),
        || lines(&out) > seen,
    );
    runtime.block_on(sink.shutdown());
    // A clean stop removes a spool whose every record settled and was acknowledged.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("spool"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "spool left behind: {left:?}");
}
