//! The host agent (`gatekit agent`), tried as an operator runs it: real gateway processes on
//! one configuration with `siem.agent.enabled`, killed with SIGKILL so their spools are left
//! behind; the agent delivers them to a TCP syslog receiver. `/metrics` is read with the
//! Python `prometheus_client` OpenMetrics parser (not our own), during an outage and after
//! recovery, and its numbers are checked against what the receiver got; `/ready` flips with
//! the outage; SIGHUP reloads and a SIGKILL of the agent itself lose nothing (unique event ids
//! counted at the receiver against answered calls).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// The agent process; killed when dropped.
struct Agent {
    child: Child,
    port: u16,
}

impl Agent {
    fn start(config: &Path, port: u16, log: &Path) -> Agent {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(gatekit())
            .args(["agent", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let agent = Agent { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent.get("/health").is_none() {
            assert!(
                Instant::now() < deadline,
                "the agent never answered /health"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        agent
    }

    /// `(status, body)` of a GET, `None` when nothing answers.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n")?.1.to_string();
        Some((status, body))
    }

    /// Every sample of `/metrics`, parsed by `prometheus_client`.
    fn metrics(&self) -> HashMap<String, f64> {
        let (status, body) = self.get("/metrics").unwrap();
        assert_eq!(status, 200, "{body}");
        let mut parser = Command::new(python())
            .arg(python_dir().join("parse_metrics.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        parser
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        let out = parser.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "prometheus_client refused the scrape: {}\n{body}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn signal(&self, signal: i32) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sum of every sample named `name` whose labels contain `labels`.
fn sum(m: &HashMap<String, f64>, name: &str, labels: &str) -> f64 {
    m.iter()
        .filter(|(k, _)| k.starts_with(&format!("{name}{{")) && k.contains(labels))
        .map(|(_, v)| v)
        .sum()
}

fn config(dir: &Path, syslog_port: u16, agent_port: u16) -> std::path::PathBuf {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nlogging: {{format: json}}\nsiem:\n  monitor_interval: 0.2\n  spool: {{path: spool}}\n  agent: {{enabled: true, listen: \"127.0.0.1:{agent_port}\"}}\n  alerts: {{heartbeat_secs: 1, backlog_events: 20}}\n  qradar:\n    transport: syslog_tcp\n    format: json\n    syslog: {{host: 127.0.0.1, port: {syslog_port}}}\n    data_minimization: {{parameters: full}}\n    delivery: {{batch_timeout: 0.05, retry_initial_delay: 0.05, retry_max_delay: 0.2, retry_attempts: 1000000, shutdown_timeout: 1}}\n",
        gatekit().display().to_string()
    );
    write_config(dir, &yaml)
}

/// Starts `n` gateways, makes `calls` calls on each, and kills them all with SIGKILL (their
/// spools stay behind); returns the answered calls' texts.
fn gateways_answer_and_die(config: &Path, tag: &str, n: usize, calls: i64) -> Vec<String> {
    let mut answered = Vec::new();
    let mut gateways: Vec<Gateway> = (0..n).map(|_| Gateway::start(config)).collect();
    for gw in &mut gateways {
        let init = gw.initialize();
        assert!(init.get("result").is_some(), "{init}");
    }
    for i in 0..calls {
        for (g, gw) in gateways.iter_mut().enumerate() {
            let text = format!("{tag}-{g}-{i}");
            let reply = gw.call(
                i + 10,
                "tools/call",
                json!({"name": "ex__echo", "arguments": {"text": text}}),
            );
            assert_eq!(result_text(&reply), text);
            answered.push(text);
        }
    }
    for mut gw in gateways {
        gw.child.kill().unwrap();
        let _ = gw.child.wait();
    }
    answered
}

/// Unique event ids received, and the answered calls with no event.
fn check(lines: &Mutex<Vec<String>>, answered: &[String]) -> (usize, usize, Vec<String>) {
    let got = lines.lock().unwrap().clone();
    let all = got.join("\n");
    let missing = answered
        .iter()
        .filter(|t| !all.contains(&format!("\"text\":\"{t}\"")))
        .cloned()
        .collect();
    let ids: Vec<&str> = got
        .iter()
        .filter_map(|l| l.split("\"event_id\":\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    (got.len(), unique.len(), missing)
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn metrics_match_the_receiver_through_an_outage_and_ready_flips() {
    let dir = tempfile::tempdir().unwrap();
    let (syslog_port, agent_port) = (free_port(), free_port());
    eprintln!("ports: syslog {syslog_port}, agent {agent_port}");
    let config = config(dir.path(), syslog_port, agent_port);
    let log = dir.path().join("agent.log");
    // The SIEM is down from the start: an outage.
    let agent = Agent::start(&config, agent_port, &log);
    let (_, health) = agent.get("/health").unwrap();
    assert_eq!(health, "alive\n");

    // Gateways answer while the agent runs; their counters reach /metrics through their
    // status files while they live.
    let mut gw = Gateway::start(&config);
    assert!(gw.initialize().get("result").is_some());
    for i in 0..5 {
        let text = format!("live-{i}");
        let reply = gw.call(
            i + 10,
            "tools/call",
            json!({"name": "ex__echo", "arguments": {"text": text}}),
        );
        assert_eq!(result_text(&reply), text);
    }
    wait_until(
        "a gateway's calls in /metrics",
        Duration::from_secs(30),
        || {
            sum(
                &agent.metrics(),
                "gatekit_gateway_calls_total",
                "role=gateway",
            ) >= 5.0
        },
    );
    gw.child.kill().unwrap();
    let _ = gw.child.wait();
    let mut answered: Vec<String> = (0..5).map(|i| format!("live-{i}")).collect();
    answered.extend(gateways_answer_and_die(&config, "outage", 3, 8));

    // During the outage: not ready, with the reason; the adopted events wait at the agent.
    wait_until(
        "the backlog of the killed gateways at the agent",
        Duration::from_secs(60),
        || {
            let m = agent.metrics();
            sum(&m, "gatekit_siem_queued_events", "destination=qradar") >= answered.len() as f64
        },
    );
    // The monitor looks at the metrics on its own interval: wait for its first look at the
    // backlog, then check that the outage raised each alert exactly once.
    wait_until("the outage's alerts", Duration::from_secs(30), || {
        let m = agent.metrics();
        sum(&m, "gatekit_siem_alerts_total", "kind=unreachable") >= 1.0
            && sum(&m, "gatekit_siem_alerts_total", "kind=backlog_events") >= 1.0
    });
    let m = agent.metrics();
    assert_eq!(
        sum(&m, "gatekit_siem_delivered_total", "destination=qradar"),
        0.0
    );
    assert!(
        sum(
            &m,
            "gatekit_siem_failed_attempts_total",
            "destination=qradar"
        ) > 0.0
    );
    assert!(
        sum(
            &m,
            "gatekit_siem_oldest_event_age_seconds",
            "destination=qradar"
        ) > 0.0
    );
    // One outage, one alert of each kind (not one per look).
    assert_eq!(
        sum(&m, "gatekit_siem_alerts_total", "kind=unreachable"),
        1.0,
        "an unreachable destination raises one alert: {m:?}"
    );
    assert_eq!(
        sum(&m, "gatekit_siem_alerts_total", "kind=backlog_events"),
        1.0,
        "a backlog over siem.alerts.backlog_events raises one alert: {m:?}"
    );
    let (status, body) = agent.get("/ready").unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("qradar unreachable"), "{body}");
    // `siem status` shows the backlog and the error without asking the agent.
    let out = Command::new(gatekit())
        .args(["siem", "status", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let status_json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let agent_report = status_json["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["status"]["role"] == "agent")
        .unwrap()
        .clone();
    let table = Command::new(gatekit())
        .args(["siem", "status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("agent") && table.contains("qradar") && table.contains("open"),
        "{table}"
    );
    let qradar = &agent_report["status"]["destinations"][0];
    assert!(qradar["queued_events"].as_u64().unwrap() > 0, "{qradar}");
    assert!(
        qradar["last_error"].as_str().unwrap().contains("127.0.0.1"),
        "{qradar}"
    );

    // Recovery: everything arrives, the numbers match what the receiver got, ready again.
    let lines = Arc::new(Mutex::new(Vec::new()));
    receive(syslog_port, Arc::clone(&lines));
    wait_until(
        "every answered call at the receiver",
        Duration::from_secs(90),
        || check(&lines, &answered).2.is_empty(),
    );
    // Heartbeats keep coming, so the scrape and the receiver's count are compared within one
    // look, retried until they agree with nothing waiting.
    let mut settled = None;
    wait_until(
        "the agent's backlog to drain",
        Duration::from_secs(60),
        || {
            let m = agent.metrics();
            let received = lines.lock().unwrap().len() as f64;
            let done = sum(&m, "gatekit_siem_queued_events", "destination=qradar") == 0.0
                && sum(&m, "gatekit_siem_delivered_total", "destination=qradar") == received;
            if done {
                settled = Some((m, received));
            }
            done
        },
    );
    let (m, received) = settled.unwrap();
    assert_eq!(
        sum(
            &m,
            "gatekit_siem_delivery_latency_seconds_count",
            "destination=qradar"
        ),
        received,
        "every delivered record has a latency sample"
    );
    assert_eq!(
        sum(&m, "gatekit_siem_dropped_total", "destination=qradar"),
        0.0
    );
    assert_eq!(
        sum(&m, "gatekit_siem_dead_lettered_total", "destination=qradar"),
        0.0
    );
    wait_until("/ready to answer 200", Duration::from_secs(30), || {
        agent.get("/ready").is_some_and(|(s, _)| s == 200)
    });
    let (total, unique, missing) = check(&lines, &answered);
    assert!(missing.is_empty());
    eprintln!("{total} events received, {unique} unique");
    // The alerts and the heartbeat are system_events: buffered through the outage, then
    // delivered like everything else.
    wait_until(
        "alert and heartbeat system_events at the receiver",
        Duration::from_secs(30),
        || {
            let all = lines.lock().unwrap().join("\n");
            [
                "SIEM destination qradar is unreachable",
                "events waiting (alert threshold 20)",
                "SIEM destination qradar is reachable again",
                "Gatekit heartbeat",
            ]
            .iter()
            .all(|s| all.contains(s))
        },
    );
    // logging.format: json: every line of the agent's log is a JSON object with a message.
    let log_text = std::fs::read_to_string(&log).unwrap();
    for line in log_text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            v["fields"]["message"].is_string() && v["level"].is_string(),
            "{line}"
        );
    }
    assert!(
        log_text.contains("SIEM alert."),
        "alerts are logged: {log_text}"
    );
    agent.signal(15);
    drop(agent);
}

#[test]
fn agent_survives_sighup_and_its_own_sigkill_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (syslog_port, agent_port) = (free_port(), free_port());
    eprintln!("ports: syslog {syslog_port}, agent {agent_port}");
    let config = config(dir.path(), syslog_port, agent_port);
    let log = dir.path().join("agent.log");
    // The SIEM is down through every reload and kill, so the agent holds the backlog each time.
    let mut agent = Agent::start(&config, agent_port, &log);
    let mut answered = Vec::new();
    // Every dead process's spool adopted by the agent, which now holds the backlog.
    let adopted = |agent: &Agent| {
        wait_until(
            "the agent to adopt every dead spool",
            Duration::from_secs(60),
            || {
                let m = agent.metrics();
                sum(&m, "gatekit_siem_processes", "alive=false") == 0.0
                    && sum(&m, "gatekit_siem_queued_events", "destination=qradar") > 0.0
            },
        )
    };
    for round in 0..3 {
        answered.extend(gateways_answer_and_die(&config, &format!("r{round}"), 3, 6));
        adopted(&agent);
        // Reload while the agent holds the backlog, and while more gateways die.
        agent.signal(1);
        answered.extend(gateways_answer_and_die(&config, &format!("h{round}"), 2, 4));
        wait_until("the reload", Duration::from_secs(30), || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .matches("SIEM configuration reloaded")
                .count()
                == round + 1
        });
        adopted(&agent);
        // The agent itself is killed holding the backlog, and started again.
        agent.signal(9);
        let _ = agent.child.wait();
        drop(agent);
        agent = Agent::start(&config, agent_port, &log);
    }
    let lines = Arc::new(Mutex::new(Vec::new()));
    receive(syslog_port, Arc::clone(&lines));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !check(&lines, &answered).2.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, _, missing) = check(&lines, &answered);
    assert!(
        missing.is_empty(),
        "answered calls lost: {missing:?}\nspool: {:?}\nagent log:\n{}",
        std::fs::read_dir(dir.path().join("spool"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            .unwrap_or_default(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let m = agent.metrics();
    let (total, unique, missing) = check(&lines, &answered);
    assert!(missing.is_empty(), "answered calls lost: {missing:?}");
    eprintln!(
        "{} answered calls; {total} events received, {unique} unique, {} duplicates (at-least-once)",
        answered.len(),
        total - unique
    );
    // SIGTERM flushes and the agent exits cleanly.
    agent.signal(15);
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = agent.child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, Some(0));
    // Every SIGHUP was taken as a reload (none refused), while work was under way.
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        log.matches("Reloading the SIEM configuration").count(),
        3,
        "{log}"
    );
    assert!(!log.contains("Reload refused"), "{log}");
    assert_eq!(sum(&m, "gatekit_agent_reload_failures_total", ""), 0.0);
}

#[test]
fn a_reload_with_a_broken_file_keeps_the_running_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let (syslog_port, agent_port) = (free_port(), free_port());
    let config = config(dir.path(), syslog_port, agent_port);
    let log = dir.path().join("agent.log");
    let agent = Agent::start(&config, agent_port, &log);
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("transport: syslog_tcp", "transport: carrier_pigeon"),
    )
    .unwrap();
    agent.signal(1);
    wait_until("the refused reload", Duration::from_secs(30), || {
        sum(&agent.metrics(), "gatekit_agent_reload_failures_total", "") == 1.0
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Reload refused"), "{text}");
    assert!(
        text.contains("carrier_pigeon"),
        "the reason is logged: {text}"
    );
    // Still running on the old configuration: delivers once the SIEM is there.
    assert_eq!(agent.get("/health").unwrap().0, 200);
    let lines = Arc::new(Mutex::new(Vec::new()));
    receive(syslog_port, Arc::clone(&lines));
    wait_until(
        "delivery with the old configuration",
        Duration::from_secs(30),
        || {
            lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("Gatekit agent") || l.contains("started"))
        },
    );
    assert_eq!(
        sum(&agent.metrics(), "gatekit_agent_reloads_total", ""),
        0.0
    );
}
