//! `gatekit siem replay`: the command line around `gatekit_siem::replay` (progress on
//! stderr, the final count on stdout, exit status 1 on any failure).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use gatekit_config::Config;

/// What the command line gave.
#[derive(Debug)]
pub struct Args {
    /// Configuration file.
    pub config: PathBuf,
    /// Inputs, in order.
    pub inputs: Vec<PathBuf>,
    /// Only this platform.
    pub destination: Option<String>,
    /// Where records that still fail go.
    pub dead_letter: Option<PathBuf>,
    /// Also the acknowledged records of a buffer or spool.
    pub include_acknowledged: bool,
    /// Skip damaged regions of a buffer or spool instead of refusing it.
    pub skip_damaged: bool,
}

/// Runs the replay; exit status 0 only when every record read was delivered.
pub fn run(args: Args) -> ExitCode {
    match replay(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn replay(args: Args) -> Result<bool, String> {
    let cfg = Config::load(&args.config).map_err(|e| e.to_string())?;
    let checked = gatekit_siem::validate(&cfg).map_err(|e| e.to_string())?;
    if checked.plans.is_empty() {
        return Err(format!(
            "{}: no SIEM platform is enabled in the `siem` section",
            args.config.display()
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("gatekit-replay")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let options = gatekit_siem::replay::Options {
        destination: args.destination,
        dead_letter: args.dead_letter,
        scan: gatekit_delivery::disk::ScanOptions {
            include_acknowledged: args.include_acknowledged,
            allow_damage: args.skip_damaged,
        },
    };
    let started = Instant::now();
    let report = gatekit_siem::replay::replay(
        checked.plans,
        &args.inputs,
        &options,
        &runtime,
        &mut |line| eprintln!("replay: {line}"),
    )?;
    for d in &report.damaged {
        eprintln!("replay: warning: {d}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent: u64 = report.outcomes.iter().map(|o| o.sent).sum();
    let delivered: u64 = report.outcomes.iter().map(|o| o.delivered).sum();
    println!(
        "replayed {} records read: {delivered} of {sent} delivered in {elapsed:.2}s{}{}",
        report.read,
        if report.skipped > 0 {
            format!(", {} for other destinations skipped", report.skipped)
        } else {
            String::new()
        },
        if report.render_errors > 0 {
            format!(", {} could not be rendered", report.render_errors)
        } else {
            String::new()
        }
    );
    for o in &report.outcomes {
        println!(
            "{:<15} sent {} delivered {} failed {}{}",
            o.platform,
            o.sent,
            o.delivered,
            o.failed,
            if o.failed > 0 {
                format!(" (dead letters in {})", o.dead_letter.display())
            } else {
                String::new()
            }
        );
    }
    Ok(report.success())
}
