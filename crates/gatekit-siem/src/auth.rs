//! Authentication failures of SIEM transports, in one place: a refused TLS handshake, a
//! rejected token (HEC 401/403), a token endpoint that says no. Every failure is counted
//! ([`AuthMonitor::failures`], shown by `gatekit siem test` and the delivery monitor), and
//! reported as a `system_event` through the monitor's hook at most once per
//! [`REPORT_PERIOD`] per transport (and at once after a success), so a misconfigured
//! destination cannot flood the SIEM. Reasons never contain secrets: transports pass the
//! status and the server's short text, never the credential, and the reporter passes that
//! text through [`crate::secret::log_safe`] before it reaches a log line or the hook (a server
//! may echo the token, or put a line break in its text to forge a log line).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::SiemError;

/// Called with a description of an authentication failure (to become a `system_event`).
pub type AuthFailureHook = Arc<dyn Fn(String) + Send + Sync>;

/// Minimum time between two reports of one transport.
pub const REPORT_PERIOD: Duration = Duration::from_secs(60);

/// Shared by every transport of a SIEM sink.
#[derive(Default)]
pub struct AuthMonitor {
    hook: Option<AuthFailureHook>,
    failures: AtomicU64,
}

impl std::fmt::Debug for AuthMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthMonitor")
            .field("failures", &self.failures())
            .finish_non_exhaustive()
    }
}

impl AuthMonitor {
    /// A monitor that reports through `hook`.
    pub fn with_hook(hook: AuthFailureHook) -> AuthMonitor {
        AuthMonitor {
            hook: Some(hook),
            failures: AtomicU64::new(0),
        }
    }

    /// Authentication failures counted so far, over all transports.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// One transport's view of the monitor.
pub struct AuthReporter {
    transport: String,
    monitor: Arc<AuthMonitor>,
    last_report: Mutex<Option<Instant>>,
    /// When a success was last reported; `None`: never, or a failure came since.
    last_success_report: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for AuthReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthReporter")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl AuthReporter {
    /// A reporter for the transport called `transport`.
    pub fn new(transport: &str, monitor: Arc<AuthMonitor>) -> AuthReporter {
        AuthReporter {
            transport: transport.to_string(),
            monitor,
            last_report: Mutex::new(None),
            last_success_report: Mutex::new(None),
        }
    }

    /// A reporter that only counts (tests, `gatekit siem test`).
    pub fn detached(transport: &str) -> AuthReporter {
        Self::new(transport, Arc::default())
    }

    /// Counts a failure and reports it unless this transport reported one recently.
    pub fn failed(&self, reason: &str) {
        let reason = crate::secret::log_safe(reason);
        self.monitor.failures.fetch_add(1, Ordering::Relaxed);
        // The next success is news again.
        self.last_success_report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        tracing::warn!(transport = %self.transport, %reason, "SIEM authentication failure.");
        let Some(hook) = &self.monitor.hook else {
            return;
        };
        let mut last = self.last_report.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < REPORT_PERIOD) {
            return;
        }
        *last = Some(Instant::now());
        drop(last);
        hook(format!(
            "authentication failure on SIEM transport {}: {reason}",
            self.transport
        ));
    }

    /// A connection or request that failed before any answer: counted and reported when its
    /// kind is an authentication failure ([`SiemError::is_auth_failure`]: TLS refused our
    /// identity or theirs), not when it is plain network trouble. Either way the batch is
    /// retried: this is the outcome every connector returns for it.
    pub fn connection_failed(&self, error: &SiemError) -> gatekit_delivery::BatchOutcome {
        if error.is_auth_failure() {
            self.failed(&error.to_string());
        }
        error.retry()
    }

    /// Authentication worked: the next failure is reported at once, and the success itself
    /// is reported (every authentication attempt to a SIEM endpoint is audited): at the first
    /// success, after a failure, and then at most once per [`REPORT_PERIOD`].
    pub fn succeeded(&self) {
        self.last_report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(hook) = &self.monitor.hook else {
            return;
        };
        let mut last = self
            .last_success_report
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < REPORT_PERIOD) {
            return;
        }
        *last = Some(Instant::now());
        drop(last);
        tracing::info!(transport = %self.transport, "SIEM authentication succeeded.");
        hook(format!(
            "authentication succeeded on SIEM transport {}",
            self.transport
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_counts_but_reports_are_limited() {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&reports);
        let monitor = Arc::new(AuthMonitor::with_hook(Arc::new(move |m: String| {
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(m);
        })));
        let a = AuthReporter::new("hec:a:1", Arc::clone(&monitor));
        let b = AuthReporter::new("hec:b:1", Arc::clone(&monitor));
        a.failed("HTTP 403: Invalid token");
        a.failed("HTTP 403: Invalid token");
        b.failed("HTTP 401");
        assert_eq!(monitor.failures(), 3);
        assert_eq!(reports.lock().unwrap_or_else(|e| e.into_inner()).len(), 2);
        // A success is reported (and resets the failure limit), then not again for a while.
        a.succeeded();
        a.succeeded();
        a.failed("HTTP 403: Invalid token");
        a.succeeded();
        let reports = reports.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(
            *reports,
            [
                "authentication failure on SIEM transport hec:a:1: HTTP 403: Invalid token",
                "authentication failure on SIEM transport hec:b:1: HTTP 401",
                "authentication succeeded on SIEM transport hec:a:1",
                "authentication failure on SIEM transport hec:a:1: HTTP 403: Invalid token",
                "authentication succeeded on SIEM transport hec:a:1",
            ]
        );
    }

    /// A server's text may echo the token or carry a line break that forges a log line: the
    /// reason that reaches the hook (a `system_event`) is scrubbed, escaped and bounded.
    #[test]
    fn failure_reasons_are_scrubbed_and_escaped() {
        let secret: crate::secret::Secret =
            serde_json::from_value(serde_json::json!("hec-token-echoed-0123456789"))
                .unwrap_or_else(|e| panic!("{e}"));
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&reports);
        let monitor = Arc::new(AuthMonitor::with_hook(Arc::new(move |m: String| {
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(m);
        })));
        let a = AuthReporter::new("hec:c:1", monitor);
        a.failed(&format!(
            "HTTP 403: bad token {}\nFAKE LINE level=INFO \u{1b}[2J{}",
            secret.expose(),
            "x".repeat(5000)
        ));
        let reports = reports.lock().unwrap_or_else(|e| e.into_inner());
        let report = &reports[0];
        assert!(!report.contains(secret.expose()), "{report}");
        assert!(
            !report.chars().any(char::is_control),
            "a raw control character: {report:?}"
        );
        assert!(report.contains("\\nFAKE LINE"), "{report}");
        assert!(report.len() < 1000, "bounded: {} bytes", report.len());
    }
}
