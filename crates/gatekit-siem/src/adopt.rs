//! Many gateway processes, one configuration: every MCP client starts its own gateway, so any
//! number of processes share one `delivery.disk.path`. Each buffers in a directory of its own
//! under it, `proc-<pid>-<start time>`, and every live process looks for directories left by
//! dead ones and delivers their backlog ("adopts" them).
//!
//! Invariants:
//! - A process writes only to its own directory; the disk buffer's directory lock (PID plus the
//!   process's start time, so a reused PID is not mistaken for the owner) keeps two processes
//!   from opening one directory, which is also what lets exactly one live process adopt a dead
//!   one's directory.
//! - An adopted directory is delivered like any backlog (at-least-once, event ids kept) and
//!   removed only when drained: nothing queued, nothing unacknowledged on disk, nothing in
//!   flight. The configured directory itself (an older layout) is never removed.
//! - A directory written by an older Gatekit (segments directly under the configured path) is
//!   adopted the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gatekit_delivery::{DeliverySettings, Pipeline};

use crate::auth::AuthMonitor;
use crate::connector::ConnectorPlan;

/// How often a live process looks for directories left by dead ones.
pub const SCAN_INTERVAL: Duration = Duration::from_secs(5);

/// Prefix of a process's own buffer directory.
const PREFIX: &str = "proc-";

/// Sinks started in this process so far (see [`own_dir`]).
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A new generation for a sink starting in this process: 0 for the first.
pub fn next_generation() -> u64 {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

/// The buffer directory of this process's sink of `generation` under `base`:
/// `proc-<pid>-<start>` for the first, `proc-<pid>-<start>-<generation>` for later ones (the
/// agent's reload starts a new sink before the old one stops; once the old one stopped, its
/// directories are unlocked and the new one adopts what is left in them like any dead
/// process's).
pub fn own_dir(base: &Path, generation: u64) -> PathBuf {
    let pid = std::process::id();
    let start = gatekit_delivery::process_start_time(pid).unwrap_or(0);
    if generation == 0 {
        base.join(format!("{PREFIX}{pid}-{start}"))
    } else {
        base.join(format!("{PREFIX}{pid}-{start}-{generation}"))
    }
}

/// Directories under `base` (and `base` itself, for an older layout) that may hold a dead
/// process's backlog: every `proc-*` directory but `own`, read in one pass.
fn candidates(base: &Path, own: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    // An older Gatekit kept its segments directly in `base`.
    let mut legacy = false;
    if let Ok(entries) = std::fs::read_dir(base) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with(PREFIX) && path.is_dir() && path != own {
                found.push(path);
            } else if name.ends_with(".seg") && path.is_file() {
                legacy = true;
            }
        }
    }
    if legacy {
        found.push(base.to_path_buf());
    }
    found
}

/// What the adopter needs to deliver a backlog for one destination.
#[derive(Debug, Clone)]
pub struct Adopter {
    /// `splunk`, `qradar` or `azure_sentinel`.
    pub platform: &'static str,
    /// The configured buffer path (the parent of every process's directory).
    pub base: PathBuf,
    /// This process's own directory (never adopted).
    pub own: PathBuf,
    /// The destination's delivery settings (the disk path is replaced per directory).
    pub delivery: DeliverySettings,
    /// How to reach the destination.
    pub connector: ConnectorPlan,
    /// Its failover endpoints, in order.
    pub failover: Vec<ConnectorPlan>,
    /// Each endpoint's rendering of canonical records, for a platform whose endpoints render
    /// differently (its backlogs, under `disk.path/canonical`, hold canonical records).
    pub rerender: Option<Arc<crate::rerender::Renderings>>,
}

/// One adopted backlog being delivered.
#[derive(Debug)]
pub struct Adopted {
    /// The destination it is delivered to.
    pub platform: &'static str,
    /// The directory.
    pub dir: PathBuf,
    /// Its pipeline.
    pub pipeline: Pipeline,
    /// Records found in it.
    pub events: u64,
}

impl Adopter {
    /// Opens every dead process's directory that no one else holds, each as a pipeline that
    /// delivers its backlog. A directory whose owner is alive, or that another process
    /// adopted first, is refused by its lock and skipped.
    pub fn scan(&self, runtime: &tokio::runtime::Handle, auth: &Arc<AuthMonitor>) -> Vec<Adopted> {
        self.scan_reporting(runtime, auth, None)
    }

    /// [`Adopter::scan`], reporting the endpoint switches of each adopted backlog's delivery
    /// (with a `failover` list) to `report`.
    pub fn scan_reporting(
        &self,
        runtime: &tokio::runtime::Handle,
        auth: &Arc<AuthMonitor>,
        report: Option<&Report>,
    ) -> Vec<Adopted> {
        let mut adopted = Vec::new();
        for dir in candidates(&self.base, &self.own) {
            if gatekit_delivery::dir_owner_alive(&dir) {
                continue;
            }
            let Some(disk) = self.delivery.disk.clone() else {
                continue;
            };
            let mut delivery = self.delivery.clone();
            delivery.disk = Some(gatekit_delivery::DiskSettings {
                path: dir.clone(),
                ..disk
            });
            let built = crate::switchover::build(
                self.platform,
                &self.connector,
                &self.failover,
                self.rerender.as_ref(),
                auth,
            );
            let transports = match built {
                Ok((transports, board)) => {
                    if let (Some(board), Some(report)) = (board, report) {
                        let report = Arc::clone(report);
                        board.set_hook(Arc::new(move |_, message| {
                            report(format!("adopted backlog: {message}"));
                        }));
                    }
                    transports
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "Cannot build a transport to deliver an adopted backlog.");
                    continue;
                }
            };
            match Pipeline::spawn_on(runtime, self.platform, delivery, transports) {
                Ok(pipeline) => {
                    let events = pipeline.recovery().map_or(0, |r| r.events);
                    tracing::info!(platform = self.platform, dir = %dir.display(), events, "Adopted the SIEM backlog of a gateway process that is gone.");
                    adopted.push(Adopted {
                        platform: self.platform,
                        dir,
                        pipeline,
                        events,
                    });
                }
                // Locked by its live owner or by a process that adopted it first.
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), error = %e, "Buffer directory not adopted.")
                }
            }
        }
        adopted
    }
}

/// Whether an adopted pipeline has nothing left: no record queued, on disk or in flight.
pub fn drained(pipeline: &Pipeline) -> bool {
    let s = pipeline.snapshot();
    s.memory_events == 0 && s.disk_events == 0 && s.in_flight_events == 0
}

/// Removes an adopted directory whose pipeline drained and stopped: its segments hold only
/// acknowledged records (no producer writes to an adopted directory, so nothing new arrives).
pub fn remove_drained(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "Cannot remove an adopted buffer directory.")
        }
    }
}

/// Called with a message for a `system_event` (adoptions are reported to the SIEM).
pub type Report = Arc<dyn Fn(String) + Send + Sync>;

/// The backlogs this process is delivering for dead ones.
#[derive(Debug, Default)]
pub struct Adoptions {
    running: std::sync::Mutex<Vec<Adopted>>,
    /// Final metrics of drained adopted pipelines, summed per platform, so counters never
    /// go down when a drained pipeline is removed.
    retired: std::sync::Mutex<Vec<(&'static str, gatekit_delivery::MetricsSnapshot)>>,
}

impl Adoptions {
    /// Metrics of the adopted backlogs per platform: counters of running and drained
    /// pipelines summed, gauges of running ones.
    pub fn snapshots(&self) -> Vec<(&'static str, gatekit_delivery::MetricsSnapshot)> {
        let mut out = self
            .retired
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        for a in running.iter() {
            add(&mut out, a.platform, &a.pipeline.snapshot(), true);
        }
        out
    }

    fn retire(&self, platform: &'static str, s: &gatekit_delivery::MetricsSnapshot) {
        add(
            &mut self.retired.lock().unwrap_or_else(|e| e.into_inner()),
            platform,
            s,
            false,
        );
    }

    fn take(&self) -> Vec<Adopted> {
        std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn put(&self, adopted: Vec<Adopted>) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(adopted);
    }

    /// Stops every adopted pipeline (what is left stays in its directory for the next live
    /// process to adopt).
    pub async fn shutdown(&self) {
        for adopted in self.take() {
            let report = adopted.pipeline.shutdown().await;
            tracing::info!(dir = %adopted.dir.display(), ?report, "Adopted SIEM backlog delivery stopped.");
        }
    }
}

/// Looks for dead processes' directories every [`SCAN_INTERVAL`] (at once first), delivers
/// their backlogs, and removes each directory once drained; returns when `stop` is set.
pub async fn run(
    adopters: Vec<Adopter>,
    adoptions: Arc<Adoptions>,
    auth: Arc<AuthMonitor>,
    report: Report,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let runtime = tokio::runtime::Handle::current();
    let stopping = || stop.load(std::sync::atomic::Ordering::SeqCst);
    while !stopping() {
        for adopter in &adopters {
            let found = adopter.scan_reporting(&runtime, &auth, Some(&report));
            for a in &found {
                report(format!(
                    "delivering the SIEM backlog of a gateway process that is gone: {} events for {} from {}",
                    a.events,
                    adopter.platform,
                    a.dir.display()
                ));
            }
            adoptions.put(found);
        }
        let (done, running): (Vec<_>, Vec<_>) = adoptions
            .take()
            .into_iter()
            .partition(|a| drained(&a.pipeline));
        adoptions.put(running);
        for adopted in done {
            let is_base = adopters.iter().any(|a| a.base == adopted.dir);
            adoptions.retire(adopted.platform, &adopted.pipeline.snapshot());
            let report = adopted.pipeline.shutdown().await;
            // Removed only when the stop confirms that nothing was left behind: records still
            // on disk (or lost) mean the directory is not drained after all.
            if report.persisted > 0 || report.lost > 0 {
                tracing::warn!(dir = %adopted.dir.display(), ?report, "Adopted SIEM backlog not drained; left for the next scan.");
                continue;
            }
            if !is_base {
                remove_drained(&adopted.dir);
            }
            tracing::info!(dir = %adopted.dir.display(), events = adopted.events, "Adopted SIEM backlog delivered.");
        }
        if stopping() {
            break;
        }
        tokio::time::sleep(SCAN_INTERVAL).await;
    }
}

/// Adds the counters of `s` (and its gauges when `gauges`) to `platform`'s entry of `out`.
fn add(
    out: &mut Vec<(&'static str, gatekit_delivery::MetricsSnapshot)>,
    platform: &'static str,
    s: &gatekit_delivery::MetricsSnapshot,
    gauges: bool,
) {
    let Some(i) = out.iter().position(|(p, _)| *p == platform) else {
        let mut first = s.clone();
        if !gauges {
            first.queue_events = 0;
            first.memory_events = 0;
            first.memory_bytes = 0;
            first.disk_events = 0;
            first.disk_bytes = 0;
            first.in_flight_events = 0;
            first.oldest_event_age = None;
        }
        out.push((platform, first));
        return;
    };
    let t = &mut out[i].1;
    t.submitted += s.submitted;
    t.delivered += s.delivered;
    t.retried += s.retried;
    t.failed_attempts += s.failed_attempts;
    t.rejected += s.rejected;
    t.dead_lettered += s.dead_lettered;
    t.dropped_total += s.dropped_total;
    for (reason, n) in &s.dropped {
        match t.dropped.iter_mut().find(|(r, _)| r == reason) {
            Some((_, c)) => *c += n,
            None => t.dropped.push((*reason, *n)),
        }
    }
    t.latency_sum_us += s.latency_sum_us;
    for (a, b) in t.latency_buckets.iter_mut().zip(&s.latency_buckets) {
        *a += b;
    }
    if gauges {
        t.queue_events += s.queue_events;
        t.memory_events += s.memory_events;
        t.memory_bytes += s.memory_bytes;
        t.disk_events += s.disk_events;
        t.disk_bytes += s.disk_bytes;
        t.in_flight_events += s.in_flight_events;
        t.oldest_event_age = t.oldest_event_age.max(s.oldest_event_age);
    }
}
