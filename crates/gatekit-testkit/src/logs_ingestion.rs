//! A strict Azure Monitor Logs Ingestion API endpoint (docs/reference/sentinel.md §1,
//! platform-facts.md §14), with the Entra token endpoint of [`crate::entra`] on the same
//! port (so one receiver serves `authority_host` and `endpoint`).
//!
//! What it checks on `POST /dataCollectionRules/{dcr}/streams/{stream}`:
//! * the route: another DCR or stream → 404 (`NotFound`), another method → 405;
//! * `api-version=2023-01-01`, else 400 (`InvalidApiVersion`);
//! * `Authorization: Bearer <token>` where the token was issued here, for the monitor scope,
//!   and has not expired: missing, unknown, expired or wrong-audience → 401
//!   (`InvalidToken` / `TokenExpired` / `InvalidAudience`);
//! * `Content-Type: application/json` (parameters allowed), else 415;
//! * the body (after `Content-Encoding: gzip`, which is accepted) is at most 1,048,576
//!   bytes on the wire and uncompressed, else 413 `ContentLengthLimitExceeded`;
//! * the body is JSON: not JSON → 400 (`InvalidJson`); a bare object → 204 with nothing
//!   kept, as Azure does (counted in [`LogsIngestionReceiver::bare_objects`]); an array whose
//!   items are not all objects → 400;
//! * each property must be a column of the stream (here `gatekit_format::SENTINEL_COLUMNS`):
//!   an undeclared property is dropped and counted, as Azure drops it; a declared one with a
//!   value of the wrong JSON type (`string`, `int` in i32 range, `long`, `real`, `boolean`,
//!   `datetime` as an ISO 8601 string, `dynamic` anything) → 400 (`InvalidSchema`);
//! * with `max_time_range` set, records whose `TimeGenerated` span more than it → 400
//!   `RecordsTimeRangeIsMoreThan30Minutes` (some tables enforce 30 minutes);
//! * success is 204 with an empty body; records are kept in order, and records whose
//!   `EventId` was already received are counted as duplicates.
//!
//! Faults ([`Fault`]) are scripted per data request: any status with `Retry-After`, slow
//! answers, dropped connections. [`LogsIngestionReceiver::set_forbidden`] answers 403
//! (`Forbidden`: the role assignment is missing) until cleared.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gatekit_format::{ColumnType, SENTINEL_COLUMNS, SENTINEL_STREAM};
use serde_json::{Map, Value};

use crate::azure::{apply, error, lock, Fault, Script};
use crate::entra::{EntraOptions, TokenCheck, TokenIssuer, MONITOR_SCOPE};
use crate::server::{HttpServer, Reply, Request};

/// The documented limit.
pub const MAX_BODY: usize = 1_048_576;

/// How the receiver is set up.
#[derive(Debug, Clone)]
pub struct LogsIngestionOptions {
    /// The DCR immutable id.
    pub dcr: String,
    /// The input stream.
    pub stream: String,
    /// The Entra application allowed to send.
    pub entra: EntraOptions,
    /// Keep every record (tests); `false` only counts them (benchmarks).
    pub keep_records: bool,
    /// Refuse a request whose records' `TimeGenerated` span more than this, with 400
    /// `RecordsTimeRangeIsMoreThan30Minutes`, as some tables do (sentinel.md §1.3); `None`: no
    /// limit.
    pub max_time_range: Option<std::time::Duration>,
}

impl LogsIngestionOptions {
    /// The Gatekit stream on `dcr`, records kept.
    pub fn new(dcr: &str, entra: EntraOptions) -> LogsIngestionOptions {
        LogsIngestionOptions {
            dcr: dcr.into(),
            stream: SENTINEL_STREAM.into(),
            entra,
            keep_records: true,
            max_time_range: None,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    records: Vec<Map<String, Value>>,
    ids: HashSet<String>,
    record_count: u64,
    duplicates: u64,
    dropped_properties: u64,
    bare_objects: u64,
    requests: u64,
    gzip_requests: u64,
    largest_body: usize,
    body_bytes: u64,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct LogsIngestionReceiver {
    server: HttpServer,
    state: Arc<Mutex<State>>,
    issuer: Arc<TokenIssuer>,
    script: Arc<Script>,
    forbidden: Arc<AtomicBool>,
    refused_tokens: Arc<AtomicU64>,
}

impl LogsIngestionReceiver {
    /// Starts a plain-HTTP receiver.
    ///
    /// # Panics
    /// When no port on 127.0.0.1 can be bound (a test setup failure).
    pub fn start(options: LogsIngestionOptions) -> LogsIngestionReceiver {
        Self::start_on(options, 0)
    }

    /// Starts a plain-HTTP receiver on 127.0.0.1:`port` (0: any free port).
    ///
    /// # Panics
    /// When the port cannot be bound.
    pub fn start_on(options: LogsIngestionOptions, port: u16) -> LogsIngestionReceiver {
        let state: Arc<Mutex<State>> = Arc::default();
        let issuer = Arc::new(TokenIssuer::new(options.entra.clone()));
        let script: Arc<Script> = Arc::default();
        let forbidden: Arc<AtomicBool> = Arc::default();
        let refused_tokens: Arc<AtomicU64> = Arc::default();
        let ctx = Ctx {
            options,
            state: Arc::clone(&state),
            issuer: Arc::clone(&issuer),
            script: Arc::clone(&script),
            forbidden: Arc::clone(&forbidden),
            refused_tokens: Arc::clone(&refused_tokens),
        };
        let handler = Arc::new(move |req: Request| ctx.handle(&req));
        match HttpServer::start_at(port, handler, None) {
            Ok(server) => LogsIngestionReceiver {
                server,
                state,
                issuer,
                script,
                forbidden,
                refused_tokens,
            },
            Err(e) => panic!("cannot start the Logs Ingestion receiver: {e}"),
        }
    }

    /// The port on 127.0.0.1 (token endpoint and ingestion endpoint).
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The token issuer (token requests, lifetimes, token faults).
    pub fn issuer(&self) -> &Arc<TokenIssuer> {
        &self.issuer
    }

    /// Queues faults for the next data requests.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.script.extend(faults);
    }

    /// Answers 403 to every data request while `true`.
    pub fn set_forbidden(&self, forbidden: bool) {
        self.forbidden.store(forbidden, Ordering::SeqCst);
    }

    /// Records kept, in arrival order (declared properties only).
    pub fn records(&self) -> Vec<Map<String, Value>> {
        lock(&self.state).records.clone()
    }

    /// Records accepted so far.
    pub fn record_count(&self) -> u64 {
        lock(&self.state).record_count
    }

    /// Records whose `EventId` had been received before (counted when records are kept).
    pub fn duplicates(&self) -> u64 {
        lock(&self.state).duplicates
    }

    /// Undeclared properties dropped.
    pub fn dropped_properties(&self) -> u64 {
        lock(&self.state).dropped_properties
    }

    /// Bodies that were a bare object (answered 204, nothing kept).
    pub fn bare_objects(&self) -> u64 {
        lock(&self.state).bare_objects
    }

    /// Data requests received (any answer).
    pub fn requests(&self) -> u64 {
        lock(&self.state).requests
    }

    /// Data requests that came gzipped.
    pub fn gzip_requests(&self) -> u64 {
        lock(&self.state).gzip_requests
    }

    /// Largest uncompressed body accepted, in bytes.
    pub fn largest_body(&self) -> usize {
        lock(&self.state).largest_body
    }

    /// Uncompressed bytes of the accepted bodies.
    pub fn body_bytes(&self) -> u64 {
        lock(&self.state).body_bytes
    }

    /// Data requests answered 401 for their token.
    pub fn refused_tokens(&self) -> u64 {
        self.refused_tokens.load(Ordering::Relaxed)
    }
}

struct Ctx {
    options: LogsIngestionOptions,
    state: Arc<Mutex<State>>,
    issuer: Arc<TokenIssuer>,
    script: Arc<Script>,
    forbidden: Arc<AtomicBool>,
    refused_tokens: Arc<AtomicU64>,
}

/// Whether `v` has the JSON type of a `kind` column.
pub fn fits(kind: ColumnType, v: &Value) -> bool {
    match kind {
        ColumnType::String => v.is_string(),
        ColumnType::Int => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        ColumnType::Long => v.is_i64() || v.is_u64(),
        ColumnType::Real => v.is_number(),
        ColumnType::Boolean => v.is_boolean(),
        ColumnType::DateTime => v.as_str().is_some_and(looks_like_iso8601),
        ColumnType::Dynamic => true,
    }
}

/// `YYYY-MM-DDThh:mm:ss` followed by an optional fraction and a zone.
fn looks_like_iso8601(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[..19].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
        && (s.ends_with('Z') || s[19..].contains('+') || s[19..].contains('-'))
}

impl Ctx {
    fn handle(&self, req: &Request) -> Reply {
        if let Some(reply) = self.issuer.handle(req) {
            return reply;
        }
        let route = format!(
            "/dataCollectionRules/{}/streams/{}",
            self.options.dcr, self.options.stream
        );
        if req.path != route {
            return error(404, "NotFound", "Data collection rule or stream not found");
        }
        if req.method != "POST" {
            return error(405, "MethodNotAllowed", "Use POST");
        }
        lock(&self.state).requests += 1;
        let delay = match apply(self.script.next()) {
            Ok(d) => d,
            Err(reply) => return reply,
        };
        let reply = self.ingest(req);
        match delay {
            Some(d) => reply.delayed(d),
            None => reply,
        }
    }

    fn ingest(&self, req: &Request) -> Reply {
        if req.query_param("api-version") != Some("2023-01-01") {
            return error(400, "InvalidApiVersion", "api-version must be 2023-01-01");
        }
        let token = req
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "));
        let check = token.map_or(TokenCheck::Unknown, |t| {
            self.issuer
                .check(t, &[MONITOR_SCOPE, "https://monitor.azure.com/.default"])
        });
        let refused = match check {
            TokenCheck::Live => None,
            TokenCheck::Expired => Some(("TokenExpired", "The access token has expired")),
            TokenCheck::WrongScope => Some((
                "InvalidAudience",
                "The token audience is not https://monitor.azure.com",
            )),
            TokenCheck::Unknown => Some(("InvalidToken", "Missing or invalid bearer token")),
        };
        if let Some((code, message)) = refused {
            self.refused_tokens.fetch_add(1, Ordering::Relaxed);
            return error(401, code, message);
        }
        if self.forbidden.load(Ordering::SeqCst) {
            return error(403, "Forbidden", "The client does not have authorization to perform action Microsoft.Insights/Telemetry/Write");
        }
        let content_type = req.header("content-type").unwrap_or_default();
        if content_type.split(';').next().map(str::trim) != Some("application/json") {
            return error(
                415,
                "UnsupportedMediaType",
                "Content-Type must be application/json",
            );
        }
        if req.wire_len > MAX_BODY || req.body.len() > MAX_BODY {
            return error(
                413,
                "ContentLengthLimitExceeded",
                "Maximum allowed content length: 1048576 bytes",
            );
        }
        let gzipped = req
            .header("content-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return error(400, "InvalidJson", "The request body is not valid JSON");
        };
        let items = match body {
            Value::Array(items) => items,
            Value::Object(_) => {
                // Azure answers 204 and ingests nothing (azure-sdk-for-python#32562).
                let mut st = lock(&self.state);
                st.bare_objects += 1;
                return Reply::empty(204);
            }
            _ => return error(400, "InvalidJson", "The request body must be a JSON array"),
        };
        let mut accepted = Vec::with_capacity(items.len());
        let mut dropped = 0u64;
        for (i, item) in items.into_iter().enumerate() {
            let Value::Object(record) = item else {
                return error(400, "InvalidJson", &format!("Item {i} is not an object"));
            };
            let mut kept = Map::new();
            for (name, value) in record {
                match SENTINEL_COLUMNS.iter().find(|c| c.name == name) {
                    None => dropped += 1,
                    Some(c) if value.is_null() || fits(c.kind, &value) => {
                        kept.insert(name, value);
                    }
                    Some(c) => {
                        return error(
                            400,
                            "InvalidSchema",
                            &format!(
                                "Item {i}: property {name} is not of type {}",
                                c.kind.as_str()
                            ),
                        )
                    }
                }
            }
            accepted.push(kept);
        }
        if let Some(limit) = self.options.max_time_range {
            let times: Vec<f64> = accepted
                .iter()
                .filter_map(|r| r.get("TimeGenerated").and_then(Value::as_str))
                .filter_map(crate::azure::parse_utc_seconds)
                .collect();
            let earliest = times.iter().copied().fold(f64::INFINITY, f64::min);
            let latest = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if latest - earliest > limit.as_secs_f64() {
                return error(
                    400,
                    "RecordsTimeRangeIsMoreThan30Minutes",
                    "The records of one call span more than 30 minutes",
                );
            }
        }
        let mut st = lock(&self.state);
        st.dropped_properties += dropped;
        st.largest_body = st.largest_body.max(req.body.len());
        st.body_bytes += req.body.len() as u64;
        if gzipped {
            st.gzip_requests += 1;
        }
        st.record_count += accepted.len() as u64;
        if self.options.keep_records {
            for record in accepted {
                if let Some(id) = record.get("EventId").and_then(Value::as_str) {
                    if !st.ids.insert(id.to_string()) {
                        st.duplicates += 1;
                    }
                }
                st.records.push(record);
            }
        }
        Reply::empty(204)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types_are_strict() {
        assert!(fits(ColumnType::Int, &Value::from(5)));
        assert!(!fits(ColumnType::Int, &Value::from(5_000_000_000_i64)));
        assert!(!fits(ColumnType::Long, &Value::from("5")));
        assert!(fits(
            ColumnType::DateTime,
            &Value::from("2025-11-17T09:30:00.123456Z")
        ));
        assert!(!fits(ColumnType::DateTime, &Value::from("17 Nov 2025")));
        assert!(fits(ColumnType::Dynamic, &serde_json::json!({"a": [1]})));
    }
}
