//! From a validated configuration to what the gateway runs: its settings (enabled upstreams,
//! their processes and sandboxes, timeouts), which configured plugins this build cannot run,
//! and the audit context (user, upstream command lines). Used at start and on every reload.

use std::sync::Arc;
use std::time::Duration;

use gatekit_config::model::PluginEntry;
use gatekit_config::Config;
use gatekit_mcp::gateway::GatewaySettings;
use gatekit_mcp::upstream::{ProcessSpec, SandboxSpec, UpstreamSpec};

/// The user and the upstreams' command lines (credentials redacted) for every audit event.
pub fn audit_context(settings: &GatewaySettings) -> gatekit_mcp::audit_context::AuditContext {
    gatekit_mcp::audit_context::AuditContext {
        user: gatekit_mcp::audit_context::AuditContext::process_user(),
        commands: settings
            .upstreams
            .iter()
            .map(|u| {
                let command = gatekit_mcp::audit_context::display_command(
                    &u.process.program,
                    &u.process.args,
                );
                (u.name.to_string(), command)
            })
            .collect(),
    }
}

/// Gateway settings from a validated configuration (enabled upstreams only).
pub fn gateway_settings(cfg: &Config) -> GatewaySettings {
    let proxy = &cfg.file.proxy;
    let request_timeout = proxy.timeouts.request_timeout.0;
    let connection_timeout = proxy.timeouts.connection_timeout.0;
    let upstreams = proxy
        .upstreams
        .iter()
        .filter(|u| u.enabled)
        .filter_map(|u| {
            // Validation guarantees a non-empty command for every stdio upstream.
            let (program, args) = u.command.as_ref()?.split_first()?;
            Some(UpstreamSpec {
                name: Arc::from(u.name.as_str()),
                process: ProcessSpec {
                    program: program.to_string(),
                    args: args.iter().map(ToString::to_string).collect(),
                    env: u
                        .env
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_string()))
                        .collect(),
                    cwd: u.cwd.as_ref().map(|c| cfg.resolve_path(c)),
                },
                sandbox: u
                    .sandbox
                    .as_ref()
                    .filter(|s| s.enabled)
                    .map(|s| sandbox_spec(cfg, u, s)),
                restart_on_failure: u.restart_on_failure,
                max_restart_attempts: u.max_restart_attempts,
                connection_timeout,
                max_frame: proxy.max_message_size,
            })
        })
        .collect();
    GatewaySettings {
        upstreams,
        request_timeout,
        connection_timeout,
        max_frame: proxy.max_message_size,
        drain_timeout: request_timeout.min(Duration::from_secs(10)),
        hooks: None,
        audit: None,
    }
}

/// Sandboxed upstreams that `gatekit run` could not start here because the sandbox launcher
/// is missing (`gatekit check` warns; `run` fails those upstreams, never runs them bare).
pub(crate) fn sandbox_warnings(cfg: &Config) -> Vec<String> {
    let wanted: Vec<&str> = cfg
        .file
        .proxy
        .upstreams
        .iter()
        .filter(|u| u.enabled && u.sandbox.as_ref().is_some_and(|s| s.enabled))
        .map(|u| u.name.as_str())
        .collect();
    if wanted.is_empty() || cfg!(target_os = "macos") {
        return Vec::new();
    }
    match gatekit_mcp::upstream::sandbox::bwrap::locate(None) {
        Ok(_) => Vec::new(),
        Err(e) => wanted
            .iter()
            .map(|name| format!("upstream `{name}`: {e}"))
            .collect(),
    }
}

/// An upstream's `sandbox` with its paths made absolute: `~/` is the server's home directory
/// (its own `HOME` from `env`, else Gatekit's), relative paths are relative to the config file.
fn sandbox_spec(
    cfg: &Config,
    upstream: &gatekit_config::model::UpstreamConfig,
    sandbox: &gatekit_config::model::SandboxConfig,
) -> SandboxSpec {
    let home = upstream
        .env
        .get("HOME")
        .map(|h| h.to_string())
        .or_else(|| std::env::var("HOME").ok());
    let paths = sandbox
        .paths
        .iter()
        .map(|p| {
            let raw: &str = p;
            match (raw.strip_prefix('~'), &home) {
                (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
                    std::path::PathBuf::from(format!("{home}{rest}"))
                }
                _ => cfg.resolve_path(raw),
            }
        })
        .collect();
    SandboxSpec {
        paths,
        network: sandbox.network,
        launcher_path: None,
    }
}

/// Plugins configured but not available in this build.
#[derive(Debug, Default)]
pub struct PluginAvailability {
    /// Enabled critical plugins: start-up must fail (a security control the operator asked
    /// for must not be silently absent).
    pub missing_critical: Vec<String>,
    /// Enabled non-critical plugins: skipped with a warning.
    pub missing_optional: Vec<String>,
}

/// Which configured plugins this build cannot run (middleware and security plugins are built
/// by `gatekit_plugins`, the audit files by `gatekit_audit`).
pub fn plugin_availability(cfg: &Config) -> PluginAvailability {
    let mut out = PluginAvailability::default();
    let plugins = &cfg.file.plugins;
    for (category, scopes) in [("auditing", &plugins.auditing)] {
        for (scope, entries) in scopes {
            for entry in entries
                .iter()
                .filter(|e| flag(e, "enabled", true))
                .filter(|e| !gatekit_audit::HANDLERS.contains(&e.handler.as_str()))
            {
                let default_critical = entry.handler != "token_usage";
                let line = format!(
                    "plugin `{}` ({category}, scope `{scope}`) is not available in this build of Gatekit",
                    entry.handler
                );
                if flag(entry, "critical", default_critical) {
                    out.missing_critical.push(line);
                } else {
                    out.missing_optional.push(line);
                }
            }
        }
    }
    out
}

fn flag(entry: &PluginEntry, key: &str, default: bool) -> bool {
    entry
        .config
        .get(key)
        .and_then(|v| v.as_bool())
        .unwrap_or(default)
}
