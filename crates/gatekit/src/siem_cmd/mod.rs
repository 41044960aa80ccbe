//! `gatekit siem ...`: the operator's tools for the SIEM side, one file per subcommand.
//!
//! * [`test`]: one `system_event` through each enabled destination's transport, with what the
//!   result can and cannot confirm for that transport, in plain words.
//! * [`load`]: synthetic events through the configured pipelines, only to test targets
//!   ([`target`]), with progress on stderr; any drop or dead letter is a failure.
//! * [`sample`]: the sample events as a named format, or exactly as each configured destination
//!   would send them.
//!
//! Invariant: nothing here prints Rust debug text; every outcome is put in words.

mod load;
mod sample;
mod target;
mod test;

use std::path::Path;

pub use load::load;
pub use sample::{sample_config, sample_format};
pub use test::test;

/// The checked `siem` section of `path`: its plans (at least one) and whether it is marked a
/// test target. Configuration warnings are printed on stderr.
fn checked(path: &Path) -> Result<gatekit_siem::Checked, String> {
    let cfg = gatekit_config::Config::load(path).map_err(|e| e.to_string())?;
    let checked = gatekit_siem::validate(&cfg).map_err(|e| e.to_string())?;
    for w in &checked.warnings {
        eprintln!("warning: {w}");
    }
    if checked.plans.is_empty() {
        return Err(format!(
            "{}: no SIEM platform is enabled in the `siem` section",
            path.display()
        ));
    }
    Ok(checked)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("gatekit-siem")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}
