//! Applying a reloaded configuration to a running gateway (`proxy.hot_reload`).
//!
//! The caller (the binary) watches the file, loads and checks it, builds the plugin hooks and
//! the audit sink, and sends a [`ReloadEvent`]. Here the topology is replaced in one step:
//!
//! * an upstream whose settings did not change keeps running (same process, same session);
//! * a new or changed upstream is started (and initialised with the client's parameters);
//! * a removed or changed upstream leaves the routing table at once, and is stopped only when
//!   the calls routed to it have finished (at most the request timeout later);
//! * plugin hooks and audit sink are replaced for the messages that follow;
//! * the client gets `notifications/{tools,prompts,resources}/list_changed` (Gatekit
//!   advertises `listChanged` when reloading is on);
//! * every reload, and every rejected file, is an audit system event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tracing::{info, warn};

use super::topology::Topology;
use super::{lock, Gateway, Lifecycle};
use crate::audit::{SystemRecord, SystemSeverity};
use crate::audit_fanout::Fanout;
use crate::hooks::Hooks;
use crate::jsonrpc;
use crate::upstream::{Status, Upstream, UpstreamSpec};

/// Whether, and for which clients, reloads are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadMode {
    /// Always.
    Enabled,
    /// Only for clients known to handle `list_changed` (Python Gatekit's list).
    Auto,
}

/// Clients `ReloadMode::Auto` reloads for (Python Gatekit 0.3's list).
pub const AUTO_CLIENTS: &[&str] = &["github-copilot"];

/// What the configuration watcher found.
pub enum ReloadEvent {
    /// A new configuration that loaded and passed every check.
    Apply {
        /// Upstreams (enabled ones only), in configuration order.
        upstreams: Vec<UpstreamSpec>,
        /// Plugin hooks.
        hooks: Option<Arc<dyn Hooks>>,
        /// Audit sink.
        audit: Option<Arc<Fanout>>,
        /// Things the reload does not change (for the log and the audit record).
        notes: Vec<String>,
    },
    /// The file changed but cannot be used; the running configuration stays.
    Rejected {
        /// Every problem found.
        reason: String,
    },
}

impl std::fmt::Debug for ReloadEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadEvent::Apply { upstreams, .. } => f
                .debug_struct("Apply")
                .field("upstreams", &upstreams.len())
                .finish_non_exhaustive(),
            ReloadEvent::Rejected { reason } => {
                f.debug_struct("Rejected").field("reason", reason).finish()
            }
        }
    }
}

impl Gateway {
    /// Applies one watcher event.
    pub(super) async fn on_reload(self: &Arc<Self>, event: ReloadEvent, mode: ReloadMode) {
        if mode == ReloadMode::Auto {
            let client = self.session_info().client_name.clone().unwrap_or_default();
            if !AUTO_CLIENTS.contains(&client.as_str()) {
                info!(%client, "Configuration changed; `hot_reload: auto` does not reload for this client.");
                return;
            }
        }
        match event {
            ReloadEvent::Rejected { reason } => {
                warn!(%reason, "Configuration changed but is invalid; the running configuration stays.");
                self.system_event(
                    false,
                    "config_reload_rejected",
                    format!("new configuration rejected: {reason}"),
                    json!({ "reason": reason }),
                );
            }
            ReloadEvent::Apply {
                upstreams,
                hooks,
                audit,
                notes,
            } => self.apply(upstreams, hooks, audit, notes).await,
        }
    }

    async fn apply(
        self: &Arc<Self>,
        specs: Vec<UpstreamSpec>,
        hooks: Option<Arc<dyn Hooks>>,
        audit: Option<Arc<Fanout>>,
        notes: Vec<String>,
    ) {
        let old = self.topo();
        let mut slots = old.slots.clone();
        let mut by_name = std::collections::HashMap::new();
        let (mut added, mut removed, mut restarted, mut kept) = (vec![], vec![], vec![], vec![]);
        let mut retired = Vec::new();
        for up in old.active() {
            match specs.iter().find(|s| s.name == up.spec.name) {
                Some(spec) if *spec == up.spec => {
                    kept.push(up.name().to_string());
                    by_name.insert(up.name().to_string(), up.index);
                }
                found => {
                    if found.is_some() {
                        restarted.push(up.name().to_string());
                    } else {
                        removed.push(up.name().to_string());
                    }
                    slots[up.index] = None;
                    retired.push(Arc::clone(up));
                }
            }
        }
        let init = lock(&self.init_params).clone();
        let to_start: Vec<&UpstreamSpec> = specs
            .iter()
            .filter(|s| !by_name.contains_key(&*s.name))
            .collect();
        for spec in to_start {
            let index = slots.len();
            let up = Upstream::start(index, spec.clone(), self.inbound.clone());
            if let Some(params) = &init {
                up.initialize_with(Arc::clone(params));
            }
            if !restarted.iter().any(|r| *r == *spec.name) {
                added.push(spec.name.to_string());
            }
            by_name.insert(spec.name.to_string(), index);
            slots.push(Some(up));
        }
        let topology = Topology {
            slots,
            by_name,
            hooks,
            audit,
        };
        *self.topology.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(topology);
        info!(
            ?added,
            ?removed,
            ?restarted,
            ?kept,
            ?notes,
            "Configuration reloaded."
        );
        self.system_event(
            true,
            "config_reloaded",
            format!(
                "configuration reloaded: {} added, {} removed, {} restarted, {} unchanged",
                added.len(),
                removed.len(),
                restarted.len(),
                kept.len()
            ),
            json!({"added": added, "removed": removed, "restarted": restarted,
                   "unchanged": kept, "not_applied": notes}),
        );
        for up in retired {
            let gw = Arc::clone(self);
            tokio::spawn(async move {
                gw.wait_until_idle(&up).await;
                up.shutdown().await;
            });
        }
        if *lock(&self.phase) == Lifecycle::Ready {
            for list in ["tools", "prompts", "resources"] {
                let method = format!("notifications/{list}/list_changed");
                self.send_to_client(jsonrpc::encode_notification(&method, None))
                    .await;
            }
        }
    }

    /// Waits until no call in flight is routed to `up`'s process, at most the request timeout.
    /// (Compared by session, not by name: a restarted upstream's successor has the same name.)
    async fn wait_until_idle(&self, up: &Upstream) {
        let deadline = Instant::now() + self.settings.request_timeout;
        while Instant::now() < deadline {
            let Status::Ready(session) = up.status() else {
                return;
            };
            let busy = lock(&self.inflight).values().any(|e| {
                e.route
                    .as_ref()
                    .is_some_and(|(s, _)| Arc::ptr_eq(s, &session))
            });
            if !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Records a gateway decision in the current audit trail.
    fn system_event(&self, ok: bool, action: &str, message: String, details: serde_json::Value) {
        let Some(audit) = self.audit() else { return };
        let session = self.session_info();
        let record = SystemRecord {
            severity: if ok {
                SystemSeverity::Info
            } else {
                SystemSeverity::Error
            },
            action,
            upstream: None,
            message: &message,
            details: &details,
            session: &session,
        };
        if let Err(e) = audit.system(&record) {
            warn!(error = %e, action, "A system event could not be audited.");
        }
    }
}
