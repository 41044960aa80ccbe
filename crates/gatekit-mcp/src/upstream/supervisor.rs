//! The task that keeps one upstream server running.
//!
//! Life of one process ("generation"): spawn → wait for the client's `initialize` params →
//! handshake (`initialize` request, then `notifications/initialized`) → serve until stdout
//! closes → fail what was in flight → back off → start the next generation.
//!
//! Restart policy: a process that ran for a while and then exited is restarted with a short
//! backoff that grows only while it keeps crashing quickly; `max_restart_attempts` bounds
//! consecutive *failed starts* (spawn errors or failed handshakes), after which the upstream is
//! marked failed and its requests get a clear error instead of waiting.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatekit_core::LogSafe;
use serde_json::value::RawValue;
use tokio::io::BufReader;
use tokio::process::{Child, ChildStderr, ChildStdout};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use super::{process, Inbound, InboundKind, Session, Status, UpstreamError};
use crate::framing::{top_level_id, Frame, FrameReader};
use crate::jsonrpc::{self, Message, Outcome, ParseError, RequestId};

/// A process that stayed up this long is considered healthy again; its next crash restarts
/// it after the shortest backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);
/// Backoff bounds.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Lines of stderr kept to explain a failed start.
const STDERR_TAIL: usize = 8;

pub(super) struct Supervisor {
    pub(super) index: usize,
    pub(super) spec: super::UpstreamSpec,
    pub(super) status: watch::Sender<Status>,
    pub(super) init_params: watch::Receiver<Option<Arc<RawValue>>>,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) inbound: mpsc::Sender<Inbound>,
}

enum RunEnd {
    Shutdown,
    StartFailed(String),
    /// The sandbox the upstream asks for cannot be built: retrying would not help, and
    /// starting without it is not an option.
    SandboxFailed(String),
    Exited {
        reason: String,
        ran_for: Duration,
    },
}

enum HandshakeEnd {
    Shutdown,
    Failed(String),
}

type StderrTail = Arc<Mutex<VecDeque<String>>>;

impl Supervisor {
    pub(super) async fn run(mut self) {
        let mut generation = 0u64;
        let mut failed_starts = 0u32;
        let mut quick_crashes = 0u32;
        loop {
            if *self.shutdown.borrow() {
                break;
            }
            generation += 1;
            let reason = match self.run_once(generation).await {
                RunEnd::Shutdown => break,
                RunEnd::SandboxFailed(reason) => {
                    error!(upstream = %self.spec.name, %reason, "Sandbox cannot be built; the upstream is not started.");
                    self.report(
                        generation,
                        false,
                        "sandbox_failed",
                        format!("upstream `{}` not started: {reason}", self.spec.name),
                        serde_json::json!({ "reason": reason }),
                    )
                    .await;
                    self.status.send_replace(Status::Failed { reason });
                    return self.wait_for_shutdown().await;
                }
                RunEnd::StartFailed(reason) => {
                    failed_starts += 1;
                    if failed_starts > self.spec.max_restart_attempts {
                        let reason = format!("{reason} (gave up after {failed_starts} attempts)");
                        warn!(upstream = %self.spec.name, reason = ?LogSafe(&reason), "Upstream failed to start; not retrying.");
                        self.status.send_replace(Status::Failed { reason });
                        return self.wait_for_shutdown().await;
                    }
                    warn!(upstream = %self.spec.name, reason = ?LogSafe(&reason), "Upstream failed to start; retrying.");
                    reason
                }
                RunEnd::Exited { reason, ran_for } => {
                    failed_starts = 0;
                    quick_crashes = if ran_for >= HEALTHY_AFTER {
                        1
                    } else {
                        quick_crashes + 1
                    };
                    if !self.spec.restart_on_failure {
                        warn!(upstream = %self.spec.name, reason = ?LogSafe(&reason), "Upstream exited; restart_on_failure is off.");
                        self.status.send_replace(Status::Failed { reason });
                        return self.wait_for_shutdown().await;
                    }
                    warn!(upstream = %self.spec.name, reason = ?LogSafe(&reason), "Upstream exited; restarting.");
                    reason
                }
            };
            self.status.send_replace(Status::Restarting { reason });
            let delay = backoff(failed_starts.max(quick_crashes));
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shutdown.changed() => break,
            }
        }
        self.status.send_replace(Status::Stopped);
    }

    async fn wait_for_shutdown(mut self) {
        while !*self.shutdown.borrow() {
            if self.shutdown.changed().await.is_err() {
                break;
            }
        }
    }

    async fn run_once(&mut self, generation: u64) -> RunEnd {
        let name = Arc::clone(&self.spec.name);
        let launch = match self.launch_spec(generation).await {
            Ok(launch) => launch,
            Err(reason) => return RunEnd::SandboxFailed(reason),
        };
        let mut child = match process::spawn(&launch) {
            Ok(child) => child,
            Err(e) => {
                return RunEnd::StartFailed(format!("cannot start `{}`: {e}", launch.program))
            }
        };
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            process::stop(&mut child, Duration::ZERO).await;
            return RunEnd::StartFailed("child process has no stdio pipes".into());
        };
        debug!(upstream = %name, pid = ?child.id(), generation, "Upstream process started.");
        let session = Arc::new(Session::new(Arc::clone(&name), generation, stdin));
        let tail: StderrTail = Arc::default();
        tokio::spawn(drain_stderr(stderr, Arc::clone(&name), Arc::clone(&tail)));
        let mut reader = tokio::spawn(read_messages(
            stdout,
            Arc::clone(&session),
            self.index,
            self.inbound.clone(),
            self.spec.max_frame,
        ));

        match self.handshake(&session, &mut reader).await {
            Ok(()) => {}
            Err(HandshakeEnd::Shutdown) => {
                self.stop(&mut child, &session).await;
                return RunEnd::Shutdown;
            }
            Err(HandshakeEnd::Failed(reason)) => {
                self.stop(&mut child, &session).await;
                return RunEnd::StartFailed(with_tail(reason, &tail));
            }
        }
        let started = Instant::now();
        info!(upstream = %name, generation, "Upstream ready.");
        self.status
            .send_replace(Status::Ready(Arc::clone(&session)));

        tokio::select! {
            _ = &mut reader => {
                // stdout closed: the process is exiting. Stop routing new requests to it first,
                // then fail what was in flight.
                self.status.send_replace(Status::Restarting { reason: "process exited".into() });
                let detail = exit_detail(&mut child).await;
                session.fail_all(|| UpstreamError::Exited {
                    name: name.to_string(),
                    detail: detail.clone(),
                });
                session.close_stdin().await;
                process::stop(&mut child, Duration::ZERO).await;
                RunEnd::Exited { reason: with_tail(detail, &tail), ran_for: started.elapsed() }
            }
            _ = self.shutdown.changed() => {
                self.stop(&mut child, &session).await;
                reader.abort();
                RunEnd::Shutdown
            }
        }
    }

    /// The command that starts this generation: the configured one, or, when the upstream
    /// asks for a sandbox, that command wrapped in it (planned again for every start, so a
    /// credential store created since the last start is hidden too).
    async fn launch_spec(&self, generation: u64) -> Result<process::ProcessSpec, String> {
        let Some(sandbox) = &self.spec.sandbox else {
            return Ok(self.spec.process.clone());
        };
        let name = &self.spec.name;
        let (launch, plan) = super::sandbox::prepare(sandbox, &self.spec.process).await?;
        for path in &plan.missing {
            warn!(upstream = %name, path = %path.display(), "Sandbox path does not exist; not granted.");
        }
        let list = |paths: &[std::path::PathBuf]| {
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let masked: Vec<std::path::PathBuf> = plan.masks.iter().map(|m| m.path.clone()).collect();
        info!(
            upstream = %name,
            launcher = %launch.program,
            network = plan.network,
            writable = %list(&plan.writable),
            read_only = %list(&plan.read_only),
            hidden = %list(&plan.hidden),
            denied = %list(&plan.denied),
            masked = %list(&masked),
            "Starting upstream in its sandbox."
        );
        let paths = |p: &[std::path::PathBuf]| -> Vec<String> {
            p.iter().map(|p| p.display().to_string()).collect()
        };
        let details = serde_json::json!({
            "launcher": launch.program,
            "network": plan.network,
            "writable": paths(&plan.writable),
            "read_only": paths(&plan.read_only),
            "hidden": paths(&plan.hidden),
            "denied": paths(&plan.denied),
            "masked": paths(&masked),
            "missing": paths(&plan.missing),
        });
        let message = format!(
            "upstream `{name}` started in a sandbox (network {})",
            if plan.network { "allowed" } else { "denied" }
        );
        self.report(generation, true, "sandbox_applied", message, details)
            .await;
        Ok(launch)
    }

    /// Hands a supervisor decision to the gateway for the audit trail.
    async fn report(
        &self,
        generation: u64,
        ok: bool,
        action: &'static str,
        message: String,
        details: serde_json::Value,
    ) {
        let _ = self
            .inbound
            .send(Inbound {
                upstream: self.index,
                generation,
                kind: InboundKind::System {
                    ok,
                    action,
                    message,
                    details,
                },
            })
            .await;
    }

    async fn handshake(
        &mut self,
        session: &Arc<Session>,
        reader: &mut JoinHandle<()>,
    ) -> Result<(), HandshakeEnd> {
        let params = loop {
            if let Some(params) = self.init_params.borrow_and_update().clone() {
                break params;
            }
            tokio::select! {
                changed = self.init_params.changed() => {
                    if changed.is_err() { return Err(HandshakeEnd::Shutdown); }
                }
                _ = &mut *reader => {
                    return Err(HandshakeEnd::Failed("process exited before initialization".into()));
                }
                _ = self.shutdown.changed() => return Err(HandshakeEnd::Shutdown),
            }
        };
        let timeout = self.spec.connection_timeout;
        let exchange = async {
            let mut pending = session
                .request("initialize", Some(&params))
                .await
                .map_err(|e| e.to_string())?;
            match pending.response().await.map_err(|e| e.to_string())? {
                Outcome::Result(raw) => serde_json::from_str::<serde_json::Value>(raw.get())
                    .map_err(|e| format!("unreadable initialize result: {e}")),
                Outcome::Error(err) => Err(format!("initialize was rejected: {}", err.get())),
            }
        };
        let result = tokio::select! {
            r = tokio::time::timeout(timeout, exchange) => r,
            _ = &mut *reader => {
                return Err(HandshakeEnd::Failed("process exited during initialization".into()));
            }
            _ = self.shutdown.changed() => return Err(HandshakeEnd::Shutdown),
        };
        let init = match result {
            Ok(Ok(init)) => init,
            Ok(Err(reason)) => return Err(HandshakeEnd::Failed(reason)),
            Err(_) => {
                return Err(HandshakeEnd::Failed(format!(
                    "no initialize answer within {:.1} s (proxy.timeouts.connection_timeout)",
                    timeout.as_secs_f64()
                )))
            }
        };
        session.set_init_result(init);
        session
            .notify("notifications/initialized", None)
            .await
            .map_err(|e| HandshakeEnd::Failed(e.to_string()))
    }

    async fn stop(&self, child: &mut Child, session: &Session) {
        // Closing stdin is the MCP stdio shutdown signal.
        session.close_stdin().await;
        session.fail_all(|| UpstreamError::Unavailable {
            name: self.spec.name.to_string(),
            reason: "Gatekit is shutting down".into(),
        });
        process::stop(child, Duration::from_secs(1)).await;
    }
}

fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    (BACKOFF_BASE * factor).min(BACKOFF_MAX)
}

/// Logs the server's last stderr lines next to `reason` and returns `reason` alone: stderr
/// may hold secrets (a token in a stack trace), so it stays in Gatekit's log and never reaches
/// the client or the audit trail.
fn with_tail(reason: String, tail: &StderrTail) -> String {
    let lines = tail.lock().unwrap_or_else(|e| e.into_inner());
    // One log line per stderr line, each escaped and bounded on its own, so the last lines
    // (usually the interesting ones) are never cut away by a long first line.
    for (i, line) in lines.iter().enumerate() {
        warn!(reason = ?LogSafe(&reason), line = i + 1, of = lines.len(), stderr = ?LogSafe(line), "Upstream stderr before the failure.");
    }
    reason
}

async fn exit_detail(child: &mut Child) -> String {
    match tokio::time::timeout(Duration::from_secs(1), child.wait()).await {
        Ok(Ok(status)) => status.to_string(),
        Ok(Err(e)) => format!("wait failed: {e}"),
        Err(_) => "closed its stdout".into(),
    }
}

async fn drain_stderr(stderr: ChildStderr, name: Arc<str>, tail: StderrTail) {
    let mut frames = FrameReader::new(BufReader::new(stderr), 16 * 1024);
    while let Ok(Some(frame)) = frames.next_frame().await {
        let text = match frame {
            Frame::Line(line) => String::from_utf8_lossy(&line).into_owned(),
            Frame::Oversized { len, .. } => format!("<{len} bytes of stderr>"),
        };
        debug!(upstream = %name, stderr = ?LogSafe(&text), "Upstream stderr.");
        let mut lines = tail.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == STDERR_TAIL {
            lines.pop_front();
        }
        lines.push_back(text);
    }
}

async fn read_messages(
    stdout: ChildStdout,
    session: Arc<Session>,
    index: usize,
    inbound: mpsc::Sender<Inbound>,
    max_frame: usize,
) {
    let mut frames = FrameReader::new(BufReader::with_capacity(64 * 1024, stdout), max_frame);
    loop {
        match frames.next_frame().await {
            Ok(Some(Frame::Line(line))) => handle_line(&line, &session, index, &inbound).await,
            Ok(Some(Frame::Oversized { len, prefix })) => {
                let err = UpstreamError::Oversized {
                    name: session.name.to_string(),
                    len,
                    max: max_frame,
                };
                match top_level_id(&prefix) {
                    Some(RequestId::Number(id)) if session.is_pending(id) => {
                        session.complete(id, Err(err));
                    }
                    _ => {
                        warn!(upstream = %session.name, len, "Upstream sent an oversized message; dropped.")
                    }
                }
            }
            Ok(None) => return,
            Err(e) => {
                warn!(upstream = %session.name, error = ?LogSafe(&e), "Reading from upstream failed.");
                return;
            }
        }
    }
}

async fn handle_line(
    line: &[u8],
    session: &Arc<Session>,
    index: usize,
    inbound: &mpsc::Sender<Inbound>,
) {
    let (parsed, replaced) = jsonrpc::parse_lossy(line);
    if replaced {
        warn!(upstream = %session.name, "Upstream sent invalid UTF-8; replaced with U+FFFD.");
    }
    let kind = match parsed {
        Ok(Message::Response {
            id: Some(RequestId::Number(id)),
            outcome,
        }) => {
            if !session.complete(id, Ok(outcome)) {
                debug!(upstream = %session.name, id, "Response to a request nobody waits for (cancelled or timed out).");
            }
            return;
        }
        Ok(Message::Response { id, .. }) => {
            warn!(upstream = %session.name, id = ?id.as_ref().map(LogSafe), "Upstream answered a request Gatekit never sent; ignored.");
            return;
        }
        Ok(Message::Request { id, method, .. }) if method == "ping" => {
            // Liveness of the link to Gatekit: answered here, not by the client.
            let _ = session
                .send_line(jsonrpc::encode_result(&id, &serde_json::json!({})))
                .await;
            return;
        }
        Ok(Message::Request { id, method, params }) => InboundKind::Request { id, method, params },
        Ok(Message::Notification { method, params }) => {
            InboundKind::Notification { method, params }
        }
        Err(e) => {
            warn!(upstream = %session.name, error = ?LogSafe(&e), "Upstream sent an invalid message; ignored.");
            // Fail the request it answers, if its id can be read, rather than let it wait
            // for the timeout.
            let id = match &e {
                ParseError::Invalid { id, .. } => id.clone(),
                ParseError::Json(_) => top_level_id(line),
            };
            if let Some(RequestId::Number(id)) = id {
                let reason = e.to_string();
                let name = session.name.to_string();
                session.complete(id, Err(UpstreamError::InvalidResponse { name, reason }));
            }
            return;
        }
    };
    let _ = inbound
        .send(Inbound {
            upstream: index,
            generation: session.generation,
            kind,
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(5), Duration::from_millis(1600));
        assert_eq!(backoff(40), Duration::from_secs(30));
    }
}
