//! Upstream MCP servers: one supervised child process per configured upstream.
//!
//! Each upstream is an actor (agentgateway's stdio upstream has the same shape): a supervisor
//! task starts the process, performs the MCP `initialize` handshake with the client's
//! parameters, routes the server's responses to the waiting requests, hands server-initiated
//! requests and notifications to the gateway, and restarts the process with backoff when it
//! exits. The rest of the gateway sees only [`Upstream::ready_session`] and [`Status`].
//!
//! Invariants:
//! * requests in flight when a process exits are failed at once with [`UpstreamError::Exited`];
//! * a new process is only used after it completed `initialize` again;
//! * after [`Upstream::shutdown`] no process is left running;
//! * an upstream with a [`SandboxSpec`] is only ever started through [`sandbox::prepare`]; when
//!   the sandbox cannot be built, the upstream is failed, not started without it.

pub mod process;
pub mod sandbox;
pub mod session;
mod supervisor;

use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch};

pub use process::ProcessSpec;
pub use sandbox::SandboxSpec;
pub use session::{PendingRequest, Session};

use crate::jsonrpc::{codes, ErrorObject, RequestId};

/// Settings for one upstream, derived from the configuration. Equal specs describe the same
/// server (a reload keeps it running).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSpec {
    /// Configured name (namespace prefix).
    pub name: Arc<str>,
    /// How to start it.
    pub process: ProcessSpec,
    /// The sandbox it must run in; when set, it is never started without it.
    pub sandbox: Option<SandboxSpec>,
    /// Restart after an unexpected exit.
    pub restart_on_failure: bool,
    /// Consecutive failed starts before giving up.
    pub max_restart_attempts: u32,
    /// Time allowed for start-up and `initialize`.
    pub connection_timeout: Duration,
    /// Largest message accepted from the server.
    pub max_frame: usize,
}

/// Where an upstream is in its life.
#[derive(Debug, Clone)]
pub enum Status {
    /// Started, waiting for the client's `initialize` or for its own handshake.
    Starting,
    /// Initialised and serving.
    Ready(Arc<Session>),
    /// Exited; a restart is scheduled.
    Restarting {
        /// Why it went down.
        reason: String,
    },
    /// Will not be started again.
    Failed {
        /// Why.
        reason: String,
    },
    /// Shut down by Gatekit.
    Stopped,
}

/// A message the server sent on its own initiative, for the gateway to forward.
#[derive(Debug)]
pub struct Inbound {
    /// Index of the upstream in configuration order.
    pub upstream: usize,
    /// Session generation it arrived on.
    pub generation: u64,
    /// The message.
    pub kind: InboundKind,
}

/// Server-initiated traffic.
#[derive(Debug)]
pub enum InboundKind {
    /// A request to the client (`sampling/createMessage`, `elicitation/create`, `roots/list`).
    Request {
        /// The server's id.
        id: RequestId,
        /// Method.
        method: String,
        /// Raw params.
        params: Option<Box<RawValue>>,
    },
    /// A notification (`notifications/progress`, `notifications/message`, list changes).
    Notification {
        /// Method.
        method: String,
        /// Raw params.
        params: Option<Box<RawValue>>,
    },
    /// A decision of the supervisor itself, for the audit trail (never sent to the client).
    System {
        /// Applied (`false`: the server was not started).
        ok: bool,
        /// `sandbox_applied` or `sandbox_failed`.
        action: &'static str,
        /// One sentence.
        message: String,
        /// Structured details.
        details: serde_json::Value,
    },
}

/// Why a request to an upstream did not get the server's answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// Not running or not initialised.
    #[error("upstream `{name}` is unavailable: {reason}")]
    Unavailable {
        /// Upstream name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The process exited while the request was in flight.
    #[error(
        "upstream `{name}` exited while handling the request ({detail}); it is being restarted"
    )]
    Exited {
        /// Upstream name.
        name: String,
        /// Exit status or reason.
        detail: String,
    },
    /// No answer within the request timeout; the request was cancelled upstream.
    #[error("upstream `{name}` did not answer within {secs:.1} s; the request was cancelled")]
    Timeout {
        /// Upstream name.
        name: String,
        /// Timeout in seconds.
        secs: f64,
    },
    /// The response was larger than `proxy.max_message_size`.
    #[error("upstream `{name}` sent a response of {len} bytes, over the {max}-byte limit (proxy.max_message_size)")]
    Oversized {
        /// Upstream name.
        name: String,
        /// Response size.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The response could not be parsed.
    #[error("upstream `{name}` sent an invalid response: {reason}")]
    InvalidResponse {
        /// Upstream name.
        name: String,
        /// Why.
        reason: String,
    },
}

impl UpstreamError {
    /// The JSON-RPC error the client receives (Python Gatekit used -32004 for all of these).
    pub fn to_error_object(&self) -> ErrorObject {
        let kind = match self {
            UpstreamError::Unavailable { .. } => "unavailable",
            UpstreamError::Exited { .. } => "exited",
            UpstreamError::Timeout { .. } => "timeout",
            UpstreamError::Oversized { .. } => "oversized_response",
            UpstreamError::InvalidResponse { .. } => "invalid_response",
        };
        ErrorObject::new(codes::UPSTREAM_UNAVAILABLE, self.to_string())
            .with_data(serde_json::json!({ "error_type": kind }))
    }
}

/// Handle to one supervised upstream.
#[derive(Debug)]
pub struct Upstream {
    /// Position in configuration order.
    pub index: usize,
    /// Settings.
    pub spec: UpstreamSpec,
    status: watch::Receiver<Status>,
    init_params: watch::Sender<Option<Arc<RawValue>>>,
    shutdown: watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Upstream {
    /// Starts the supervisor: the process is spawned at once, and initialised as soon as
    /// [`Upstream::initialize_with`] provides the client's parameters.
    pub fn start(index: usize, spec: UpstreamSpec, inbound: mpsc::Sender<Inbound>) -> Arc<Self> {
        let (status_tx, status_rx) = watch::channel(Status::Starting);
        let (init_tx, init_rx) = watch::channel(None);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let sup = supervisor::Supervisor {
            index,
            spec: spec.clone(),
            status: status_tx,
            init_params: init_rx,
            shutdown: shutdown_rx,
            inbound,
        };
        let task = tokio::spawn(sup.run());
        Arc::new(Upstream {
            index,
            spec,
            status: status_rx,
            init_params: init_tx,
            shutdown: shutdown_tx,
            task: std::sync::Mutex::new(Some(task)),
        })
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Current status.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Provides the `initialize` params (the client's, with the negotiated version); the
    /// supervisor uses them now and after every restart.
    pub fn initialize_with(&self, params: Arc<RawValue>) {
        self.init_params.send_replace(Some(params));
    }

    /// Waits up to `timeout` for the upstream to be ready. Fails at once if it has failed
    /// for good.
    pub async fn ready_session(&self, timeout: Duration) -> Result<Arc<Session>, UpstreamError> {
        let mut rx = self.status.clone();
        let wait = rx.wait_for(|s| !matches!(s, Status::Starting | Status::Restarting { .. }));
        let status = match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(status)) => status.clone(),
            Ok(Err(_)) => Status::Stopped,
            Err(_) => {
                let reason = match &*self.status.borrow() {
                    Status::Restarting { reason } => format!("still restarting after {reason}"),
                    _ => format!("not ready after {:.1} s", timeout.as_secs_f64()),
                };
                return Err(self.unavailable(reason));
            }
        };
        match status {
            Status::Ready(session) => Ok(session),
            Status::Failed { reason } => Err(self.unavailable(reason)),
            Status::Stopped => Err(self.unavailable("Gatekit is shutting down".into())),
            Status::Starting | Status::Restarting { .. } => {
                Err(self.unavailable("not ready".into()))
            }
        }
    }

    fn unavailable(&self, reason: String) -> UpstreamError {
        UpstreamError::Unavailable {
            name: self.spec.name.to_string(),
            reason,
        }
    }

    /// Stops the server (close stdin, SIGTERM, SIGKILL) and waits for the supervisor to end.
    pub async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
