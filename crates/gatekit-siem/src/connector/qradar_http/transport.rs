//! QRadar's HTTP Receiver log-source protocol (the requirements' `rest_api`;
//! docs/reference/qradar.md §2). QRadar has no event-ingest REST endpoint (`/api/ariel` is the
//! search API, docs/reference/platform-facts.md §1): events enter through a log source that listens
//! for POSTs, by default on port 12469, over HTTPS, optionally demanding a client certificate.
//!
//! A batch is one `text/plain` POST of LF-terminated events (LEEF by default). QRadar treats a
//! whole body as one event unless the log source's *Message Pattern* marks where each event
//! starts (`^LEEF:` for LEEF, `^CEF:` for CEF; platform-facts.md §4), so the formatters'
//! guarantee that no value can contain a line break is what keeps one event one event.
//!
//! Any 2xx is delivered; connection errors, 408, 429 and 5xx retry; other 4xx reject (one
//! status map: [`crate::http::status::classify`]). 401 and 403 (a proxy or a refused client
//! certificate) are authentication failures for the [`crate::auth`] monitor.

use std::sync::Arc;

use gatekit_delivery::{Record, SendFuture, Transport};

use crate::auth::{AuthMonitor, AuthReporter};
use crate::http::client::HttpClient;
use crate::http::status::{classify, parse_retry_after, HttpAnswer};

/// A QRadar HTTP Receiver.
#[derive(Debug)]
pub struct QRadarHttpTransport {
    name: String,
    client: HttpClient,
    /// The request path under the endpoint's prefix (the prefix is the whole path).
    path: &'static str,
    auth: AuthReporter,
}

/// Statuses that mean delivered (the receiver documents "any 2xx").
const SUCCESS: [u16; 4] = [200, 201, 202, 204];

impl QRadarHttpTransport {
    /// A transport posting to `client`'s endpoint (its path prefix is the request path).
    pub fn new(client: HttpClient, auth: Arc<AuthMonitor>) -> Self {
        let e = client.endpoint();
        let name = format!("qradar-http:{}:{}", e.host, e.port);
        let path = if e.prefix.is_empty() { "/" } else { "" };
        QRadarHttpTransport {
            auth: AuthReporter::new(&name, auth),
            name,
            path,
            client,
        }
    }
}

impl Transport for QRadarHttpTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = crate::connector::batch::concatenated(batch);
            let headers = [("content-type", "text/plain; charset=utf-8".to_string())];
            let response = match self.client.post(self.path, &headers, body).await {
                Ok(r) => r,
                Err(error) => {
                    return self.auth.connection_failed(&error);
                }
            };
            let answer = HttpAnswer {
                status: response.status,
                retry_after: response.retry_after.as_deref().and_then(parse_retry_after),
                text: String::from_utf8_lossy(&response.body)
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect(),
                ..HttpAnswer::default()
            };
            if matches!(answer.status, 401 | 403) {
                self.auth.failed(&format!("HTTP {}", answer.status));
            } else if SUCCESS.contains(&answer.status) {
                self.auth.succeeded();
            }
            classify(&answer, &SUCCESS, batch.len())
        })
    }
}
