//! Shared helpers for the content tests: where the repository, the generated content, the
//! sample events and the validators are, and the rule that a missing validator fails.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "shared by several test binaries, each using a part; tests fail loudly on errors"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// This crate's validator scripts.
pub(crate) fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// `Some(reason)` when a missing validator may be skipped: only outside CI and only when
/// `GATEKIT_SKIP_CONTENT_VALIDATORS` is set. Otherwise a missing validator fails the test
/// with the command that installs it.
pub(crate) fn require(what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    let skip = std::env::var_os("GATEKIT_SKIP_CONTENT_VALIDATORS").is_some()
        && std::env::var_os("CI").is_none();
    assert!(
        skip,
        "{what} is not installed: run `scripts/setup-test-peers` (or set \
GATEKIT_SKIP_CONTENT_VALIDATORS=1 outside CI to skip)"
    );
    eprintln!("skipping: {what} is not installed (GATEKIT_SKIP_CONTENT_VALIDATORS)");
    false
}

/// The test virtualenv's bin directory (`target/test-venv/bin`).
pub(crate) fn venv_bin() -> PathBuf {
    std::env::var_os("GATEKIT_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/test-venv"))
        .join("bin")
}

/// The Kusto language service package directory.
pub(crate) fn kusto_dir() -> PathBuf {
    root().join("target/test-node/node_modules/@kusto/language-service-next")
}

/// True when `program --version` (or `-version`) runs.
pub(crate) fn has_program(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Writes `gatekit siem sample --format <kind>` output to `dir/<kind>.txt`.
pub(crate) fn write_samples(dir: &Path, kind: &str) -> PathBuf {
    let k: gatekit_format::FormatKind = kind.parse().unwrap();
    let bytes = gatekit_format::render_samples(k).unwrap();
    let p = dir.join(format!("{kind}.txt"));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs `cmd`, panicking with its output when it fails; returns stdout.
pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
