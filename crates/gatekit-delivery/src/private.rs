//! Private files: buffer segments, the ack and lock files and dead-letter files hold full
//! audit events (tool arguments included), so they are created 0600 in 0700 directories.
//!
//! Job: one place that creates files and directories with those modes, and checks existing
//! ones at start-up.
//!
//! Invariants:
//! - Modes are passed to `open`/`mkdir` at creation, never set afterwards, so there is no
//!   window in which a file is readable by others. The process umask can only remove bits
//!   from 0600/0700, so no umask makes them wider.
//! - An existing file (or a directory Gatekit owns) that is wider than its mode is tightened
//!   with a warning: it was created by an older version or by hand, and leaving it readable
//!   would leave the audit trail readable. A directory Gatekit does not own (the parent of a
//!   user-chosen dead-letter path, such as `/var/log`) is only warned about.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file this crate creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory this crate creates.
pub const DIR_MODE: u32 = 0o700;

/// Open options that create files with [`FILE_MODE`].
pub(crate) fn file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Creates `dir` and any missing parents with [`DIR_MODE`].
pub(crate) fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Checks `path` against `want` (a file or directory Gatekit owns); tightens it with a warning
/// if group or others have any access. Returns whether it was tightened. A missing path is
/// fine (nothing to protect).
pub(crate) fn tighten(path: &Path, want: u32) -> bool {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return false,
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return false;
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(want)) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), now = format!("{want:o}"), "Audit buffer file was readable by other users; tightened its mode.");
            true
        }
        Err(e) => {
            tracing::error!(path = %path.display(), mode = format!("{mode:o}"), error = %e, "Audit buffer file is readable by other users and its mode could not be tightened.");
            false
        }
    }
}

/// Warns (without changing it) when a directory Gatekit does not own is open to others.
pub(crate) fn warn_if_open(dir: &Path) {
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "The dead-letter file's directory is open to other users; the file itself is 0600.");
        }
    }
}
