//! The audit trail: every configured audit file, as the gateway's [`AuditSink`].
//!
//! Each record is rendered once per destination and appended synchronously (one `write` per
//! line; fsync per the destination's policy). A destination that cannot write:
//! * when `critical` (the default), makes [`AuditSink::record`] fail, so the gateway refuses
//!   the call with -32005, and keeps [`AuditSink::check`] failing for a short while, so calls
//!   are refused up front until a write succeeds again;
//! * otherwise, counts the lost record and logs the running total.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatekit_core::chain::Chain;
use gatekit_core::{AuditEvent, LogSafe};
use gatekit_mcp::audit::{AuditRecord, AuditSink};
use tracing::{error, warn};

use crate::csv::Dialect;
use crate::line_file::LineFile;
use crate::render::{self, BodyPolicy};

/// After a failed write, how long `check` refuses calls before letting one try again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// How a destination renders records.
#[derive(Debug)]
pub enum Render {
    /// `audit_jsonl`.
    Jsonl(BodyPolicy),
    /// `audit_csv`.
    Csv(Dialect),
    /// `audit_human_readable`.
    Human,
}

/// One audit file.
#[derive(Debug)]
pub struct Destination {
    /// Handler name, for messages.
    pub handler: &'static str,
    /// How lines are rendered.
    pub render: Render,
    /// The file.
    pub file: Arc<LineFile>,
    /// Whether a lost record refuses the call.
    pub critical: bool,
    lost: AtomicU64,
    failed_at: Mutex<Option<(Instant, String)>>,
    /// The hash chain of a JSONL destination that asked for one; held while a line is linked
    /// and written, so lines are written in chain order.
    chain: Option<Mutex<Chain>>,
}

impl Destination {
    /// A destination writing to `file`.
    pub fn new(handler: &'static str, render: Render, file: Arc<LineFile>, critical: bool) -> Self {
        Destination {
            handler,
            render,
            file,
            critical,
            lost: AtomicU64::new(0),
            failed_at: Mutex::new(None),
            chain: None,
        }
    }

    /// Links every line of this (JSONL) destination into a hash chain
    /// ([`gatekit_core::chain`]).
    pub fn with_hash_chain(mut self) -> Self {
        self.chain = Some(Mutex::new(Chain::default()));
        self
    }

    /// Records lost so far (non-critical destinations).
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// Appends `line` to `d`, with the failure handling of its criticality: an error only when a
/// critical destination could not write.
fn append(d: &Destination, line: &str) -> Result<(), String> {
    write(d, line).1
}

/// [`append`], also saying whether the line was written.
fn write(d: &Destination, line: &str) -> (bool, Result<(), String>) {
    let result = match d.file.append(line.as_bytes()) {
        Ok(()) => {
            d.failed_at.lock().unwrap_or_else(|e| e.into_inner()).take();
            return (true, Ok(()));
        }
        Err(e) if d.critical => {
            error!(handler = d.handler, path = %d.file.path().display(), error = ?LogSafe(&e), "Critical audit destination cannot write; refusing calls.");
            *d.failed_at.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((Instant::now(), e.to_string()));
            Err(format!(
                "{} cannot write {}: {e}",
                d.handler,
                d.file.path().display()
            ))
        }
        Err(e) => {
            let lost = d.lost.fetch_add(1, Ordering::Relaxed) + 1;
            warn!(handler = d.handler, path = %d.file.path().display(), error = ?LogSafe(&e), lost, "Non-critical audit destination lost a record.");
            Ok(())
        }
    };
    (false, result)
}

/// Links the JSON object `object` into `chain` and appends it; the chain moves on only when
/// the line was written, so a lost line never becomes a predecessor.
fn append_linked(d: &Destination, chain: &Mutex<Chain>, object: &str) -> Result<(), String> {
    let mut chain = chain.lock().unwrap_or_else(|e| e.into_inner());
    let (prev, hash) = chain.next(object.as_bytes());
    let mut line = gatekit_core::chain::with_link(object, &prev, &hash);
    line.push('\n');
    let (written, result) = write(d, &line);
    if written {
        chain.commit(hash);
    }
    result
}

/// All audit destinations.
#[derive(Debug)]
pub struct AuditTrail {
    destinations: Vec<Destination>,
    wants_bodies: bool,
}

impl AuditTrail {
    /// A trail over `destinations`; events come stamped from the gateway's audit fan-out.
    pub fn new(destinations: Vec<Destination>) -> Self {
        let wants_bodies = destinations.iter().any(|d| match &d.render {
            Render::Jsonl(b) => b.request || b.response || b.notification,
            _ => false,
        });
        AuditTrail {
            destinations,
            wants_bodies,
        }
    }

    /// The destinations.
    pub fn destinations(&self) -> &[Destination] {
        &self.destinations
    }
}

impl AuditSink for AuditTrail {
    fn check(&self) -> Result<(), String> {
        for d in self.destinations.iter().filter(|d| d.critical) {
            let failed = d.failed_at.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, reason)) = failed.as_ref() {
                if at.elapsed() < RETRY_AFTER_FAILURE {
                    return Err(format!(
                        "{} cannot write {}: {reason}",
                        d.handler,
                        d.file.path().display()
                    ));
                }
            }
        }
        Ok(())
    }

    fn record(&self, record: &AuditRecord<'_>, event: &AuditEvent) -> Result<(), String> {
        let no_bodies = BodyPolicy {
            request: false,
            response: false,
            notification: false,
            max_size: 0,
        };
        let mut plain = None;
        let mut result = Ok(());
        for d in &self.destinations {
            let line = match &d.render {
                Render::Jsonl(bodies) => {
                    let object = render::jsonl_object(record, event, *bodies);
                    let line = serde_json::to_string(&object).unwrap_or_default();
                    if let Some(chain) = &d.chain {
                        result = result.and(append_linked(d, chain, &line));
                        continue;
                    }
                    line + "\n"
                }
                Render::Csv(dialect) => {
                    let object =
                        plain.get_or_insert_with(|| render::jsonl_object(record, event, no_bodies));
                    dialect.row(&render::csv_values(object))
                }
                Render::Human => {
                    let object =
                        plain.get_or_insert_with(|| render::jsonl_object(record, event, no_bodies));
                    let mut line = render::human_line(object);
                    line.push('\n');
                    line
                }
            };
            result = result.and(append(d, &line));
        }
        result
    }

    fn wants_bodies(&self) -> bool {
        self.wants_bodies
    }
}
