//! The router between one MCP client and its upstream servers.
//!
//! Every client request runs in its own task, so a slow tool never blocks another call, a
//! `ping`, or a list. Requests to an upstream carry ids the gateway assigns (see
//! [`crate::upstream::Session`]); the client's id is restored on the response. The gateway
//! keeps three routing tables:
//!
//! * `inflight`: client request id → the task handling it and, once forwarded, the upstream
//!   request it became (for `notifications/cancelled`);
//! * `server_requests`: id Gatekit gave a server-to-client request → the upstream and its own
//!   id (so the client's answer goes back to the right server, and only to the process
//!   generation that asked);
//! * resource routes (see [`routing`]): URI → upstream.
//!
//! Invariants: each client request gets exactly one response unless the client cancelled it
//! (MCP "Cancellation": the receiver should not answer a cancelled request); no upstream is
//! sent a request before its `initialize` completed; nothing is written to stdout except
//! protocol lines.

mod intercept;
mod lists;
mod rejections;
mod reload;
mod routing;
mod server_requests;
mod topology;

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use gatekit_core::LogSafe;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use tokio::io::AsyncBufRead;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::audit::SessionInfo;
use crate::audit_fanout::Fanout;
use crate::client::ClientSender;
use crate::framing::{top_level_id, Frame, FrameReader};
use crate::handshake;
use crate::hooks::Hooks;
use crate::jsonrpc::{self, codes, ErrorObject, Message, Outcome, RequestId};
use crate::upstream::{Inbound, Session, Status, Upstream, UpstreamError, UpstreamSpec};

pub use crate::list_kind::ListKind;
pub use reload::{ReloadEvent, ReloadMode, AUTO_CLIENTS};

/// Gateway settings derived from the configuration.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Upstreams, in configuration order (enabled ones only).
    pub upstreams: Vec<UpstreamSpec>,
    /// Time allowed for one upstream request.
    pub request_timeout: Duration,
    /// Time allowed for upstream start-up and `initialize`.
    pub connection_timeout: Duration,
    /// Largest message accepted from the client.
    pub max_frame: usize,
    /// After the client closes stdin, how long requests still in flight may take to finish.
    pub drain_timeout: Duration,
    /// Plugin hooks; `None` runs a plain proxy.
    pub hooks: Option<Arc<dyn Hooks>>,
    /// The audit trail; `None` records nothing.
    pub audit: Option<Arc<Fanout>>,
}

/// Why the gateway stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The client closed stdin.
    ClientClosed,
    /// SIGTERM, SIGINT or SIGHUP.
    Signal,
}

/// What a handler produces for the client.
enum Reply {
    /// The upstream's outcome, passed through untouched.
    Upstream(Outcome),
    /// A result built by Gatekit.
    Value(Value),
}

type Handled = Result<Reply, ErrorObject>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    AwaitingInitialize,
    Initializing,
    Ready,
}

struct Inflight {
    cancel: Option<oneshot::Sender<()>>,
    route: Option<(Arc<Session>, i64)>,
    /// The forwarding path recorded this request; an error answer needs no record of its own.
    audited: bool,
}

struct ServerRequest {
    upstream: usize,
    generation: u64,
    id: RequestId,
}

/// One client's gateway.
pub struct Gateway {
    topology: RwLock<Arc<topology::Topology>>,
    settings: GatewaySettings,
    client: RwLock<Option<ClientSender>>,
    phase: Mutex<Lifecycle>,
    inflight: Mutex<HashMap<RequestId, Inflight>>,
    server_requests: Mutex<HashMap<i64, ServerRequest>>,
    next_server_request: AtomicI64,
    resources: RwLock<routing::ResourceRoutes>,
    session: RwLock<Arc<SessionInfo>>,
    /// Where upstreams started by a reload send their messages.
    inbound: mpsc::Sender<Inbound>,
    /// The client's `initialize` params, for upstreams started by a reload.
    init_params: Mutex<Option<Arc<RawValue>>>,
    /// Reloads are applied: `listChanged` is advertised.
    reloadable: bool,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("upstreams", &self.topo().by_name)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The tables stay consistent across a panic in another task (single inserts/removes).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the gateway until the client closes `input` or a termination signal arrives; every
/// upstream process has been stopped when this returns.
pub async fn run(
    settings: GatewaySettings,
    input: impl AsyncBufRead + Unpin,
    client: ClientSender,
) -> StopReason {
    run_reloadable(settings, input, client, None).await
}

/// [`run`], applying the configuration changes that arrive on `reloads` (see [`reload`]).
pub async fn run_reloadable(
    settings: GatewaySettings,
    input: impl AsyncBufRead + Unpin,
    client: ClientSender,
    reloads: Option<(mpsc::Receiver<ReloadEvent>, ReloadMode)>,
) -> StopReason {
    let (inbound_tx, mut inbound_rx) = mpsc::channel::<Inbound>(1024);
    let upstreams: Vec<Arc<Upstream>> = settings
        .upstreams
        .iter()
        .enumerate()
        .map(|(i, spec)| Upstream::start(i, spec.clone(), inbound_tx.clone()))
        .collect();
    let topology =
        topology::Topology::new(upstreams, settings.hooks.clone(), settings.audit.clone());
    let gw = Arc::new(Gateway {
        topology: RwLock::new(Arc::new(topology)),
        settings,
        client: RwLock::new(Some(client)),
        phase: Mutex::new(Lifecycle::AwaitingInitialize),
        inflight: Mutex::new(HashMap::new()),
        server_requests: Mutex::new(HashMap::new()),
        next_server_request: AtomicI64::new(1),
        resources: RwLock::new(routing::ResourceRoutes::default()),
        session: RwLock::new(Arc::new(SessionInfo {
            session_id: new_session_id(),
            ..SessionInfo::default()
        })),
        inbound: inbound_tx,
        init_params: Mutex::new(None),
        reloadable: reloads.is_some(),
    });
    let reloader = reloads.map(|(mut rx, mode)| {
        let gw = Arc::clone(&gw);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                gw.on_reload(event, mode).await;
            }
        })
    });

    let forwarder = tokio::spawn({
        let gw = Arc::clone(&gw);
        async move {
            while let Some(msg) = inbound_rx.recv().await {
                gw.on_upstream_message(msg).await;
            }
        }
    });

    let anchor = tokio::spawn(timer_anchor(gw.settings.request_timeout));
    let reason = gw.read_client(input).await;
    anchor.abort();
    info!(?reason, "Gateway stopping.");
    if reason == StopReason::ClientClosed {
        gw.drain().await;
    }
    let stops: Vec<_> = gw
        .topo()
        .active()
        .map(|u| {
            let u = Arc::clone(u);
            tokio::spawn(async move { u.shutdown().await })
        })
        .collect();
    for stop in stops {
        let _ = stop.await;
    }
    forwarder.abort();
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    // Dropping the last sender lets the stdout writer flush and finish.
    if let Ok(mut client) = gw.client.write() {
        client.take();
    }
    reason
}

/// Keeps a timer armed that fires sooner than any request deadline.
///
/// Every forwarded request arms a timeout. When tokio's timer wheel gets a deadline earlier
/// than the one the driver last parked with (or any deadline when none was armed), it unparks
/// the driver: on a current-thread runtime that is an eventfd write and one more
/// `epoll_wait` per request (seen with `strace -c`: 3 writes and 3 `epoll_wait`s per call
/// instead of 2 and 2). With this tick armed, request deadlines are always later than the
/// driver's next wake and arming them costs nothing extra. Price: one wake-up per tick while
/// idle.
async fn timer_anchor(request_timeout: Duration) {
    let period = (request_timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

impl Gateway {
    async fn read_client(self: &Arc<Self>, input: impl AsyncBufRead + Unpin) -> StopReason {
        let mut frames = FrameReader::new(input, self.settings.max_frame);
        let mut signals = Signals::new();
        loop {
            tokio::select! {
                frame = frames.next_frame() => match frame {
                    Ok(Some(frame)) => self.on_client_frame(frame).await,
                    Ok(None) => return StopReason::ClientClosed,
                    Err(e) => {
                        warn!(error = ?LogSafe(&e), "Reading from the client failed.");
                        return StopReason::ClientClosed;
                    }
                },
                _ = signals.recv() => return StopReason::Signal,
            }
        }
    }

    /// Lets requests still in flight finish, up to the drain timeout.
    async fn drain(&self) {
        let deadline = Instant::now() + self.settings.drain_timeout;
        while !lock(&self.inflight).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn send_to_client(&self, line: Vec<u8>) {
        let tx = self.client.read().ok().and_then(|c| c.clone());
        if let Some(tx) = tx {
            tx.send(line).await;
        }
    }

    async fn on_client_frame(self: &Arc<Self>, frame: Frame) {
        let line = match frame {
            Frame::Line(line) => line,
            Frame::Oversized { len, prefix } => {
                let id = top_level_id(&prefix);
                warn!(len, id = ?id.as_ref().map(LogSafe), "Client sent an oversized message; rejected.");
                let message = format!(
                    "message of {len} bytes exceeds the {}-byte limit (proxy.max_message_size)",
                    self.settings.max_frame
                );
                // An oversized answer to a server-initiated request must reach that server.
                let server_request = match &id {
                    Some(RequestId::Number(n)) => lock(&self.server_requests).remove(n),
                    _ => None,
                };
                if let Some(sr) = server_request {
                    let err = ErrorObject::new(codes::INVALID_REQUEST, message);
                    self.answer_upstream(sr, Outcome::Error(jsonrpc::to_raw(&err)))
                        .await;
                    return;
                }
                let err = ErrorObject::new(codes::INVALID_REQUEST, message);
                self.audit_rejection(id.as_ref(), rejections::OVERSIZED, &err);
                self.send_to_client(jsonrpc::encode_error(id.as_ref(), &err))
                    .await;
                return;
            }
        };
        match jsonrpc::parse(&line) {
            Ok(Message::Request { id, method, params }) => {
                self.on_client_request(id, method, params).await
            }
            Ok(Message::Notification { method, params }) => {
                self.on_client_notification(&method, params).await
            }
            Ok(Message::Response { id, outcome }) => self.on_client_response(id, outcome).await,
            Err(e) => {
                warn!(error = ?LogSafe(&e), "Client sent an invalid message.");
                let err = ErrorObject::new(e.code(), e.to_string());
                self.audit_rejection(e.id(), rejections::UNPARSED, &err);
                self.send_to_client(jsonrpc::encode_error(e.id(), &err))
                    .await;
            }
        }
    }

    async fn on_client_request(
        self: &Arc<Self>,
        id: RequestId,
        method: String,
        params: Option<Box<RawValue>>,
    ) {
        let (cancel_tx, mut cancel_rx) = oneshot::channel();
        let duplicate = {
            let mut inflight = lock(&self.inflight);
            let duplicate = inflight.contains_key(&id);
            if !duplicate {
                // `initialize` cannot be cancelled (MCP "Cancellation"): dropping it halfway
                // would leave the session neither initialized nor initializable.
                let entry = Inflight {
                    cancel: (method != "initialize").then_some(cancel_tx),
                    route: None,
                    audited: false,
                };
                inflight.insert(id.clone(), entry);
            }
            duplicate
        };
        if duplicate {
            let err = ErrorObject::new(
                codes::INVALID_REQUEST,
                format!("request id {id} is already in use by a request in flight"),
            );
            self.audit_rejection(Some(&id), &method, &err);
            self.send_to_client(jsonrpc::encode_error(Some(&id), &err))
                .await;
            return;
        }
        let gw = Arc::clone(self);
        tokio::spawn(async move {
            // The work runs in its own task: a panic there (a bug, or a plugin meeting input it
            // did not expect) becomes an error answer instead of a request that never ends.
            let work = tokio::spawn({
                let gw = Arc::clone(&gw);
                let (id, method) = (id.clone(), method.clone());
                async move { gw.dispatch(&id, &method, params).await }
            });
            let abort = work.abort_handle();
            let reply = tokio::select! {
                Ok(()) = &mut cancel_rx => {
                    abort.abort();
                    None
                }
                joined = work => Some(joined.unwrap_or_else(|e| {
                    tracing::error!(id = ?LogSafe(&id), method = ?LogSafe(&method), error = ?LogSafe(&e), "Request handler failed.");
                    Err(ErrorObject::new(codes::INTERNAL_ERROR, "internal error while handling the request"))
                })),
            };
            let entry = lock(&gw.inflight).remove(&id);
            let line = match reply {
                None => {
                    debug!(id = ?LogSafe(&id), method = ?LogSafe(&method), "Request cancelled by the client; no response sent.");
                    // Close the audit record of the call: it ended, without an answer.
                    let upstream = entry.and_then(|e| e.route).map(|(s, _)| s.name.clone());
                    gw.audit_cancelled(&id, &method, upstream.as_deref());
                    return;
                }
                Some(Ok(Reply::Upstream(outcome))) => jsonrpc::encode_response(&id, &outcome),
                Some(Ok(Reply::Value(value))) => jsonrpc::encode_result(&id, &value),
                Some(Err(err)) => {
                    if !entry.as_ref().is_some_and(|e| e.audited) {
                        gw.audit_rejection(Some(&id), &method, &err);
                    }
                    jsonrpc::encode_error(Some(&id), &err)
                }
            };
            gw.send_to_client(line).await;
        });
    }

    async fn dispatch(
        self: &Arc<Self>,
        id: &RequestId,
        method: &str,
        params: Option<Box<RawValue>>,
    ) -> Handled {
        match method {
            "initialize" => return self.initialize(params).await,
            "ping" => return Ok(Reply::Value(json!({}))),
            _ => {}
        }
        if *lock(&self.phase) != Lifecycle::Ready {
            return Err(ErrorObject::new(
                codes::INVALID_REQUEST,
                "the session is not initialized; send `initialize` first",
            ));
        }
        match method {
            "tools/list" => self.list(id, ListKind::Tools, params).await,
            "prompts/list" => self.list(id, ListKind::Prompts, params).await,
            "resources/list" => self.list(id, ListKind::Resources, params).await,
            "resources/templates/list" => self.list(id, ListKind::ResourceTemplates, params).await,
            "tools/call" | "prompts/get" => self.call_by_name(id, method, params).await,
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                self.call_by_uri(id, method, params).await
            }
            "completion/complete" => self.complete(id, params).await,
            "logging/setLevel" => self.set_level(params).await,
            _ => Err(ErrorObject::new(
                codes::METHOD_NOT_FOUND,
                format!("method `{method}` is not supported by Gatekit"),
            )),
        }
    }

    async fn initialize(self: &Arc<Self>, params: Option<Box<RawValue>>) -> Handled {
        {
            let mut phase = lock(&self.phase);
            if *phase != Lifecycle::AwaitingInitialize {
                return Err(ErrorObject::new(
                    codes::INVALID_REQUEST,
                    "the session is already initialized",
                ));
            }
            *phase = Lifecycle::Initializing;
        }
        let result = self.initialize_upstreams(params).await;
        *lock(&self.phase) = if result.is_ok() {
            Lifecycle::Ready
        } else {
            Lifecycle::AwaitingInitialize
        };
        result
    }

    async fn initialize_upstreams(self: &Arc<Self>, params: Option<Box<RawValue>>) -> Handled {
        let mut params = params_object(params.as_deref())?;
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let version = handshake::negotiate(requested);
        if requested != Some(version) {
            info!(
                requested = ?requested.map(LogSafe),
                version,
                "Client asked for a protocol version Gatekit does not speak; offering its latest."
            );
        }
        params.insert("protocolVersion".into(), Value::from(version));
        if let Ok(mut session) = self.session.write() {
            let client = params.get("clientInfo");
            let text = |key: &str| {
                client
                    .and_then(|c| c.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            *session = Arc::new(SessionInfo {
                session_id: session.session_id.clone(),
                client_name: text("name"),
                client_version: text("version"),
                protocol_version: Some(version.to_string()),
            });
        }
        let raw: Arc<RawValue> = Arc::from(jsonrpc::to_raw(&params));
        *lock(&self.init_params) = Some(Arc::clone(&raw));
        let topo = self.topo();
        for up in topo.active() {
            up.initialize_with(Arc::clone(&raw));
        }
        let timeout = self.settings.connection_timeout;
        let waits: Vec<_> = topo
            .active()
            .map(|up| {
                let up = Arc::clone(up);
                tokio::spawn(async move { up.ready_session(timeout).await })
            })
            .collect();
        let mut ready = Vec::new();
        let mut failed = Vec::new();
        for (up, wait) in topo.active().zip(waits) {
            match wait.await {
                Ok(Ok(session)) => ready.push((up.name().to_string(), session)),
                Ok(Err(e)) => failed.push(e.to_string()),
                Err(e) => failed.push(format!("upstream `{}`: {e}", up.name())),
            }
        }
        for reason in &failed {
            warn!(reason = ?LogSafe(&reason), "Upstream not available at initialization.");
        }
        if ready.is_empty() {
            return Err(ErrorObject::new(
                codes::UPSTREAM_UNAVAILABLE,
                format!(
                    "no upstream server could be initialized: {}",
                    failed.join("; ")
                ),
            )
            .with_data(json!({ "error_type": "upstream_unavailable", "details": failed })));
        }
        let mut caps = handshake::merge_capabilities(
            ready
                .iter()
                .filter_map(|(_, s)| s.init_result().and_then(|i| i.get("capabilities"))),
        );
        if self.reloadable {
            // A reload changes the lists: clients learn it from `list_changed`.
            for list in ["tools", "prompts", "resources"] {
                caps[list]["listChanged"] = Value::Bool(true);
            }
        }
        let instructions = handshake::merge_instructions(ready.iter().filter_map(|(name, s)| {
            let text = s.init_result()?.get("instructions")?.as_str()?;
            Some((name.as_str(), text))
        }));
        let mut result = json!({
            "protocolVersion": version,
            "capabilities": caps,
            "serverInfo": handshake::server_info(),
        });
        if let Some(text) = instructions {
            result["instructions"] = Value::from(text);
        }
        info!(
            version,
            ready = ready.len(),
            failed = failed.len(),
            "Client session initialized."
        );
        Ok(Reply::Value(result))
    }

    /// Sends one request to an upstream, waits for the answer within the request timeout,
    /// and records the route so the client can cancel it.
    async fn forward(
        &self,
        client_id: Option<&RequestId>,
        upstream: usize,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<Outcome, UpstreamError> {
        let timeout = self.settings.request_timeout;
        let up = self
            .topo()
            .get(upstream)
            .cloned()
            .ok_or_else(|| UpstreamError::Unavailable {
                name: format!("#{upstream}"),
                reason: "removed from the configuration".into(),
            })?;
        let session = up.ready_session(timeout).await?;
        let mut pending = session.request(method, params).await?;
        if let Some(client_id) = client_id {
            if let Some(entry) = lock(&self.inflight).get_mut(client_id) {
                entry.route = Some((Arc::clone(&session), pending.upstream_id()));
            }
        }
        match tokio::time::timeout(timeout, pending.response()).await {
            Ok(result) => result,
            Err(_) => {
                // MCP "Cancellation": tell the server to stop; its late answer is dropped.
                let cancel = json!({"requestId": pending.upstream_id(), "reason": "request timed out in Gatekit"});
                let _ = session
                    .notify("notifications/cancelled", Some(&jsonrpc::to_raw(&cancel)))
                    .await;
                Err(UpstreamError::Timeout {
                    name: session.name.to_string(),
                    secs: timeout.as_secs_f64(),
                })
            }
        }
    }

    async fn call_by_name(
        &self,
        id: &RequestId,
        method: &str,
        params: Option<Box<RawValue>>,
    ) -> Handled {
        let what = if method == "tools/call" {
            "tool"
        } else {
            "prompt"
        };
        let mut params = params_object(params.as_deref())?;
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_params(format!("`{method}` needs a string `name`")))?;
        let Some((upstream, local)) = self.resolve_name(name) else {
            let err = invalid_params(format!("Unknown {what}: {name}"));
            return Err(self.audit_unrouted(id, method, Some(name), err));
        };
        params.insert("name".into(), Value::from(local));
        self.forward_hooked(id, upstream, method, params).await
    }

    async fn call_by_uri(
        &self,
        id: &RequestId,
        method: &str,
        params: Option<Box<RawValue>>,
    ) -> Handled {
        let mut params = params_object(params.as_deref())?;
        let uri = params
            .get("uri")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_params(format!("`{method}` needs a string `uri`")))?;
        let (upstream, uri) = self
            .route_uri(uri)
            .map_err(|err| self.audit_unrouted(id, method, None, err))?;
        params.insert("uri".into(), Value::from(uri));
        self.forward_hooked(id, upstream, method, params).await
    }

    async fn complete(&self, id: &RequestId, params: Option<Box<RawValue>>) -> Handled {
        let mut params = params_object(params.as_deref())?;
        let reference = params
            .get_mut("ref")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| invalid_params("`completion/complete` needs a `ref` object".into()))?;
        let upstream = match reference.get("type").and_then(Value::as_str) {
            Some("ref/prompt") => {
                let name = reference
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let (upstream, local) = self.resolve_name(name).ok_or_else(|| {
                    let err = invalid_params(format!("Unknown prompt: {name}"));
                    self.audit_unrouted(id, "completion/complete", Some(name), err)
                })?;
                reference.insert("name".into(), Value::from(local));
                upstream
            }
            Some("ref/resource") => {
                let uri = reference
                    .get("uri")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let (upstream, uri) = self.route_uri(uri)?;
                reference.insert("uri".into(), Value::from(uri));
                upstream
            }
            other => {
                return Err(invalid_params(format!(
                    "unsupported completion reference type {other:?}"
                )))
            }
        };
        self.forward_hooked(id, upstream, "completion/complete", params)
            .await
    }

    async fn set_level(&self, params: Option<Box<RawValue>>) -> Handled {
        for up in self.topo().active() {
            let Status::Ready(session) = up.status() else {
                continue;
            };
            if !session.has_capability("logging") {
                continue;
            }
            if let Err(e) = self
                .forward(None, up.index, "logging/setLevel", params.as_deref())
                .await
            {
                warn!(upstream = up.name(), error = ?LogSafe(&e), "logging/setLevel failed upstream.");
            }
        }
        Ok(Reply::Value(json!({})))
    }

    async fn on_client_notification(&self, method: &str, params: Option<Box<RawValue>>) {
        match method {
            // Gatekit completed each upstream's handshake itself.
            "notifications/initialized" => {}
            "notifications/cancelled" => self.cancel(params.as_deref()).await,
            _ => {
                // Written from their own tasks: an upstream that stops reading its stdin must
                // not stall the loop that reads the client (and so every other upstream).
                for up in self.topo().active() {
                    if let Status::Ready(session) = up.status() {
                        let (method, params) = (method.to_string(), params.clone());
                        tokio::spawn(async move {
                            let _ = session.notify(&method, params.as_deref()).await;
                        });
                    }
                }
            }
        }
    }

    async fn cancel(&self, params: Option<&RawValue>) {
        let Ok(params) = params_object(params) else {
            return;
        };
        let Some(id) = params
            .get("requestId")
            .and_then(|v| serde_json::from_value::<RequestId>(v.clone()).ok())
        else {
            return;
        };
        let (cancel, route) = match lock(&self.inflight).get_mut(&id) {
            Some(entry) => (entry.cancel.take(), entry.route.clone()),
            None => return,
        };
        if let Some((session, upstream_id)) = route {
            let mut forwarded = params.clone();
            forwarded.insert("requestId".into(), Value::from(upstream_id));
            let raw = jsonrpc::to_raw(&forwarded);
            tokio::spawn(async move {
                let _ = session.notify("notifications/cancelled", Some(&raw)).await;
            });
        }
        if let Some(cancel) = cancel {
            let _ = cancel.send(());
        }
    }
}

/// A random, time-ordered session id (UUIDv7).
fn new_session_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn invalid_params(message: String) -> ErrorObject {
    ErrorObject::new(codes::INVALID_PARAMS, message)
}

/// Params as a JSON object; absent params are an empty object.
fn params_object(params: Option<&RawValue>) -> Result<Map<String, Value>, ErrorObject> {
    match params {
        None => Ok(Map::new()),
        Some(raw) => serde_json::from_str(raw.get()).map_err(|e| {
            // Not an object, or an object serde_json refuses (a lone UTF-16 surrogate
            // escape such as "\ud800" is valid JSON syntax but not a Unicode string).
            invalid_params(format!(
                "params must be a JSON object of valid strings: {e}"
            ))
        }),
    }
}

/// SIGTERM, SIGINT and SIGHUP, as one future. SIGHUP stops the gateway the way SIGTERM does
/// (flushing the audit trail): its default action would kill the process with events still
/// queued, and a terminal closing under a gateway started by hand sends it.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    async fn recv(&mut self) {
        async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = one(&mut self.term) => {}
            _ = one(&mut self.int) => {}
            _ = one(&mut self.hup) => {}
        }
    }
}
