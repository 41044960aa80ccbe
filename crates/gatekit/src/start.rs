//! From a configuration file to a running gateway.
//!
//! Start-up failures are reported twice: on stderr for the operator, and, when an MCP client
//! is attached (stdin is not a terminal), as a JSON-RPC error answering the client's first
//! request, the way Python Gatekit does, so the client shows the reason instead of a bare
//! "server disconnected".

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::gateway_config::{gateway_settings, plugin_availability, sandbox_warnings};
use gatekit_config::model::HotReload;
use gatekit_config::{Config, ConfigErrors};
use gatekit_mcp::client;
use gatekit_mcp::gateway::{self, ReloadMode};
use gatekit_mcp::jsonrpc::{self, codes, ErrorObject, RequestId};
use serde_json::json;
use tracing::{info, warn};

/// `gatekit check`: prints every problem, exit status 0 when there is none.
pub fn check(path: &Path) -> ExitCode {
    match Config::load(path) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
            // Every section is checked, and every error of every section printed: a user fixing
            // a file should not meet the next section's problems one run at a time.
            let mut errors = Vec::new();
            if let Err(e) = gatekit_plugins::build_hooks(&cfg) {
                errors.extend(e.0.into_iter().map(|e| cfg.locate(e)));
            }
            if let Err(e) = gatekit_audit::validate(&cfg) {
                errors.extend(e.0.into_iter().map(|e| cfg.locate(e)));
            }
            let (siem, siem_errors) = gatekit_siem::check(&cfg);
            for w in &siem.warnings {
                eprintln!("warning: {w}");
            }
            errors.extend(siem_errors);
            if !errors.is_empty() {
                print_errors(&ConfigErrors(errors));
                return ExitCode::FAILURE;
            }
            let plugins = plugin_availability(&cfg);
            for line in plugins
                .missing_critical
                .iter()
                .chain(&plugins.missing_optional)
            {
                eprintln!("warning: {line}");
            }
            if !plugins.missing_critical.is_empty() {
                eprintln!(
                    "warning: `gatekit run` refuses to start while critical plugins are unavailable"
                );
            }
            for line in sandbox_warnings(&cfg) {
                eprintln!("warning: {line}");
            }
            println!("Configuration valid: {}", path.display());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            print_errors(&errors);
            ExitCode::FAILURE
        }
    }
}

fn print_errors(errors: &ConfigErrors) {
    for e in errors.errors() {
        eprintln!("error: {e}");
    }
    let n = errors.errors().len();
    eprintln!("{n} problem{} found", if n == 1 { "" } else { "s" });
}

/// Reports start-up errors on stderr and to the client's first request, then fails.
fn refuse_start(errors: &ConfigErrors, code: i64, kind: &str, fix: &str) -> ExitCode {
    print_errors(errors);
    answer_first_request(code, kind, &errors.to_string(), fix);
    ExitCode::FAILURE
}

/// `gatekit run`: serves one MCP client on stdin/stdout until it disconnects.
pub fn run_gateway(path: &Path, verbose: bool) -> ExitCode {
    let cfg = match Config::load(path) {
        Ok(cfg) => cfg,
        Err(errors) => {
            print_errors(&errors);
            answer_first_request(
                codes::CONFIG_ERROR,
                "configuration_error",
                &errors.to_string(),
                &format!(
                    "run `gatekit check --config {}` and fix the problems it lists",
                    path.display()
                ),
            );
            return ExitCode::FAILURE;
        }
    };
    crate::logs::init_for(&cfg, verbose);
    for w in &cfg.warnings {
        warn!(warning = %w, "Configuration warning.");
    }
    let plugins = plugin_availability(&cfg);
    for line in &plugins.missing_optional {
        warn!(plugin = %line, "Non-critical plugin skipped.");
    }
    if !plugins.missing_critical.is_empty() {
        let details = plugins.missing_critical.join("; ");
        eprintln!("error: {details}");
        answer_first_request(
            codes::PLUGIN_LOADING_ERROR,
            "plugin_loading_error",
            &details,
            "remove these plugins, or set `critical: false` in their config to run without them",
        );
        return ExitCode::FAILURE;
    }
    let hooks = match gatekit_plugins::build_hooks(&cfg) {
        Ok(hooks) => hooks,
        Err(errors) => {
            return refuse_start(
                &errors,
                codes::PLUGIN_LOADING_ERROR,
                "plugin_loading_error",
                "fix the plugin options listed above",
            )
        }
    };
    let audit = match gatekit_audit::build(&cfg) {
        Ok(audit) => audit,
        Err(errors) => {
            return refuse_start(
                &errors,
                codes::PLUGIN_LOADING_ERROR,
                "plugin_loading_error",
                "fix the audit plugin options listed above",
            )
        }
    };
    let (siem_plans, hash_chain, spool, siem_warnings, agent, alerts) =
        match gatekit_siem::validate(&cfg) {
            Ok(checked) => {
                for w in &checked.warnings {
                    warn!(warning = %w, "SIEM configuration warning.");
                }
                (
                    checked.plans,
                    checked.hash_chain,
                    checked.spool,
                    checked.warnings,
                    checked.agent,
                    checked.alerts,
                )
            }
            Err(errors) => {
                return refuse_start(
                    &errors,
                    codes::CONFIG_ERROR,
                    "configuration_error",
                    "fix the `siem` section as listed above",
                )
            }
        };
    let factory = Arc::new(gatekit_core::EventFactory::new(
        host_name(),
        env!("CARGO_PKG_VERSION"),
    ));
    let mut settings = gateway_settings(&cfg);
    settings.hooks = hooks.map(|h| h as Arc<dyn gatekit_mcp::hooks::Hooks>);
    // SIEM delivery runs on its own runtime thread, so disk and network work never shares
    // the thread that serves MCP traffic.
    let siem = if siem_plans.is_empty() {
        None
    } else {
        let options = gatekit_siem::sink::SinkOptions {
            monitor_interval: gatekit_siem::monitor_interval(&cfg),
            hash_chain,
            factory: Some(Arc::clone(&factory)),
            spool,
            alerts,
            // With a host agent, a gateway delivers its own events only: the agent takes
            // over what dead processes left (docs/decisions/0660-host-agent-split.md).
            adopt: !agent.enabled,
            role: "gateway",
        };
        match start_siem(siem_plans, options) {
            Ok(siem) => {
                // Every insecure or ignored setting also reaches the SIEM, so the people who
                // watch it learn that this gateway's trail is weaker than it could be.
                for w in &siem_warnings {
                    let event = siem.1.system_event(
                        gatekit_core::Severity::Warning,
                        format!("configuration warning: {w}"),
                    );
                    let _ = siem.1.submit(event);
                }
                Some(siem)
            }
            Err(e) => {
                eprintln!("error: {e}");
                answer_first_request(
                    codes::CONFIG_ERROR,
                    "siem_error",
                    &e,
                    "check the `siem` section",
                );
                return ExitCode::FAILURE;
            }
        }
    };
    let mut sinks: Vec<Arc<dyn gatekit_mcp::audit::AuditSink>> = Vec::new();
    if let Some(audit) = audit {
        sinks.push(audit);
    }
    if let Some((_, sink)) = &siem {
        sinks.push(Arc::clone(sink) as Arc<dyn gatekit_mcp::audit::AuditSink>);
    }
    // One factory for every event of this process: the audit files, the SIEM and the SIEM's
    // own system events share `event_id`s and one `sequence`.
    let context = crate::gateway_config::audit_context(&settings);
    settings.audit = (!sinks.is_empty()).then(|| {
        Arc::new(
            gatekit_mcp::audit_fanout::Fanout::new(Arc::clone(&factory), sinks)
                .with_context(context),
        )
    });
    let reload_mode = match cfg.file.proxy.hot_reload {
        HotReload::Disabled => None,
        HotReload::Enabled => Some(ReloadMode::Enabled),
        HotReload::Auto => Some(ReloadMode::Auto),
    };
    let runtime = match build_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    info!(config = %cfg.source, upstreams = settings.upstreams.len(), "Gatekit starting.");
    // The watcher's channel belongs to the runtime, so it is made inside it.
    let siem_sink = siem
        .as_ref()
        .map(|(_, sink)| Arc::clone(sink) as Arc<dyn gatekit_mcp::audit::AuditSink>);
    // This thread drives the current-thread runtime: it hands SIEM events over with deferred
    // wake-ups like any worker (see `build_runtime`).
    gatekit_siem::defer_wakes_on_this_thread();
    let (reason, writer_thread) = runtime.block_on(async {
        let reloads = reload_mode.map(|mode| {
            (
                crate::reload::watch(path.to_path_buf(), &cfg, siem_sink, Arc::clone(&factory)),
                mode,
            )
        });
        let io = client::attach();
        // The gateway runs as a spawned task, not as the `block_on` future itself: on a
        // current-thread runtime, waking the `block_on` future always goes through the
        // driver's eventfd (a write and an extra `epoll_wait` per message), while waking a
        // spawned task from the runtime thread is a queue push.
        let gateway = tokio::spawn(gateway::run_reloadable(
            settings, io.input, io.output, reloads,
        ));
        // A panic in the gateway stays a panic, as it was when it ran inside `block_on`
        // (the task is never cancelled: the runtime outlives it).
        let reason = match gateway.await {
            Ok(reason) => reason,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        (reason, io.writer_thread)
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(writer) = writer_thread {
        let _ = writer.join();
    }
    if let Some((siem_runtime, sink)) = siem {
        siem_runtime.block_on(sink.shutdown());
        siem_runtime.shutdown_timeout(Duration::from_secs(1));
    }
    info!(?reason, "Gatekit stopped.");
    ExitCode::SUCCESS
}

/// Starts SIEM delivery on a runtime of its own.
fn start_siem(
    plans: Vec<gatekit_siem::platform::DestinationPlan>,
    options: gatekit_siem::sink::SinkOptions,
) -> Result<(tokio::runtime::Runtime, Arc<gatekit_siem::SiemSink>), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("gatekit-siem")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the SIEM runtime: {e}"))?;
    let sink =
        gatekit_siem::SiemSink::start_with_options(plans, runtime.handle(), host_name(), options)?;
    Ok((runtime, sink))
}

/// This machine's host name: the same for the audit files and the SIEM events.
pub use gatekit_audit::host_name;

/// The async runtime. One thread by default: a gateway request is a few microseconds of
/// work between two pipe writes, and a single-threaded runtime avoids waking a second worker
/// for every spawned request task (see docs/decisions/0005-single-threaded-runtime.md).
/// `GATEKIT_RUNTIME_THREADS=N` selects a multi-threaded runtime with N workers.
fn build_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let threads = std::env::var("GATEKIT_RUNTIME_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut builder = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder
            .worker_threads(threads)
            .thread_name("gatekit-worker");
        builder
    };
    // A runtime thread hands SIEM events over without waking the render thread for each one
    // and wakes it when it runs out of work: after the request is forwarded or the answer
    // written (gatekit-siem's `intake/defer.rs`; decision 0210). `on_thread_start` does not
    // run for a current-thread runtime's `block_on` thread, so `run` opts that thread in.
    builder
        .on_thread_start(gatekit_siem::defer_wakes_on_this_thread)
        .on_thread_park(gatekit_siem::wake_deferred)
        .enable_all()
        .build()
}

/// Answers the client's first request with a start-up error, when a client is attached.
fn answer_first_request(code: i64, error_type: &str, details: &str, fix: &str) {
    if std::io::stdin().is_terminal() {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    // A client normally sends `initialize` at once; do not wait forever for one that doesn't.
    std::thread::spawn(move || {
        // Bounded: a client that never sends a newline cannot make this grow without limit.
        let mut line = String::new();
        let _ = std::io::Read::take(std::io::stdin().lock(), 1024 * 1024).read_line(&mut line);
        let _ = tx.send(line);
    });
    let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) else {
        return;
    };
    let id = match jsonrpc::parse(line.trim_end().as_bytes()) {
        Ok(jsonrpc::Message::Request { id, .. }) => id,
        _ => RequestId::Number(0),
    };
    let error = ErrorObject::new(code, format!("Gatekit could not start: {details}")).with_data(
        json!({ "error_type": error_type, "details": details, "fix_instructions": fix }),
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&jsonrpc::encode_error(Some(&id), &error));
    let _ = out.flush();
}
