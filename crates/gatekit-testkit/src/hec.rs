//! A strict Splunk HTTP Event Collector, written from Splunk's documented behaviour as
//! summarised in `docs/reference/splunk-hec.md` (no real Splunk can run here). What it checks:
//!
//! * routes (§1): `POST /services/collector/event` (and `/services/collector`,
//!   `/services/collector/event/1.0`), `POST /services/collector/ack`,
//!   `GET /services/collector/health`; anything else is 404, another method 405;
//! * authentication (§2): `Authorization: Splunk <token>`; missing → 401 code 2, another
//!   scheme (`Bearer`) → 401 code 3, a wrong token → 403 code 4;
//! * the body (§3, §4): event objects back to back; a JSON array or a non-object → 400
//!   code 6 with `invalid-event-number`; no `event` → code 12; a blank `event` → code 13; a
//!   `time` that is not epoch seconds → code 6; the events before the bad one are kept
//!   (indexed), as Splunk does; an empty body → 400 code 5; `Content-Encoding: gzip` is
//!   accepted; a body over `max_content_length` (on the wire) → 413;
//! * indexer acknowledgement (§5), when on: every data request needs a channel
//!   (`X-Splunk-Request-Channel` or `?channel=`), missing → 400 code 10, not a GUID → code 11;
//!   success answers carry an `ackId` that starts at 0 and grows per channel; ack polls
//!   `{"acks":[..]}` answer `{"acks":{"id":bool}}`; with acknowledgement off an ack poll is 400
//!   code 14;
//! * health (§1): 200 code 17, or 503 code 18 when set unhealthy; with `?ack=true` the token
//!   is checked too (the acknowledgement service needs it) and a missing or wrong one is 400
//!   code 21, the newer releases' health-endpoint token error (Vector reads any 400 there as
//!   an invalid token).
//!
//! Faults for tests are scripted per data request: a fixed reply (503 code 9, 429 with
//! `Retry-After`, ...), a code 6 at a given index, a slow answer, a dropped connection (before
//! or after indexing), or an acknowledgement that never comes (the events are answered 200
//! with an `ackId` and then lost).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::server::{lock, HttpServer, Reply, Request};

/// A scripted behaviour for the next data request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, body and optional `Retry-After`, keeping nothing.
    Reply(u16, Value, Option<u64>),
    /// Keep the first `n` events, then answer 400 code 6 with `invalid-event-number: n`.
    InvalidAt(usize),
    /// Handle the request normally but answer after this delay.
    Slow(Duration),
    /// Read the request and close the connection without answering (nothing kept).
    HangUp,
    /// Answer 200 with an `ackId`, but never index the events: the ack stays `false`.
    AckLost,
    /// Index the events, then close the connection without answering: the answer is lost,
    /// the sender must resend, and Splunk holds those events twice.
    IndexThenHangUp,
}

/// How the receiver is set up.
#[derive(Debug, Clone)]
pub struct HecOptions {
    /// The one valid token.
    pub token: String,
    /// Indexer acknowledgement on (`useACK = 1` on the token).
    pub ack: bool,
    /// `limits.conf [http_input] max_content_length`, on the wire.
    pub max_content_length: usize,
    /// Keep every event (tests); `false` only counts them (benchmarks).
    pub keep_events: bool,
}

impl HecOptions {
    /// Acknowledgement off, 1 MiB limit (Splunk Cloud's), events kept.
    pub fn new(token: &str) -> HecOptions {
        HecOptions {
            token: token.to_string(),
            ack: false,
            max_content_length: 1024 * 1024,
            keep_events: true,
        }
    }
}

#[derive(Debug, Default)]
struct Channel {
    next_ack: u64,
    /// ackId → indexed.
    acks: HashMap<u64, bool>,
}

#[derive(Debug, Default)]
struct State {
    events: Vec<Value>,
    event_count: u64,
    requests: usize,
    gzip_requests: usize,
    ack_polls: usize,
    script: VecDeque<Fault>,
    authorizations: Vec<String>,
    channels: HashMap<String, Channel>,
    unhealthy: bool,
}

/// A running receiver on 127.0.0.1; stops when dropped.
#[derive(Debug)]
pub struct HecReceiver {
    server: HttpServer,
    state: Arc<Mutex<State>>,
}

fn code(status: u16, code: i64, text: &str) -> Reply {
    Reply::json(status, &json!({"text": text, "code": code}))
}

/// RFC 4122 text form: 8-4-4-4-12 hex digits (inputs.conf requires GUIDs for tokens and
/// channels).
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl HecReceiver {
    /// Starts a plain-HTTP receiver accepting `token`, acknowledgement off.
    pub fn start(token: &str) -> HecReceiver {
        Self::start_with(HecOptions::new(token), None)
    }

    /// Starts a receiver with `options`, over HTTPS when `tls` is given.
    ///
    /// # Panics
    /// When no port on 127.0.0.1 can be bound (a test setup failure).
    pub fn start_with(options: HecOptions, tls: Option<rustls::ServerConfig>) -> HecReceiver {
        match Self::start_at(0, options, tls) {
            Ok(rx) => rx,
            Err(e) => panic!("cannot start the HEC receiver: {e}"),
        }
    }

    /// Starts a receiver on `port` (0: a free one).
    pub fn start_at(
        port: u16,
        options: HecOptions,
        tls: Option<rustls::ServerConfig>,
    ) -> std::io::Result<HecReceiver> {
        let state: Arc<Mutex<State>> = Arc::default();
        let st = Arc::clone(&state);
        let handler = Arc::new(move |req: Request| handle(&options, &st, req));
        let server = HttpServer::start_at(port, handler, tls)?;
        Ok(HecReceiver { server, state })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Queues faults for the next data requests.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state).script.extend(faults);
    }

    /// Makes the health endpoint answer 503 code 18 (`false`) or 200 code 17.
    pub fn set_healthy(&self, healthy: bool) {
        lock(&self.state).unhealthy = !healthy;
    }

    /// Events indexed so far (empty when `keep_events` is off).
    pub fn events(&self) -> Vec<Value> {
        lock(&self.state).events.clone()
    }

    /// Number of events indexed so far.
    pub fn event_count(&self) -> u64 {
        lock(&self.state).event_count
    }

    /// Data requests received so far (any answer).
    pub fn requests(&self) -> usize {
        lock(&self.state).requests
    }

    /// Data requests that came gzipped.
    pub fn gzip_requests(&self) -> usize {
        lock(&self.state).gzip_requests
    }

    /// Ack polls received so far.
    pub fn ack_polls(&self) -> usize {
        lock(&self.state).ack_polls
    }

    /// `Authorization` headers seen on data requests.
    pub fn authorizations(&self) -> Vec<String> {
        lock(&self.state).authorizations.clone()
    }

    /// Channels seen on data requests.
    pub fn channels(&self) -> Vec<String> {
        lock(&self.state).channels.keys().cloned().collect()
    }
}

fn authorize(options: &HecOptions, req: &Request) -> Result<(), Reply> {
    match req.header("authorization") {
        None => Err(code(401, 2, "Token is required")),
        Some(a) if !a.starts_with("Splunk ") => Err(code(401, 3, "Invalid authorization")),
        Some(a) if a["Splunk ".len()..] != options.token => Err(code(403, 4, "Invalid token")),
        Some(_) => Ok(()),
    }
}

fn channel(req: &Request) -> Option<String> {
    req.header("x-splunk-request-channel")
        .or_else(|| req.query_param("channel"))
        .map(str::to_string)
}

fn handle(options: &HecOptions, state: &Mutex<State>, req: Request) -> Reply {
    match req.path.as_str() {
        "/services/collector/health" | "/services/collector/health/1.0" => {
            if req.method != "GET" {
                return code(405, 405, "Method not allowed");
            }
            if req.query_param("ack") == Some("true") && authorize(options, &req).is_err() {
                return code(400, 21, "Invalid token");
            }
            if lock(state).unhealthy {
                return code(503, 18, "HEC is unhealthy, queues are full");
            }
            code(200, 17, "HEC is healthy")
        }
        "/services/collector/ack" => {
            if req.method != "POST" {
                return code(405, 405, "Method not allowed");
            }
            if let Err(reply) = authorize(options, &req) {
                return reply;
            }
            ack_poll(options, state, &req)
        }
        "/services/collector/event" | "/services/collector" | "/services/collector/event/1.0" => {
            if req.method != "POST" {
                return code(405, 405, "Method not allowed");
            }
            data(options, state, req)
        }
        _ => code(404, 404, "The requested URL was not found on this server."),
    }
}

fn ack_poll(options: &HecOptions, state: &Mutex<State>, req: &Request) -> Reply {
    if !options.ack {
        return code(400, 14, "ACK is disabled");
    }
    let Some(ch) = channel(req) else {
        return code(400, 10, "Data channel is missing");
    };
    if !is_guid(&ch) {
        return code(400, 11, "Invalid data channel");
    }
    let ids: Option<Vec<u64>> = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|v| {
            v.get("acks")?
                .as_array()?
                .iter()
                .map(Value::as_u64)
                .collect()
        });
    let Some(ids) = ids else {
        return code(400, 6, "Invalid data format");
    };
    let mut st = lock(state);
    st.ack_polls += 1;
    let channel = st.channels.entry(ch).or_default();
    let answer: serde_json::Map<String, Value> = ids
        .iter()
        .map(|id| {
            let indexed = channel.acks.get(id).copied().unwrap_or(false);
            (id.to_string(), Value::Bool(indexed))
        })
        .collect();
    Reply::json(200, &json!({ "acks": answer }))
}

fn data(options: &HecOptions, state: &Mutex<State>, req: Request) -> Reply {
    let mut st = lock(state);
    st.requests += 1;
    if req
        .header("content-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
    {
        st.gzip_requests += 1;
    }
    if let Some(a) = req.header("authorization") {
        st.authorizations.push(a.to_string());
    }
    if let Err(reply) = authorize(options, &req) {
        return reply;
    }
    let ch = channel(&req);
    if options.ack {
        match &ch {
            None => return code(400, 10, "Data channel is missing"),
            Some(c) if !is_guid(c) => return code(400, 11, "Invalid data channel"),
            Some(_) => {}
        }
    }
    if req.wire_len > options.max_content_length {
        return code(
            413,
            413,
            "Content-Length of request exceeds max_content_length",
        );
    }
    let mut delay = None;
    let mut limit = None;
    let mut ack_lost = false;
    let mut hang_up_after = false;
    match st.script.pop_front() {
        Some(Fault::Reply(status, body, retry_after)) => {
            return Reply::json(status, &body).with_retry_after(retry_after)
        }
        Some(Fault::HangUp) => return Reply::hang_up(),
        Some(Fault::InvalidAt(n)) => limit = Some(n),
        Some(Fault::Slow(d)) => delay = Some(d),
        Some(Fault::AckLost) => ack_lost = true,
        Some(Fault::IndexThenHangUp) => hang_up_after = true,
        None => {}
    }
    let (kept, rejected) = parse_events(&req.body, limit, options.keep_events);
    // Events before a bad one are indexed (docs/reference/splunk-hec.md §4).
    if !ack_lost {
        st.event_count += kept.count as u64;
        st.events.extend(kept.values);
    }
    let reply = if hang_up_after {
        Reply::hang_up()
    } else if let Some((c, text, i)) = rejected {
        Reply::json(
            400,
            &json!({"text": text, "code": c, "invalid-event-number": i}),
        )
    } else if kept.count == 0 {
        code(400, 5, "No data")
    } else if options.ack {
        let channel = st.channels.entry(ch.unwrap_or_default()).or_default();
        let id = channel.next_ack;
        channel.next_ack += 1;
        channel.acks.insert(id, !ack_lost);
        Reply::json(200, &json!({"text": "Success", "code": 0, "ackId": id}))
    } else {
        code(200, 0, "Success")
    };
    match delay {
        Some(d) => reply.delayed(d),
        None => reply,
    }
}

/// One envelope, borrowed: enough to check it without building a `Value` per event (the
/// benchmarks push hundreds of thousands of events a second through this receiver).
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    event: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    time: Option<&'a serde_json::value::RawValue>,
}

/// The events accepted from one body.
#[derive(Default)]
struct Kept {
    count: usize,
    values: Vec<Value>,
}

/// Splits `body` into envelopes and checks each; stops at the first bad one, returning its
/// HEC code, text and index (events before it stay accepted, splunk-hec.md §4). `limit` injects a
/// bad event at that index.
fn parse_events(
    body: &[u8],
    limit: Option<usize>,
    keep: bool,
) -> (Kept, Option<(i64, &'static str, usize)>) {
    let mut kept = Kept::default();
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Envelope>();
    let mut i = 0;
    loop {
        let start = stream.byte_offset();
        let Some(item) = stream.next() else {
            return (kept, None);
        };
        if limit == Some(i) {
            return (kept, Some((6, "Invalid data format", i)));
        }
        // A derived struct would also take a JSON array as a sequence of fields; HEC takes
        // objects only (an array is code 6, splunk-hec.md §4).
        let is_object = body[start..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        let Some(envelope) = item.ok().filter(|_| is_object) else {
            return (kept, Some((6, "Invalid data format", i)));
        };
        let problem = match envelope.event.map(|e| e.get().trim()) {
            None => Some((12, "Event field is required")),
            Some("\"\"" | "null") => Some((13, "Event field cannot be blank")),
            Some(_) => match envelope.time.map(|t| t.get().trim()) {
                Some(t) if !t.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                    Some((6, "Invalid data format"))
                }
                _ => None,
            },
        };
        if let Some((code, text)) = problem {
            return (kept, Some((code, text, i)));
        }
        kept.count += 1;
        if keep {
            if let Ok(v) = serde_json::from_slice(&body[start..stream.byte_offset()]) {
                kept.values.push(v);
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::is_guid;

    #[test]
    fn guids() {
        assert!(is_guid("0c4a8f2e-5b1d-4f7a-9e3c-2d6b8a1f0e57"));
        assert!(!is_guid("0c4a8f2e5b1d4f7a9e3c2d6b8a1f0e57"));
        assert!(!is_guid("0c4a8f2e-5b1d-4f7a-9e3c-2d6b8a1f0e5g"));
        assert!(!is_guid(""));
    }
}
