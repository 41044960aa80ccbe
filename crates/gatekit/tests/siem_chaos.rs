//! Chaos: several gateway processes on one configuration (disk buffer, so the spool is on),
//! raw JSON-RPC MCP sessions over their pipes, random SIGKILLs, and a TCP syslog receiver that
//! goes down (closes its connections and serves no new one) and comes back. Afterwards one
//! more gateway adopts what the dead ones left, and every call that was answered must have its
//! event at the receiver (duplicates are allowed and counted: delivery is at-least-once, event
//! ids kept). Each gateway's log is kept next to the configuration; on a failure the whole
//! directory is kept and its path printed, with the missing ids per session.
//!
//! The short run here takes about 15 s of chaos; `GATEKIT_CHAOS_SECS=600 cargo test -p gatekit
//! --test siem_chaos -- --nocapture` is the long one (docs/delivery.md).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

/// A TCP line receiver on a fixed port that can be taken down (listener closed, connections
/// reset) and brought back.
struct Receiver {
    lines: Arc<Mutex<Vec<String>>>,
    up: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16) -> Receiver {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let up = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (lines, up, stop) = (Arc::clone(&lines), Arc::clone(&up), Arc::clone(&stop));
            std::thread::spawn(move || serve(port, &lines, &up, &stop))
        };
        Receiver {
            lines,
            up,
            stop,
            thread: Some(thread),
        }
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
    // The listener stays open for the whole test. Closing it would reset the connections
    // still waiting in its accept queue, whose bytes the kernel has already acknowledged: a
    // loss no TCP syslog sender can see (docs/delivery.md says so), not one this test is after.
    // "Down" therefore means: every open connection is closed from our side (FIN) and no new
    // one is served until "up" (they wait in the accept queue).
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut streams: Vec<TcpStream> = Vec::new();
    while !stop.load(SeqCst) {
        if up.load(SeqCst) {
            while let Ok((stream, _)) = listener.accept() {
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
        } else {
            // What the kernel already acknowledged is still read by the reader threads.
            for s in streams.drain(..) {
                let _ = s.shutdown(Shutdown::Write);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for s in streams {
        let _ = s.shutdown(Shutdown::Both);
    }
}

/// One gateway process driven over its pipes, without panicking when it is killed.
struct Session {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    replies: mpsc::Receiver<String>,
}

impl Session {
    /// Starts a gateway whose log goes to `log`.
    fn start(config: &std::path::Path, log: &std::path::Path) -> Session {
        let log = std::fs::File::create(log).unwrap();
        let mut child = Command::new(gatekit())
            .args(["run", "--config", config.to_str().unwrap()])
            .env("GATEKIT_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take().unwrap();
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            child,
            stdin: Some(stdin),
            replies,
        }
    }

    /// Sends a request and waits for its answer; `None` once the process is gone.
    fn call(&mut self, id: i64, method: &str, params: Value) -> Option<Value> {
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut line = serde_json::to_vec(&msg).unwrap();
        line.push(b'\n');
        let stdin = self.stdin.as_mut()?;
        stdin.write_all(&line).ok()?;
        stdin.flush().ok()?;
        loop {
            let reply: Value =
                serde_json::from_str(&self.replies.recv_timeout(Duration::from_secs(30)).ok()?)
                    .ok()?;
            if reply.get("id") == Some(&json!(id)) {
                return Some(reply);
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pids of the live sessions, by slot, for the killer.
type Pids = Arc<Mutex<HashMap<usize, u32>>>;

/// Runs sessions in one slot until `stop`, restarting after every kill; every answered call's
/// text goes to `answered`.
fn slot(
    n: usize,
    config: &std::path::Path,
    pids: &Pids,
    answered: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) {
    let mut generation = 0;
    while !stop.load(SeqCst) {
        generation += 1;
        let log = config.with_file_name(format!("gateway-{n}-{generation}.log"));
        let mut s = Session::start(config, &log);
        pids.lock().unwrap().insert(n, s.child.id());
        let init = s.call(
            0,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "chaos", "version": "1"}}),
        );
        if init.is_some() {
            if let Some(stdin) = s.stdin.as_mut() {
                let _ = stdin
                    .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
            }
            let mut id = 1;
            while !stop.load(SeqCst) {
                let text = format!("chaos-{n}-{generation}-{id}");
                let params = json!({"name": "ex__echo", "arguments": {"text": text}});
                let Some(reply) = s.call(id, "tools/call", params) else {
                    break;
                };
                if reply.pointer("/result/content/0/text") == Some(&json!(text)) {
                    answered.lock().unwrap().push(text);
                }
                id += 1;
            }
        }
        pids.lock().unwrap().remove(&n);
        if stop.load(SeqCst) {
            // A clean end: stdin closed, the gateway flushes and exits.
            s.stdin.take();
            let deadline = Instant::now() + Duration::from_secs(30);
            while s.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        }
    }
}

#[test]
fn killed_gateways_and_a_flapping_receiver_lose_no_answered_call() {
    let secs: u64 = std::env::var("GATEKIT_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n  qradar:\n    transport: syslog_tcp\n    format: json\n    syslog: {{host: 127.0.0.1, port: {port}}}\n    data_minimization: {{parameters: full}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05, retry_max_delay: 0.5, disk: {{path: buffer}}}}\n",
        gatekit().display().to_string()
    );
    let config = write_config(dir.path(), &yaml);
    let receiver = Receiver::start(port);
    let answered = Arc::new(Mutex::new(Vec::new()));
    let pids: Pids = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicU64::new(0));
    let slots: Vec<_> = (0..3)
        .map(|n| {
            let (config, pids, answered, stop) = (
                config.clone(),
                Arc::clone(&pids),
                Arc::clone(&answered),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || slot(n, &config, &pids, &answered, &stop))
        })
        .collect();
    let killer = {
        let (pids, stop, kills, up) = (
            Arc::clone(&pids),
            Arc::clone(&stop),
            Arc::clone(&kills),
            Arc::clone(&receiver.up),
        );
        std::thread::spawn(move || {
            let mut next_flap = Instant::now() + Duration::from_secs(3);
            while !stop.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(fastrand::u64(200..1200)));
                let victim = {
                    let pids = pids.lock().unwrap();
                    let live: Vec<u32> = pids.values().copied().collect();
                    (!live.is_empty()).then(|| live[fastrand::usize(..live.len())])
                };
                if let Some(pid) = victim {
                    // kill(1): the workspace forbids `unsafe`, so no libc::kill. A pid that
                    // already exited only makes it fail.
                    let killed = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success());
                    if killed {
                        kills.fetch_add(1, SeqCst);
                    }
                }
                if Instant::now() >= next_flap {
                    // Down for one to two seconds, up for about three.
                    let was_up = up.load(SeqCst);
                    up.store(!was_up, SeqCst);
                    next_flap = Instant::now()
                        + Duration::from_millis(if was_up {
                            fastrand::u64(1000..2000)
                        } else {
                            3000
                        });
                }
            }
            up.store(true, SeqCst);
        })
    };
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, SeqCst);
    killer.join().unwrap();
    for s in slots {
        s.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    let kills = kills.load(SeqCst);
    assert!(kills >= 3, "the chaos killed too few gateways ({kills})");
    assert!(
        answered.len() >= 50,
        "too few answered calls ({})",
        answered.len()
    );
    // One more gateway adopts every spool and buffer the dead ones left.
    let mut sweeper = Session::start(&config, &config.with_file_name("sweeper.log"));
    let own_spool = format!("proc-{}-", sweeper.child.id());
    let dead_spools = || -> Vec<String> {
        std::fs::read_dir(dir.path().join("buffer/spool"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("proc-") && !n.starts_with(&own_spool))
                    .collect()
            })
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let missing = loop {
        let got: HashSet<String> = receiver
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.split("\"text\":\"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string)
            .collect();
        let missing: Vec<&String> = answered.iter().filter(|t| !got.contains(*t)).collect();
        // Also wait for the sweeper to adopt every spool the dead left (it scans every 5 s),
        // even when their events already arrived through the dead processes' buffers.
        if (missing.is_empty() && dead_spools().is_empty()) || Instant::now() > deadline {
            break missing.into_iter().cloned().collect::<Vec<_>>();
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    // A clean stop of the sweeper: its spool is drained and removed, and so is every spool it
    // adopted.
    sweeper.stdin.take();
    let stopped = Instant::now() + Duration::from_secs(30);
    while sweeper.child.try_wait().unwrap().is_none() && Instant::now() < stopped {
        std::thread::sleep(Duration::from_millis(20));
    }
    let spools: Vec<String> = std::fs::read_dir(dir.path().join("buffer/spool"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let lines = receiver.lines.lock().unwrap().clone();
    let ids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split("\"event_id\":\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    eprintln!(
        "chaos: {secs} s, {kills} SIGKILLs, {} answered calls, {} events received, {} unique, {} duplicates, {} answered calls missing",
        answered.len(),
        ids.len(),
        unique.len(),
        ids.len() - unique.len(),
        missing.len()
    );
    // The killed processes did leave spools, and live processes adopted them: committed mode
    // was exercised, not just the destinations' disk buffers.
    let adoptions = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|log| log.matches("SIEM spool adopted").count())
        .sum::<usize>();
    eprintln!("chaos: {adoptions} spools adopted");
    assert!(adoptions > 0, "no spool of a killed gateway was adopted");
    assert!(
        spools.iter().all(|n| !n.starts_with("proc-")),
        "spools left after every process stopped: {spools:?}"
    );
    let troubles: Vec<&String> = lines
        .iter()
        .filter(|l| {
            l.contains("dropped")
                || l.contains("dead-lettered")
                || l.contains("could not be recovered")
        })
        .collect();
    for t in troubles.iter().take(5) {
        eprintln!(
            "chaos: trouble reported: {}",
            t.split("\"message\":").nth(1).unwrap_or(t)
        );
    }
    if !missing.is_empty() {
        // Keep the evidence: the spools and buffers the processes left.
        let kept = dir.keep();
        eprintln!("chaos: state kept in {}", kept.display());
    }
    // Losses come in runs; one line per session (slot-generation) says which ids are missing.
    let mut runs: std::collections::BTreeMap<&str, (u64, u64, u64)> = Default::default();
    for m in &missing {
        let (session, id) = m
            .strip_prefix("chaos-")
            .and_then(|r| r.rsplit_once('-'))
            .unwrap();
        let id: u64 = id.parse().unwrap();
        let e = runs.entry(session).or_insert((id, id, 0));
        e.0 = e.0.min(id);
        e.1 = e.1.max(id);
        e.2 += 1;
    }
    for (session, (first, last, n)) in &runs {
        let answered_in = answered
            .iter()
            .filter(|a| a.starts_with(&format!("chaos-{session}-")))
            .count();
        eprintln!(
            "chaos: session {session}: {n} missing of {answered_in} answered, ids {first}..={last}"
        );
    }
    assert!(
        missing.is_empty(),
        "{} answered calls have no event at the receiver, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}
