//! The agent's HTTP endpoint (HTTP/1.1, hyper): `GET /metrics` (OpenMetrics text, which
//! Prometheus scrapes), `GET /health` (the process answers), `GET /ready` (every destination
//! reachable, or buffering on disk within the alert thresholds; the reasons when not).
//!
//! Invariant: read-only; nothing a request carries changes the agent. Bind it to loopback
//! unless a scraper elsewhere needs it (it shows destination names and error text, never
//! secrets).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::Agent;

/// Content type of the OpenMetrics text format (what `prometheus-client` writes).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Accepts connections until the runtime stops.
pub(super) async fn serve(listener: tokio::net::TcpListener, agent: Arc<Agent>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "Agent endpoint: accept failed.");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let agent = Arc::clone(&agent);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let agent = Arc::clone(&agent);
                async move { Ok::<_, Infallible>(answer(&agent, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(agent: &Agent, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into());
    }
    match req.uri().path() {
        "/metrics" => match super::metrics::render(agent) {
            Ok(body) => reply(StatusCode::OK, OPENMETRICS, body),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("metrics could not be encoded: {e}\n"),
            ),
        },
        "/health" => text(StatusCode::OK, "alive\n".into()),
        "/ready" => {
            let problems = readiness(agent);
            if problems.is_empty() {
                text(StatusCode::OK, "ready\n".into())
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: {}\n", problems.join("; ")),
                )
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; try /metrics, /health or /ready\n".into(),
        ),
    }
}

/// Why the agent is not ready, one line per destination in trouble (empty: ready).
///
/// A destination is fine when it is reachable (no failed attempt since its last delivery),
/// or when it buffers on disk and its backlog is within `siem.alerts` (events are safe and
/// not piling up). A memory-only destination that cannot deliver is not ready: its events are
/// at risk.
pub(super) fn readiness(agent: &Agent) -> Vec<String> {
    let sink = agent.sink();
    let settings = agent.settings();
    let mut problems = Vec::new();
    for (name, s) in sink.snapshots() {
        let failing = match (s.last_failure_unix_ms, s.last_success_unix_ms) {
            (Some(f), Some(ok)) => f > ok,
            (Some(_), None) => true,
            (None, _) => false,
        } || s
            .breakers
            .iter()
            .all(|(_, b)| *b == gatekit_delivery::BreakerState::Open)
            && !s.breakers.is_empty();
        if !failing {
            continue;
        }
        let age = s.oldest_event_age.unwrap_or_default();
        let within =
            s.queue_events <= settings.alerts.backlog_events && age <= settings.alerts.backlog_age;
        if settings.disk_buffered.contains(&name) && within {
            continue;
        }
        problems.push(format!(
            "{name} unreachable ({}), {} events waiting, oldest {}s{}",
            s.last_error.as_deref().unwrap_or("no reason given"),
            s.queue_events,
            age.as_secs(),
            if settings.disk_buffered.contains(&name) {
                " (over the alert thresholds)"
            } else {
                " (memory only)"
            }
        ));
    }
    problems
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    reply(status, "text/plain; charset=utf-8", body)
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}
