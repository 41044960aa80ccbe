//! A destination's endpoints in failover order, and the `system_event` on every switch
//! between them.
//!
//! The delivery engine owns the policy (ordered failover, a breaker per endpoint, failback
//! as soon as the primary's probe succeeds; `gatekit_delivery`'s `failover.rs`). This module
//! only builds the transports of a plan (primary first, then the `failover` list) and watches
//! which endpoint settles each batch: each transport is wrapped so that a definitive answer
//! (anything but `Retry`) from endpoint `i` makes `i` the active endpoint. A change of the
//! active endpoint is a switch: to a later endpoint a failover, to an earlier one a failback.
//! Each is counted ([`Switchboard::counts`]), logged and reported through the hook (the sink
//! turns it into a `system_event` to every destination).
//!
//! Invariants: a destination with one endpoint is not wrapped (nothing to watch, no cost);
//! one batch is in flight per destination, so the order of settlements is the order of
//! sends and the active endpoint is exact. A `file` endpoint in the failover list writes the
//! platform's records as lines: a record without a final line feed (the Azure bodies are
//! unframed) gets one, so one record is one line. When the endpoints render differently (a
//! mixed platform, decision 0624) every endpoint, the primary included, is also wrapped in
//! `crate::rerender::Rerendered`, inside the watcher and outside the line feed, so it
//! receives its own rendering of the canonical record.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use gatekit_core::Severity;
use gatekit_delivery::{BatchOutcome, PrepareFuture, Record, SendFuture, Transport};

use crate::auth::AuthMonitor;
use crate::connector::ConnectorPlan;
use crate::error::SiemError;
use crate::rerender::{Renderings, Rerendered};

/// Where switch reports go: a severity and a message for a `system_event`.
pub(crate) type Hook = Arc<dyn Fn(Severity, String) + Send + Sync>;

/// Switches of one destination so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwitchCounts {
    /// Moves to a later endpoint in the failover order.
    pub failovers: u64,
    /// Moves back to an earlier endpoint.
    pub failbacks: u64,
}

/// The active endpoint of one destination and its switches.
pub(crate) struct Switchboard {
    platform: &'static str,
    names: Vec<String>,
    active: AtomicUsize,
    failovers: AtomicU64,
    failbacks: AtomicU64,
    hook: OnceLock<Hook>,
}

impl std::fmt::Debug for Switchboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switchboard")
            .field("platform", &self.platform)
            .field("names", &self.names)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl Switchboard {
    fn new(platform: &'static str, names: Vec<String>) -> Self {
        Switchboard {
            platform,
            names,
            active: AtomicUsize::new(0),
            failovers: AtomicU64::new(0),
            failbacks: AtomicU64::new(0),
            hook: OnceLock::new(),
        }
    }

    /// Sets where switch reports go (once; later calls are ignored).
    pub(crate) fn set_hook(&self, hook: Hook) {
        let _ = self.hook.set(hook);
    }

    /// Switches so far.
    pub(crate) fn counts(&self) -> SwitchCounts {
        SwitchCounts {
            failovers: self.failovers.load(Relaxed),
            failbacks: self.failbacks.load(Relaxed),
        }
    }

    /// Endpoint `i` settled a batch.
    fn settled(&self, i: usize) {
        let before = self.active.swap(i, Relaxed);
        if before == i {
            return;
        }
        let name = |j: usize| self.names.get(j).map_or("?", String::as_str);
        let total = self.names.len();
        let (severity, message) = if i > before {
            self.failovers.fetch_add(1, Relaxed);
            (
                Severity::Warning,
                format!(
                    "SIEM destination {} failed over from {} to {} (endpoint {} of {total})",
                    self.platform,
                    name(before),
                    name(i),
                    i + 1
                ),
            )
        } else {
            self.failbacks.fetch_add(1, Relaxed);
            (
                Severity::Notice,
                format!(
                    "SIEM destination {} failed back from {} to {} (endpoint {} of {total})",
                    self.platform,
                    name(before),
                    name(i),
                    i + 1
                ),
            )
        };
        tracing::warn!(%message, "SIEM endpoint switch.");
        if let Some(hook) = self.hook.get() {
            hook(severity, message);
        }
    }
}

/// A destination's transports in failover order, and the switchboard watching them (`None`
/// with a single endpoint).
pub(crate) type Built = (Vec<Arc<dyn Transport>>, Option<Arc<Switchboard>>);

/// The transports of `primary` then `failover`, in order, and the switchboard watching them
/// (`None` with a single endpoint). With `rerender` (a mixed platform) each endpoint renders
/// the canonical records itself.
pub(crate) fn build(
    platform: &'static str,
    primary: &ConnectorPlan,
    failover: &[ConnectorPlan],
    rerender: Option<&Arc<Renderings>>,
    auth: &Arc<AuthMonitor>,
) -> Result<Built, SiemError> {
    let own_rendering = |index: usize, transport: Arc<dyn Transport>| match rerender {
        Some(renderings) => Arc::new(Rerendered {
            inner: transport,
            renderings: Arc::clone(renderings),
            index,
        }) as Arc<dyn Transport>,
        None => transport,
    };
    let first = own_rendering(0, primary.build(Arc::clone(auth))?);
    if failover.is_empty() {
        return Ok((vec![first], None));
    }
    let mut inner = vec![first];
    for (i, plan) in failover.iter().enumerate() {
        let transport = plan.build(Arc::clone(auth))?;
        let transport = if matches!(plan, ConnectorPlan::File(_)) {
            Arc::new(Lines(transport))
        } else {
            transport
        };
        inner.push(own_rendering(i + 1, transport));
    }
    let names = inner.iter().map(|t| t.name().to_owned()).collect();
    let board = Arc::new(Switchboard::new(platform, names));
    let watched = inner
        .into_iter()
        .enumerate()
        .map(|(index, inner)| {
            Arc::new(Watched {
                inner,
                index,
                board: Arc::clone(&board),
            }) as Arc<dyn Transport>
        })
        .collect();
    Ok((watched, Some(board)))
}

/// One endpoint, reporting to its switchboard which endpoint settled a batch.
struct Watched {
    inner: Arc<dyn Transport>,
    index: usize,
    board: Arc<Switchboard>,
}

impl Transport for Watched {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn prepare(&self) -> PrepareFuture<'_> {
        self.inner.prepare()
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let outcome = self.inner.send(batch).await;
            if !matches!(outcome, BatchOutcome::Retry { .. }) {
                self.board.settled(self.index);
            }
            outcome
        })
    }
}

/// A file endpoint in a failover list: one record, one line.
struct Lines(Arc<dyn Transport>);

impl Transport for Lines {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn prepare(&self) -> PrepareFuture<'_> {
        self.0.prepare()
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        if batch.iter().all(|r| r.payload.ends_with(b"\n")) {
            return self.0.send(batch);
        }
        Box::pin(async move {
            let lines: Vec<Record> = batch
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if !r.payload.ends_with(b"\n") {
                        r.payload.push(b'\n');
                    }
                    r
                })
                .collect();
            self.0.send(&lines).await
        })
    }
}
