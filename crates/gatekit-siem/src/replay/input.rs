//! What `gatekit siem replay` reads, turned into items to send.
//!
//! Inputs, told apart by what they hold (never by their name):
//! - a **dead-letter file** (JSON lines with `record_id`, `destination` and `payload` or
//!   `payload_base64`): records already rendered for one platform, sent as they are;
//! - a **JSONL audit trail**: Gatekit's `audit_jsonl` lines (`event_id`, `event_category`,
//!   `timestamp`, ...) or canonical events (the JSON a SIEM receives with `format: json`);
//!   each line becomes a canonical event, rendered for every destination (a HEC envelope's
//!   `event` too);
//! - a **disk buffer** directory (segment files): records rendered for one platform;
//! - a **spool** directory (segment files and a `destinations` file): canonical events.
//!
//! A directory that holds no segments but `proc-*` subdirectories (the configured
//! `disk.path` or spool path of several processes) is read as each of them in name order.
//!
//! Invariants: inputs are only read, never written, locked or removed. Event ids are kept:
//! a canonical event's `event_id` and a dead letter's or buffer record's `record_id` become
//! the record id, so a SIEM can de-duplicate. A line or record that cannot be read refuses
//! the whole input with its file and line (or segment and offset), before anything is sent.

use std::path::{Path, PathBuf};

use gatekit_core::AuditEvent;
use gatekit_delivery::disk::{scan_dir, ScanOptions};
use gatekit_delivery::{Record, RecordId};
use serde_json::{Map, Value};

/// One thing to send.
#[derive(Debug)]
pub enum Item {
    /// A canonical event: rendered for every destination.
    Event(Box<AuditEvent>),
    /// A record already rendered for `platform` (a dead letter, a disk buffer record).
    Rendered {
        /// The platform it was rendered for (`None`: not known from the input itself).
        platform: Option<String>,
        /// The record, id kept.
        record: Record,
    },
}

/// What kind of input a path held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JSON lines: dead letters, `audit_jsonl` lines or canonical events.
    Lines,
    /// A disk buffer directory.
    Buffer,
    /// A spool directory.
    Spool,
}

/// One input read.
#[derive(Debug)]
pub struct Input {
    /// The path given.
    pub path: PathBuf,
    /// What it was.
    pub kind: Kind,
    /// The items, in order.
    pub items: Vec<Item>,
    /// Damaged regions skipped (`--skip-damaged`), as text.
    pub skipped: Vec<String>,
}

/// Reads `path` (see the module doc).
pub fn read(path: &Path, scan: ScanOptions) -> Result<Input, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.is_dir() {
        read_dir(path, scan)
    } else {
        read_lines(path)
    }
}

fn read_lines(path: &Path) -> Result<Input, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut items = Vec::new();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        let at = || format!("{}:{}", path.display(), i + 1);
        let line = std::str::from_utf8(line).map_err(|_| format!("{}: not UTF-8 text", at()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|e| format!("{}: not a JSON object ({e}); expected a dead letter, an audit_jsonl line or a canonical event", at()))?;
        let Value::Object(object) = value else {
            return Err(format!("{}: not a JSON object", at()));
        };
        items.push(line_item(object).map_err(|e| format!("{}: {e}", at()))?);
    }
    Ok(Input {
        path: path.to_path_buf(),
        kind: Kind::Lines,
        items,
        skipped: Vec::new(),
    })
}

/// One JSON line as an item.
fn line_item(object: Map<String, Value>) -> Result<Item, String> {
    if object.contains_key("record_id")
        && (object.contains_key("payload") || object.contains_key("payload_base64"))
    {
        return dead_letter(&object);
    }
    // A Splunk HEC envelope received as a JSON line (`format: json`): its `event`.
    if let (Some(Value::Object(event)), true) = (object.get("event"), object.contains_key("time")) {
        if event.contains_key("event_id") {
            return line_item(event.clone());
        }
    }
    if object.contains_key("source") && object.contains_key("version") {
        let event: AuditEvent = serde_json::from_value(Value::Object(object))
            .map_err(|e| format!("not a canonical event: {e}"))?;
        return Ok(Item::Event(Box::new(event)));
    }
    if object.contains_key("event_category") && object.contains_key("event_id") {
        return audit_jsonl(&object).map(|e| Item::Event(Box::new(e)));
    }
    Err("neither a dead letter (record_id, payload), an audit_jsonl line (event_id, event_category) nor a canonical event (event_id, source, version)".into())
}

fn dead_letter(o: &Map<String, Value>) -> Result<Item, String> {
    let text = |key: &str| o.get(key).and_then(Value::as_str);
    let id = text("record_id")
        .and_then(|s| s.parse::<gatekit_core::EventId>().ok())
        .ok_or("dead letter: `record_id` is not a UUID")?;
    let payload = match (text("payload"), text("payload_base64")) {
        (Some(p), _) => p.as_bytes().to_vec(),
        (None, Some(b)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| format!("dead letter: `payload_base64` is not base64: {e}"))?
        }
        (None, None) => return Err("dead letter: `payload` is not a string".into()),
    };
    let platform = text("destination")
        .ok_or("dead letter: `destination` is missing")?
        .to_owned();
    Ok(Item::Rendered {
        platform: Some(platform),
        record: Record::new(RecordId(id.as_uuid().as_u128()), payload),
    })
}

/// An `audit_jsonl` line as a canonical event. Carried over: identity (`event_id`,
/// `sequence`, `timestamp`, `host`, `gateway_version`), `event_category` as the event type,
/// `severity`, `session_id`, `request_id` as the correlation id, `method`, `tool`,
/// `namespaced_tool`, `server_name`, `client_info`, `duration_ms`, the error, and `reason`
/// (the message; for a blocked request also the security decision). Request bodies are not
/// carried over (the SIEM destinations' data minimisation decides about parameters, and the
/// trail's bodies may be truncated previews).
fn audit_jsonl(o: &Map<String, Value>) -> Result<AuditEvent, String> {
    let text = |key: &str| o.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut e = serde_json::json!({
        "timestamp": text("timestamp").ok_or("audit_jsonl line: `timestamp` is missing")?,
        "event_type": text("event_category").ok_or("audit_jsonl line: `event_category` is missing")?,
        "severity": text("severity").unwrap_or("info"),
        "source": "gatekit",
        "version": "1.0",
        "event_id": text("event_id").ok_or("audit_jsonl line: `event_id` is missing")?,
        "sequence": o.get("sequence").and_then(Value::as_u64).unwrap_or(0),
        "host": text("host").unwrap_or_default(),
        "gateway_version": text("gateway_version").unwrap_or_default(),
        "schema_version": o.get("schema_version").and_then(Value::as_u64).unwrap_or(1),
    });
    let set = |e: &mut Value, key: &str, v: Value| {
        if let Value::Object(m) = e {
            m.insert(key.to_owned(), v);
        }
    };
    if let Some(s) = text("session_id") {
        set(&mut e, "session_id", Value::from(s));
    }
    if let Some(s) = text("request_id") {
        set(&mut e, "correlation_id", Value::from(s));
    }
    if let Some(m) = text("method") {
        let mut mcp = serde_json::json!({"method": m});
        if let Some(t) = text("tool") {
            mcp["tool_name"] = Value::from(t);
        }
        if let Some(t) = text("namespaced_tool") {
            mcp["namespaced_tool_name"] = Value::from(t);
        }
        set(&mut e, "mcp_data", mcp);
    }
    if let Some(s) = text("server_name") {
        set(&mut e, "upstream_server", serde_json::json!({"name": s}));
    }
    if let Some(c) = o.get("client_info").and_then(Value::as_object) {
        let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
        if !field("client_id").is_empty() {
            set(
                &mut e,
                "client_info",
                serde_json::json!({"client_id": field("client_id"), "client_version": field("client_version")}),
            );
        }
    }
    if let Some(ms) = o.get("duration_ms").and_then(Value::as_f64) {
        if ms.is_finite() && ms >= 0.0 {
            set(&mut e, "duration_us", Value::from((ms * 1000.0) as u64));
        }
    }
    if let Some(code) = o.get("error_code").and_then(Value::as_i64) {
        set(
            &mut e,
            "error",
            serde_json::json!({"code": code, "message": text("error_message").unwrap_or_default()}),
        );
    }
    if let Some(r) = text("reason") {
        set(&mut e, "message", Value::from(r));
        if text("pipeline_outcome") == Some("blocked") {
            let plugin = o
                .get("pipeline")
                .and_then(|p| p.get("blocked_at_stage"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            set(
                &mut e,
                "security_decision",
                serde_json::json!({"allowed": false, "plugin": plugin, "reason": r}),
            );
        }
    }
    serde_json::from_value(e).map_err(|e| format!("audit_jsonl line: {e}"))
}

fn read_dir(path: &Path, scan: ScanOptions) -> Result<Input, String> {
    let dirs = buffer_dirs(path)?;
    let spool = dirs.iter().any(|d| d.join("destinations").is_file());
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for dir in &dirs {
        let result = scan_dir(dir, scan).map_err(|e| e.to_string())?;
        skipped.extend(result.damaged.iter().map(|(p, at, n)| {
            format!("{}: {n} damaged bytes at offset {at} skipped", p.display())
        }));
        for (n, record) in result.records.into_iter().enumerate() {
            if spool {
                let event: AuditEvent = serde_json::from_slice(&record.payload).map_err(|e| {
                    format!(
                        "{}: spool record {} (id {}) is not a canonical event: {e}",
                        dir.display(),
                        n + 1,
                        record.id
                    )
                })?;
                items.push(Item::Event(Box::new(event)));
            } else {
                items.push(Item::Rendered {
                    platform: None,
                    record,
                });
            }
        }
    }
    Ok(Input {
        path: path.to_path_buf(),
        kind: if spool { Kind::Spool } else { Kind::Buffer },
        items,
        skipped,
    })
}

/// `path` itself when it holds segments, else its `proc-*` subdirectories that do.
fn buffer_dirs(path: &Path) -> Result<Vec<PathBuf>, String> {
    let list = |dir: &Path| -> Result<Vec<PathBuf>, String> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        v.sort();
        Ok(v)
    };
    let has_segments = |dir: &Path| -> Result<bool, String> {
        Ok(list(dir)?
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "seg")))
    };
    if has_segments(path)? {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut dirs = Vec::new();
    for sub in list(path)? {
        let is_proc = sub
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("proc-"));
        if is_proc && sub.is_dir() && has_segments(&sub)? {
            dirs.push(sub);
        }
    }
    if dirs.is_empty() {
        return Err(format!(
            "{}: neither a disk buffer nor a spool (no *.seg files, no proc-* directories holding them)",
            path.display()
        ));
    }
    Ok(dirs)
}
