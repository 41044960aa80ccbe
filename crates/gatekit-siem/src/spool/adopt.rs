//! Adoption of a dead process's spool: its unacknowledged events move into this process's
//! spool (same event ids, so a SIEM can de-duplicate), then the dead spool is removed.
//!
//! Invariants: a spool is adopted only when its owner is gone (the disk buffer's lock, which
//! also keeps two adopters apart) and only by a process with the same destinations (the
//! `destinations` file); a record is acknowledged in the dead spool only after it is in ours,
//! so a crash mid-adoption duplicates, never loses.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use gatekit_core::AuditEvent;
use gatekit_delivery::disk::DiskBuffer;

use super::{disk_settings, SpoolSettings, DESTINATIONS_FILE};
use crate::destination::Destination;
use crate::intake::{Intake, Wait};

/// Records moved per batch.
const BATCH: usize = 512;

/// Finds and adopts dead spools under one spool path.
pub(crate) struct Adopter {
    settings: SpoolSettings,
    own: PathBuf,
    report: crate::adopt::Report,
}

impl Adopter {
    pub(crate) fn new(settings: SpoolSettings, own: PathBuf, report: crate::adopt::Report) -> Self {
        Adopter {
            settings,
            own,
            report,
        }
    }

    /// Adopts every spool under the spool path whose owner is gone and whose destinations
    /// are ours.
    pub(crate) fn scan(&self, intake: &Intake, destinations: &[Destination], stop: &AtomicBool) {
        let ours = super::fingerprint(destinations);
        for dir in self.candidates() {
            if stop.load(SeqCst) {
                return;
            }
            if gatekit_delivery::dir_owner_alive(&dir) {
                continue;
            }
            match std::fs::read_to_string(dir.join(DESTINATIONS_FILE)) {
                Ok(theirs) if theirs == ours => {}
                // Another configuration's spool, or one whose owner died before it was
                // labelled (then it holds nothing: the label is written before any event);
                // both are left alone.
                Ok(_) | Err(_) => continue,
            }
            self.adopt(&dir, intake, stop);
        }
    }

    fn candidates(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.settings.path) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p != &self.own
                    && p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("proc-"))
            })
            .collect()
    }

    fn adopt(&self, dir: &Path, intake: &Intake, stop: &AtomicBool) {
        let (mut disk, recovery) =
            match DiskBuffer::open(disk_settings(&self.settings, dir.to_path_buf())) {
                Ok(opened) => opened,
                // Locked by its owner or by another adopter.
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), error = %e, "Spool not adopted.");
                    return;
                }
            };
        let mut moved = 0u64;
        let mut unreadable = 0u64;
        loop {
            if stop.load(SeqCst) {
                break;
            }
            let batch = match disk.read_batch(BATCH, usize::MAX) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "Reading an adopted spool failed; left for a later scan.");
                    break;
                }
            };
            if batch.is_empty() {
                break;
            }
            for record in &batch {
                match serde_json::from_slice::<AuditEvent>(&record.payload) {
                    Ok(event) => {
                        if intake
                            .accept(std::sync::Arc::new(event), Wait::Yes)
                            .is_err()
                        {
                            // Closing: nothing acknowledged, the rest stays for the next process.
                            let _ = disk.close();
                            return;
                        }
                        moved += 1;
                    }
                    Err(e) => {
                        unreadable += 1;
                        tracing::error!(dir = %dir.display(), error = %e, "A spooled event could not be read back; it is skipped.");
                    }
                }
            }
            if let Err(e) = disk.ack_read() {
                tracing::warn!(dir = %dir.display(), error = %e, "Acknowledging an adopted spool failed.");
            }
        }
        let left = disk.stats().unread_events;
        let _ = disk.close();
        let lost = recovery.lost_records() + unreadable;
        let mut message = format!(
            "adopted the SIEM spool of a gateway process that is gone: {moved} events from {}",
            dir.display()
        );
        if lost > 0 {
            message.push_str(&format!("; {lost} records could not be recovered"));
        }
        if moved > 0 || lost > 0 {
            tracing::info!(%message, "SIEM spool adopted.");
            (self.report)(message);
        }
        if left == 0 && !stop.load(SeqCst) {
            remove(dir);
        }
    }
}

fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "Cannot remove an adopted SIEM spool.");
        }
    }
}
