//! `gatekit siem load --config FILE`: synthetic events through the configured pipelines
//! (formatter, framing, delivery manager, transport); reports throughput, delivery latency
//! percentiles, CPU time and peak memory of the process.
//!
//! Invariants (an operator must not be misled, nor flood a production SIEM by accident):
//! - it refuses, before anything is sent, a destination that is not on this machine unless
//!   the file says `siem.test_target: true` or the operator passed `--yes` ([`super::target`]);
//! - progress goes to stderr about once a second, so a long run is never silent;
//! - it exits non-zero when any event was dropped or dead-lettered, or delivery stalled, and
//!   says how many.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gatekit_core::{AuditEvent, EventFactory, EventType, McpData, Severity, UpstreamServer};
use gatekit_delivery::MetricsSnapshot;
use gatekit_siem::SiemSink;
use serde_json::json;

/// Time between two progress lines.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How long the load waits for the destinations' connections before it starts anyway and
/// says so (longer than a refused or plain connect; a TLS peer that stalls its handshake
/// can take up to about 20 s).
const PREPARE_WITHIN: Duration = Duration::from_secs(12);
/// Delivery that makes no progress for this long is reported as stalled.
const STALL_AFTER: Duration = Duration::from_secs(30);

/// Delivered, dropped and dead-lettered records over every destination.
fn settled(sink: &SiemSink) -> (u64, u64, u64) {
    totals(&sink.snapshots())
}

/// [`settled`] over snapshots already taken.
fn totals(snapshots: &[(&'static str, MetricsSnapshot)]) -> (u64, u64, u64) {
    snapshots.iter().fold((0, 0, 0), |(d, x, l), (_, s)| {
        (d + s.delivered, x + s.dropped_total, l + s.dead_lettered)
    })
}

/// Whether every destination has its connection open and its start event delivered (or the
/// destination cannot take it: then the load's first events meet the same trouble).
fn ready(sink: &SiemSink) -> bool {
    sink.prepared()
        && sink.snapshots().iter().all(|(_, s)| {
            s.delivered + s.dropped_total + s.dead_lettered > 0 && s.queue_events == 0
        })
}

/// What `now` counted since `before` (the same destination): the load's own records.
fn since(now: &MetricsSnapshot, before: &MetricsSnapshot) -> MetricsSnapshot {
    let mut load = now.clone();
    load.delivered -= before.delivered.min(load.delivered);
    load.dropped_total -= before.dropped_total.min(load.dropped_total);
    load.dead_lettered -= before.dead_lettered.min(load.dead_lettered);
    load.retried -= before.retried.min(load.retried);
    for (bucket, earlier) in load.latency_buckets.iter_mut().zip(&before.latency_buckets) {
        *bucket -= (*earlier).min(*bucket);
    }
    load
}

/// A latency percentile as text (`-` without samples).
fn percentile(s: &MetricsSnapshot, q: f64) -> String {
    s.latency_percentile(q)
        .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
        .unwrap_or_else(|| "-".into())
}

/// Prints a progress line on stderr when the last one is older than [`PROGRESS_EVERY`].
fn progress(sink: &SiemSink, submitted: u64, events: u64, records: u64, last: &mut Instant) {
    if last.elapsed() < PROGRESS_EVERY {
        return;
    }
    *last = Instant::now();
    let (delivered, dropped, dead) = settled(sink);
    eprintln!(
        "siem load: submitted {submitted}/{events} events; records delivered {delivered}/{records}, dropped {dropped}, dead-lettered {dead}"
    );
}

fn synthetic(factory: &EventFactory, i: u64) -> AuditEvent {
    let params = json!({"path": format!("/srv/data/report-{i}.csv"), "operation": "read", "note": "load test event from gatekit siem load"});
    factory
        .event(EventType::McpRequest, Severity::Info)
        .with_session_id("load-test-session")
        .with_correlation_id(i.to_string())
        .with_mcp(McpData {
            method: "tools/call".into(),
            tool_name: Some("read_file".into()),
            namespaced_tool_name: Some("filesystem__read_file".into()),
            parameters: params.as_object().cloned(),
        })
        .with_upstream(UpstreamServer {
            name: "filesystem".into(),
            command: None,
        })
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    // Positional: parsing before indexing would drop the state letter (field 3) and shift
    // every index by one (it used to report stime + cutime).
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat(5); after the command name they are 11 and 12.
    (field(11) + field(12)) / 100.0
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// `gatekit siem load --config FILE --events N --rate R [--yes]`.
pub fn load(config: &Path, events: u64, rate: u64, yes: bool) -> ExitCode {
    let result = (|| -> Result<(), String> {
        let checked = super::checked(config)?;
        if !checked.test_target && !yes {
            let remote: Vec<String> = checked
                .plans
                .iter()
                .filter_map(|p| {
                    super::target::remote_host(&p.connector)
                        .map(|h| format!("{} ({h})", p.platform))
                })
                .collect();
            if !remote.is_empty() {
                return Err(format!(
                    "refusing to send {events} synthetic events to destinations that are not on this machine: {}. A load test floods a SIEM: mark a test configuration with `siem: {{test_target: true}}`, or pass --yes if this really is a test system",
                    remote.join(", ")
                ));
            }
        }
        let options = gatekit_siem::sink::SinkOptions {
            hash_chain: checked.hash_chain,
            spool: checked.spool.clone(),
            ..Default::default()
        };
        let committed = options.spool.is_some();
        let plans = checked.plans;
        let destinations = plans.len() as u64;
        let records = events * destinations;
        let rt = super::runtime()?;
        let sink =
            SiemSink::start_with_options(plans, rt.handle(), crate::start::host_name(), options)?;
        eprintln!(
            "siem load: events enter as a gateway's do{}",
            if committed {
                ", written to the spool first (committed mode)"
            } else {
                " (no spool: memory only)"
            }
        );
        // A gateway's pipelines open their connections as they start (a TLS handshake and
        // its rejection probe take over 100 ms), and its start event goes out on them before
        // the first call comes in. The load starts its clock after that and reports the
        // latency of its own events; the start events are reported on their own line.
        let opening = Instant::now();
        while !ready(&sink) && opening.elapsed() < PREPARE_WITHIN {
            std::thread::sleep(Duration::from_millis(1));
        }
        // One snapshot is the baseline of the start line, the settle loop and the report.
        let start = sink.snapshots();
        for (platform, s) in &start {
            eprintln!(
                "siem load: {platform}: {} start event(s) delivered within {} ms of the start (connection included), latency under {}",
                s.delivered,
                opening.elapsed().as_millis(),
                percentile(s, 1.0)
            );
        }
        let base = totals(&start);
        let before: Vec<MetricsSnapshot> = start.into_iter().map(|(_, s)| s).collect();
        let cpu0 = cpu_seconds();
        let started = Instant::now();
        let mut last_progress = Instant::now();
        // On this thread, as on the gateway's request thread: the intake, the render thread
        // and the delivery runtime do the rest.
        let mut refused = 0u64;
        for i in 0..events {
            if rate > 0 {
                let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            if sink.commit_event(synthetic(sink.factory(), i)).is_err() {
                // `fail_closed`: a gateway would refuse this call; the event is still recorded.
                refused += 1;
            }
            if i % 256 == 0 {
                progress(&sink, i, events, records, &mut last_progress);
            }
        }
        if refused > 0 {
            eprintln!("siem load: {refused} events met a fail_closed refusal (a gateway would have refused those calls)");
        }
        let submitted_in = started.elapsed();
        // Wait until everything was delivered, dropped or dead-lettered, or progress stops.
        let mut last = (0, Instant::now());
        loop {
            let (delivered, dropped, dead) = settled(&sink);
            let done = delivered + dropped + dead - (base.0 + base.1 + base.2);
            if done >= records {
                break;
            }
            progress(&sink, events, events, records, &mut last_progress);
            if done != last.0 {
                last = (done, Instant::now());
            } else if last.1.elapsed() > STALL_AFTER {
                return Err(format!(
                    "delivery stalled: {done} of {records} records settled ({delivered} delivered, {dropped} dropped, {dead} dead-lettered), none in the last {} s",
                    STALL_AFTER.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let elapsed = started.elapsed();
        let cpu = cpu_seconds() - cpu0;
        println!(
            "events: {events} x {destinations} destination(s), offered rate: {}",
            if rate == 0 {
                "unlimited".to_string()
            } else {
                format!("{rate}/s")
            }
        );
        println!(
            "submitted in {:.2} s; settled in {:.2} s: {:.0} events/s per destination",
            submitted_in.as_secs_f64(),
            elapsed.as_secs_f64(),
            events as f64 / elapsed.as_secs_f64()
        );
        for ((platform, s), before) in sink.snapshots().into_iter().zip(&before) {
            let load = since(&s, before);
            println!(
                "{platform:<15} delivered {} dropped {} dead-lettered {} retried {}; delivery latency p50 {} p99 {}",
                load.delivered,
                load.dropped_total,
                load.dead_lettered,
                load.retried,
                percentile(&load, 0.5),
                percentile(&load, 0.99)
            );
        }
        if sink.auth_failures() > 0 {
            println!("authentication failures: {}", sink.auth_failures());
        }
        println!(
            "CPU: {cpu:.2} s ({:.2} CPU-seconds per million events); peak RSS {:.1} MiB",
            cpu / records as f64 * 1e6,
            peak_rss_mib()
        );
        let (delivered, dropped, dead) = settled(&sink);
        rt.block_on(sink.shutdown());
        if dropped > 0 || dead > 0 {
            return Err(format!(
                "not every event was delivered: {dropped} dropped, {dead} dead-lettered ({delivered} records delivered over {destinations} destination(s), Gatekit's own system events included)"
            ));
        }
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
