//! A strict QRadar HTTP Receiver log source, written from IBM's "HTTP Receiver protocol
//! configuration options" as summarised in `docs/reference/qradar.md` §2 and
//! `docs/reference/platform-facts.md` §4 (no QRadar can run here). What it does:
//!
//! * takes `POST` on any path (the log source listens on a port, not a route); other methods
//!   are 405; served over HTTPS with a client certificate demanded when started with a
//!   mutual-TLS server configuration (the "HTTPS and Client Authentication" mode);
//! * a body must be UTF-8 (else 400), at most `max_body` bytes (else 413);
//! * splitting: without a Message Pattern the whole body is **one** event, as QRadar does;
//!   with one (`message_start`, a literal the event must start with, standing in for a
//!   `^LEEF:`-style regex), a line that starts with it starts a new event and any other
//!   line is appended to the event before it. So a sender that lets a line break into a value
//!   produces a visibly merged event here, as it would in QRadar;
//! * an event longer than `max_payload` bytes is cut there (QRadar's *Max Payload Length*)
//!   and counted;
//! * answers 200 with an empty body.
//!
//! Faults are scripted per request: a fixed status (with optional `Retry-After`), a slow
//! answer, or a dropped connection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::server::{lock, HttpServer, Reply, Request};

/// A scripted behaviour for the next request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and optional `Retry-After` seconds, keeping nothing.
    Status(u16, Option<u64>),
    /// Keep the events but answer after this delay.
    Slow(Duration),
    /// Close the connection without answering, keeping nothing.
    HangUp,
}

/// How the log source is configured.
#[derive(Debug, Clone)]
pub struct QRadarOptions {
    /// The Message Pattern, as the literal each event starts with (`None`: one event per body).
    pub message_start: Option<String>,
    /// Max Payload Length per event, in bytes.
    pub max_payload: usize,
    /// Largest body accepted, in bytes.
    pub max_body: usize,
}

impl Default for QRadarOptions {
    /// Message Pattern `^LEEF:`, 32 KiB per event, 8 MiB per body.
    fn default() -> Self {
        QRadarOptions {
            message_start: Some("LEEF:".into()),
            max_payload: 32 * 1024,
            max_body: 8 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    events: Vec<String>,
    truncated: usize,
    requests: usize,
    content_types: Vec<String>,
    script: VecDeque<Fault>,
}

/// A running receiver on 127.0.0.1; stops when dropped.
#[derive(Debug)]
pub struct QRadarReceiver {
    server: HttpServer,
    state: Arc<Mutex<State>>,
}

impl QRadarReceiver {
    /// Starts a receiver with `options`, over HTTPS when `tls` is given.
    pub fn start(
        options: QRadarOptions,
        tls: Option<rustls::ServerConfig>,
    ) -> std::io::Result<QRadarReceiver> {
        let state: Arc<Mutex<State>> = Arc::default();
        let st = Arc::clone(&state);
        let handler = Arc::new(move |req: Request| handle(&options, &st, req));
        let server = HttpServer::start_at(0, handler, tls)?;
        Ok(QRadarReceiver { server, state })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Queues faults for the next requests.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state).script.extend(faults);
    }

    /// Events as QRadar would have split them.
    pub fn events(&self) -> Vec<String> {
        lock(&self.state).events.clone()
    }

    /// Events cut at `max_payload`.
    pub fn truncated(&self) -> usize {
        lock(&self.state).truncated
    }

    /// Requests received (any answer).
    pub fn requests(&self) -> usize {
        lock(&self.state).requests
    }

    /// `Content-Type` headers seen.
    pub fn content_types(&self) -> Vec<String> {
        lock(&self.state).content_types.clone()
    }
}

/// Splits a body into events the way the log source does.
pub fn split_events(body: &str, message_start: Option<&str>) -> Vec<String> {
    let Some(start) = message_start else {
        return vec![body.to_string()];
    };
    let mut events: Vec<String> = Vec::new();
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with(start) || events.is_empty() {
            if !line.is_empty() {
                events.push(line.to_string());
            }
        } else if !line.is_empty() {
            if let Some(last) = events.last_mut() {
                last.push('\n');
                last.push_str(line);
            }
        }
    }
    events
}

fn handle(options: &QRadarOptions, state: &Mutex<State>, req: Request) -> Reply {
    if req.method != "POST" {
        return Reply::empty(405);
    }
    let mut st = lock(state);
    st.requests += 1;
    if let Some(ct) = req.header("content-type") {
        st.content_types.push(ct.to_string());
    }
    let mut delay = None;
    match st.script.pop_front() {
        Some(Fault::Status(status, retry_after)) => {
            return Reply::empty(status).with_retry_after(retry_after)
        }
        Some(Fault::HangUp) => return Reply::hang_up(),
        Some(Fault::Slow(d)) => delay = Some(d),
        None => {}
    }
    if req.body.len() > options.max_body {
        return Reply::empty(413);
    }
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return Reply::empty(400);
    };
    for mut event in split_events(text, options.message_start.as_deref()) {
        if event.len() > options.max_payload {
            let mut cut = options.max_payload;
            while !event.is_char_boundary(cut) {
                cut -= 1;
            }
            event.truncate(cut);
            st.truncated += 1;
        }
        st.events.push(event);
    }
    let reply = Reply::empty(200);
    match delay {
        Some(d) => reply.delayed(d),
        None => reply,
    }
}

#[cfg(test)]
mod tests {
    use super::split_events;

    #[test]
    fn splits_like_the_log_source() {
        assert_eq!(split_events("LEEF:a\nLEEF:b\n", None), ["LEEF:a\nLEEF:b\n"]);
        assert_eq!(
            split_events("LEEF:a\nLEEF:b\n", Some("LEEF:")),
            ["LEEF:a", "LEEF:b"]
        );
        // A line break inside a value merges the rest into the event before it.
        assert_eq!(
            split_events("LEEF:a\ninjected\nLEEF:b\n", Some("LEEF:")),
            ["LEEF:a\ninjected", "LEEF:b"]
        );
    }
}
