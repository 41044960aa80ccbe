//! Chaos: several gateway processes on one configuration (disk buffer, so the spool is on),
//! MCP sessions of two kinds, random SIGKILLs, and a TCP syslog receiver that goes down
//! (closes its connections and serves no new one) and comes back. Two slots are real MCP
//! client sessions: the official Python MCP SDK (`tests/python/chaos_client.py`: `stdio_client`
//! and `ClientSession`) starts each gateway, calls through it and, at the end, shuts it down
//! the SDK's way; the other two are raw JSON-RPC written by this test over the gateway's pipes
//! (fast, and killable mid-initialize). Afterwards one more gateway adopts what the dead ones
//! left, and every call that was answered, by either kind of client, must have its event at
//! the receiver (duplicates are allowed and counted: delivery is at-least-once, event ids
//! kept). Each gateway's log, and each SDK client's stderr (`client-*.log`: how its session
//! ended), is kept next to the configuration; on a failure the whole directory is kept and its
//! path printed, with the missing ids per session.
//!
//! The short run here takes about 15 s of chaos; `GATEKIT_CHAOS_SECS=600 cargo test -p gatekit
//! --test siem_chaos -- --nocapture` is the long one (docs/delivery.md). The SDK comes from
//! `scripts/setup-test-peers` (`support::python()` fails with instructions without it).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
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
    fn start(config: &Path, log: &Path) -> Session {
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

/// The pids of the live gateways, by slot, for the killer.
type Pids = Arc<Mutex<HashMap<usize, u32>>>;

/// How a slot drives its gateways. Both kinds run in every run: the raw sessions are fast and
/// can be killed mid-initialize, the SDK's are what a real client does (its framing, its
/// shutdown: stdin closed, 2 s grace, then SIGTERM to the gateway's process group).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// JSON-RPC lines written by this test over the gateway's pipes ([`Session`]).
    Raw,
    /// The official Python MCP SDK's `stdio_client` and `ClientSession` ([`SdkClient`]).
    Sdk,
}

/// The slots, by number: each runs one gateway at a time, restarted after every kill.
const SLOTS: [Kind; 4] = [Kind::Sdk, Kind::Raw, Kind::Sdk, Kind::Raw];

/// Sends SIGKILL through kill(1): the workspace forbids `unsafe`, so no libc::kill. A pid that
/// already exited only makes it fail.
fn sigkill(pid: u32) -> bool {
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs sessions in slot `n` until `stop`, restarting after every kill; every answered call's
/// text (`chaos-{n}-{generation}-{id}`) goes to `answered`.
fn slot(n: usize, config: &Path, pids: &Pids, answered: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let mut generation = 0;
    while !stop.load(SeqCst) {
        generation += 1;
        let prefix = format!("chaos-{n}-{generation}");
        let log = config.with_file_name(format!("gateway-{n}-{generation}.log"));
        match SLOTS[n] {
            Kind::Raw => raw_session(n, &prefix, config, &log, pids, answered, stop),
            Kind::Sdk => sdk_session(n, &prefix, config, &log, pids, answered, stop),
        }
    }
}

/// One raw generation: until the gateway dies, or until `stop` and its clean end.
fn raw_session(
    n: usize,
    prefix: &str,
    config: &Path,
    log: &Path,
    pids: &Pids,
    answered: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) {
    let mut s = Session::start(config, log);
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
            let text = format!("{prefix}-{id}");
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
    }
}

/// One SDK generation: `tests/python/chaos_client.py` starts the gateway through the SDK and
/// calls until the gateway dies; on `stop` its stdin is closed and it ends the session the
/// SDK's way. Its stdout says `pid N`, `answered TEXT` and `down`, one line each.
fn sdk_session(
    n: usize,
    prefix: &str,
    config: &Path,
    log: &Path,
    pids: &Pids,
    answered: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) {
    let mut c = SdkClient::start(config, prefix, log);
    // Set once `stop` is seen: how long the client may take to end cleanly.
    let mut ending: Option<Instant> = None;
    loop {
        if ending.is_none() && stop.load(SeqCst) {
            c.stdin.take();
            ending = Some(Instant::now() + Duration::from_secs(30));
        }
        match c.lines.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if let Some(text) = line.strip_prefix("answered ") {
                    answered.lock().unwrap().push(text.to_string());
                } else if let Some(pid) = line.strip_prefix("pid ") {
                    // Said once initialized: the killer leaves SDK gateways alone while they
                    // start (the raw slots cover kills mid-initialize).
                    pids.lock().unwrap().insert(n, pid.parse().unwrap());
                } else if line == "down" {
                    pids.lock().unwrap().remove(&n);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if ending.is_some_and(|e| Instant::now() > e) {
                    eprintln!("chaos: the SDK client of {prefix} did not end within 30 s");
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    pids.lock().unwrap().remove(&n);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.python.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Dropping `c` kills whatever is still running, the gateway included.
}

/// The slot of an answered call's text, `chaos-{n}-{generation}-{id}`.
fn slot_of(text: &str) -> Option<usize> {
    text.strip_prefix("chaos-")?.split('-').next()?.parse().ok()
}

/// How the SDK clients' sessions ended (the last line each wrote to its stderr, the session's
/// name left out), counted: the record of what the SDK does when its server is SIGKILLed.
fn sdk_endings(dir: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut endings = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if !e.file_name().to_string_lossy().starts_with("client-") {
            continue;
        }
        let log = std::fs::read_to_string(e.path()).unwrap_or_default();
        let last = log.lines().last().unwrap_or("(nothing)");
        let ending = last.split_once(": ").map_or(last, |(_, rest)| rest);
        *endings.entry(ending.to_string()).or_default() += 1;
    }
    endings
}

/// A running `chaos_client.py` and the gateway it started (its pid in `pidfile`, written by
/// the shell that execs it).
struct SdkClient {
    python: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<String>,
    pidfile: PathBuf,
    config: PathBuf,
}

impl SdkClient {
    /// Starts the client; the gateway's log goes to `log`, the client's stderr next to it.
    fn start(config: &Path, prefix: &str, log: &Path) -> SdkClient {
        let pidfile = log.with_extension("pid");
        let client_log = std::fs::File::create(
            log.with_file_name(
                log.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .replace("gateway-", "client-"),
            ),
        )
        .unwrap();
        let mut python = Command::new(python())
            .arg(python_dir().join("chaos_client.py"))
            .arg(gatekit())
            .arg(config)
            .arg(prefix)
            .arg(&pidfile)
            .arg(log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(client_log)
            .spawn()
            .unwrap();
        let stdout = python.stdout.take().unwrap();
        let stdin = python.stdin.take();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        SdkClient {
            python,
            stdin,
            lines,
            pidfile,
            config: config.to_path_buf(),
        }
    }

    /// The gateway's pid, once the shell has written it.
    fn gateway_pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pidfile)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Whether `pid` is still this client's gateway (not a process that reused the pid).
    fn is_our_gateway(&self, pid: u32) -> bool {
        process_alive(pid)
            && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c).contains(&*self.config.to_string_lossy())
            })
    }
}

impl Drop for SdkClient {
    fn drop(&mut self) {
        if self.python.try_wait().ok().flatten().is_none() {
            // Not ended by its session (a test failing, or a client stuck): the gateway first,
            // while Python, its parent, still holds its pid; then Python.
            if let Some(pid) = self.gateway_pid().filter(|&p| self.is_our_gateway(p)) {
                sigkill(pid);
            }
            let _ = self.python.kill();
            let _ = self.python.wait();
        }
        // Python reaps the gateway it started; one it left behind (Python killed first) is an
        // orphan of init's, which only goes away when killed.
        if let Some(pid) = self.gateway_pid() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.is_our_gateway(pid) && Instant::now() < deadline {
                sigkill(pid);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The killer and the slots: on drop (a failing test too) told to stop and joined, so that
/// every process they started is reaped before the test ends.
struct Threads {
    stop: Arc<AtomicBool>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Threads {
    /// Stops and joins every thread; fails when one panicked.
    fn finish(&mut self) {
        self.stop.store(true, SeqCst);
        let panicked = self
            .handles
            .drain(..)
            .map(std::thread::JoinHandle::join)
            .filter(Result::is_err)
            .count();
        assert_eq!(panicked, 0, "{panicked} chaos threads panicked");
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        for h in self.handles.drain(..) {
            let _ = h.join();
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
    let mut threads = Threads {
        stop: Arc::clone(&stop),
        handles: Vec::new(),
    };
    threads.handles.push({
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
                if victim.is_some_and(sigkill) {
                    kills.fetch_add(1, SeqCst);
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
    });
    for n in 0..SLOTS.len() {
        let (config, pids, answered, stop) = (
            config.clone(),
            Arc::clone(&pids),
            Arc::clone(&answered),
            Arc::clone(&stop),
        );
        threads.handles.push(std::thread::spawn(move || {
            slot(n, &config, &pids, &answered, &stop)
        }));
    }
    std::thread::sleep(Duration::from_secs(secs));
    // The killer first (it brings the receiver back up), then the slots end their sessions.
    threads.finish();
    let answered = answered.lock().unwrap().clone();
    let kills = kills.load(SeqCst);
    assert!(kills >= 3, "the chaos killed too few gateways ({kills})");
    assert!(
        answered.len() >= 50,
        "too few answered calls ({})",
        answered.len()
    );
    // Both kinds of client took part: an SDK client that cannot start (no venv, a script error)
    // must fail the test, not leave the raw slots to pass it alone.
    for kind in [Kind::Sdk, Kind::Raw] {
        let texts: Vec<&String> = answered
            .iter()
            .filter(|t| slot_of(t).is_some_and(|n| SLOTS[n] == kind))
            .collect();
        let sessions: HashSet<&str> = texts
            .iter()
            .filter_map(|t| t.rsplit_once('-').map(|(session, _)| session))
            .collect();
        eprintln!(
            "chaos: {kind:?} slots: {} answered calls in {} sessions",
            texts.len(),
            sessions.len()
        );
        assert!(
            texts.len() >= 100 && sessions.len() >= 2,
            "the {kind:?} slots answered too few calls ({} in {} sessions)",
            texts.len(),
            sessions.len()
        );
    }
    eprintln!("chaos: SDK sessions ended: {:?}", sdk_endings(dir.path()));
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
        let kind = slot_of(&format!("chaos-{session}")).map(|n| SLOTS[n]);
        eprintln!(
            "chaos: session {session} ({kind:?}): {n} missing of {answered_in} answered, ids {first}..={last}"
        );
    }
    assert!(
        missing.is_empty(),
        "{} answered calls have no event at the receiver, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}
