//! The SIEM audit sink: every gateway audit record becomes one canonical event, handed to the
//! intake (spooled first in committed mode), then rendered per destination on the render thread
//! and submitted to that destination's delivery pipeline (see `intake/` and `spool/`).
//!
//! Invariants: the request path never waits on a SIEM (it waits only if the render thread is
//! far behind); an event that a destination cannot take is counted by the delivery manager with
//! its reason; only a destination configured `overflow: fail_closed` makes the gateway refuse
//! the call (-32005), and the refused call's own event is still recorded everywhere.

use std::sync::Arc;

use gatekit_core::AuditEvent;
use gatekit_core::EventFactory;
use gatekit_delivery::Pipeline;
use gatekit_mcp::audit::{AuditRecord, AuditSink, SystemRecord};
use gatekit_mcp::audit_event::decision_event;

use crate::destination::Destination;
use crate::intake::{Intake, Wait};
use crate::spool::{Spool, SpoolSettings};

use crate::auth::AuthMonitor;
use crate::platform::DestinationPlan;

/// All SIEM destinations.
pub struct SiemSink {
    destinations: Arc<Vec<Destination>>,
    /// Where events enter: the spool (committed mode) and the render thread, which also
    /// links the hash chain when `siem.hash_chain` is on.
    intake: Arc<Intake>,
    /// The spool's keeper, in committed mode.
    spool: Option<Spool>,
    factory: Arc<EventFactory>,
    auth: Arc<AuthMonitor>,
    stopping: Arc<std::sync::atomic::AtomicBool>,
    /// Backlogs of dead processes this one is delivering.
    adoptions: Arc<crate::adopt::Adoptions>,
    /// The endpoint switches of each destination with a `failover` list.
    switchboards: Vec<(&'static str, Arc<crate::switchover::Switchboard>)>,
    /// What the gateway recorded (for the status file and the agent's metrics).
    counters: crate::status::GatewayCounters,
    /// Alerts raised by the monitor.
    alerts: crate::monitor::Alerts,
    /// `gateway` or `agent`.
    role: &'static str,
    /// This process's spool directory, where its status file lives.
    spool_dir: Option<std::path::PathBuf>,
}

/// How a [`SiemSink`] runs.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// How often delivery metrics are checked for trouble to report.
    pub monitor_interval: std::time::Duration,
    /// Link every event into a hash chain (`siem.hash_chain`).
    pub hash_chain: bool,
    /// The gateway's event factory, so the sink's own `system_event`s and decision events
    /// share the sequence of the audit fan-out (a new one stamped with `host` when `None`).
    pub factory: Option<Arc<EventFactory>>,
    /// Committed mode: spool every event before the gateway answers (`siem.spool`).
    pub spool: Option<SpoolSettings>,
    /// Alert thresholds and heartbeat (`siem.alerts`).
    pub alerts: crate::config::observe::AlertSettings,
    /// Deliver the spools and buffers of dead processes (every gateway without an agent, and
    /// the agent); `false` for a gateway when the host agent does it (`siem.agent.enabled`).
    pub adopt: bool,
    /// `gateway` or `agent`, in the status file.
    pub role: &'static str,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            monitor_interval: MONITOR_INTERVAL,
            hash_chain: false,
            factory: None,
            spool: None,
            alerts: crate::config::observe::AlertSettings::default(),
            adopt: true,
            role: "gateway",
        }
    }
}

/// Default for how often delivery metrics are checked for drops, dead letters and
/// unreachable destinations, which are then reported as `system_event`s.
pub const MONITOR_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

impl std::fmt::Debug for SiemSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.destinations.iter().map(|d| d.platform).collect();
        f.debug_struct("SiemSink")
            .field("destinations", &names)
            .finish()
    }
}

impl SiemSink {
    /// Starts one delivery pipeline per plan on `runtime` (keep SIEM I/O off the gateway's
    /// thread).
    pub fn start(
        plans: Vec<DestinationPlan>,
        runtime: &tokio::runtime::Handle,
        host: String,
    ) -> Result<Arc<Self>, String> {
        Self::start_with(plans, runtime, host, MONITOR_INTERVAL)
    }

    /// [`SiemSink::start`] with an explicit monitor interval.
    pub fn start_with(
        plans: Vec<DestinationPlan>,
        runtime: &tokio::runtime::Handle,
        host: String,
        monitor_interval: std::time::Duration,
    ) -> Result<Arc<Self>, String> {
        Self::start_with_options(
            plans,
            runtime,
            host,
            SinkOptions {
                monitor_interval,
                ..SinkOptions::default()
            },
        )
    }

    /// [`SiemSink::start`] with every option.
    pub fn start_with_options(
        plans: Vec<DestinationPlan>,
        runtime: &tokio::runtime::Handle,
        host: String,
        options: SinkOptions,
    ) -> Result<Arc<Self>, String> {
        let monitor_interval = options.monitor_interval;
        // A second sink in one process (the agent's reload) writes directories of its own.
        let generation = crate::adopt::next_generation();
        let mut destinations = Vec::new();
        // Transports are built before the sink exists; they reach it through this cell.
        let cell: Arc<std::sync::OnceLock<std::sync::Weak<SiemSink>>> = Arc::default();
        let auth = {
            let cell = Arc::clone(&cell);
            Arc::new(AuthMonitor::with_hook(Arc::new(move |message: String| {
                if let Some(sink) = cell.get().and_then(std::sync::Weak::upgrade) {
                    let event = sink.system_event(gatekit_core::Severity::Warning, message);
                    let _ = sink.submit(event);
                }
            })))
        };
        let mut adopters = Vec::new();
        let mut recovery_notes = Vec::new();
        let mut switchboards = Vec::new();
        for mut plan in plans {
            // Each process buffers in its own directory under the configured path, and adopts
            // the directories of processes that are gone (`adopt.rs`).
            if let Some(base) = plan.delivery.disk.as_ref().map(|d| d.path.clone()) {
                let own = crate::adopt::own_dir(&base, generation);
                adopters.push(crate::adopt::Adopter {
                    platform: plan.platform,
                    base,
                    own: own.clone(),
                    delivery: plan.delivery.clone(),
                    connector: plan.connector.clone(),
                    failover: plan.failover.clone(),
                    rerender: plan.rerender.clone(),
                });
                if let Some(disk) = plan.delivery.disk.as_mut() {
                    disk.path = own;
                }
            }
            let (transports, board) = crate::switchover::build(
                plan.platform,
                &plan.connector,
                &plan.failover,
                plan.rerender.as_ref(),
                &auth,
            )
            .map_err(|e| format!("{}: {e}", plan.platform))?;
            switchboards.extend(board.map(|b| (plan.platform, b)));
            let pipeline = Pipeline::spawn_on(runtime, plan.platform, plan.delivery, transports)
                .map_err(|e| format!("cannot start SIEM delivery for {}: {e}", plan.platform))?;
            if let Some(report) = pipeline.recovery() {
                recovery_notes.extend(recovery_messages(plan.platform, &report));
            }
            destinations.push(Destination::new(
                plan.platform,
                plan.formatter,
                plan.framing,
                pipeline,
            ));
        }
        let destinations = Arc::new(destinations);
        let spool = match &options.spool {
            Some(settings) => Some((
                settings.clone(),
                crate::spool::open(
                    settings,
                    &crate::spool::fingerprint(&destinations),
                    generation,
                )?,
            )),
            None => None,
        };
        let (spool_settings, spool_disk) = match spool {
            Some((settings, (disk, dir))) => (Some((settings, dir)), Some(disk)),
            None => (None, None),
        };
        let intake = Arc::new(Intake::start(
            Arc::clone(&destinations),
            options.hash_chain,
            spool_disk,
            runtime.clone(),
        )?);
        let spool_dir = spool_settings.as_ref().map(|(_, dir)| dir.clone());
        let spool = match spool_settings {
            Some((settings, dir)) => {
                let weak = Arc::clone(&cell);
                let report: crate::adopt::Report = Arc::new(move |message: String| {
                    if let Some(sink) = weak.get().and_then(std::sync::Weak::upgrade) {
                        let _ =
                            sink.submit(sink.system_event(gatekit_core::Severity::Notice, message));
                    }
                });
                Some(Spool::start(
                    dir,
                    settings,
                    Arc::clone(&intake),
                    Arc::clone(&destinations),
                    report,
                    options.adopt,
                )?)
            }
            None => None,
        };
        let sink = Arc::new(SiemSink {
            destinations,
            intake,
            spool,
            factory: options
                .factory
                .unwrap_or_else(|| Arc::new(EventFactory::new(host, env!("CARGO_PKG_VERSION")))),
            auth,
            stopping: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            adoptions: Arc::default(),
            switchboards,
            counters: crate::status::GatewayCounters::default(),
            alerts: crate::monitor::Alerts::default(),
            role: options.role,
            spool_dir,
        });
        let _ = cell.set(Arc::downgrade(&sink));
        for (_, board) in &sink.switchboards {
            let weak = Arc::downgrade(&sink);
            board.set_hook(Arc::new(move |severity, message| {
                if let Some(sink) = weak.upgrade() {
                    let _ = sink.submit(sink.system_event(severity, message));
                }
            }));
        }
        // The monitor's first look compares with this, taken before any event is submitted,
        // so a drop in its first interval is reported too.
        let baseline = sink.snapshots();
        let names: Vec<&str> = sink.destinations.iter().map(|d| d.platform).collect();
        let started = sink.system_event(
            gatekit_core::Severity::Notice,
            format!(
                "Gatekit {} started; SIEM destinations: {}",
                env!("CARGO_PKG_VERSION"),
                names.join(", ")
            ),
        );
        let _ = sink.submit(started);
        for note in recovery_notes {
            tracing::warn!(%note, "SIEM buffer recovery.");
            let _ = sink.submit(sink.system_event(gatekit_core::Severity::Warning, note));
        }
        runtime.spawn(crate::monitor::run(
            Arc::downgrade(&sink),
            baseline,
            monitor_interval,
            options.alerts.clone(),
            sink.spool_dir.clone(),
        ));
        if !adopters.is_empty() && options.adopt {
            let weak = Arc::downgrade(&sink);
            let report: crate::adopt::Report = Arc::new(move |message: String| {
                if let Some(sink) = weak.upgrade() {
                    let _ = sink.submit(sink.system_event(gatekit_core::Severity::Notice, message));
                }
            });
            runtime.spawn(crate::adopt::run(
                adopters,
                Arc::clone(&sink.adoptions),
                Arc::clone(&sink.auth),
                report,
                Arc::clone(&sink.stopping),
            ));
        }
        Ok(sink)
    }

    /// A `system_event` with `message`.
    pub fn system_event(
        &self,
        severity: gatekit_core::Severity,
        message: String,
    ) -> gatekit_core::AuditEvent {
        self.factory
            .event(gatekit_core::EventType::SystemEvent, severity)
            .with_message(message)
    }

    /// Endpoint switches (failovers and failbacks) per destination with a `failover` list.
    pub fn switch_counts(&self) -> Vec<(&'static str, crate::switchover::SwitchCounts)> {
        self.switchboards
            .iter()
            .map(|(platform, board)| (*platform, board.counts()))
            .collect()
    }

    /// Whether [`SiemSink::shutdown`] began.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Alerts raised so far.
    pub fn alerts(&self) -> &crate::monitor::Alerts {
        &self.alerts
    }

    /// This process's spool directory (committed mode).
    pub fn spool_dir(&self) -> Option<&std::path::Path> {
        self.spool_dir.as_deref()
    }

    /// Delivery metrics of the backlogs adopted from dead processes, per platform: running
    /// pipelines, plus the final counts of those already drained.
    pub fn adopted_snapshots(&self) -> Vec<(&'static str, gatekit_delivery::MetricsSnapshot)> {
        self.adoptions.snapshots()
    }

    /// What this process reports in its status file.
    pub fn status(&self) -> crate::status::ProcessStatus {
        let spool = self.intake.lock().spool.as_ref().map(|d| d.stats());
        crate::status::ProcessStatus {
            role: self.role.to_string(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            written_unix_ms: crate::status::now_unix_ms(),
            spool_events: spool.as_ref().map_or(0, |s| s.unread_events),
            spool_bytes: spool.as_ref().map_or(0, |s| s.bytes),
            gateway: self.counters.snapshot(),
            auth_failures: self.auth_failures(),
            destinations: self
                .snapshots()
                .iter()
                .map(|(name, s)| crate::status::DestinationStatus::from_snapshot(name, s))
                .collect(),
        }
    }

    /// Authentication failures counted over every destination.
    pub fn auth_failures(&self) -> u64 {
        self.auth.failures()
    }

    /// Whether every destination's primary endpoint has finished opening its connection
    /// ([`gatekit_delivery::Pipeline::prepared`]).
    pub fn prepared(&self) -> bool {
        self.destinations.iter().all(|d| {
            let pipeline = d.pipeline.lock().unwrap_or_else(|e| e.into_inner());
            pipeline.as_ref().is_none_or(|p| p.prepared())
        })
    }

    /// Delivery metrics per platform.
    pub fn snapshots(&self) -> Vec<(&'static str, gatekit_delivery::MetricsSnapshot)> {
        self.destinations
            .iter()
            .filter_map(|d| {
                let pipeline = d.pipeline.lock().unwrap_or_else(|e| e.into_inner());
                pipeline.as_ref().map(|p| (d.platform, p.snapshot()))
            })
            .collect()
    }

    /// Flushes every destination within its shutdown deadline; later records are refused.
    pub async fn shutdown(&self) {
        if !self
            .stopping
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let _ = self.submit(self.system_event(
                gatekit_core::Severity::Notice,
                "Gatekit stopping; flushing SIEM delivery".into(),
            ));
        }
        // The render thread submits what it holds and stops (it may wait for room in a
        // pipeline, which needs this runtime: so not on a runtime thread).
        let intake = Arc::clone(&self.intake);
        let _ = tokio::task::spawn_blocking(move || intake.close()).await;
        for d in self.destinations.iter() {
            let pipeline = d.pipeline.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(pipeline) = pipeline {
                let report = pipeline.shutdown().await;
                tracing::info!(platform = d.platform, ?report, "SIEM delivery stopped.");
            }
        }
        self.adoptions.shutdown().await;
        if let Some(spool) = &self.spool {
            spool.finish(&self.intake, &self.destinations);
        }
    }

    /// Waits until every event handed over so far is rendered and submitted (tests, and
    /// callers that read metrics right after submitting).
    pub fn flush_intake(&self) {
        self.intake.flush();
    }

    /// Events of the sink's own reports dropped because the render thread was far behind, and
    /// events the spool refused (full or an I/O error; delivered from memory only).
    pub fn intake_losses(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.intake.dropped_reports.load(Relaxed),
            self.intake.spool_refused.load(Relaxed),
        )
    }
}

impl AuditSink for SiemSink {
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    fn record(&self, record: &AuditRecord<'_>, event: &Arc<AuditEvent>) -> Result<(), String> {
        use std::sync::atomic::Ordering::Relaxed;
        self.counters.calls.fetch_add(1, Relaxed);
        if record.blocked {
            self.counters.blocks.fetch_add(1, Relaxed);
        }
        let mut result = self.commit(Arc::clone(event));
        // Every redaction is also a security decision of its own, so SIEM rules that watch
        // `security_decision` see it (blocks already are one).
        let redacted = record
            .stages
            .iter()
            .any(|s| s.outcome == "modified" && s.category == "security");
        if !record.blocked && redacted {
            let decision = decision_event(&self.factory, event);
            self.counters.redactions.fetch_add(1, Relaxed);
            result = result.and(self.commit(Arc::new(decision)));
        }
        if result.is_err() {
            self.counters.audit_errors.fetch_add(1, Relaxed);
        }
        result
    }

    /// Gateway system events (sandbox decisions, reloads) go to every SIEM destination.
    fn system(&self, _record: &SystemRecord<'_>, event: &Arc<AuditEvent>) -> Result<(), String> {
        self.commit(Arc::clone(event))
    }

    fn wants_bodies(&self) -> bool {
        true
    }

    /// SIEM events carry the request's arguments, never results (which may be large and
    /// hold whatever the tool read): results pass through unparsed.
    fn wants_response_bodies(&self) -> bool {
        false
    }
}

impl SiemSink {
    /// The event factory (identity, sequence) of this sink.
    pub fn factory(&self) -> &EventFactory {
        &self.factory
    }

    /// Wakes the render thread if events wait for it.
    pub(crate) fn kick_intake(&self) {
        self.intake.kick();
    }

    /// Hands one of the sink's own reports (a `system_event`) over without ever waiting: when
    /// the render thread is far behind it is dropped and counted ([`SiemSink::intake_losses`]).
    pub fn submit(&self, event: AuditEvent) -> Result<(), String> {
        self.intake.accept(Arc::new(event), Wait::No)
    }

    /// Hands a gateway event over (spooled first in committed mode); an error when a
    /// `fail_closed` destination refuses records now, so the gateway refuses the call. The
    /// event itself is recorded either way.
    fn commit(&self, event: Arc<AuditEvent>) -> Result<(), String> {
        self.intake.accept(event, Wait::Yes)?;
        match self.destinations.iter().find(|d| d.producer.refusing()) {
            Some(d) => Err(format!(
                "the SIEM delivery queue for {} is full (overflow: fail_closed)",
                d.platform
            )),
            None => Ok(()),
        }
    }

    /// Hands an event over exactly as the gateway does for an audit record (spooled first in
    /// committed mode, waits only when the render thread is far behind); an error when a
    /// `fail_closed` destination refuses records now. `gatekit siem load` measures this path.
    pub fn commit_event(&self, event: AuditEvent) -> Result<(), String> {
        self.commit(Arc::new(event))
    }
}

/// What a disk buffer's recovery could not keep, as `system_event` messages: every damaged,
/// truncated, emptied or missing segment with what it cost, and an acknowledgement position that
/// was refused (everything on disk is sent again, duplicates keep their ids).
fn recovery_messages(
    platform: &str,
    report: &gatekit_delivery::disk::RecoveryReport,
) -> Vec<String> {
    let mut notes: Vec<String> = report
        .losses
        .iter()
        .map(|loss| {
            let what = match loss.records {
                Some(n) => format!("{n} records"),
                None => format!("{} bytes", loss.bytes),
            };
            format!(
                "SIEM buffer of {platform}: {:?} in segment {} at offset {}: {what} could not be recovered",
                loss.kind, loss.segment, loss.offset
            )
        })
        .collect();
    if report.ack_refused {
        notes.push(format!("SIEM buffer of {platform}: the acknowledgement file pointed past the data and was refused; the whole backlog is sent again (duplicates keep their event ids)"));
    }
    notes
}
