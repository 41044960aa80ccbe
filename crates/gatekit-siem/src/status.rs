//! Status files: what one Gatekit process (a gateway or the host agent) reports about its SIEM
//! delivery, written as `status.json` in its own spool directory, so `gatekit siem status` and
//! the agent's `/metrics` can show every process on the host without talking to it.
//!
//! Invariants: a status file is replaced atomically (written to a temporary name, then
//! renamed), so a reader sees a whole file or the previous one; it lives in the process's own
//! spool directory, which adoption removes with everything else once drained; a reader treats a
//! missing or unreadable file as "no report", never as an error of the process.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// Name of the status file in a process's spool directory.
pub const STATUS_FILE: &str = "status.json";

/// Counters of what the gateway recorded, as the SIEM sink saw it.
#[derive(Debug, Default)]
pub struct GatewayCounters {
    /// Audit records (requests, responses, notifications) handed to the sink.
    pub calls: AtomicU64,
    /// Records of blocked calls.
    pub blocks: AtomicU64,
    /// Records with a security redaction.
    pub redactions: AtomicU64,
    /// Records the sink could not take as asked (the spool refused them, or a `fail_closed`
    /// destination made the gateway refuse the call).
    pub audit_errors: AtomicU64,
}

impl GatewayCounters {
    /// A copy of the counters.
    pub fn snapshot(&self) -> GatewayStatus {
        GatewayStatus {
            calls: self.calls.load(Relaxed),
            blocks: self.blocks.load(Relaxed),
            redactions: self.redactions.load(Relaxed),
            audit_errors: self.audit_errors.load(Relaxed),
        }
    }
}

/// [`GatewayCounters`], copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStatus {
    /// See [`GatewayCounters::calls`].
    pub calls: u64,
    /// See [`GatewayCounters::blocks`].
    pub blocks: u64,
    /// See [`GatewayCounters::redactions`].
    pub redactions: u64,
    /// See [`GatewayCounters::audit_errors`].
    pub audit_errors: u64,
}

/// One destination as a process delivers to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationStatus {
    /// `splunk`, `qradar` or `azure_sentinel`.
    pub name: String,
    /// Records waiting: memory queue, disk buffer and in flight.
    pub queued_events: u64,
    /// Bytes waiting in memory and on disk.
    pub queued_bytes: u64,
    /// Age in seconds of the oldest record not yet delivered.
    pub oldest_event_age_secs: Option<f64>,
    /// The worst breaker state over the endpoints (`closed`, `half_open`, `open`).
    pub breaker: String,
    /// Records delivered.
    pub delivered: u64,
    /// Records dead-lettered.
    pub dead_lettered: u64,
    /// Records dropped, all reasons.
    pub dropped: u64,
    /// When a batch was last delivered (unix milliseconds).
    pub last_success_unix_ms: Option<u64>,
    /// When delivery last failed (unix milliseconds).
    pub last_failure_unix_ms: Option<u64>,
    /// The last failure, `endpoint: reason`.
    pub last_error: Option<String>,
}

impl DestinationStatus {
    /// The status of one destination from its delivery metrics.
    pub fn from_snapshot(name: &str, s: &gatekit_delivery::MetricsSnapshot) -> Self {
        use gatekit_delivery::BreakerState;
        let worst = s
            .breakers
            .iter()
            .map(|(_, b)| match b {
                BreakerState::Closed => 0,
                BreakerState::HalfOpen => 1,
                BreakerState::Open => 2,
            })
            .max()
            .unwrap_or(0);
        DestinationStatus {
            name: name.to_string(),
            queued_events: s.queue_events,
            queued_bytes: s.memory_bytes + s.disk_bytes,
            oldest_event_age_secs: s.oldest_event_age.map(|d| d.as_secs_f64()),
            breaker: ["closed", "half_open", "open"][worst].to_string(),
            delivered: s.delivered,
            dead_lettered: s.dead_lettered,
            dropped: s.dropped_total,
            last_success_unix_ms: s.last_success_unix_ms,
            last_failure_unix_ms: s.last_failure_unix_ms,
            last_error: s.last_error.clone(),
        }
    }
}

/// What one process reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// `gateway` or `agent`.
    pub role: String,
    /// Process id.
    pub pid: u32,
    /// Gatekit version.
    pub version: String,
    /// When this report was written (unix milliseconds).
    pub written_unix_ms: u64,
    /// Events in this process's spool not yet settled by every destination.
    pub spool_events: u64,
    /// Bytes of this process's spool files.
    pub spool_bytes: u64,
    /// Gateway counters (zero for the agent).
    pub gateway: GatewayStatus,
    /// Authentication failures at SIEM endpoints.
    pub auth_failures: u64,
    /// One entry per destination.
    pub destinations: Vec<DestinationStatus>,
}

/// Writes `status` as `dir/status.json`, atomically.
pub fn write(dir: &Path, status: &ProcessStatus) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{STATUS_FILE}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(STATUS_FILE))
}

/// One process directory found under a spool path, with its report when it has one.
#[derive(Debug, Clone)]
pub struct Found {
    /// The directory.
    pub dir: PathBuf,
    /// Whether the process that owns it is alive.
    pub alive: bool,
    /// Its last report (a dead process's last one is kept until its spool is adopted).
    pub status: Option<ProcessStatus>,
    /// Bytes of spool segment files in the directory.
    pub spool_bytes: u64,
}

/// Every `proc-*` directory under `spool_path`, sorted by name.
pub fn scan(spool_path: &Path) -> Vec<Found> {
    let Ok(entries) = std::fs::read_dir(spool_path) else {
        return Vec::new();
    };
    let mut found: Vec<Found> = entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("proc-"))
        })
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .map(|dir| {
            let status = std::fs::read(dir.join(STATUS_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            Found {
                alive: gatekit_delivery::dir_owner_alive(&dir),
                spool_bytes: segment_bytes(&dir),
                status,
                dir,
            }
        })
        .collect();
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
    found
}

/// Bytes of the segment files in `dir`.
pub fn segment_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".seg")))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Unix milliseconds now.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_status_reads_back_and_junk_is_no_report() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("proc-1-2");
        std::fs::create_dir(&own).unwrap();
        let status = ProcessStatus {
            role: "gateway".into(),
            pid: 1,
            version: "x".into(),
            written_unix_ms: 5,
            spool_events: 3,
            spool_bytes: 10,
            gateway: GatewayStatus {
                calls: 7,
                ..GatewayStatus::default()
            },
            auth_failures: 0,
            destinations: Vec::new(),
        };
        write(&own, &status).unwrap();
        let junk = dir.path().join("proc-9-9");
        std::fs::create_dir(&junk).unwrap();
        std::fs::write(junk.join(STATUS_FILE), b"{not json").unwrap();
        let found = scan(dir.path());
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].status.as_ref(), Some(&status));
        assert!(found[1].status.is_none());
        assert!(!found[1].alive);
    }
}
