//! One running, connected upstream server: its outbound line queue and its pending requests.
//!
//! The gateway numbers the requests it sends to an upstream itself (1, 2, 3, ... per session),
//! so ids from different clients or upstreams can never collide, and a late response to a
//! cancelled or timed-out request finds no waiter and is dropped.
//!
//! Invariant: every waiter registered here is completed exactly once: by the response, by
//! [`Session::fail_all`] when the process goes away, or by dropping its [`PendingRequest`]
//! (which removes the entry).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::process::ChildStdin;
use tokio::sync::oneshot;

use super::UpstreamError;
use crate::jsonrpc::{self, Outcome, RequestId};

type Waiter = oneshot::Sender<Result<Outcome, UpstreamError>>;

/// A connected upstream. Cheap to share; requests may be sent from many tasks at once.
#[derive(Debug)]
pub struct Session {
    /// Upstream name, for errors.
    pub name: Arc<str>,
    /// Increments on every restart, so stale routes can be detected.
    pub generation: u64,
    /// The server's stdin. Writers take the lock, write one whole line and flush, so lines
    /// never interleave; writing inline (rather than through a writer task) saves a task
    /// wake-up per message. `None` once closed.
    stdin: tokio::sync::Mutex<Option<BufWriter<ChildStdin>>>,
    pending: Mutex<HashMap<i64, Waiter>>,
    next_id: AtomicI64,
    /// The upstream's `initialize` result, once the handshake completed.
    init: std::sync::OnceLock<serde_json::Value>,
}

impl Session {
    pub(crate) fn new(name: Arc<str>, generation: u64, stdin: ChildStdin) -> Self {
        Session {
            name,
            generation,
            stdin: tokio::sync::Mutex::new(Some(BufWriter::with_capacity(64 * 1024, stdin))),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(1),
            init: std::sync::OnceLock::new(),
        }
    }

    /// The upstream's `initialize` result (capabilities, serverInfo, instructions).
    pub fn init_result(&self) -> Option<&serde_json::Value> {
        self.init.get()
    }

    pub(crate) fn set_init_result(&self, value: serde_json::Value) {
        let _ = self.init.set(value);
    }

    /// Whether the upstream advertised `capability` (e.g. `tools`) in `initialize`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.init
            .get()
            .and_then(|v| v.get("capabilities"))
            .and_then(|c| c.get(capability))
            .is_some_and(|c| !c.is_null())
    }

    /// Sends a request and returns a handle to await its response.
    pub async fn request(
        self: &Arc<Self>,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<PendingRequest, UpstreamError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock_pending().insert(id, tx);
        let pending = PendingRequest {
            session: Arc::clone(self),
            id,
            rx,
        };
        let line = jsonrpc::encode_request(&RequestId::Number(id), method, params);
        self.send_line(line).await?;
        Ok(pending)
    }

    /// Sends a notification.
    pub async fn notify(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<(), UpstreamError> {
        self.send_line(jsonrpc::encode_notification(method, params))
            .await
    }

    /// Sends a prepared line (a response to a server-initiated request, for instance).
    pub async fn send_line(&self, line: Vec<u8>) -> Result<(), UpstreamError> {
        let mut stdin = self.stdin.lock().await;
        let written = match stdin.as_mut() {
            Some(w) => w.write_all(&line).await.and(w.flush().await).is_ok(),
            None => false,
        };
        if written {
            Ok(())
        } else {
            // A failed write means the process is gone or going; stop writing to it.
            stdin.take();
            Err(UpstreamError::Unavailable {
                name: self.name.to_string(),
                reason: "its process is not running".into(),
            })
        }
    }

    /// Closes the server's stdin: the MCP stdio signal to shut down.
    pub(crate) async fn close_stdin(&self) {
        self.stdin.lock().await.take();
    }

    /// Completes the waiter for `id` with `result`; false when nobody waits for it any more.
    pub(crate) fn complete(&self, id: i64, result: Result<Outcome, UpstreamError>) -> bool {
        match self.lock_pending().remove(&id) {
            Some(tx) => tx.send(result).is_ok(),
            None => false,
        }
    }

    /// Whether a request with this id is still waiting.
    pub(crate) fn is_pending(&self, id: i64) -> bool {
        self.lock_pending().contains_key(&id)
    }

    /// Fails every waiting request; called when the process exits.
    pub(crate) fn fail_all(&self, make_error: impl Fn() -> UpstreamError) {
        let waiters: Vec<Waiter> = self.lock_pending().drain().map(|(_, tx)| tx).collect();
        for tx in waiters {
            let _ = tx.send(Err(make_error()));
        }
    }

    /// Number of requests waiting for an answer.
    pub fn pending_count(&self) -> usize {
        self.lock_pending().len()
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Waiter>> {
        // A poisoned lock only means another task panicked while holding it; the map itself
        // is still consistent (all operations are single inserts/removes).
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A request sent upstream and not yet answered. Dropping it forgets the request.
#[derive(Debug)]
pub struct PendingRequest {
    session: Arc<Session>,
    id: i64,
    rx: oneshot::Receiver<Result<Outcome, UpstreamError>>,
}

impl PendingRequest {
    /// The id the gateway gave this request on the upstream side.
    pub fn upstream_id(&self) -> i64 {
        self.id
    }

    /// The session it was sent on.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Waits for the response.
    pub async fn response(&mut self) -> Result<Outcome, UpstreamError> {
        match (&mut self.rx).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Unavailable {
                name: self.session.name.to_string(),
                reason: "the connection closed".into(),
            }),
        }
    }
}

impl Drop for PendingRequest {
    fn drop(&mut self) {
        self.session.lock_pending().remove(&self.id);
    }
}
