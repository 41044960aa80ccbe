//! Failover from YAML: one destination with three endpoints (two TCP syslog receivers that go
//! down and come back, then a local file). Events follow the working endpoint, come back to
//! the primary once it is up, none is lost (at-least-once: each event is at one endpoint or
//! more), and every switch is counted and reported as a `system_event`.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatekit_config::Config;
use gatekit_core::Severity;
use gatekit_siem::sink::{SiemSink, SinkOptions};

/// A TCP line receiver that can be taken down and brought back on the same port.
///
/// "Down": the pending connections are accepted first (their bytes may already be
/// acknowledged by the kernel, and closing the listener would reset them), then the listener
/// is closed (new connections are refused) and every connection is half-closed from this side
/// (FIN); reader threads keep reading until the sender closes, so nothing the kernel
/// acknowledged is thrown away.
struct Receiver {
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    up: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let up = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (lines, up, stop) = (Arc::clone(&lines), Arc::clone(&up), Arc::clone(&stop));
            std::thread::spawn(move || serve(port, &lines, &up, &stop))
        };
        let r = Receiver {
            port,
            lines,
            up,
            stop,
            thread: Some(thread),
        };
        wait_until("receiver listening", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        r
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, SeqCst);
        // Let the serving thread apply it.
        std::thread::sleep(Duration::from_millis(50));
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(port: u16, lines: &Arc<Mutex<Vec<String>>>, up: &AtomicBool, stop: &AtomicBool) {
    let mut listener: Option<TcpListener> = None;
    let mut streams: Vec<TcpStream> = Vec::new();
    let accept = |l: &TcpListener, streams: &mut Vec<TcpStream>| {
        while let Ok((stream, _)) = l.accept() {
            stream.set_nonblocking(false).unwrap();
            let reader = stream.try_clone().unwrap();
            streams.push(stream);
            let lines = Arc::clone(lines);
            std::thread::spawn(move || {
                for line in BufReader::new(reader).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
    };
    while !stop.load(SeqCst) {
        if up.load(SeqCst) {
            if listener.is_none() {
                // The port may be in TIME_WAIT for a moment; std sets SO_REUSEADDR.
                if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                    l.set_nonblocking(true).unwrap();
                    listener = Some(l);
                }
            }
            if let Some(l) = &listener {
                accept(l, &mut streams);
            }
        } else if let Some(l) = listener.take() {
            accept(&l, &mut streams);
            drop(l);
            for s in streams.drain(..) {
                let _ = s.shutdown(Shutdown::Write);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for s in streams {
        let _ = s.shutdown(Shutdown::Both);
    }
}

/// Waits up to 30 s (see `gatekit_testkit::wait`).
fn wait_until(what: &str, done: impl FnMut() -> bool) {
    gatekit_testkit::wait::wait_until(what, Duration::from_secs(30), done);
}

/// The `event_id` of a key=value syslog line.
fn event_id(line: &str) -> Option<String> {
    let start = line.find(" event_id=\"")? + " event_id=\"".len();
    let len = line[start..].find('"')?;
    Some(line[start..start + len].to_owned())
}

fn file_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

struct Setup {
    a: Receiver,
    b: Receiver,
    file: PathBuf,
    sink: Arc<SiemSink>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Receiver::start(), Receiver::start());
    let file = dir.path().join("fallback.log");
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n  azure_sentinel:\n    transport: syslog\n    format: syslog\n    syslog: {{host: 127.0.0.1, port: {}}}\n    failover:\n      - transport: syslog\n        syslog: {{host: 127.0.0.1, port: {}}}\n      - transport: log_analytics_agent\n        log_analytics_agent: {{path: fallback.log}}\n    delivery:\n      batch_timeout: 0.02\n      retry_attempts: 100000\n      retry_initial_delay: 0.02\n      retry_max_delay: 0.1\n      breaker: {{failure_threshold: 1, open_for: 0.3}}\n",
        a.port, b.port
    );
    let cfg = Config::from_yaml(&yaml, "t.yaml", dir.path().to_path_buf()).unwrap();
    let checked = gatekit_siem::validate(&cfg).unwrap();
    assert_eq!(checked.plans[0].failover.len(), 2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sink = SiemSink::start_with_options(
        checked.plans,
        runtime.handle(),
        "failover-test".into(),
        SinkOptions {
            monitor_interval: Duration::from_secs(3600),
            ..SinkOptions::default()
        },
    )
    .unwrap();
    Setup {
        a,
        b,
        file,
        sink,
        runtime,
        _dir: dir,
    }
}

/// Submits `n` events tagged `phase`; returns their ids.
fn send(sink: &SiemSink, phase: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let event = sink.system_event(Severity::Info, format!("{phase} event {i}"));
        ids.push(event.event_id.to_string());
        sink.submit(event).unwrap();
        if i % 20 == 19 {
            sink.flush_intake();
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    sink.flush_intake();
    ids
}

fn ids_in(lines: &[String]) -> HashSet<String> {
    lines.iter().filter_map(|l| event_id(l)).collect()
}

fn all_there(ids: &[String], at: &HashSet<String>) -> bool {
    ids.iter().all(|id| at.contains(id))
}

#[test]
fn three_endpoints_fail_over_and_back_without_losing_an_event() {
    let s = setup();
    let counts = || s.sink.switch_counts()[0].1;

    // 1. Everything at the primary.
    let first = send(&s.sink, "primary", 100);
    wait_until("phase 1 at A", || all_there(&first, &ids_in(&s.a.lines())));
    assert_eq!(counts().failovers, 0);

    // 2. The primary goes down: the second endpoint takes the traffic.
    s.a.set_up(false);
    let second = send(&s.sink, "secondary", 100);
    wait_until("phase 2 at A or B", || {
        let mut seen = ids_in(&s.a.lines());
        seen.extend(ids_in(&s.b.lines()));
        all_there(&second, &seen)
    });
    assert!(counts().failovers >= 1, "{:?}", counts());
    let at_b = ids_in(&s.b.lines());
    assert!(
        second.iter().filter(|id| at_b.contains(*id)).count() >= 90,
        "most phase-2 events at B"
    );

    // 3. The second goes down too: the file takes them.
    s.b.set_up(false);
    let third = send(&s.sink, "file", 100);
    wait_until("phase 3 somewhere", || {
        let mut seen = ids_in(&s.a.lines());
        seen.extend(ids_in(&s.b.lines()));
        seen.extend(ids_in(&file_lines(&s.file)));
        all_there(&third, &seen)
    });
    let in_file = ids_in(&file_lines(&s.file));
    assert!(
        third.iter().filter(|id| in_file.contains(*id)).count() >= 90,
        "most phase-3 events in the file"
    );
    assert!(counts().failovers >= 2, "{:?}", counts());

    // 4. The primary comes back: its breaker lets a probe through and traffic fails back.
    s.a.set_up(true);
    std::thread::sleep(Duration::from_millis(400));
    let mut fourth = Vec::new();
    wait_until("failback to A", || {
        fourth.extend(send(&s.sink, "back", 20));
        counts().failbacks >= 1 && ids_in(&s.a.lines()).contains(fourth.last().unwrap())
    });
    let before_b_up = counts();

    // 5. The second endpoint comes back too (it is not needed while the primary works).
    s.b.set_up(true);
    let fifth = send(&s.sink, "after", 100);
    wait_until("phase 5 at A", || all_there(&fifth, &ids_in(&s.a.lines())));
    assert_eq!(
        counts().failovers,
        before_b_up.failovers,
        "no switch while the primary works"
    );

    s.runtime.block_on(s.sink.shutdown());

    // Every event at one endpoint or more; count duplicates (allowed, same id).
    let (a, b, f) = (s.a.lines(), s.b.lines(), file_lines(&s.file));
    let mut copies: HashMap<String, usize> = HashMap::new();
    for line in a.iter().chain(&b).chain(&f) {
        if let Some(id) = event_id(line) {
            *copies.entry(id).or_default() += 1;
        }
    }
    let sent: Vec<&String> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .chain(&fourth)
        .chain(&fifth)
        .collect();
    let missing: Vec<&&String> = sent
        .iter()
        .filter(|id| !copies.contains_key(**id))
        .collect();
    assert!(missing.is_empty(), "lost events: {missing:?}");
    let duplicates: usize = sent.iter().map(|id| copies[*id].saturating_sub(1)).sum();
    eprintln!(
        "sent {} events; at A {}, B {}, file {}; duplicates {duplicates}; switches {:?}",
        sent.len(),
        a.len(),
        b.len(),
        f.len(),
        counts()
    );

    // The switches were reported as system_events, delivered through whichever endpoint
    // was working.
    let all: Vec<&String> = a.iter().chain(&b).chain(&f).collect();
    let over = all
        .iter()
        .filter(|l| l.contains("failed over from"))
        .count();
    let back = all
        .iter()
        .filter(|l| l.contains("failed back from"))
        .count();
    let c = counts();
    assert!(c.failovers >= 2 && c.failbacks >= 1, "{c:?}");
    assert!(
        over as u64 >= c.failovers && back as u64 >= c.failbacks,
        "every switch reported: {over} failover and {back} failback events for {c:?}"
    );
    assert_eq!(s.sink.intake_losses(), (0, 0));
}
