//! `gatekit agent --config FILE`: the host agent. It runs the SIEM side only (no MCP gateway):
//! one SIEM sink whose spool keeper and buffer adopter take over, continuously, the spools and
//! disk buffers that gateway processes with the same destinations left behind, and an HTTP
//! endpoint with `/metrics`, `/health` and `/ready` (`http.rs`, `metrics.rs`).
//!
//! Signals: SIGHUP reloads the `siem` section (`reload.rs`); SIGTERM and SIGINT flush every
//! destination within its shutdown deadline and stop; what is still undelivered stays in the
//! agent's own spool and buffers, which the next agent (or gateway) adopts.
//!
//! Invariant: the agent never takes a record it cannot keep: it receives events only by
//! adoption, which acknowledges a dead spool's records only after they are in the agent's own
//! spool (`gatekit_siem::spool`), so a SIGKILL of the agent at any moment duplicates, never
//! loses.

mod http;
mod metrics;
mod reload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use gatekit_config::Config;
use gatekit_siem::SiemSink;
use tracing::{error, info, warn};

/// What the HTTP endpoint and the signal loop share.
pub(crate) struct Agent {
    /// The sink in force (replaced on reload).
    sink: Mutex<Arc<SiemSink>>,
    /// The settings it was started with.
    settings: Mutex<Settings>,
    /// Reloads done, and reloads refused (a bad file keeps the running sink).
    reloads: std::sync::atomic::AtomicU64,
    reload_failures: std::sync::atomic::AtomicU64,
}

/// The resolved `siem` settings the agent runs with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Where every process's spool lives (`siem.spool.path`).
    spool_path: Option<PathBuf>,
    /// Destinations with a disk buffer (they may buffer through an outage and stay ready).
    disk_buffered: Vec<&'static str>,
    alerts: gatekit_siem::config::observe::AlertSettings,
    listen: std::net::SocketAddr,
}

impl Agent {
    pub(crate) fn sink(&self) -> Arc<SiemSink> {
        Arc::clone(&self.sink.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Loads the configuration and checks the `siem` section for the agent.
pub(crate) fn load(path: &Path) -> Result<(Config, gatekit_siem::Checked), String> {
    let cfg = Config::load(path).map_err(|e| e.to_string())?;
    let checked = gatekit_siem::validate(&cfg).map_err(|e| e.to_string())?;
    if checked.plans.is_empty() {
        return Err(
            "the `siem` section enables no destination: the agent has nothing to deliver to".into(),
        );
    }
    Ok((cfg, checked))
}

/// Starts a sink for the agent from checked settings.
pub(crate) fn start_sink(
    cfg: &Config,
    checked: gatekit_siem::Checked,
) -> Result<(Arc<SiemSink>, Settings), String> {
    let settings = Settings {
        spool_path: checked.spool.as_ref().map(|s| s.path.clone()),
        disk_buffered: checked
            .plans
            .iter()
            .filter(|p| p.delivery.disk.is_some())
            .map(|p| p.platform)
            .collect(),
        alerts: checked.alerts.clone(),
        listen: checked.agent.listen,
    };
    let options = gatekit_siem::sink::SinkOptions {
        monitor_interval: gatekit_siem::monitor_interval(cfg),
        hash_chain: checked.hash_chain,
        factory: None,
        spool: checked.spool,
        alerts: checked.alerts,
        adopt: true,
        role: "agent",
    };
    let sink = SiemSink::start_with_options(
        checked.plans,
        &tokio::runtime::Handle::current(),
        crate::start::host_name(),
        options,
    )?;
    Ok((sink, settings))
}

/// `gatekit agent`: runs until SIGTERM or SIGINT.
pub fn run(path: &Path, verbose: bool) -> ExitCode {
    let (cfg, checked) = match load(path) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    crate::logs::init_for(&cfg, verbose);
    if checked.spool.is_none() {
        warn!("No SIEM spool is configured (siem.spool or a disk buffer): gateways keep events in memory only, so the agent can adopt only disk buffers.");
    }
    for w in &checked.warnings {
        warn!(warning = %w, "SIEM configuration warning.");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("gatekit-agent")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(path, cfg, checked));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn serve(path: &Path, cfg: Config, checked: gatekit_siem::Checked) -> ExitCode {
    use tokio::signal::unix::{signal, SignalKind};
    let (sink, settings) = match start_sink(&cfg, checked) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {} (siem.agent.listen): {e}",
                settings.listen
            );
            sink.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    let (mut hup, mut term, mut int) = match (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(h), Ok(t), Ok(i)) => (h, t, i),
        _ => {
            eprintln!("error: cannot install signal handlers");
            sink.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    let listen = listener.local_addr().unwrap_or(settings.listen);
    let agent = Arc::new(Agent {
        sink: Mutex::new(sink),
        settings: Mutex::new(settings),
        reloads: Default::default(),
        reload_failures: Default::default(),
    });
    tokio::spawn(http::serve(listener, Arc::clone(&agent)));
    info!(%listen, config = %path.display(), "Gatekit agent started.");
    loop {
        tokio::select! {
            _ = hup.recv() => reload::reload(path, &agent).await,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    info!("Gatekit agent stopping; flushing SIEM delivery.");
    let sink = agent.sink();
    sink.shutdown().await;
    if agent
        .reload_failures
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
    {
        error!("Some reloads were refused during this run (see the log).");
    }
    info!("Gatekit agent stopped.");
    ExitCode::SUCCESS
}
