//! The plugin contract, per-upstream pipelines, and the gateway hooks that run them.
//!
//! Resolution per upstream follows Python Gatekit, with its known defect fixed: start from the
//! `_global` entries, let each upstream entry replace the global entry with the same handler
//! (the whole entry, no merging), *then* drop disabled entries, so `enabled: false` under an
//! upstream switches a global plugin off for that upstream. Order: `priority` ascending; on
//! ties middleware before security, then the order of definition.
//!
//! Failure handling: a plugin that returns an error fails the message closed when it is
//! `critical` (-32603, as Python Gatekit) and is skipped with a warning otherwise.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatekit_config::{Config, ConfigErrors};
use gatekit_core::LogSafe;
use gatekit_mcp::hooks::{CallInfo, Hooks, StageRecord, Verdict};
use gatekit_mcp::jsonrpc::{codes, ErrorObject};
use gatekit_mcp::list_kind::ListKind;
use serde_json::Value;
use tracing::{info, warn};

use crate::builtin;
pub use crate::plugin::{Action, Category, Denial, Plugin, PluginError};
use crate::settings::{split_framework, Framework};

/// One plugin in a resolved pipeline.
#[derive(Debug, Clone)]
struct Stage {
    plugin: Arc<dyn Plugin>,
    category: Category,
    framework: Framework,
    order: usize,
}

/// The resolved pipelines, one per upstream, as gateway hooks.
#[derive(Debug, Default)]
pub struct PluginHooks {
    pipelines: HashMap<String, Vec<Stage>>,
}

impl PluginHooks {
    /// Handler names in the order they run for `upstream`.
    pub fn order(&self, upstream: &str) -> Vec<&'static str> {
        self.pipelines
            .get(upstream)
            .map(|p| p.iter().map(|s| s.plugin.handler()).collect())
            .unwrap_or_default()
    }

    fn stages(&self, upstream: &str) -> &[Stage] {
        self.pipelines
            .get(upstream)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

fn log_action(stage: &Stage, upstream: &str, what: &str, action: &Action) {
    match action {
        Action::Allow => {}
        Action::Modified { reason } => {
            info!(plugin = stage.plugin.handler(), upstream, what = ?LogSafe(what), reason = ?LogSafe(reason), "Plugin modified a message.")
        }
        Action::Observed { reason } => {
            info!(plugin = stage.plugin.handler(), upstream, what = ?LogSafe(what), reason = ?LogSafe(reason), "Plugin observed a message.")
        }
        Action::Deny(d) => {
            info!(plugin = stage.plugin.handler(), upstream, what = ?LogSafe(what), reason = ?LogSafe(&d.reason), "Plugin blocked a message.")
        }
    }
}

fn stage_record(
    stage: &Stage,
    outcome: &'static str,
    reason: String,
    started: Instant,
) -> StageRecord {
    StageRecord {
        plugin: stage.plugin.handler(),
        category: match stage.category {
            Category::Middleware => "middleware",
            Category::Security => "security",
        },
        outcome,
        reason,
        processing_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Runs `step` over the pipeline, recording each plugin's decision in `records`; returns the
/// first denial, or the failure of a critical plugin.
fn run(
    stages: &[Stage],
    upstream: &str,
    what: &str,
    failure_message: &str,
    records: &mut Vec<StageRecord>,
    mut step: impl FnMut(&dyn Plugin) -> Result<Action, PluginError>,
) -> Result<(), ErrorObject> {
    for stage in stages {
        let started = Instant::now();
        let result = step(stage.plugin.as_ref());
        if let Ok(action) = &result {
            log_action(stage, upstream, what, action);
        }
        match result {
            Ok(Action::Allow) => {
                records.push(stage_record(stage, "allowed", String::new(), started))
            }
            Ok(Action::Modified { reason }) => {
                records.push(stage_record(stage, "modified", reason, started))
            }
            Ok(Action::Observed { reason }) => {
                records.push(stage_record(stage, "observed", reason, started))
            }
            Ok(Action::Deny(denial)) => {
                records.push(stage_record(
                    stage,
                    "blocked",
                    denial.reason.clone(),
                    started,
                ));
                return Err(denial.into_error());
            }
            Err(e) if stage.framework.critical => {
                warn!(plugin = stage.plugin.handler(), upstream, what = ?LogSafe(what), error = ?LogSafe(&e), "Critical plugin failed; message refused.");
                records.push(stage_record(stage, "error", e.to_string(), started));
                return Err(ErrorObject::new(
                    codes::INTERNAL_ERROR,
                    format!(
                        "{failure_message}: plugin `{}` failed: {e}",
                        stage.plugin.handler()
                    ),
                ));
            }
            Err(e) => {
                warn!(plugin = stage.plugin.handler(), upstream, what = ?LogSafe(what), error = ?LogSafe(&e), "Non-critical plugin failed; skipped.");
                records.push(stage_record(stage, "error", e.to_string(), started));
            }
        }
    }
    Ok(())
}

impl Hooks for PluginHooks {
    fn active(&self, upstream: &str) -> bool {
        !self.stages(upstream).is_empty()
    }

    fn on_request(
        &self,
        call: &CallInfo<'_>,
        params: &mut Value,
        records: &mut Vec<StageRecord>,
    ) -> Verdict {
        let stages = self.stages(call.upstream);
        let failure = "Request processing error";
        match run(stages, call.upstream, call.method, failure, records, |p| {
            p.on_request(call, params)
        }) {
            Ok(()) => Verdict::Continue,
            Err(e) => Verdict::Reject(e),
        }
    }

    fn on_response(
        &self,
        call: &CallInfo<'_>,
        params: &Value,
        result: &mut Value,
        elapsed: Duration,
        records: &mut Vec<StageRecord>,
    ) -> Verdict {
        let stages = self.stages(call.upstream);
        let failure = "Response filtering failed";
        match run(stages, call.upstream, call.method, failure, records, |p| {
            p.on_response(call, params, result, elapsed)
        }) {
            Ok(()) => Verdict::Continue,
            Err(e) => Verdict::Reject(e),
        }
    }

    fn on_list(&self, upstream: &str, kind: ListKind, items: &mut Vec<Value>) {
        for stage in self.stages(upstream) {
            stage.plugin.on_list(kind, items);
        }
    }

    fn on_notification(
        &self,
        upstream: &str,
        method: &str,
        params: &mut Value,
        records: &mut Vec<StageRecord>,
    ) -> bool {
        let stages = self.stages(upstream);
        let failure = "Notification filtering failed";
        run(stages, upstream, method, failure, records, |p| {
            p.on_notification(method, params)
        })
        .is_ok()
    }
}

/// Builds the middleware and security pipelines for every upstream in `cfg`. Returns `None`
/// when no plugin applies anywhere (the gateway then runs as a plain proxy).
pub fn build_hooks(cfg: &Config) -> Result<Option<Arc<PluginHooks>>, ConfigErrors> {
    let mut errors = Vec::new();
    // (scope, handler) -> (entry position, category, framework, plugin or None when disabled)
    type Built = (usize, Category, Framework, Option<Arc<dyn Plugin>>);
    let mut by_scope: HashMap<String, Vec<(String, Built)>> = HashMap::new();
    let mut position = 0usize;
    for (category, scopes) in [
        (Category::Middleware, &cfg.file.plugins.middleware),
        (Category::Security, &cfg.file.plugins.security),
    ] {
        let cat_name = if category == Category::Middleware {
            "middleware"
        } else {
            "security"
        };
        for (scope, entries) in scopes {
            for (i, entry) in entries.iter().enumerate() {
                position += 1;
                let path = format!("plugins.{cat_name}.{scope}[{i}].config");
                let built = split_framework(&entry.config, true, &cfg.source, &path).and_then(
                    |(framework, rest)| {
                        let plugin = if framework.enabled {
                            Some(builtin::construct(
                                &entry.handler,
                                scope,
                                rest,
                                &cfg.source,
                                &path,
                            )?)
                        } else {
                            None
                        };
                        Ok((position, category, framework, plugin))
                    },
                );
                match built {
                    Ok(b) => by_scope
                        .entry(scope.clone())
                        .or_default()
                        .push((entry.handler.clone(), b)),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let global = by_scope.remove("_global").unwrap_or_default();
    let mut hooks = PluginHooks::default();
    for upstream in cfg.file.proxy.upstreams.iter().filter(|u| u.enabled) {
        let name = upstream.name.as_str();
        let mut resolved: Vec<(String, Built)> = global.clone();
        for (handler, built) in by_scope.get(name).cloned().unwrap_or_default() {
            // An upstream entry replaces the global entry of the same handler, whole.
            resolved.retain(|(h, _)| *h != handler);
            resolved.push((handler, built));
        }
        let mut stages: Vec<Stage> = resolved
            .into_iter()
            .filter_map(|(_, (order, category, framework, plugin))| {
                plugin.map(|plugin| Stage {
                    plugin,
                    category,
                    framework,
                    order,
                })
            })
            .collect();
        stages.sort_by_key(|s| (s.framework.priority, s.category, s.order));
        if !stages.is_empty() {
            hooks.pipelines.insert(name.to_string(), stages);
        }
    }
    Ok((!hooks.pipelines.is_empty()).then(|| Arc::new(hooks)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn hooks(plugins: &str) -> Option<Arc<PluginHooks>> {
        let yaml = format!(
            "proxy:\n  transport: stdio\n  upstreams:\n    - {{name: a, command: [x]}}\n    - {{name: b, command: [y]}}\nplugins:\n{plugins}"
        );
        let cfg = Config::from_yaml(&yaml, "t.yaml", PathBuf::from("/")).unwrap();
        build_hooks(&cfg).unwrap()
    }

    #[test]
    fn no_plugins_means_no_hooks() {
        assert!(hooks("  security: {}\n").is_none());
    }

    #[test]
    fn priority_orders_then_middleware_before_security_then_definition() {
        let h = hooks(
            "  security:\n    _global:\n      - {handler: basic_secrets_filter, config: {priority: 50}}\n      - {handler: basic_pii_filter, config: {priority: 10}}\n  middleware:\n    _global:\n      - {handler: call_trace, config: {priority: 50}}\n",
        )
        .unwrap();
        assert_eq!(
            h.order("a"),
            ["basic_pii_filter", "call_trace", "basic_secrets_filter"]
        );
    }

    #[test]
    fn upstream_entries_replace_global_ones_and_can_disable_them() {
        let h = hooks(
            "  security:\n    _global:\n      - {handler: basic_pii_filter, config: {action: block}}\n      - {handler: basic_secrets_filter}\n    a:\n      - {handler: basic_pii_filter, config: {enabled: false}}\n    b:\n      - {handler: basic_pii_filter, config: {action: redact, priority: 90}}\n",
        )
        .unwrap();
        assert_eq!(h.order("a"), ["basic_secrets_filter"]);
        assert_eq!(h.order("b"), ["basic_secrets_filter", "basic_pii_filter"]);
    }

    #[test]
    fn plugin_option_errors_are_all_collected() {
        let yaml = "proxy:\n  transport: stdio\n  upstreams: [{name: a, command: [x]}]\nplugins:\n  security:\n    _global:\n      - {handler: basic_pii_filter, config: {action: maybe}}\n      - {handler: basic_pii_filter, config: {scan_base64: true}}\n";
        let cfg = Config::from_yaml(yaml, "t.yaml", PathBuf::from("/")).unwrap();
        let errs = build_hooks(&cfg).unwrap_err();
        assert_eq!(errs.errors().len(), 2, "{errs}");
        assert!(
            errs.to_string()
                .contains("plugins.security._global[0].config.action"),
            "{errs}"
        );
        assert!(errs.to_string().contains("scan_base64"), "{errs}");
    }
}
