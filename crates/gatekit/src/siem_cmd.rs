//! `gatekit siem test` and `gatekit siem load`: the operator's tools for the SIEM side.
//!
//! * `test` sends one `system_event` straight through each enabled platform's transport and
//!   reports, per platform, "delivered" or the transport's exact error, with the time it took.
//! * `load` pushes synthetic events through the configured pipelines (formatter, framing,
//!   delivery manager, transport) and reports throughput, delivery latency percentiles, CPU
//!   time and peak memory of the process.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gatekit_config::Config;
use gatekit_core::{AuditEvent, EventFactory, EventType, McpData, Severity, UpstreamServer};
use gatekit_delivery::{BatchOutcome, Record, RecordId};
use serde_json::json;

fn plans(path: &Path) -> Result<Vec<gatekit_siem::platform::DestinationPlan>, String> {
    let cfg = Config::load(path).map_err(|e| e.to_string())?;
    let checked = gatekit_siem::validate(&cfg).map_err(|e| e.to_string())?;
    for w in &checked.warnings {
        eprintln!("warning: {w}");
    }
    let plans = checked.plans;
    if plans.is_empty() {
        return Err(format!(
            "{}: no SIEM platform is enabled in the `siem` section",
            path.display()
        ));
    }
    Ok(plans)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("gatekit-siem")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// `gatekit siem test --config FILE`.
pub fn test(config: &Path) -> ExitCode {
    let plans = match plans(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let factory = EventFactory::new(crate::start::host_name(), env!("CARGO_PKG_VERSION"));
    let mut all_ok = true;
    for plan in &plans {
        let event = factory
            .event(EventType::SystemEvent, Severity::Notice)
            .with_message("Gatekit SIEM connectivity test (gatekit siem test)");
        let mut payload = Vec::new();
        if let Err(e) = plan
            .framing
            .write_frame(plan.formatter.as_ref(), &event, &mut payload)
        {
            println!(
                "{:<15} FAILED: cannot format the test event: {e}",
                plan.platform
            );
            all_ok = false;
            continue;
        }
        let transport = match plan.connector.build(std::sync::Arc::default()) {
            Ok(t) => t,
            Err(e) => {
                println!("{:<15} FAILED: {e}", plan.platform);
                all_ok = false;
                continue;
            }
        };
        match rt.block_on(plan.connector.health_check(std::sync::Arc::default())) {
            Some(Ok(text)) => println!("{:<15} health endpoint: {text}", plan.platform),
            Some(Err(text)) => {
                println!("{:<15} health endpoint FAILED: {text}", plan.platform);
                all_ok = false;
            }
            None => {}
        }
        let record = Record::new(RecordId(event.event_id.as_uuid().as_u128()), payload);
        let started = Instant::now();
        let outcome = rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(15),
                transport.send(std::slice::from_ref(&record)),
            )
            .await
        });
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match outcome {
            Ok(BatchOutcome::Delivered) => {
                println!(
                    "{:<15} delivered via {} in {ms:.1} ms (event_id {})",
                    plan.platform,
                    transport.name(),
                    event.event_id.as_uuid()
                );
            }
            Ok(other) => {
                println!(
                    "{:<15} FAILED via {} after {ms:.1} ms: {other:?}",
                    plan.platform,
                    transport.name()
                );
                all_ok = false;
            }
            Err(_) => {
                println!(
                    "{:<15} FAILED via {}: no answer within 15 s",
                    plan.platform,
                    transport.name()
                );
                all_ok = false;
            }
        }
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
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

/// `gatekit siem load --config FILE --events N --rate R`.
pub fn load(config: &Path, events: u64, rate: u64) -> ExitCode {
    let result = (|| -> Result<(), String> {
        let plans = plans(config)?;
        let destinations = plans.len() as u64;
        let rt = runtime()?;
        let sink = gatekit_siem::SiemSink::start(plans, rt.handle(), crate::start::host_name())?;
        let cpu0 = cpu_seconds();
        let started = Instant::now();
        rt.block_on(async {
            let mut interval = tokio::time::interval(Duration::from_millis(1));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let per_tick = rate as f64 / 1000.0;
            let mut budget = 0.0;
            let mut i = 0;
            while i < events {
                if rate > 0 {
                    interval.tick().await;
                    budget += per_tick;
                }
                while i < events && (rate == 0 || budget >= 1.0) {
                    sink.submit_waiting(&synthetic(sink.factory(), i)).await;
                    i += 1;
                    budget -= 1.0;
                }
            }
        });
        let submitted_in = started.elapsed();
        // Wait until everything was delivered (or dropped), or progress stops.
        let mut last = (0, Instant::now());
        loop {
            let snaps = sink.snapshots();
            let done: u64 = snaps
                .iter()
                .map(|(_, s)| s.delivered + s.dropped_total + s.dead_lettered)
                .sum();
            if done >= events * destinations {
                break;
            }
            if done != last.0 {
                last = (done, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "delivery stalled at {done} of {} records",
                    events * destinations
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
            "submitted in {:.2} s; all delivered in {:.2} s: {:.0} events/s per destination",
            submitted_in.as_secs_f64(),
            elapsed.as_secs_f64(),
            events as f64 / elapsed.as_secs_f64()
        );
        for (platform, s) in sink.snapshots() {
            let p = |q: f64| {
                s.latency_percentile(q)
                    .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
                    .unwrap_or_else(|| "-".into())
            };
            println!("{platform:<15} delivered {} dropped {} dead-lettered {} retried {}; delivery latency p50 {} p99 {}", s.delivered, s.dropped_total, s.dead_lettered, s.retried, p(0.5), p(0.99));
        }
        if sink.auth_failures() > 0 {
            println!("authentication failures: {}", sink.auth_failures());
        }
        println!(
            "CPU: {cpu:.2} s ({:.2} CPU-seconds per million events); peak RSS {:.1} MiB",
            cpu / (events * destinations) as f64 * 1e6,
            peak_rss_mib()
        );
        rt.block_on(sink.shutdown());
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
