//! What the gateway routes to: its upstreams, plugin hooks and audit sink, replaced whole when
//! the configuration is reloaded.
//!
//! Invariants: an upstream keeps its index for its whole life (indexes are slots that are never
//! reused, so a late message from a removed upstream cannot reach its successor); a request
//! reads the topology when it needs it, so one that started before a reload finishes with the
//! upstream it was routed to, which is stopped only after its calls drained.

use std::collections::HashMap;
use std::sync::Arc;

use super::Gateway;
use crate::audit_fanout::Fanout;
use crate::hooks::Hooks;
use crate::upstream::Upstream;

/// The routable state of the gateway.
#[derive(Default)]
pub(super) struct Topology {
    /// Upstreams by index; `None` once removed.
    pub(super) slots: Vec<Option<Arc<Upstream>>>,
    /// Name → index, current upstreams only.
    pub(super) by_name: HashMap<String, usize>,
    /// Plugin hooks.
    pub(super) hooks: Option<Arc<dyn Hooks>>,
    /// Audit sink.
    pub(super) audit: Option<Arc<Fanout>>,
}

impl Topology {
    /// A topology over `upstreams` (their indexes are their positions).
    pub(super) fn new(
        upstreams: Vec<Arc<Upstream>>,
        hooks: Option<Arc<dyn Hooks>>,
        audit: Option<Arc<Fanout>>,
    ) -> Topology {
        let by_name = upstreams
            .iter()
            .map(|u| (u.name().to_string(), u.index))
            .collect();
        Topology {
            slots: upstreams.into_iter().map(Some).collect(),
            by_name,
            hooks,
            audit,
        }
    }

    /// The upstream at `index`, unless it was removed.
    pub(super) fn get(&self, index: usize) -> Option<&Arc<Upstream>> {
        self.slots.get(index).and_then(Option::as_ref)
    }

    /// Current upstreams, in index order.
    pub(super) fn active(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.slots.iter().flatten()
    }

    /// How many upstreams are current.
    pub(super) fn len(&self) -> usize {
        self.by_name.len()
    }
}

impl Gateway {
    /// The current topology (a snapshot: a reload replaces it, never changes it).
    pub(super) fn topo(&self) -> Arc<Topology> {
        Arc::clone(&self.topology.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The audit sink of the current topology.
    pub(super) fn audit(&self) -> Option<Arc<Fanout>> {
        self.topo().audit.clone()
    }

    /// The name of upstream `index` (`None` once it was removed).
    pub(super) fn upstream_name(&self, index: usize) -> Option<Arc<str>> {
        self.topo().get(index).map(|u| Arc::clone(&u.spec.name))
    }
}
