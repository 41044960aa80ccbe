//! `tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` across all
//! upstreams.
//!
//! Gatekit asks every ready upstream that advertises the capability, follows each upstream's
//! `nextCursor` to the end, namespaces names (`upstream__name`, tools and prompts only; URIs
//! stay valid URIs, see [`super::routing`]), and returns one complete list without a cursor.
//! Upstreams are asked concurrently; one that fails is left out of the list and logged, so a
//! broken server never hides the others' tools.

use std::sync::Arc;

use gatekit_core::LogSafe;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tracing::warn;

use super::{invalid_params, params_object, Gateway, Handled, Reply};
use crate::audit::{AuditRecord, Phase};
use crate::jsonrpc::{self, Outcome, RequestId};
use crate::list_kind::ListKind;
use crate::namespace;
use crate::upstream::UpstreamError;

/// Upper bound on pages fetched from one upstream for one list, against servers whose
/// cursors never end.
const MAX_PAGES: usize = 1000;

impl Gateway {
    pub(super) async fn list(
        self: &Arc<Self>,
        id: &RequestId,
        kind: ListKind,
        params: Option<Box<RawValue>>,
    ) -> Handled {
        if params_object(params.as_deref())?
            .get("cursor")
            .is_some_and(|c| !c.is_null())
        {
            return Err(invalid_params(
                "invalid cursor: Gatekit returns complete lists and never issues cursors".into(),
            ));
        }
        let topo = self.topo();
        let fetches: Vec<_> = topo
            .active()
            .map(|up| {
                let gw = Arc::clone(self);
                let index = up.index;
                tokio::spawn(async move { gw.fetch_all(index, kind).await })
            })
            .collect();
        let mut items = Vec::new();
        let mut per_upstream = Vec::new();
        for (up, fetch) in topo.active().zip(fetches) {
            match fetch.await {
                Ok(Ok(found)) => {
                    per_upstream.push((up.index, found.len()));
                    items.extend(found);
                }
                Ok(Err(e)) => {
                    warn!(upstream = up.name(), error = ?LogSafe(&e), method = kind.method(), "Upstream left out of the list.")
                }
                Err(e) => warn!(upstream = up.name(), error = ?LogSafe(&e), "List task failed."),
            }
        }
        self.learn_routes(kind, &items, &per_upstream);
        let result = json!({ kind.field(): items });
        if let Some(audit) = self.audit() {
            // What the client actually received, after every plugin (Python Gatekit audited
            // the raw upstream lists instead).
            let session = self.session_info();
            let record = AuditRecord {
                phase: Phase::Response,
                request_id: Some(id),
                upstream: None,
                method: kind.method(),
                tool: None,
                stages: &[],
                blocked: false,
                body: audit.wants_response_bodies().then_some(&result),
                error: None,
                duration: None,
                session: &session,
            };
            if let Err(e) = audit.record(&record) {
                warn!(error = ?LogSafe(&e), "A list could not be audited.");
            }
        }
        Ok(Reply::Value(result))
    }

    async fn fetch_all(
        &self,
        upstream: usize,
        kind: ListKind,
    ) -> Result<Vec<Value>, UpstreamError> {
        let Some(up) = self.topo().get(upstream).cloned() else {
            return Ok(Vec::new());
        };
        let session = up.ready_session(self.settings.request_timeout).await?;
        if !session.has_capability(kind.capability()) {
            return Ok(Vec::new());
        }
        let invalid = |reason: String| UpstreamError::InvalidResponse {
            name: up.name().to_string(),
            reason,
        };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor
                .as_ref()
                .map(|c| jsonrpc::to_raw(&json!({ "cursor": c })));
            let raw = match self
                .forward(None, upstream, kind.method(), params.as_deref())
                .await?
            {
                Outcome::Result(raw) => raw,
                Outcome::Error(err) => {
                    return Err(invalid(format!("{} failed: {}", kind.method(), err.get())))
                }
            };
            let mut page: Value =
                serde_json::from_str(raw.get()).map_err(|e| invalid(e.to_string()))?;
            let Some(Value::Array(mut found)) = page.get_mut(kind.field()).map(Value::take) else {
                return Err(invalid(format!(
                    "no `{}` array in the result",
                    kind.field()
                )));
            };
            if let Some(hooks) = self.hooks_for(upstream) {
                hooks.on_list(up.name(), kind, &mut found);
            }
            for mut item in found {
                if kind.namespaces_names() {
                    let Some(name) = item.get("name").and_then(Value::as_str) else {
                        warn!(upstream = up.name(), "List item without a name; skipped.");
                        continue;
                    };
                    item["name"] = Value::from(namespace::join(up.name(), name));
                }
                items.push(item);
            }
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_string);
            if cursor.is_none() {
                return Ok(items);
            }
        }
        warn!(
            upstream = up.name(),
            "Upstream kept returning cursors; list truncated."
        );
        Ok(items)
    }
}
