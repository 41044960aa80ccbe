//! `gatekit audit verify FILE...`: checks the hash chain of an audit stream, a JSONL audit
//! trail (`audit_jsonl` with `hash_chain: true`) or a SIEM stream received as JSON lines
//! (`siem.hash_chain: true` with the `json` format; a Splunk HEC envelope's `event` is taken
//! out). Files are read in the order given, oldest rotated file first, as one stream.
//!
//! What it finds and what it cannot is in [`gatekit_core::chain`]: a changed, removed,
//! reordered or duplicated record is reported with its file and line; the removal of a whole
//! chain or of its last records is not visible in the stream itself.

use std::path::PathBuf;
use std::process::ExitCode;

use gatekit_core::chain::{self, Problem};

/// Where a record came from.
struct Origin {
    file: usize,
    line: usize,
}

/// The record in `line`: the line itself when it carries a link, else the `event` of a HEC
/// envelope (`{"time":..,"event":{...}}`), else the line (reported as unlinked).
fn record_text(line: &str) -> String {
    if chain::split(line).is_some() {
        return line.to_string();
    }
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        event: &'a serde_json::value::RawValue,
    }
    match serde_json::from_str::<Envelope<'_>>(line) {
        Ok(envelope) => envelope.event.get().to_string(),
        Err(_) => line.to_string(),
    }
}

/// Verifies `files` as one stream; exit status 0 when every record verifies.
pub fn verify(files: &[PathBuf]) -> ExitCode {
    let mut records = Vec::new();
    let mut origins = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            records.push(record_text(line));
            origins.push(Origin {
                file: i,
                line: n + 1,
            });
        }
    }
    let report = chain::verify(records.iter().map(String::as_str));
    let at = |record: usize| {
        origins.get(record).map_or_else(String::new, |o| {
            format!("{}:{}", files[o.file].display(), o.line)
        })
    };
    for problem in &report.problems {
        let record = match problem {
            Problem::Changed { record }
            | Problem::MissingPredecessor { record }
            | Problem::Fork { record }
            | Problem::Unlinked { record } => *record,
        };
        println!("{}: {problem}", at(record));
    }
    if report.records == 0 {
        println!("no records to verify");
        return ExitCode::FAILURE;
    }
    if report.ok() {
        println!(
            "verified: {} records in {} chain{}",
            report.records,
            report.chains,
            if report.chains == 1 { "" } else { "s" }
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "NOT verified: {} problem{} in {} records",
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" },
            report.records
        );
        ExitCode::FAILURE
    }
}
