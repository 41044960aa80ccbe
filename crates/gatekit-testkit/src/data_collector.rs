//! A strict Log Analytics HTTP Data Collector API endpoint (docs/reference/sentinel.md §3,
//! platform-facts.md §16), checked against the worked signature test vector of
//! sentinel.md §3.3 (see the tests of [`crate::azure`]).
//!
//! What it checks on `POST /api/logs`:
//! * `api-version`: missing → 400 `MissingApiVersion`, not `2016-04-01` → 400
//!   `InvalidApiVersion`;
//! * `Content-Type`: missing → 400 `MissingContentType`; `application/json` with parameters
//!   (`; charset=utf-8`) → 403 `InvalidAuthorization`, because the service signs the exact
//!   header value and the client signed `application/json` (azure-docs#114105); anything
//!   else → 400 `UnsupportedContentType`;
//! * `Log-Type`: missing → 400 `MissingLogType`; not letters/digits/`_` or over 100 → 400
//!   `InvalidLogType`;
//! * `x-ms-date`: an RFC 1123 GMT date within 15 minutes of now, else 403
//!   `InvalidAuthorization`;
//! * `Authorization: SharedKey <workspace>:<signature>`: another workspace → 403; the
//!   signature recomputed with the Base64-DECODED key over
//!   `POST\n<body length in bytes>\napplication/json\nx-ms-date:<date>\n/api/logs` → 403
//!   `InvalidAuthorization` on mismatch (a character count instead of bytes fails here);
//! * the body: a JSON array of objects (or one object), else 400 `InvalidDataFormat`; at most
//!   30 MB, else 404 (the documented answer to an oversized post);
//! * `time-generated-field`, when sent, must name a property present in every record, else
//!   400 `InvalidDataFormat` (stricter than Azure, which silently falls back).
//!
//! Success is 200 with an empty body. Records are kept with the `Log-Type` and
//! `time-generated-field` they came with. Faults ([`Fault`]) are scripted per request.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::azure::{apply, base64_decode, hmac_b64, lock, parse_rfc1123, unix_now, Fault, Script};
use crate::server::{HttpServer, Reply, Request};

/// The documented per-post limit.
pub const MAX_BODY: usize = 30 * 1024 * 1024;

/// One received record with the headers that describe it.
#[derive(Debug, Clone)]
pub struct DataCollectorRecord {
    /// `Log-Type`.
    pub log_type: String,
    /// `time-generated-field`, when sent.
    pub time_generated_field: Option<String>,
    /// The record.
    pub record: Map<String, Value>,
}

#[derive(Debug, Default)]
struct State {
    records: Vec<DataCollectorRecord>,
    ids: HashSet<String>,
    duplicates: u64,
    requests: u64,
    bad_signatures: u64,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct DataCollectorReceiver {
    server: HttpServer,
    state: Arc<Mutex<State>>,
    script: Arc<Script>,
}

fn failure(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, &json!({"Error": code, "Message": message}))
}

impl DataCollectorReceiver {
    /// Starts a receiver for `workspace_id` with the Base64 workspace key `shared_key`.
    ///
    /// # Panics
    /// When no port on 127.0.0.1 can be bound (a test setup failure).
    pub fn start(workspace_id: &str, shared_key: &str) -> DataCollectorReceiver {
        let state: Arc<Mutex<State>> = Arc::default();
        let script: Arc<Script> = Arc::default();
        let (st, sc) = (Arc::clone(&state), Arc::clone(&script));
        let workspace = workspace_id.to_string();
        let key = base64_decode(shared_key).unwrap_or_default();
        let handler = Arc::new(move |req: Request| handle(&workspace, &key, &st, &sc, &req));
        match HttpServer::start(handler) {
            Ok(server) => DataCollectorReceiver {
                server,
                state,
                script,
            },
            Err(e) => panic!("cannot start the Data Collector receiver: {e}"),
        }
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Queues faults for the next requests.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.script.extend(faults);
    }

    /// Records kept, in arrival order.
    pub fn records(&self) -> Vec<DataCollectorRecord> {
        lock(&self.state).records.clone()
    }

    /// Requests received (any answer).
    pub fn requests(&self) -> u64 {
        lock(&self.state).requests
    }

    /// Requests refused for their signature.
    pub fn bad_signatures(&self) -> u64 {
        lock(&self.state).bad_signatures
    }

    /// Records whose `EventId` had been received before.
    pub fn duplicates(&self) -> u64 {
        lock(&self.state).duplicates
    }
}

fn handle(
    workspace: &str,
    key: &[u8],
    state: &Mutex<State>,
    script: &Script,
    req: &Request,
) -> Reply {
    if req.path != "/api/logs" {
        return failure(404, "NotFound", "Not found");
    }
    if req.method != "POST" {
        return failure(405, "MethodNotAllowed", "Use POST");
    }
    lock(state).requests += 1;
    let delay = match apply(script.next()) {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let reply = ingest(workspace, key, state, req);
    match delay {
        Some(d) => reply.delayed(d),
        None => reply,
    }
}

fn ingest(workspace: &str, key: &[u8], state: &Mutex<State>, req: &Request) -> Reply {
    match req.query_param("api-version") {
        None => {
            return failure(
                400,
                "MissingApiVersion",
                "The api-version query parameter is missing",
            )
        }
        Some("2016-04-01") => {}
        Some(_) => return failure(400, "InvalidApiVersion", "The api-version is not supported"),
    }
    let content_type = match req.header("content-type") {
        None => return failure(400, "MissingContentType", "Content-Type is missing"),
        Some(c) => c,
    };
    let log_type = match req.header("log-type") {
        None => return failure(400, "MissingLogType", "Log-Type is missing"),
        Some(l) => l,
    };
    if log_type.is_empty()
        || log_type.len() > 100
        || !log_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return failure(
            400,
            "InvalidLogType",
            "Log-Type takes letters, digits and _ only, at most 100 characters",
        );
    }
    let refuse = |message: &str| {
        lock(state).bad_signatures += 1;
        failure(403, "InvalidAuthorization", message)
    };
    if content_type != "application/json" {
        if content_type.starts_with("application/json") {
            return refuse(
                "The signature does not match (the service signs the exact Content-Type)",
            );
        }
        return failure(
            400,
            "UnsupportedContentType",
            "Content-Type must be application/json",
        );
    }
    let Some(date) = req.header("x-ms-date") else {
        return refuse("x-ms-date is missing");
    };
    match parse_rfc1123(date) {
        Some(t) if t.abs_diff(unix_now()) <= 15 * 60 => {}
        _ => return refuse("x-ms-date is not a current RFC 1123 date"),
    }
    let expected_prefix = format!("SharedKey {workspace}:");
    let Some(signature) = req
        .header("authorization")
        .and_then(|a| a.strip_prefix(&expected_prefix))
    else {
        return refuse(
            "Authorization must be SharedKey <workspace id>:<signature> for this workspace",
        );
    };
    let to_sign = format!(
        "POST\n{}\napplication/json\nx-ms-date:{date}\n/api/logs",
        req.wire_len
    );
    if hmac_b64(key, to_sign.as_bytes()) != signature {
        return refuse("The signature does not match");
    }
    if req.body.len() > MAX_BODY {
        return failure(404, "RequestTooLarge", "The request exceeds 30 MB");
    }
    let records: Vec<Map<String, Value>> = match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(m) => out.push(m),
                    _ => {
                        return failure(
                            400,
                            "InvalidDataFormat",
                            "Every item must be a JSON object",
                        )
                    }
                }
            }
            out
        }
        Ok(Value::Object(m)) => vec![m],
        _ => return failure(400, "InvalidDataFormat", "The body must be JSON"),
    };
    let time_field = req.header("time-generated-field").map(str::to_string);
    if let Some(f) = &time_field {
        if !records
            .iter()
            .all(|r| r.get(f).is_some_and(Value::is_string))
        {
            return failure(
                400,
                "InvalidDataFormat",
                "time-generated-field names a property some records lack",
            );
        }
    }
    let mut st = lock(state);
    for record in records {
        if let Some(id) = record.get("EventId").and_then(Value::as_str) {
            if !st.ids.insert(id.to_string()) {
                st.duplicates += 1;
            }
        }
        st.records.push(DataCollectorRecord {
            log_type: log_type.to_string(),
            time_generated_field: time_field.clone(),
            record,
        });
    }
    Reply::empty(200)
}
