//! Splunk HTTP Event Collector: batches of event envelopes, concatenated (never a JSON
//! array: platform-corrections 6), POSTed to `/services/collector/event` with
//! `Authorization: Splunk <token>` (not `Bearer`: platform-corrections 7). The answer is
//! classified by [`crate::http::status::classify`]: 200 code 0 is delivered (parsed and queued
//! by Splunk; indexer acknowledgement is not implemented yet), code 6 resends only the tail
//! after `invalid-event-number`, 503/429 retry, other 4xx reject.

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};
use serde_json::Value;

use crate::http::client::HttpClient;
use crate::http::status::{classify, parse_retry_after, HttpAnswer};
use crate::secret::Secret;

/// The event endpoint's path.
pub const EVENT_PATH: &str = "/services/collector/event";

/// A HEC endpoint.
#[derive(Debug)]
pub struct HecTransport {
    name: String,
    client: HttpClient,
    token: Secret,
}

impl HecTransport {
    /// A transport posting to `client`'s endpoint with `token`.
    pub fn new(client: HttpClient, token: Secret) -> Self {
        let e = client.endpoint();
        let name = format!("hec:{}:{}", e.host, e.port);
        HecTransport {
            name,
            client,
            token,
        }
    }
}

/// Reads HEC's JSON answer (`{"text":..,"code":..,"invalid-event-number":..}`).
pub fn answer(status: u16, retry_after: Option<&str>, body: &[u8]) -> HttpAnswer {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    HttpAnswer {
        status,
        retry_after: retry_after.and_then(parse_retry_after),
        hec_code: json.get("code").and_then(Value::as_i64),
        invalid_event_number: json
            .get("invalid-event-number")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok()),
        text: json
            .get("text")
            .and_then(Value::as_str)
            .map(|t| t.chars().take(200).collect())
            .unwrap_or_default(),
    }
}

impl Transport for HecTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut body = Vec::with_capacity(batch.iter().map(|r| r.payload.len()).sum());
            for record in batch {
                body.extend_from_slice(&record.payload);
            }
            let headers = [
                ("authorization", format!("Splunk {}", self.token.expose())),
                ("content-type", "application/json".to_string()),
            ];
            match self.client.post(EVENT_PATH, &headers, body).await {
                Ok(response) => {
                    let a = answer(
                        response.status,
                        response.retry_after.as_deref(),
                        &response.body,
                    );
                    classify(&a, &[200], batch.len())
                }
                Err(reason) => BatchOutcome::Retry {
                    reason,
                    retry_after: None,
                },
            }
        })
    }
}
