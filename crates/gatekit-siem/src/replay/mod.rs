//! `gatekit siem replay`: sends what a dead-letter file, a disk buffer, a spool or a JSONL
//! audit trail holds to the configured SIEM destinations (or one of them).
//!
//! How: every input is read completely first ([`input`]); an unreadable line refuses the
//! replay before anything is sent. Canonical events are rendered for each target destination
//! with its own formatter, framing and data minimisation; rendered records (dead letters,
//! disk buffer records) go only to the platform they were rendered for. Each target gets a
//! delivery pipeline like the gateway's (its transports in failover order, batching,
//! retries, breaker), but memory-only with `overflow: block`: nothing is dropped, and a
//! record that cannot be delivered within the destination's `retry_attempts` goes to the
//! replay's dead-letter file and counts as failed.
//!
//! Invariants: inputs are never modified; record ids are kept (at-least-once: a SIEM
//! de-duplicates on `event_id`); the replay's dead-letter file is never one of the inputs;
//! the report accounts for every record (delivered + failed = sent).

pub mod input;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatekit_delivery::disk::ScanOptions;
use gatekit_delivery::{OverflowPolicy, Pipeline, Record, RecordId};

use crate::auth::AuthMonitor;
use crate::platform::DestinationPlan;
use input::{Item, Kind};

/// How to replay.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only this platform (`splunk`, `qradar`, `azure_sentinel`).
    pub destination: Option<String>,
    /// Where records that still cannot be delivered go (default: the destination's own
    /// dead-letter file).
    pub dead_letter: Option<PathBuf>,
    /// Reading of buffer and spool directories.
    pub scan: ScanOptions,
}

/// What one destination got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The platform.
    pub platform: &'static str,
    /// Records handed to its pipeline.
    pub sent: u64,
    /// Delivered.
    pub delivered: u64,
    /// Not delivered: dead-lettered, dropped or lost at the end.
    pub failed: u64,
    /// Where failed records were written.
    pub dead_letter: PathBuf,
}

/// The whole replay.
#[derive(Debug, Default)]
pub struct Report {
    /// Items read from the inputs.
    pub read: u64,
    /// Rendered records meant for a platform that was not targeted (`--destination`).
    pub skipped: u64,
    /// Events that a destination could not render (logged; counted as failed).
    pub render_errors: u64,
    /// Per destination.
    pub outcomes: Vec<Outcome>,
    /// Damaged regions skipped in buffer directories (only when allowed).
    pub damaged: Vec<String>,
}

impl Report {
    /// Whether everything read was delivered to every destination meant to get it.
    pub fn success(&self) -> bool {
        self.render_errors == 0
            && self.damaged.is_empty()
            && self
                .outcomes
                .iter()
                .all(|o| o.failed == 0 && o.delivered == o.sent)
    }
}

/// Reads every input, then replays it to `plans` on `runtime`; `progress` gets a line now
/// and then. An error means nothing was sent (the inputs or the targets are unusable).
pub fn replay(
    plans: Vec<DestinationPlan>,
    inputs: &[PathBuf],
    options: &Options,
    runtime: &tokio::runtime::Runtime,
    progress: &mut dyn FnMut(String),
) -> Result<Report, String> {
    let targets: Vec<DestinationPlan> = match &options.destination {
        Some(name) => {
            let names: Vec<&str> = plans.iter().map(|p| p.platform).collect();
            let found: Vec<DestinationPlan> =
                plans.into_iter().filter(|p| p.platform == name).collect();
            if found.is_empty() {
                return Err(format!(
                    "destination `{name}` is not an enabled platform of this configuration (enabled: {})",
                    names.join(", ")
                ));
            }
            found
        }
        None => plans,
    };
    let mut read = Vec::new();
    for path in inputs {
        let input = input::read(path, options.scan)?;
        progress(format!(
            "read {} ({}): {} records",
            path.display(),
            match input.kind {
                Kind::Lines => "JSON lines",
                Kind::Buffer => "disk buffer",
                Kind::Spool => "spool",
            },
            input.items.len()
        ));
        read.push(input);
    }
    let mut report = Report::default();
    let mut per_target: Vec<Vec<Record>> = targets.iter().map(|_| Vec::new()).collect();
    for input in read {
        report.read += input.items.len() as u64;
        report.damaged.extend(input.skipped.iter().cloned());
        let buffer_platform = match input.kind {
            Kind::Buffer => Some(buffer_platform(&input.path, &targets, options)?),
            Kind::Lines | Kind::Spool => None,
        };
        for item in input.items {
            match item {
                Item::Event(event) => {
                    let id = RecordId(event.event_id.as_uuid().as_u128());
                    for (plan, records) in targets.iter().zip(per_target.iter_mut()) {
                        let mut payload = Vec::new();
                        match plan.framing.write_frame(
                            plan.formatter.as_ref(),
                            &event,
                            &mut payload,
                        ) {
                            Ok(()) => records.push(Record::new(id, payload)),
                            Err(e) => {
                                tracing::error!(platform = plan.platform, event_id = %event.event_id, error = %e, "Cannot render a replayed event.");
                                report.render_errors += 1;
                            }
                        }
                    }
                }
                Item::Rendered { platform, record } => {
                    let platform = platform.or_else(|| buffer_platform.map(str::to_owned));
                    match targets
                        .iter()
                        .position(|p| Some(p.platform) == platform.as_deref())
                    {
                        Some(i) => per_target[i].push(record),
                        None if options.destination.is_some() => report.skipped += 1,
                        None => {
                            return Err(format!(
                                "{}: record {} was rendered for `{}`, which is not an enabled platform of this configuration",
                                input.path.display(),
                                record.id,
                                platform.unwrap_or_default()
                            ))
                        }
                    }
                }
            }
        }
    }
    for (plan, records) in targets.into_iter().zip(per_target) {
        if records.is_empty() {
            continue;
        }
        let outcome = send(plan, records, inputs, options, runtime, progress)?;
        report.outcomes.push(outcome);
    }
    Ok(report)
}

/// The platform a disk buffer directory belongs to: `--destination`, else the one platform
/// whose configured `disk.path` holds it.
fn buffer_platform(
    dir: &Path,
    targets: &[DestinationPlan],
    options: &Options,
) -> Result<&'static str, String> {
    if let Some(t) = targets.first().filter(|_| options.destination.is_some()) {
        return Ok(t.platform);
    }
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let owners: Vec<&'static str> = targets
        .iter()
        .filter(|p| {
            p.delivery.disk.as_ref().is_some_and(|d| {
                let base = std::fs::canonicalize(&d.path).unwrap_or_else(|_| d.path.clone());
                dir.starts_with(base)
            })
        })
        .map(|p| p.platform)
        .collect();
    match owners.as_slice() {
        [one] => Ok(one),
        _ => Err(format!(
            "{}: a disk buffer holds records rendered for one platform, and no single configured `disk.path` holds this directory; name the platform with --destination",
            dir.display()
        )),
    }
}

/// Delivers `records` to one destination and waits until every one is settled.
fn send(
    plan: DestinationPlan,
    records: Vec<Record>,
    inputs: &[PathBuf],
    options: &Options,
    runtime: &tokio::runtime::Runtime,
    progress: &mut dyn FnMut(String),
) -> Result<Outcome, String> {
    let platform = plan.platform;
    let mut delivery = plan.delivery.clone();
    delivery.disk = None;
    delivery.overflow = OverflowPolicy::Block;
    if let Some(path) = &options.dead_letter {
        delivery.dead_letter_path = path.clone();
    }
    let same = |a: &Path, b: &Path| {
        a == b || std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok() && a.exists()
    };
    if inputs.iter().any(|i| same(i, &delivery.dead_letter_path)) {
        return Err(format!(
            "the dead-letter file of {platform} ({}) is one of the inputs; give the replay another one with --dead-letter",
            delivery.dead_letter_path.display()
        ));
    }
    let dead_letter = delivery.dead_letter_path.clone();
    let auth = Arc::new(AuthMonitor::default());
    let (transports, _board) = crate::switchover::build(
        platform,
        &plan.connector,
        &plan.failover,
        plan.rerender.as_ref(),
        &auth,
    )
    .map_err(|e| format!("{platform}: {e}"))?;
    let pipeline = {
        let _guard = runtime.enter();
        Pipeline::spawn(platform, delivery, transports)
            .map_err(|e| format!("cannot start delivery to {platform}: {e}"))?
    };
    let total = records.len() as u64;
    let producer = pipeline.producer();
    let submitting = runtime.spawn(async move {
        let mut refused = 0u64;
        for record in records {
            if producer.submit(record).await.is_err() {
                refused += 1;
            }
        }
        refused
    });
    let started = Instant::now();
    let mut last = Instant::now();
    let settled =
        |s: &gatekit_delivery::MetricsSnapshot| s.delivered + s.dead_lettered + s.dropped_total;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let s = pipeline.snapshot();
        let done = submitting.is_finished() && settled(&s) >= s.submitted;
        if done || last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            progress(format!(
                "{platform}: {}/{total} delivered, {} failed ({:.1}s)",
                s.delivered,
                s.dead_lettered + s.dropped_total,
                started.elapsed().as_secs_f64()
            ));
        }
        if done {
            break;
        }
    }
    // A refused submit (the pipeline stopped under it) is a record not delivered, counted
    // below like every other.
    let _refused = runtime.block_on(submitting);
    // Everything submitted is settled: the counts are final before the pipeline stops.
    let delivered = pipeline.snapshot().delivered;
    let _ = runtime.block_on(pipeline.shutdown());
    Ok(Outcome {
        platform,
        sent: total,
        delivered,
        failed: total.saturating_sub(delivered),
        dead_letter,
    })
}
