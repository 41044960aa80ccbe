//! The delivery monitor: every `siem.monitor_interval` it compares delivery metrics with the
//! previous look and raises alerts, sends the heartbeat, and writes this process's status file.
//!
//! Alerts (`siem.alerts`, see `docs/operations.md`): records dropped, dead-lettered or rejected;
//! a destination unreachable (attempts failed and nothing delivered since the last look);
//! a backlog over `backlog_events` or older than `backlog_age_secs`; authentication failures.
//! Each alert is three things at once: a `system_event` to every destination (so a SIEM that
//! still receives events learns that another one is in trouble), a count in
//! [`Alerts`] (the agent's `gatekit_siem_alerts_total`), and a log line.
//!
//! Invariant: a state alert (unreachable, backlog size, backlog age) fires when the state is
//! entered and a notice is sent when it ends, never once per look, so an outage is one alert,
//! not a storm; event alerts (drops, dead letters, rejections, authentication failures) fire
//! once per look that saw new ones, with the count.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use gatekit_core::Severity;
use gatekit_delivery::MetricsSnapshot;

use crate::config::observe::AlertSettings;
use crate::sink::SiemSink;

/// Alerts raised so far, by destination (`all` for those of the whole process) and kind.
#[derive(Debug, Default)]
pub struct Alerts {
    counts: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl Alerts {
    fn raise(&self, destination: &str, kind: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((destination.to_string(), kind))
            .or_default() += 1;
    }

    /// `((destination, kind), count)` for every alert raised at least once.
    pub fn counts(&self) -> Vec<((String, &'static str), u64)> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

/// What the monitor remembers between looks.
struct State {
    previous: Vec<(&'static str, MetricsSnapshot)>,
    /// State alerts in force: (destination, kind).
    active: HashSet<(&'static str, &'static str)>,
    auth_failures: u64,
    next_heartbeat: Option<Instant>,
}

/// One finding: severity, message, and the alert it counts as (`None`: a notice that a state
/// ended).
type Finding = (Severity, String, Option<(&'static str, &'static str)>);

/// Runs until the sink is gone or stopping.
/// `baseline`: the metrics before the sink's first event, which the first look compares with.
pub(crate) async fn run(
    sink: Weak<SiemSink>,
    baseline: Vec<(&'static str, MetricsSnapshot)>,
    interval: Duration,
    alerts: AlertSettings,
    status_dir: Option<PathBuf>,
) {
    let mut state = State {
        previous: baseline,
        active: HashSet::new(),
        auth_failures: 0,
        next_heartbeat: alerts.heartbeat.map(|h| Instant::now() + h),
    };
    loop {
        tokio::time::sleep(interval).await;
        let Some(sink) = sink.upgrade() else { return };
        if sink.is_stopping() {
            return;
        }
        // A gateway thread that defers its wake-ups and never ran out of work still has its
        // events rendered within one tick (`intake/defer.rs`).
        sink.kick_intake();
        let now = sink.snapshots();
        let mut findings = look(&mut state, &now, &alerts);
        let auth = sink.auth_failures();
        if auth > state.auth_failures {
            // The authentication monitor already sent its own `system_event` (rate-limited);
            // here it is counted and logged.
            let n = auth - state.auth_failures;
            sink.alerts().raise("all", "auth_failure");
            tracing::warn!(failures = n, "SIEM alert: authentication failures.");
        }
        state.auth_failures = auth;
        if let Some(at) = state.next_heartbeat {
            if Instant::now() >= at {
                findings.push((Severity::Info, heartbeat(&now), None));
                state.next_heartbeat = alerts.heartbeat.map(|h| Instant::now() + h);
            }
        }
        for (severity, message, alert) in findings {
            if let Some((destination, kind)) = alert {
                sink.alerts().raise(destination, kind);
                tracing::warn!(%message, destination, kind, "SIEM alert.");
            } else {
                tracing::info!(%message, "SIEM notice.");
            }
            let _ = sink.submit(sink.system_event(severity, message));
        }
        if let Some(dir) = &status_dir {
            if let Err(e) = crate::status::write(dir, &sink.status()) {
                tracing::debug!(error = %e, dir = %dir.display(), "Status file not written.");
            }
        }
        state.previous = now;
    }
}

/// Compares `now` with the previous look.
fn look(
    state: &mut State,
    now: &[(&'static str, MetricsSnapshot)],
    alerts: &AlertSettings,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for (i, (platform, s)) in now.iter().enumerate() {
        let platform: &'static str = platform;
        if let Some((_, b)) = state.previous.get(i) {
            for (reason, n) in s.drops_since(b) {
                out.push((
                    Severity::Warning,
                    format!("SIEM destination {platform} dropped {n} events ({reason:?})"),
                    Some((platform, "dropped")),
                ));
            }
            let dead = s.dead_lettered.saturating_sub(b.dead_lettered);
            if dead > 0 {
                out.push((
                    Severity::Error,
                    format!("SIEM destination {platform} dead-lettered {dead} events"),
                    Some((platform, "dead_lettered")),
                ));
            }
            let rejected = s.rejected.saturating_sub(b.rejected);
            if rejected > 0 {
                out.push((
                    Severity::Error,
                    format!(
                        "SIEM destination {platform} rejected {rejected} events ({})",
                        s.last_error.as_deref().unwrap_or("no reason given")
                    ),
                    Some((platform, "rejected")),
                ));
            }
            let failed = s.failed_attempts.saturating_sub(b.failed_attempts);
            let delivered = s.delivered.saturating_sub(b.delivered);
            let reason = s.last_error.as_deref().unwrap_or("no reason given");
            toggle(
                state,
                &mut out,
                (platform, "unreachable"),
                if failed > 0 && delivered == 0 {
                    Some(true)
                } else if delivered > 0 {
                    Some(false)
                } else {
                    None
                },
                format!("SIEM destination {platform} is unreachable ({failed} failed attempts, last: {reason}); events are buffered"),
                format!("SIEM destination {platform} is reachable again"),
            );
        }
        toggle(
            state,
            &mut out,
            (platform, "backlog_events"),
            Some(s.queue_events > alerts.backlog_events),
            format!(
                "SIEM destination {platform} has {} events waiting (alert threshold {})",
                s.queue_events, alerts.backlog_events
            ),
            format!("SIEM destination {platform} backlog is below its alert threshold again"),
        );
        let age = s.oldest_event_age.unwrap_or_default();
        toggle(
            state,
            &mut out,
            (platform, "backlog_age"),
            Some(age > alerts.backlog_age),
            format!(
                "SIEM destination {platform}: the oldest undelivered event waits for {}s (alert threshold {}s)",
                age.as_secs(),
                alerts.backlog_age.as_secs()
            ),
            format!("SIEM destination {platform}: undelivered events are younger than the alert threshold again"),
        );
    }
    out
}

/// Raises a state alert when `on` turns true, a notice when it turns false; `None` keeps it.
fn toggle(
    state: &mut State,
    out: &mut Vec<Finding>,
    key: (&'static str, &'static str),
    on: Option<bool>,
    raised: String,
    cleared: String,
) {
    match on {
        Some(true) if state.active.insert(key) => {
            out.push((Severity::Warning, raised, Some(key)));
        }
        Some(false) if state.active.remove(&key) => {
            out.push((Severity::Notice, cleared, None));
        }
        _ => {}
    }
}

/// The heartbeat message: alive, with each destination's backlog.
fn heartbeat(now: &[(&'static str, MetricsSnapshot)]) -> String {
    let parts: Vec<String> = now
        .iter()
        .map(|(p, s)| {
            format!(
                "{p}: {} waiting, oldest {}s, {} delivered",
                s.queue_events,
                s.oldest_event_age.map_or(0, |d| d.as_secs()),
                s.delivered
            )
        })
        .collect();
    format!("Gatekit heartbeat; SIEM destinations: {}", parts.join("; "))
}
