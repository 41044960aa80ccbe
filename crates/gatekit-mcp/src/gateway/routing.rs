//! Which upstream a name or a resource URI belongs to.
//!
//! Tools and prompts carry their upstream in the name (`upstream__name`). Resource URIs are
//! not rewritten: a prefixed URI such as Python Gatekit's `fs__file:///x` is no longer a valid
//! URI, and clients resolve and display URIs. Instead Gatekit learns which upstream listed
//! which URI (and which template prefixes) from the lists it aggregates. A URI it has not seen
//! is routed, in order, by: a Python-style `upstream__` prefix; the longest matching template
//! prefix; the only upstream, when there is one. Anything else is "Unknown resource".
//! See `docs/decisions/0001-resource-uris-not-namespaced.md`.

use std::collections::HashMap;

use serde_json::Value;

use super::{invalid_params, Gateway, ListKind};
use crate::jsonrpc::ErrorObject;
use crate::namespace;

/// Learned resource routes.
#[derive(Debug, Default)]
pub(super) struct ResourceRoutes {
    exact: HashMap<String, usize>,
    /// (literal prefix of a URI template, upstream), longest prefix first.
    templates: Vec<(String, usize)>,
}

impl Gateway {
    /// Upstream index and local name for a namespaced tool or prompt name.
    pub(super) fn resolve_name<'a>(&self, name: &'a str) -> Option<(usize, &'a str)> {
        let (upstream, local) = namespace::split(name)?;
        self.topo().by_name.get(upstream).map(|i| (*i, local))
    }

    /// Upstream index and the URI to send it for a client-supplied resource URI.
    pub(super) fn route_uri(&self, uri: &str) -> Result<(usize, String), ErrorObject> {
        let routes = self.resources.read().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = routes.exact.get(uri) {
            return Ok((*i, uri.to_string()));
        }
        if let Some((upstream, rest)) = namespace::split(uri) {
            if let Some(i) = self.topo().by_name.get(upstream) {
                return Ok((*i, rest.to_string()));
            }
        }
        if let Some((_, i)) = routes
            .templates
            .iter()
            .find(|(prefix, _)| uri.starts_with(prefix.as_str()))
        {
            return Ok((*i, uri.to_string()));
        }
        let topo = self.topo();
        if topo.len() == 1 {
            if let Some(only) = topo.active().next() {
                return Ok((only.index, uri.to_string()));
            }
        }
        Err(invalid_params(format!("Unknown resource: {uri}")))
    }

    /// Records which upstream listed which resources or templates. `counts` gives, in list
    /// order, how many of `items` each upstream contributed.
    pub(super) fn learn_routes(&self, kind: ListKind, items: &[Value], counts: &[(usize, usize)]) {
        if !matches!(kind, ListKind::Resources | ListKind::ResourceTemplates) {
            return;
        }
        let mut routes = self.resources.write().unwrap_or_else(|e| e.into_inner());
        // Each upstream that answered replaces its own routes (a server that stopped listing a
        // URI no longer owns it, and the table cannot grow without bound); upstreams that did
        // not answer keep theirs.
        for (upstream, _) in counts {
            match kind {
                ListKind::Resources => routes.exact.retain(|_, u| u != upstream),
                _ => routes.templates.retain(|(_, u)| u != upstream),
            }
        }
        let mut offset = 0;
        for (upstream, count) in counts {
            for item in &items[offset..offset + count] {
                match kind {
                    ListKind::Resources => {
                        if let Some(uri) = item.get("uri").and_then(Value::as_str) {
                            routes.exact.insert(uri.to_string(), *upstream);
                        }
                    }
                    _ => {
                        if let Some(template) = item.get("uriTemplate").and_then(Value::as_str) {
                            let prefix = template.split('{').next().unwrap_or_default();
                            if !prefix.is_empty() {
                                routes.templates.retain(|(p, _)| p != prefix);
                                routes.templates.push((prefix.to_string(), *upstream));
                            }
                        }
                    }
                }
            }
            offset += count;
        }
        routes
            .templates
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    }
}
