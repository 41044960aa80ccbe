//! Gatekit's SIEM content, generated from the formatters' tables: the Splunk add-on
//! `TA-gatekit` with its SC4S entries, the Microsoft Sentinel solution and the IBM QRadar
//! DSM extension, all under `integrations/`.
//!
//! Job: [`generate`] returns every file (relative path and text); [`write`] puts them in a
//! repository checkout and [`stale`] lists the ones that differ, which `tests/drift.rs`
//! requires to be none. Run `cargo run -p gatekit-content` from the repository root to
//! regenerate after changing a formatter or this crate.
//!
//! Invariants: the output is deterministic (no clock, no environment, no map iteration
//! order); every file is derived from [`schema::FIELDS`], [`gatekit_format::SENTINEL_COLUMNS`]
//! and [`detections`], so the content cannot drift from what the formatters emit. The
//! content is checked by the vendors' validators in this crate's integration tests.

pub mod detections;
pub mod qradar;
pub mod schema;
pub mod sentinel;
mod sentinel_content;
pub mod splunk;
mod splunk_ui;
pub mod text;

use std::path::Path;

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Path relative to the repository root, with `/` separators.
    pub path: String,
    /// Content (UTF-8).
    pub text: String,
}

impl File {
    /// A file at `path` with `text`.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }
}

/// Every generated file, sorted by path.
pub fn generate() -> Vec<File> {
    let mut files = splunk::files();
    files.extend(sentinel::files());
    files.extend(qradar::files());
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Writes every generated file under `root` (creating directories).
pub fn write(root: &Path) -> std::io::Result<usize> {
    let files = generate();
    for f in &files {
        let p = root.join(&f.path);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&p, &f.text)?;
    }
    Ok(files.len())
}

/// Paths under `root` whose content differs from the generated text (or that are missing).
pub fn stale(root: &Path) -> Vec<String> {
    generate()
        .into_iter()
        .filter(|f| std::fs::read_to_string(root.join(&f.path)).ok().as_deref() != Some(&f.text))
        .map(|f| f.path)
        .collect()
}
