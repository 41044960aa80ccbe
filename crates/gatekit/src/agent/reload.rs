//! SIGHUP: the agent reloads the `siem` section without losing a record.
//!
//! Order: the new file is loaded and checked (a bad file is logged and the running sink stays);
//! the new sink starts first, in directories of its own (`gatekit_siem::adopt::own_dir`'s
//! generation); then the old sink is shut down (flushed within each destination's deadline).
//! Whatever the old one could not deliver stays in its spool and buffers, which are unlocked
//! when it stops, so the new sink adopts them like any dead process's: nothing is dropped,
//! at worst a record is sent twice with its event id. A changed `siem.agent.listen` takes
//! effect only at restart (logged).

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use tracing::{error, info, warn};

use super::Agent;

/// Reloads from `path`.
pub(super) async fn reload(path: &Path, agent: &Agent) {
    info!(config = %path.display(), "Reloading the SIEM configuration (SIGHUP).");
    let loaded = super::load(path).and_then(|(cfg, checked)| super::start_sink(&cfg, checked));
    let (new, settings) = match loaded {
        Ok(started) => started,
        Err(e) => {
            agent.reload_failures.fetch_add(1, Relaxed);
            error!(error = %e, "Reload refused; the running SIEM configuration stays.");
            return;
        }
    };
    let old_listen = agent.settings().listen;
    if settings.listen != old_listen {
        warn!(old = %old_listen, new = %settings.listen, "siem.agent.listen changes only at restart.");
    }
    let old = {
        let mut sink = agent.sink.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *sink, new)
    };
    *agent.settings.lock().unwrap_or_else(|e| e.into_inner()) = super::Settings {
        listen: old_listen,
        ..settings
    };
    old.shutdown().await;
    agent.reloads.fetch_add(1, Relaxed);
    info!("SIEM configuration reloaded; the previous delivery drained or left its backlog to the new one.");
}
