//! The spool: every canonical audit event of this process, written before the gateway answers
//! the call it records ("committed mode"), kept until every destination has it safe.
//!
//! Layout: `<spool path>/proc-<pid>-<start time>/`, a disk buffer of its own (the delivery
//! crate's segment format: length, CRC32, record id, JSON of the canonical event), plus a
//! `destinations` file naming the destinations it was written for.
//!
//! Invariants:
//! - A record is appended under the intake's lock, before the event goes to the render thread
//!   (see `intake/`): spool order is render order.
//! - A record is acknowledged (and its segment later deleted) only when every destination
//!   *settled* it: appended to that destination's own disk buffer, delivered, dead-lettered or
//!   counted as dropped (gatekit-delivery's `Ticket`). Records leave in order, so acknowledging
//!   the first `n` spool records is exact.
//! - A process never touches another live process's spool (the disk buffer's lock, with the
//!   process start time so a reused PID is not mistaken for the owner). A dead process's spool
//!   is adopted by a live process with the same destinations: its unacknowledged events are
//!   appended to the adopter's own spool (same event ids) and then acknowledged in the dead
//!   one, which is removed once empty: at-least-once, duplicates keep their ids.
//! - At a clean stop, a spool whose every record settled is removed; one that still holds
//!   records (a memory-only destination could not deliver in time) is left for adoption.

pub(crate) mod adopt;
pub(crate) mod bell;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatekit_delivery::config::{DiskSettings, FsyncPolicy};
use gatekit_delivery::disk::DiskBuffer;

use crate::destination::Destination;
use crate::intake::Intake;

/// How often settled records are acknowledged and fsyncs run.
const KEEPER_TICK: Duration = Duration::from_millis(20);
/// Ticks with nothing to do (half a second) after which the keeper dozes (`bell.rs`).
const QUIET_TICKS_BEFORE_DOZE: u32 = 25;
/// The longest doze; adoption scans also end one when they are due.
const KEEPER_DOZE: Duration = Duration::from_secs(1);
/// Name of the file that lists the destinations a spool was written for.
const DESTINATIONS_FILE: &str = "destinations";

/// The `siem.spool` settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolSettings {
    /// The directory holding every process's spool.
    pub path: PathBuf,
    /// Cap on one process's spool files; past it events go on memory-only, counted.
    pub max_bytes: u64,
    /// When the spool is fsynced (the disk buffer policies).
    pub fsync: FsyncPolicy,
}

/// A spool being written, with the thread that keeps it.
pub(crate) struct Spool {
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    keeper: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What names a spool's destinations, so only a process that delivers to the same ones
/// adopts it.
pub(crate) fn fingerprint(destinations: &[Destination]) -> String {
    let mut names: Vec<&str> = destinations.iter().map(|d| d.platform).collect();
    names.sort_unstable();
    names.join(",")
}

/// Opens this process's spool under `settings.path`.
pub(crate) fn open(
    settings: &SpoolSettings,
    fingerprint: &str,
    generation: u64,
) -> Result<(DiskBuffer, PathBuf), String> {
    let dir = crate::adopt::own_dir(&settings.path, generation);
    let (disk, _report) = DiskBuffer::open(disk_settings(settings, dir.clone()))
        .map_err(|e| format!("cannot open the SIEM spool in {}: {e}", dir.display()))?;
    write_private(&dir.join(DESTINATIONS_FILE), fingerprint.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
    Ok((disk, dir))
}

fn disk_settings(settings: &SpoolSettings, path: PathBuf) -> DiskSettings {
    DiskSettings {
        path,
        max_bytes: settings.max_bytes,
        segment_bytes: (settings.max_bytes / 16).clamp(1 << 20, 64 << 20),
        fsync: settings.fsync,
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

impl Spool {
    /// Starts the keeper thread: settlement, fsync, acknowledgements, and adoption of dead
    /// processes' spools under `settings.path`.
    pub(crate) fn start(
        dir: PathBuf,
        settings: SpoolSettings,
        intake: Arc<Intake>,
        destinations: Arc<Vec<Destination>>,
        report: crate::adopt::Report,
        adopt: bool,
    ) -> Result<Self, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let keeper = Keeper {
            intake,
            destinations,
            stop: Arc::clone(&stop),
            adopter: adopt.then(|| adopt::Adopter::new(settings, dir.clone(), report)),
        };
        let bell_owner = Arc::clone(&keeper.intake);
        let thread = std::thread::Builder::new()
            .name("gatekit-siem-spool".into())
            .spawn(move || keeper.run())
            .map_err(|e| format!("cannot start the SIEM spool thread: {e}"))?;
        bell_owner.keeper_bell.attach(thread.thread().clone());
        Ok(Spool {
            dir,
            stop,
            keeper: Mutex::new(Some(thread)),
        })
    }

    /// Stops the keeper after one last settlement pass, closes the spool, and removes it if
    /// nothing is left in it. Call after the render thread and the pipelines stopped.
    pub(crate) fn finish(&self, intake: &Intake, destinations: &[Destination]) {
        self.stop.store(true, SeqCst);
        let keeper = self.keeper.lock().unwrap_or_else(|e| e.into_inner()).take();
        // A dozing keeper would finish its doze before it sees the stop.
        intake.keeper_bell.wake();
        if let Some(keeper) = keeper {
            let _ = keeper.join();
        }
        acknowledge_settled(intake, destinations);
        let Some(disk) = intake.lock().spool.take() else {
            return;
        };
        let left = disk.stats().unread_events;
        if let Err(e) = disk.close() {
            tracing::warn!(error = %e, "Closing the SIEM spool failed.");
        }
        if left == 0 {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                tracing::warn!(error = %e, dir = %self.dir.display(), "Could not remove the drained SIEM spool.");
            }
        } else {
            tracing::warn!(events = left, dir = %self.dir.display(), "SIEM spool left for the next Gatekit process: events not yet safe at every destination.");
        }
    }
}

/// Acknowledges the spool records every destination settled, by position: the spool is
/// never read back in its own process (only a later one, adopting it, reads it).
fn acknowledge_settled(intake: &Intake, destinations: &[Destination]) {
    let Some(settled) = intake.settlement.take_settled(destinations) else {
        return;
    };
    let mut state = intake.lock();
    let Some(disk) = state.spool.as_mut() else {
        return;
    };
    if let Err(e) = disk.ack_through(settled.end, settled.events, settled.bytes) {
        tracing::warn!(error = %e, "SIEM spool acknowledgement write failed; retried at the next tick.");
    }
}

/// The spool thread's state.
struct Keeper {
    intake: Arc<Intake>,
    destinations: Arc<Vec<Destination>>,
    stop: Arc<AtomicBool>,
    /// `None` when the host agent adopts instead (`siem.agent.enabled`).
    adopter: Option<adopt::Adopter>,
}

impl Keeper {
    fn run(self) {
        let mut next_scan = Instant::now() + Duration::from_millis(500);
        let mut quiet_ticks = 0u32;
        while !self.stop.load(SeqCst) {
            if quiet_ticks >= QUIET_TICKS_BEFORE_DOZE {
                let until_scan = next_scan.saturating_duration_since(Instant::now());
                self.intake
                    .keeper_bell
                    .doze(KEEPER_DOZE.min(until_scan), || self.idle());
            } else {
                std::thread::sleep(KEEPER_TICK);
            }
            acknowledge_settled(&self.intake, &self.destinations);
            self.disk_jobs();
            quiet_ticks = if self.idle() { quiet_ticks + 1 } else { 0 };
            if Instant::now() >= next_scan {
                if let Some(adopter) = &self.adopter {
                    adopter.scan(&self.intake, &self.destinations, &self.stop);
                }
                next_scan = Instant::now() + crate::adopt::SCAN_INTERVAL;
            }
        }
    }

    /// Whether the keeper has nothing to do until an event is spooled: every spooled record
    /// acknowledged, and no fsync or acknowledgement write pending.
    fn idle(&self) -> bool {
        self.intake
            .lock()
            .spool
            .as_ref()
            .is_none_or(|d| !d.has_unread() && d.is_quiescent())
    }

    /// Interval fsyncs and acknowledgement writes, run outside the lock.
    fn disk_jobs(&self) {
        let job = self
            .intake
            .lock()
            .spool
            .as_mut()
            .and_then(|d| d.begin_sync());
        if let Some(job) = job {
            let (seq, result) = job.run();
            if let Some(d) = self.intake.lock().spool.as_mut() {
                if let Err(e) = d.finish_sync(seq, result) {
                    tracing::warn!(error = %e, "SIEM spool fsync failed.");
                }
            }
        }
        let job = self
            .intake
            .lock()
            .spool
            .as_mut()
            .and_then(|d| d.begin_ack());
        if let Some(job) = job {
            let done = job.run();
            if let Some(d) = self.intake.lock().spool.as_mut() {
                if let Err(e) = d.finish_ack(done) {
                    tracing::warn!(error = %e, "SIEM spool acknowledgement write failed.");
                }
            }
        }
        if let Some(d) = self.intake.lock().spool.as_mut() {
            if let Err(e) = d.maintain() {
                tracing::warn!(error = %e, "SIEM spool maintenance failed.");
            }
        }
    }
}
