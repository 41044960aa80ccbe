//! Azure Monitor Logs Ingestion API (the Sentinel default; docs/reference/sentinel.md §1,
//! platform-facts.md §14).
//!
//! Job: POST a batch of Sentinel records as one JSON array to
//! `{endpoint}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01` with an
//! Entra bearer token, and classify the answer.
//!
//! Invariants:
//! * the body is always a JSON array (a bare object is answered 204 and ingests nothing);
//! * the uncompressed body never exceeds `max_request_bytes` (at most 1,048,576): a larger
//!   batch is answered [`BatchOutcome::TooLarge`] before anything is sent, so the delivery
//!   manager splits it; a 413 from Azure splits too (the cap is counted uncompressed even with
//!   gzip, docs/decisions/0301-azure-size-cap-and-auth-retries.md);
//! * 204 is the only success; 400 and 404 are permanent, except 400
//!   `RecordsTimeRangeIsMoreThan30Minutes`, which splits the batch (halves span less time);
//!   401 gets one fresh token and one resend, then counts as an authentication failure; 403
//!   (missing *Monitoring Metrics Publisher* role) is an authentication failure retried
//!   slowly; 429 waits exactly `Retry-After`; 5xx and connection errors retry with the
//!   manager's backoff.

use std::sync::Arc;
use std::time::Duration;

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};

use crate::auth::AuthReporter;
use crate::azure::body::{answer, gzip, json_array, refused, token_failure};
use crate::azure::entra::TokenSource;
use crate::error::SiemError;
use crate::http::client::HttpClient;
use crate::http::status::classify;

/// The documented per-call limit (docs/reference/sentinel.md §1.4), applied to the uncompressed
/// JSON.
pub const MAX_REQUEST_BYTES: usize = 1_048_576;
/// The API version this transport speaks.
pub const API_VERSION: &str = "2023-01-01";

/// What a Logs Ingestion transport needs besides its clients.
#[derive(Debug, Clone)]
pub struct LogsIngestionSettings {
    /// DCR immutable id.
    pub dcr_immutable_id: String,
    /// Input stream (`Custom-<Name>`).
    pub stream: String,
    /// Send `Content-Encoding: gzip`.
    pub gzip: bool,
    /// Largest uncompressed body.
    pub max_request_bytes: usize,
    /// Delay before retrying after an authentication failure.
    pub auth_retry: Duration,
}

/// One DCR stream.
#[derive(Debug)]
pub struct LogsIngestionTransport {
    name: String,
    path: String,
    client: HttpClient,
    tokens: Arc<TokenSource>,
    settings: LogsIngestionSettings,
    auth: AuthReporter,
}

impl LogsIngestionTransport {
    /// A transport posting through `client` with tokens from `tokens`, reporting
    /// authentication failures to `auth`.
    pub fn new(
        client: HttpClient,
        tokens: Arc<TokenSource>,
        settings: LogsIngestionSettings,
        auth: AuthReporter,
    ) -> Self {
        let e = client.endpoint();
        let name = format!("logs_ingestion:{}:{}", e.host, e.port);
        let path = format!(
            "/dataCollectionRules/{}/streams/{}?api-version={API_VERSION}",
            settings.dcr_immutable_id, settings.stream
        );
        LogsIngestionTransport {
            name,
            path,
            client,
            tokens,
            settings,
            auth,
        }
    }

    async fn post(
        &self,
        token: &crate::secret::Secret,
        body: &[u8],
        batch: &[Record],
    ) -> Result<crate::http::client::Response, SiemError> {
        let mut headers = vec![
            ("authorization", format!("Bearer {}", token.expose())),
            ("content-type", "application/json".to_string()),
            // A GUID for support correlation: the first record's id (stable across retries).
            ("x-ms-client-request-id", batch[0].id.to_string()),
        ];
        let wire = if self.settings.gzip {
            headers.push(("content-encoding", "gzip".to_string()));
            gzip(body)?
        } else {
            body.to_vec()
        };
        self.client.post(&self.path, &headers, wire).await
    }
}

impl Transport for LogsIngestionTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            if batch.is_empty() {
                return BatchOutcome::Delivered;
            }
            let body = json_array(batch);
            if body.len() > self.settings.max_request_bytes {
                return BatchOutcome::TooLarge;
            }
            let slow = self.settings.auth_retry;
            let mut token = match self.tokens.token().await {
                Ok(t) => t,
                Err(e) => return token_failure(e, &self.auth, slow),
            };
            let mut refreshed = false;
            loop {
                let response = match self.post(&token, &body, batch).await {
                    Ok(r) => r,
                    Err(error) => {
                        return self.auth.connection_failed(&error);
                    }
                };
                let a = answer(
                    response.status,
                    response.retry_after.as_deref(),
                    &response.body,
                );
                match a.status {
                    204 => {
                        self.auth.succeeded();
                        return BatchOutcome::Delivered;
                    }
                    // sentinel.md §1.3: a bad or expired token; refresh once, then alert.
                    401 if !refreshed => {
                        refreshed = true;
                        token = match self.tokens.refresh(&token).await {
                            Ok(t) => t,
                            Err(e) => return token_failure(e, &self.auth, slow),
                        };
                    }
                    401 | 403 => {
                        return refused("the Logs Ingestion endpoint", &a, &self.auth, slow)
                    }
                    // sentinel.md §1.3: some tables refuse a call whose records span more than 30
                    // minutes (a backlog after an outage); halves span less.
                    400 if batch.len() > 1
                        && a.text.starts_with("RecordsTimeRangeIsMoreThan30Minutes") =>
                    {
                        return BatchOutcome::TooLarge
                    }
                    _ => return classify(&a, &[204], batch.len()),
                }
            }
        })
    }
}
