//! The `token_usage` audit handler (Python Gatekit 0.3's keys and CSV columns).
//!
//! For every request, response and server notification it estimates cl100k_base tokens
//! ([`count`]): a request is text the model wrote (`output_tokens`), a response or a server
//! notification is text the model will read (`input_tokens`). Tools are named as the upstream
//! knows them; everything that is not `tools/call` is counted under `_other`.
//!
//! * The CSV (`output_file`) gets one row per answered request (its input and output tokens)
//!   and one per server notification: `timestamp,server,method,tool,input_tokens,output_tokens`.
//! * Counters per server and tool are added to the state file ([`state`]) every
//!   `flush_interval_seconds` by a background thread and once more when the gateway stops;
//!   the request path never waits for that file.
//!
//! Invariant: a count is added to the state file exactly once (deltas are taken under the
//! counters' lock and put back if the write fails).

pub mod count;
pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use gatekit_mcp::audit::{AuditRecord, Phase};
use gatekit_mcp::jsonrpc::RequestId;
use serde::Deserialize;
use serde_json::Value;

use crate::line_file::{Fsync, LineFile, LineFileSettings};
use state::{Count, Counters, StateFile};

/// CSV columns, as Python Gatekit writes them.
pub const CSV_COLUMNS: [&str; 6] = [
    "timestamp",
    "server",
    "method",
    "tool",
    "input_tokens",
    "output_tokens",
];

/// Requests waiting for their response are forgotten after this long (a response that never
/// comes must not grow the table forever).
const PENDING_TTL: Duration = Duration::from_secs(300);

/// `token_usage` options. Unknown keys are errors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenUsageOptions {
    /// CSV log, relative to the config file; `~` and `${VAR}` expanded.
    #[serde(default = "default_output_file")]
    pub output_file: String,
    /// JSON counters, same resolution.
    #[serde(default = "default_state_file")]
    pub state_file: String,
    /// Seconds between state file updates (0.1 to 60).
    #[serde(default = "default_flush_interval")]
    pub flush_interval_seconds: f64,
}

fn default_output_file() -> String {
    "logs/token_usage.csv".into()
}

fn default_state_file() -> String {
    "logs/token_usage_state.json".into()
}

fn default_flush_interval() -> f64 {
    1.0
}

impl TokenUsageOptions {
    /// Checks the ranges Python Gatekit's schema allows.
    pub fn check(&self) -> Result<Duration, String> {
        let secs = self.flush_interval_seconds;
        if !(0.1..=60.0).contains(&secs) {
            return Err(format!(
                "flush_interval_seconds must be between 0.1 and 60, got {secs}"
            ));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

#[derive(Debug)]
struct Pending {
    output: u64,
    at: Instant,
}

#[derive(Debug, Default)]
struct Counting {
    /// Counted since the last flush.
    delta: Counters,
    /// Requests waiting for their response: (upstream, request id) → output tokens.
    pending: HashMap<(String, String), Pending>,
}

/// One `token_usage` entry.
#[derive(Debug)]
pub struct TokenUsage {
    csv: Arc<LineFile>,
    dialect: crate::csv::Dialect,
    state: StateFile,
    counting: Mutex<Counting>,
}

impl TokenUsage {
    /// Opens the CSV, loads the tokenizer and starts the flushing thread.
    pub fn start(
        csv_path: std::path::PathBuf,
        state_path: std::path::PathBuf,
        interval: Duration,
    ) -> Result<Arc<TokenUsage>, String> {
        count::warm_up()?;
        let dialect = crate::csv::Dialect::new(&crate::options::CsvConfig::default())?;
        let csv = LineFile::open(LineFileSettings {
            path: csv_path.clone(),
            max_bytes: 10 * 1024 * 1024,
            backups: 5,
            fsync: Fsync::Interval,
            header: Some(dialect.row(&CSV_COLUMNS.map(Some)).into_bytes()),
        })
        .map_err(|e| format!("cannot open {}: {e}", csv_path.display()))?;
        let meter = Arc::new(TokenUsage {
            csv,
            dialect,
            state: StateFile::new(state_path),
            counting: Mutex::default(),
        });
        let weak = Arc::downgrade(&meter);
        std::thread::Builder::new()
            .name("gatekit-token-usage".into())
            .spawn(move || flush_loop(weak, interval))
            .map_err(|e| format!("cannot start the token_usage flush thread: {e}"))?;
        Ok(meter)
    }

    /// The state file.
    pub fn state(&self) -> &StateFile {
        &self.state
    }

    /// Counts one record; an error means the CSV row could not be written.
    pub fn record(&self, record: &AuditRecord<'_>) -> Result<(), String> {
        let Some(server) = record.upstream else {
            // Client notifications reach no server: nothing to attribute them to.
            return Ok(());
        };
        let tool = match (record.method, record.tool) {
            ("tools/call", Some(tool)) => tool,
            _ => "_other",
        };
        let id = record.request_id.map(|id| match id {
            RequestId::Number(n) => Value::from(*n),
            RequestId::String(s) => Value::from(s.as_str()),
        });
        let key = |id: &Option<Value>| {
            (
                server.to_string(),
                id.as_ref().map(Value::to_string).unwrap_or_default(),
            )
        };
        match record.phase {
            Phase::Request => {
                let text = count::message_text(
                    Some(record.method),
                    id.as_ref(),
                    record.body.map(|b| ("params", b)),
                );
                let output = count::tokens(&text);
                let mut c = self.lock();
                add(&mut c.delta, server, tool, Count { input: 0, output });
                let now = Instant::now();
                c.pending
                    .retain(|_, p| now.duration_since(p.at) < PENDING_TTL);
                if id.is_some() {
                    c.pending.insert(key(&id), Pending { output, at: now });
                }
                Ok(())
            }
            Phase::Response => {
                let error;
                let payload = match (&record.error, record.body) {
                    (Some(e), _) => {
                        error = serde_json::json!({"code": e.code, "message": e.message});
                        Some(("error", &error))
                    }
                    (None, Some(body)) => Some(("result", body)),
                    (None, None) => None,
                };
                let input = count::tokens(&count::message_text(None, id.as_ref(), payload));
                let output = {
                    let mut c = self.lock();
                    add(&mut c.delta, server, tool, Count { input, output: 0 });
                    c.pending.remove(&key(&id)).map_or(0, |p| p.output)
                };
                self.row(server, record.method, tool, input, output)
            }
            Phase::Notification => {
                let input = count::tokens(&count::message_text(
                    Some(record.method),
                    None,
                    record.body.map(|b| ("params", b)),
                ));
                add(
                    &mut self.lock().delta,
                    server,
                    "_other",
                    Count { input, output: 0 },
                );
                self.row(server, record.method, "_other", input, 0)
            }
        }
    }

    /// Adds what was counted since the last flush to the state file.
    pub fn flush(&self) -> Result<(), String> {
        let delta = std::mem::take(&mut self.lock().delta);
        if delta.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.state.add(&delta) {
            // Put the counts back: they are added by the next flush instead of being lost.
            let mut c = self.lock();
            for (server, tools) in delta {
                for (tool, count) in tools {
                    add(&mut c.delta, &server, &tool, count);
                }
            }
            return Err(format!(
                "cannot update {}: {e}",
                self.state.path().display()
            ));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counting> {
        self.counting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn row(
        &self,
        server: &str,
        method: &str,
        tool: &str,
        input: u64,
        output: u64,
    ) -> Result<(), String> {
        let stamp = timestamp();
        let (input, output) = (input.to_string(), output.to_string());
        let fields = [
            Some(stamp.as_str()),
            Some(&*spreadsheet_safe(server)),
            Some(&*spreadsheet_safe(method)),
            Some(&*spreadsheet_safe(tool)),
            Some(input.as_str()),
            Some(output.as_str()),
        ];
        self.csv
            .append(self.dialect.row(&fields).as_bytes())
            .map_err(|e| {
                format!(
                    "token_usage cannot write {}: {e}",
                    self.csv.path().display()
                )
            })
    }
}

impl Drop for TokenUsage {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "token_usage: final state update failed.");
        }
    }
}

fn add(counters: &mut Counters, server: &str, tool: &str, count: Count) {
    let slot = counters
        .entry(server.to_string())
        .or_default()
        .entry(tool.to_string())
        .or_default();
    slot.input = slot.input.saturating_add(count.input);
    slot.output = slot.output.saturating_add(count.output);
}

fn flush_loop(meter: Weak<TokenUsage>, interval: Duration) {
    loop {
        std::thread::sleep(interval);
        let Some(meter) = meter.upgrade() else { return };
        if let Err(e) = meter.flush() {
            tracing::warn!(error = %e, "token_usage: state update failed; retrying at the next interval.");
        }
    }
}

/// A cell a spreadsheet would run as a formula gets a leading `'` (as Python Gatekit does).
fn spreadsheet_safe(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

/// `YYYY-MM-DDThh:mm:ss.ffffffZ`, UTC.
fn timestamp() -> String {
    let c = gatekit_core::Timestamp::now().civil();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.nanos / 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(spreadsheet_safe("=cmd()"), "'=cmd()");
        assert_eq!(spreadsheet_safe("echo"), "echo");
    }

    #[test]
    fn flush_interval_is_range_checked() {
        let mut o = TokenUsageOptions {
            output_file: default_output_file(),
            state_file: default_state_file(),
            flush_interval_seconds: 0.05,
        };
        assert!(o.check().is_err());
        o.flush_interval_seconds = 60.0;
        assert_eq!(o.check().unwrap(), Duration::from_secs(60));
    }
}
