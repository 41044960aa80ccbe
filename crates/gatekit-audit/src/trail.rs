//! The audit trail: every configured audit file, as the gateway's [`AuditSink`].
//!
//! Each record is rendered once per destination and appended synchronously (one `write` per
//! line; fsync per the destination's policy). A destination that cannot write:
//! * when `critical` (the default), makes [`AuditSink::record`] fail, so the gateway refuses
//!   the call with -32005, and keeps [`AuditSink::check`] failing for a short while, so calls
//!   are refused up front until a write succeeds again;
//! * otherwise, counts the lost record and logs the running total.
//!
//! A destination configured under an upstream's name receives only that upstream's records;
//! a `_global` one receives the others ([`Scope`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatekit_core::chain::Chain;
use gatekit_core::{AuditEvent, LogSafe};
use gatekit_mcp::audit::{AuditRecord, AuditSink, SystemRecord};
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

/// Which upstreams' records a destination receives (Python Gatekit's plugin scopes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// A `_global` entry: every record, except those of the upstreams that configure an entry
    /// of the same handler themselves (an upstream entry replaces the global one whole).
    #[default]
    Global,
    /// A `_global` entry replaced for the listed upstreams.
    GlobalExcept(std::collections::BTreeSet<String>),
    /// An entry under one upstream's name: only that upstream's records.
    Upstream(String),
}

impl Scope {
    /// Whether a record of `upstream` (none for client notifications, which only global
    /// entries see) goes to a destination of this scope.
    pub fn covers(&self, upstream: Option<&str>) -> bool {
        match (self, upstream) {
            (Scope::Global, _) => true,
            (Scope::GlobalExcept(_), None) => true,
            (Scope::GlobalExcept(except), Some(u)) => !except.contains(u),
            (Scope::Upstream(name), Some(u)) => name == u,
            (Scope::Upstream(_), None) => false,
        }
    }
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
    /// Whose records it receives.
    pub scope: Scope,
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
            scope: Scope::Global,
            lost: AtomicU64::new(0),
            failed_at: Mutex::new(None),
            chain: None,
        }
    }

    /// The same destination receiving only the records `scope` covers.
    pub fn scoped(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
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

/// A `token_usage` entry with its scope and criticality.
#[derive(Debug)]
pub struct Meter {
    /// The counter.
    pub usage: Arc<crate::token_usage::TokenUsage>,
    /// Whose records it counts.
    pub scope: Scope,
    /// Whether a CSV row it cannot write refuses the call (default false, as in Python).
    pub critical: bool,
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
    meters: Vec<Meter>,
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
            meters: Vec::new(),
            wants_bodies,
        }
    }

    /// Adds `token_usage` counters; they need every message body.
    pub fn with_meters(mut self, meters: Vec<Meter>) -> Self {
        self.wants_bodies |= !meters.is_empty();
        self.meters = meters;
        self
    }

    /// The destinations.
    pub fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    /// The `token_usage` counters.
    pub fn meters(&self) -> &[Meter] {
        &self.meters
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

    fn record(&self, record: &AuditRecord<'_>, event: &Arc<AuditEvent>) -> Result<(), String> {
        let no_bodies = BodyPolicy {
            request: false,
            response: false,
            notification: false,
            max_size: 0,
        };
        let mut plain = None;
        let mut result = Ok(());
        for d in self
            .destinations
            .iter()
            .filter(|d| d.scope.covers(record.upstream))
        {
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
        for m in self
            .meters
            .iter()
            .filter(|m| m.scope.covers(record.upstream))
        {
            match m.usage.record(record) {
                Ok(()) => {}
                Err(e) if m.critical => {
                    error!(error = %e, "Critical token_usage destination cannot write; refusing the call.");
                    result = Err(e);
                }
                Err(e) => warn!(error = %e, "token_usage lost a CSV row."),
            }
        }
        result
    }

    fn wants_bodies(&self) -> bool {
        self.wants_bodies
    }

    fn system(&self, record: &SystemRecord<'_>, event: &Arc<AuditEvent>) -> Result<(), String> {
        let object = render::system_object(record, event);
        let mut result = Ok(());
        for d in self
            .destinations
            .iter()
            .filter(|d| d.scope.covers(record.upstream))
        {
            let line = match &d.render {
                Render::Jsonl(_) => {
                    let line = serde_json::to_string(&object).unwrap_or_default();
                    // System events are links of the hash chain like every other line.
                    if let Some(chain) = &d.chain {
                        result = result.and(append_linked(d, chain, &line));
                        continue;
                    }
                    line + "\n"
                }
                Render::Csv(dialect) => dialect.row(&render::csv_values(&object)),
                Render::Human => {
                    let mut line = render::human_line(&object);
                    line.push('\n');
                    line
                }
            };
            result = result.and(append(d, &line));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;

    #[test]
    fn scopes_cover_as_python_gatekit_resolves_them() {
        let except = Scope::GlobalExcept(["b".to_string()].into());
        assert!(Scope::Global.covers(Some("a")) && Scope::Global.covers(None));
        assert!(except.covers(Some("a")) && !except.covers(Some("b")) && except.covers(None));
        let only = Scope::Upstream("b".into());
        assert!(only.covers(Some("b")) && !only.covers(Some("a")) && !only.covers(None));
    }
}
