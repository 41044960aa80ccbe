//! `proxy.hot_reload`: watches the configuration file and hands each change to the gateway.
//!
//! The watcher is a thread that polls the file's identity (inode, size, modification time)
//! once a second: no file-notification dependency, and an editor that replaces the file by
//! renaming a new one over it is seen too. A changed file is loaded and checked exactly as at
//! start-up (configuration, plugins, audit files); anything wrong is sent as a rejection, so
//! the running configuration stays and the reason is logged and audited. The SIEM section is
//! not reloaded (its delivery queues and buffers stay as started); a change to it is reported.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gatekit_config::Config;
use gatekit_core::EventFactory;
use gatekit_mcp::audit::AuditSink;
use gatekit_mcp::audit_fanout::Fanout;
use gatekit_mcp::gateway::ReloadEvent;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// How often the file is looked at.
const POLL: Duration = Duration::from_secs(1);
/// How long a changed file must stay unchanged before it is loaded, and how many such waits
/// at most: a file caught between an editor's truncation and its write would otherwise be
/// rejected as empty (seen in the hot-reload test on a busy machine).
const SETTLE: Duration = Duration::from_millis(100);
const SETTLE_WAITS: usize = 20;

/// Starts the watcher for `path`, whose loaded form is `current`. `siem` is the running SIEM
/// sink, kept across reloads. The thread ends when the gateway drops the receiver.
pub fn watch(
    path: PathBuf,
    current: &Config,
    siem: Option<Arc<dyn AuditSink>>,
    factory: Arc<EventFactory>,
) -> mpsc::Receiver<ReloadEvent> {
    let (tx, rx) = mpsc::channel(4);
    let siem_section = current.file.siem.clone();
    let mut seen = identity(&path);
    let spawned = std::thread::Builder::new()
        .name("gatekit-config-watch".into())
        .spawn(move || loop {
            std::thread::sleep(POLL);
            if tx.is_closed() {
                return;
            }
            let now = identity(&path);
            if now == seen || now.is_none() {
                // A missing file is usually an editor between writing and renaming.
                continue;
            }
            seen = settled(&path, now);
            if seen.is_none() {
                continue;
            }
            info!(config = %path.display(), "Configuration file changed; reloading.");
            let event = load(&path, &siem_section, siem.clone(), &factory);
            if tx.blocking_send(event).is_err() {
                return;
            }
        });
    if let Err(e) = spawned {
        warn!(error = %e, "Cannot start the configuration watcher; hot reload is off.");
    }
    rx
}

/// Waits until the file's identity stops changing (at most `SETTLE_WAITS` waits); the last
/// identity seen.
fn settled(path: &Path, mut now: Option<(u64, u64, i64, i64)>) -> Option<(u64, u64, i64, i64)> {
    for _ in 0..SETTLE_WAITS {
        std::thread::sleep(SETTLE);
        let again = identity(path);
        if again == now {
            break;
        }
        now = again;
    }
    now
}

/// What identifies one version of the file.
fn identity(path: &Path) -> Option<(u64, u64, i64, i64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// Loads and checks the file the way start-up does.
fn load(
    path: &Path,
    siem_section: &Option<gatekit_config::yaml::Value>,
    siem: Option<Arc<dyn AuditSink>>,
    factory: &Arc<EventFactory>,
) -> ReloadEvent {
    let rejected = |reason: String| ReloadEvent::Rejected { reason };
    let cfg = match Config::load(path) {
        Ok(cfg) => cfg,
        Err(errors) => return rejected(errors.to_string()),
    };
    let plugins = crate::gateway_config::plugin_availability(&cfg);
    if !plugins.missing_critical.is_empty() {
        return rejected(plugins.missing_critical.join("; "));
    }
    let hooks = match gatekit_plugins::build_hooks(&cfg) {
        Ok(hooks) => hooks.map(|h| h as Arc<dyn gatekit_mcp::hooks::Hooks>),
        Err(errors) => return rejected(errors.to_string()),
    };
    let trail = match gatekit_audit::build(&cfg) {
        Ok(trail) => trail.map(|t| t as Arc<dyn AuditSink>),
        Err(errors) => return rejected(errors.to_string()),
    };
    let mut notes = Vec::new();
    if &cfg.file.siem != siem_section {
        notes.push("the `siem` section changed; SIEM delivery keeps its start-up settings until Gatekit restarts".to_string());
    }
    let settings = crate::gateway_config::gateway_settings(&cfg);
    let sinks: Vec<Arc<dyn AuditSink>> = trail.into_iter().chain(siem).collect();
    // The process's one event factory: sequence numbers continue across the reload.
    let audit = (!sinks.is_empty()).then(|| {
        Arc::new(
            Fanout::new(Arc::clone(factory), sinks)
                .with_context(crate::gateway_config::audit_context(&settings)),
        )
    });
    for note in &notes {
        warn!(%note, "Not reloaded.");
    }
    ReloadEvent::Apply {
        upstreams: settings.upstreams,
        hooks,
        audit,
        notes,
    }
}
