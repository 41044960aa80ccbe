//! A strict Splunk HEC test receiver, written from Splunk's documented behaviour as summarised
//! in `siem-wire-reference.md` §4 (no real Splunk can run here):
//!
//! * only `POST /services/collector/event` (and `/services/collector`);
//! * `Authorization: Splunk <token>`: missing → 401 code 2, another scheme (`Bearer`) → 401
//!   code 3, a wrong token → 403 code 4;
//! * the body is event objects back to back; a JSON array or a non-object → 400 code 6; an
//!   object without `event` → 400 code 12; a `time` that is not epoch seconds → 400 code 6;
//!   in both cases with `invalid-event-number`, and the events before it are kept (indexed),
//!   as Splunk does;
//! * success → 200 `{"text":"Success","code":0}`;
//! * scripted faults for tests: a fixed reply (503 code 9, 429 with `Retry-After`, ...) or a
//!   code 6 at a given index.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// A scripted answer for the next request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, body and optional `Retry-After`, keeping nothing.
    Reply(u16, Value, Option<u64>),
    /// Keep the first `n` events, then answer 400 code 6 with `invalid-event-number: n`.
    InvalidAt(usize),
}

#[derive(Default)]
struct State {
    events: Vec<Value>,
    requests: usize,
    script: VecDeque<Fault>,
    authorizations: Vec<String>,
}

/// A running receiver on 127.0.0.1; stops when dropped.
pub struct HecReceiver {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn handle(
    req: Request<Incoming>,
    token: String,
    state: Arc<Mutex<State>>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if req.method() != hyper::Method::POST {
        return reply(405, json!({"text": "Method not allowed", "code": 405}));
    }
    if path != "/services/collector/event" && path != "/services/collector" {
        return reply(
            404,
            json!({"text": "The requested URL was not found on this server.", "code": 404}),
        );
    }
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let mut st = state.lock().unwrap();
    st.requests += 1;
    if let Some(a) = &auth {
        st.authorizations.push(a.clone());
    }
    match auth.as_deref() {
        None => return reply(401, json!({"text": "Token is required", "code": 2})),
        Some(a) if !a.starts_with("Splunk ") => {
            return reply(401, json!({"text": "Invalid authorization", "code": 3}))
        }
        Some(a) if a["Splunk ".len()..] != token => {
            return reply(403, json!({"text": "Invalid token", "code": 4}))
        }
        Some(_) => {}
    }
    let fault = st.script.pop_front();
    if let Some(Fault::Reply(status, body, retry_after)) = &fault {
        let mut r = reply(*status, body.clone());
        if let Some(s) = retry_after {
            r.headers_mut()
                .insert("retry-after", s.to_string().parse().unwrap());
        }
        return r;
    }
    let limit = match fault {
        Some(Fault::InvalidAt(n)) => Some(n),
        _ => None,
    };
    let mut kept = Vec::new();
    let stream = serde_json::Deserializer::from_slice(&body).into_iter::<Value>();
    for (i, item) in stream.enumerate() {
        let invalid =
            |code: i64, text: &str| json!({"text": text, "code": code, "invalid-event-number": i});
        if limit == Some(i) {
            st.events.extend(kept);
            return reply(400, invalid(6, "Invalid data format"));
        }
        let value = match item {
            Ok(v) => v,
            Err(_) => {
                st.events.extend(kept);
                return reply(400, invalid(6, "Invalid data format"));
            }
        };
        let Some(obj) = value.as_object() else {
            st.events.extend(kept);
            return reply(400, invalid(6, "Invalid data format"));
        };
        match obj.get("event") {
            None => {
                st.events.extend(kept);
                return reply(400, invalid(12, "Event field is required"));
            }
            Some(Value::String(s)) if s.is_empty() => {
                st.events.extend(kept);
                return reply(400, invalid(13, "Event field cannot be blank"));
            }
            Some(_) => {}
        }
        if obj.get("time").is_some_and(|t| !t.is_number()) {
            st.events.extend(kept);
            return reply(400, invalid(6, "Invalid data format"));
        }
        kept.push(value);
    }
    if kept.is_empty() {
        return reply(400, json!({"text": "No data", "code": 5}));
    }
    st.events.extend(kept);
    reply(200, json!({"text": "Success", "code": 0}))
}

impl HecReceiver {
    /// Starts a plain-HTTP receiver accepting `token`.
    pub fn start(token: &str) -> HecReceiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state: Arc<Mutex<State>> = Arc::default();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let token = token.to_string();
        let st = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => return,
                        accepted = listener.accept() => {
                            let Ok((tcp, _)) = accepted else { continue };
                            let token = token.clone();
                            let st = Arc::clone(&st);
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    let token = token.clone();
                                    let st = Arc::clone(&st);
                                    async move { Ok::<_, std::convert::Infallible>(handle(req, token, st).await) }
                                });
                                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                            });
                        }
                    }
                }
            });
        });
        HecReceiver {
            port,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Queues faults for the next requests.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().script.extend(faults);
    }

    /// Events kept so far.
    pub fn events(&self) -> Vec<Value> {
        self.state.lock().unwrap().events.clone()
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    /// `Authorization` headers seen.
    pub fn authorizations(&self) -> Vec<String> {
        self.state.lock().unwrap().authorizations.clone()
    }
}

impl Drop for HecReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
