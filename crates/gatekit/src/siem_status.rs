//! `gatekit siem status [--json]`: per gateway process (and the agent) and per destination,
//! the backlog, the age of the oldest undelivered event, the breaker state, the last error and
//! the last success, read from the status files and spool directories under `siem.spool.path`
//! and the disk buffer directories: no running agent is needed, and nothing is changed.
//!
//! A status file is its process's last report (written every `siem.monitor_interval`); a dead
//! process's report is shown as such until its spool is adopted and removed.

use std::path::Path;
use std::process::ExitCode;

use gatekit_config::Config;
use gatekit_siem::status::{self, Found};
use serde_json::json;

/// Runs the command.
pub fn run(path: &Path, as_json: bool) -> ExitCode {
    let cfg = match Config::load(path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let checked = match gatekit_siem::validate(&cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if checked.plans.is_empty() {
        eprintln!("error: the `siem` section enables no destination");
        return ExitCode::FAILURE;
    }
    let Some(spool) = &checked.spool else {
        eprintln!("error: no SIEM spool is configured (siem.spool or a destination's delivery.disk): processes write their status files in their spool directories, so there is nothing to read");
        return ExitCode::FAILURE;
    };
    let processes = status::scan(&spool.path);
    let buffers: Vec<(&str, Vec<Found>)> = checked
        .plans
        .iter()
        .filter_map(|p| {
            p.delivery
                .disk
                .as_ref()
                .map(|d| (p.platform, status::scan(&d.path)))
        })
        .collect();
    let now = status::now_unix_ms();
    if as_json {
        let value = json!({
            "spool_path": spool.path,
            "now_unix_ms": now,
            "processes": processes.iter().map(|f| json!({
                "dir": f.dir,
                "alive": f.alive,
                "spool_bytes": f.spool_bytes,
                "status": f.status,
            })).collect::<Vec<_>>(),
            "disk_buffers": buffers.iter().map(|(platform, dirs)| json!({
                "destination": platform,
                "dirs": dirs.iter().map(|f| json!({
                    "dir": f.dir,
                    "alive": f.alive,
                    "bytes": status::segment_bytes(&f.dir),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        match serde_json::to_string_pretty(&value) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    print!("{}", table(&spool.path, &processes, &buffers, now));
    ExitCode::SUCCESS
}

fn table(spool: &Path, processes: &[Found], buffers: &[(&str, Vec<Found>)], now: u64) -> String {
    let mut out = format!("Spool: {}\n", spool.display());
    if processes.is_empty() {
        out.push_str("No Gatekit process has a spool here (none running, none left a backlog).\n");
    }
    let mut rows = vec![[
        "PROCESS",
        "ROLE",
        "STATE",
        "DESTINATION",
        "BACKLOG",
        "BYTES",
        "OLDEST",
        "BREAKER",
        "LAST SUCCESS",
        "LAST ERROR",
    ]
    .map(String::from)];
    for f in processes {
        let name = f
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let state = if f.alive {
            "running".to_string()
        } else {
            "gone (awaiting adoption)".to_string()
        };
        let Some(s) = &f.status else {
            rows.push([
                name,
                "?".into(),
                state,
                "(spool)".into(),
                "?".into(),
                f.spool_bytes.to_string(),
                "-".into(),
                "-".into(),
                "-".into(),
                "no status report".into(),
            ]);
            continue;
        };
        let reported = ago(now, Some(s.written_unix_ms));
        rows.push([
            name.clone(),
            s.role.clone(),
            format!("{state}, reported {reported}"),
            "(spool)".into(),
            s.spool_events.to_string(),
            f.spool_bytes.to_string(),
            "-".into(),
            "-".into(),
            "-".into(),
            format!(
                "calls {} blocks {} redactions {} audit errors {} auth failures {}",
                s.gateway.calls,
                s.gateway.blocks,
                s.gateway.redactions,
                s.gateway.audit_errors,
                s.auth_failures
            ),
        ]);
        for d in &s.destinations {
            rows.push([
                name.clone(),
                s.role.clone(),
                String::new(),
                d.name.clone(),
                d.queued_events.to_string(),
                d.queued_bytes.to_string(),
                d.oldest_event_age_secs
                    .map_or("-".into(), |a| format!("{a:.0}s")),
                d.breaker.clone(),
                ago(now, d.last_success_unix_ms),
                match (&d.last_error, d.last_failure_unix_ms) {
                    (Some(e), at) => format!("{} ({e})", ago(now, at)),
                    (None, _) => "-".into(),
                },
            ]);
        }
    }
    out.push_str(&render(&rows));
    for (platform, dirs) in buffers {
        for f in dirs {
            let bytes = status::segment_bytes(&f.dir);
            if bytes == 0 {
                continue;
            }
            out.push_str(&format!(
                "Disk buffer of {platform}: {} holds {bytes} bytes ({})\n",
                f.dir.display(),
                if f.alive {
                    "its process is running"
                } else {
                    "its process is gone; a live Gatekit process delivers it"
                }
            ));
        }
    }
    out
}

fn ago(now: u64, at: Option<u64>) -> String {
    match at {
        Some(t) => format!("{}s ago", now.saturating_sub(t) / 1000),
        None => "never".into(),
    }
}

fn render(rows: &[[String; 10]]) -> String {
    let mut widths = [0usize; 10];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
