//! Latency harness: the same MCP server reached directly and through `gatekit`.
//!
//! Measures, for `tools/call` of the bundled example server's `echo` tool:
//! * sequential round trips (one call at a time): p50, p99 and p99.9 for every path, the
//!   latency Gatekit adds (difference of the p50s and p99s), and the paired added p50 (median
//!   of each call's difference to the direct call of the same round);
//! * pipelined throughput with `--concurrency` calls in flight, and its ratio to the direct
//!   server's;
//! * Gatekit's CPU time per call (from /proc, during the sequential phase) and resident memory.
//!
//! Besides the direct server and the Gatekit configurations it measures a bare relay: this
//! harness run as two threads copying bytes each way between its stdio and the server, with no
//! parsing at all. No stdio proxy can add less than that on the same machine, so Gatekit's
//! latency is best read against it as well as against the direct server.
//!
//! Every path runs at once, and the sequential calls are interleaved round by round, so drift in
//! the machine's wake-up cost (large on a shared VM) reaches all paths alike and their
//! differences are meaningful even on a noisy machine. Each process then sits idle between its
//! calls, as a gateway in front of one MCP client usually does, so every call pays its wake-ups.
//! `--back-to-back` measures one path after the other instead, each with its calls in a tight
//! loop (warm processes; the method of the numbers before 2026-12-05).
//! Run: `cargo bench -p gatekit --bench latency -- --calls 20000`; with `GATEKIT_BIN=<path>` it
//! measures that gatekit binary instead of the one built with it (A/B comparisons).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    calls: usize,
    concurrency: usize,
    warmup: usize,
    slow_ms: u64,
    slow_calls: usize,
    /// Measure each path's sequential calls on their own, one path after the other (the
    /// harness's method before 2026-12-05, kept to compare with older numbers).
    back_to_back: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        calls: 10_000,
        concurrency: 16,
        warmup: 500,
        slow_ms: 20,
        slow_calls: 800,
        back_to_back: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse().ok()).expect("a number");
        match a.as_str() {
            "--calls" => args.calls = num(),
            "--concurrency" => args.concurrency = num(),
            "--warmup" => args.warmup = num(),
            "--slow-ms" => args.slow_ms = num() as u64,
            "--slow-calls" => args.slow_calls = num(),
            "--back-to-back" => args.back_to_back = true,
            "--bench" => {}
            "--help" => {
                println!("latency [--calls N] [--concurrency C] [--warmup W] [--slow-ms MS] [--slow-calls N] [--back-to-back]");
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
    next_id: u64,
}

impl Peer {
    fn spawn(cmd: &mut Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut peer = Peer {
            child,
            stdin,
            stdout,
            line: String::new(),
            next_id: 1,
        };
        peer.send_raw(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"latency","version":"1"}}}"#);
        peer.read_line();
        assert!(
            peer.line.contains("\"result\""),
            "initialize failed: {}",
            peer.line
        );
        peer.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        peer
    }

    fn send_raw(&mut self, s: &str) {
        self.stdin.write_all(s.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    fn send_call(&mut self, tool: &str) {
        self.send_call_with(tool, r#"{"text":"hello from the latency harness"}"#);
    }

    fn send_call_with(&mut self, tool: &str, arguments: &str) {
        let id = self.next_id;
        self.next_id += 1;
        let msg = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
        );
        self.send_raw(&msg);
    }

    /// Throughput of `n` calls to a tool that takes `ms` milliseconds, `window` in flight.
    fn concurrent_slow(&mut self, tool: &str, ms: u64, n: usize, window: usize) -> f64 {
        let args = format!(r#"{{"ms":{ms}}}"#);
        let t = Instant::now();
        let (mut sent, mut received) = (0, 0);
        while sent < window.min(n) {
            self.send_call_with(tool, &args);
            sent += 1;
        }
        while received < n {
            self.read_line();
            assert!(
                self.line.contains("waited"),
                "unexpected reply: {}",
                self.line
            );
            received += 1;
            if sent < n {
                self.send_call_with(tool, &args);
                sent += 1;
            }
        }
        n as f64 / t.elapsed().as_secs_f64()
    }

    fn read_line(&mut self) {
        self.line.clear();
        self.stdout.read_line(&mut self.line).unwrap();
        assert!(!self.line.is_empty(), "peer closed its stdout");
    }

    fn read_result(&mut self) {
        self.read_line();
        assert!(
            self.line.contains("hello from the latency harness"),
            "unexpected reply: {}",
            self.line
        );
    }

    fn sequential(&mut self, tool: &str, n: usize) -> Vec<Duration> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            self.send_call(tool);
            self.read_result();
            out.push(t.elapsed());
        }
        out
    }

    fn pipelined(&mut self, tool: &str, n: usize, window: usize) -> Duration {
        let t = Instant::now();
        let mut sent = 0;
        let mut received = 0;
        while sent < window.min(n) {
            self.send_call(tool);
            sent += 1;
        }
        while received < n {
            self.read_result();
            received += 1;
            if sent < n {
                self.send_call(tool);
                sent += 1;
            }
        }
        t.elapsed()
    }

    fn finish(mut self) {
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1e6
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

struct Measured {
    p50: f64,
    p99: f64,
    p999: f64,
    /// Median of this path's call minus the direct call of the same round (`None` for the
    /// direct path itself).
    paired_p50: Option<f64>,
    throughput: f64,
    slow_throughput: f64,
    cpu_per_call_us: f64,
    rss: f64,
}

/// One path under test: a peer whose tools are named `{prefix}echo` and `{prefix}slow`.
struct Route {
    label: &'static str,
    peer: Peer,
    prefix: &'static str,
    /// The gateway's pid (for CPU and memory); `None` for the direct server.
    pid: Option<u32>,
}

fn via_gatekit(gatekit: &str, config: &Path, label: &'static str) -> Route {
    let peer = Peer::spawn(Command::new(gatekit).arg("run").arg("--config").arg(config));
    let pid = Some(peer.child.id());
    Route {
        label,
        peer,
        prefix: "ex__",
        pid,
    }
}

/// Measures every path. The sequential round trips are interleaved: each round makes one call
/// on every path, in a rotating order, so drift in this machine's wake-up cost (it moves the
/// direct path's p50 by tens of microseconds between minutes) reaches every path alike. The
/// throughput phases then run one path at a time.
fn measure(paths: &mut [Route], args: &Args) -> Vec<Measured> {
    let echo: Vec<String> = paths.iter().map(|p| format!("{}echo", p.prefix)).collect();
    for (p, tool) in paths.iter_mut().zip(&echo) {
        p.peer.sequential(tool, args.warmup);
    }
    let cpu_before: Vec<f64> = paths
        .iter()
        .map(|p| p.pid.map(cpu_seconds).unwrap_or(0.0))
        .collect();
    let lat: Vec<Vec<Duration>> = if args.back_to_back {
        paths
            .iter_mut()
            .zip(&echo)
            .map(|(p, tool)| p.peer.sequential(tool, args.calls))
            .collect()
    } else {
        let mut lat = vec![Vec::with_capacity(args.calls); paths.len()];
        for round in 0..args.calls {
            for k in 0..paths.len() {
                let i = (round + k) % paths.len();
                let t = Instant::now();
                paths[i].peer.send_call(&echo[i]);
                paths[i].peer.read_result();
                lat[i].push(t.elapsed());
            }
        }
        lat
    };
    let cpu_per_call_us: Vec<f64> = paths
        .iter()
        .zip(&cpu_before)
        .map(|(p, before)| {
            p.pid.map_or(0.0, |pid| {
                (cpu_seconds(pid) - before) / args.calls as f64 * 1e6
            })
        })
        .collect();
    let direct = lat[0].clone();
    paths
        .iter_mut()
        .zip(lat)
        .zip(cpu_per_call_us)
        .enumerate()
        .map(|(i, ((p, lat), cpu_per_call_us))| {
            let paired_p50 = (i > 0 && !args.back_to_back).then(|| {
                let mut diffs: Vec<f64> = lat
                    .iter()
                    .zip(&direct)
                    .map(|(v, d)| v.as_secs_f64() * 1e6 - d.as_secs_f64() * 1e6)
                    .collect();
                diffs.sort_by(f64::total_cmp);
                diffs[diffs.len() / 2]
            });
            let mut sorted = lat;
            sorted.sort();
            let wall = p.peer.pipelined(&echo[i], args.calls, args.concurrency);
            let slow = format!("{}slow", p.prefix);
            Measured {
                p50: percentile(&sorted, 0.50),
                p99: percentile(&sorted, 0.99),
                p999: percentile(&sorted, 0.999),
                paired_p50,
                throughput: args.calls as f64 / wall.as_secs_f64(),
                slow_throughput: p.peer.concurrent_slow(
                    &slow,
                    args.slow_ms,
                    args.slow_calls,
                    args.concurrency,
                ),
                cpu_per_call_us,
                rss: p.pid.map_or(0.0, rss_mib),
            }
        })
        .collect()
}

/// The floor for any stdio proxy: two threads that copy bytes each way between this process's
/// stdio and a child, blocking on every read, with no parsing. The harness runs itself as
/// this relay when `LATENCY_RELAY` is set; its arguments are the child's command.
fn relay() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (program, rest) = argv.split_first().expect("relay: no command");
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("relay: cannot start the child");
    let mut to_child = child.stdin.take().expect("child stdin");
    let mut from_child = child.stdout.take().expect("child stdout");
    fn copy(from: &mut impl std::io::Read, to: &mut impl Write) {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                return;
            }
        }
    }
    let up = std::thread::spawn(move || copy(&mut std::io::stdin().lock(), &mut to_child));
    copy(&mut from_child, &mut std::io::stdout().lock());
    let _ = up.join();
    let _ = child.wait();
}

fn main() {
    if std::env::var_os("LATENCY_RELAY").is_some() {
        return relay();
    }
    let args = parse_args();
    // GATEKIT_BIN measures another build (an A/B comparison) with this harness.
    let other_build = std::env::var("GATEKIT_BIN").ok();
    let gatekit = other_build
        .as_deref()
        .unwrap_or(env!("CARGO_BIN_EXE_gatekit"));
    let dir = std::env::temp_dir().join(format!("gatekit-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{gatekit:?}, example-server]\nlogging:\n  level: WARNING\n"
    );
    let plain = dir.join("plain.yaml");
    std::fs::write(&plain, &base).unwrap();
    let audited = dir.join("plugins.yaml");
    std::fs::write(
        &audited,
        format!(
            "{base}plugins:\n  security:\n    _global:\n      - {{handler: basic_pii_filter, config: {{action: redact}}}}\n      - {{handler: basic_secrets_filter, config: {{action: redact}}}}\n  auditing:\n    _global:\n      - {{handler: audit_jsonl, config: {{output_file: {:?}}}}}\n",
            dir.join("audit.jsonl").display().to_string()
        ),
    )
    .unwrap();

    let siem = dir.join("siem.yaml");
    std::fs::write(
        &siem,
        format!(
            "{}siem:\n  splunk: {{transport: file, format: cef, file: {{path: {:?}}}}}\n  azure_sentinel: {{transport: log_analytics_agent, format: json, log_analytics_agent: {{path: {:?}}}}}\n",
            std::fs::read_to_string(&audited).unwrap(),
            dir.join("splunk.cef").display().to_string(),
            dir.join("sentinel.jsonl").display().to_string()
        ),
    )
    .unwrap();
    let siem_only = dir.join("siem-only.yaml");
    std::fs::write(
        &siem_only,
        format!(
            "{base}siem:\n  splunk: {{transport: file, format: cef, file: {{path: {:?}}}}}\n  azure_sentinel: {{transport: log_analytics_agent, format: json, log_analytics_agent: {{path: {:?}}}}}\n",
            dir.join("splunk-only.cef").display().to_string(),
            dir.join("sentinel-only.jsonl").display().to_string()
        ),
    )
    .unwrap();
    // The same two destinations in committed mode: every event written to the spool before
    // the answer (the difference to the line above is the spool's own cost).
    let siem_spool = dir.join("siem-spool.yaml");
    std::fs::write(
        &siem_spool,
        format!(
            "{base}siem:
  spool: {{path: {:?}}}
  splunk: {{transport: file, format: cef, file: {{path: {:?}}}}}
  azure_sentinel: {{transport: log_analytics_agent, format: json, log_analytics_agent: {{path: {:?}}}}}
",
            dir.join("spool").display().to_string(),
            dir.join("splunk-spool.cef").display().to_string(),
            dir.join("sentinel-spool.jsonl").display().to_string()
        ),
    )
    .unwrap();
    let direct = Route {
        label: "direct",
        peer: Peer::spawn(Command::new(gatekit).arg("example-server")),
        prefix: "",
        pid: None,
    };
    let relay = {
        let me = std::env::current_exe().unwrap();
        let peer = Peer::spawn(
            Command::new(me)
                .env("LATENCY_RELAY", "1")
                .arg(gatekit)
                .arg("example-server"),
        );
        let pid = Some(peer.child.id());
        Route {
            label: "via a bare relay (floor for any stdio proxy)",
            peer,
            prefix: "",
            pid,
        }
    };
    let mut paths = vec![
        direct,
        relay,
        via_gatekit(gatekit, &plain, "via gatekit"),
        via_gatekit(
            gatekit,
            &siem_only,
            "via gatekit, SIEM only (CEF + JSON files)",
        ),
        via_gatekit(
            gatekit,
            &siem_spool,
            "via gatekit, SIEM only, committed mode (spool)",
        ),
        via_gatekit(
            gatekit,
            &audited,
            "via gatekit, PII+secrets filters, JSONL audit",
        ),
        via_gatekit(
            gatekit,
            &siem,
            "via gatekit, filters, JSONL audit, SIEM (CEF + JSON files)",
        ),
    ];
    let measured = measure(&mut paths, &args);
    let labels: Vec<&str> = paths.iter().map(|p| p.label).collect();
    for p in paths {
        p.peer.finish();
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "calls={} concurrency={} warmup={}; concurrent slow calls: {} x {} ms",
        args.calls, args.concurrency, args.warmup, args.slow_calls, args.slow_ms
    );
    println!(
        "| path | p50 us | p99 us | p99.9 us | added p50 us | added p99 us | paired added p50 us | {c} in flight x {ms} ms: calls/s | pipelined echo: calls/s | gatekit CPU us/call | gatekit RSS MiB |",
        c = args.concurrency,
        ms = args.slow_ms
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let d = &measured[0];
    println!(
        "| direct | {:.1} | {:.1} | {:.1} | | | | {:.0} | {:.0} | | |",
        d.p50, d.p99, d.p999, d.slow_throughput, d.throughput
    );
    for (label, v) in labels.iter().zip(&measured).skip(1) {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.0} ({:.1} % of direct) | {:.0} ({:.1} % of direct) | {:.1} | {:.1} |",
            label,
            v.p50,
            v.p99,
            v.p999,
            v.p50 - d.p50,
            v.p99 - d.p99,
            v.paired_p50.map_or_else(|| "-".to_string(), |p| format!("{p:.1}")),
            v.slow_throughput,
            v.slow_throughput / d.slow_throughput * 100.0,
            v.throughput,
            v.throughput / d.throughput * 100.0,
            v.cpu_per_call_us,
            v.rss
        );
    }
}
