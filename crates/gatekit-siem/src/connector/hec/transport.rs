//! Splunk HTTP Event Collector.
//!
//! A batch is its event envelopes concatenated (never a JSON array:
//! docs/reference/platform-facts.md §6), POSTed to `/services/collector/event` with
//! `Authorization: Splunk <token>` (not `Bearer`: platform-facts.md §7), optionally gzipped,
//! with the connector's channel in `X-Splunk-Request-Channel` (harmless without
//! acknowledgement, required with it: docs/reference/splunk-hec.md §5).
//!
//! Invariant: a batch is reported `Delivered` only on the strongest proof Splunk offers. With
//! indexer acknowledgement on, a 200 only means "parsed and queued" (platform-facts.md §8):
//! the transport polls `/services/collector/ack` for the batch's `ackId` until Splunk says
//! `true`, and if no confirmation comes within `ack_timeout` the batch is retried as a whole,
//! so Splunk may hold it twice (at-least-once; consumers de-duplicate on `event_id`). A 200
//! without an `ackId` means the token has acknowledgement off and is final (as Vector treats
//! it), with a warning; so is an ack poll answered 400 code 14 ("ACK is disabled").
//!
//! Every other answer is classified by [`crate::http::status::classify`]: code 6 resends only
//! the tail after `invalid-event-number` (so do codes 12 and 13), 503/429 retry, other 4xx
//! reject; 401 and 403 are also authentication failures for the [`crate::auth`] monitor.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};
use serde_json::Value;

use crate::auth::{AuthMonitor, AuthReporter};
use crate::error::SiemError;
use crate::http::client::HttpClient;
use crate::http::status::{classify, parse_retry_after, HttpAnswer};
use crate::secret::Secret;

/// The event endpoint's path.
pub const EVENT_PATH: &str = "/services/collector/event";
/// The acknowledgement endpoint's path (splunk-hec.md §1).
pub const ACK_PATH: &str = "/services/collector/ack";
/// The health endpoint's path (splunk-hec.md §1).
pub const HEALTH_PATH: &str = "/services/collector/health";

/// Indexer acknowledgement settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AckSettings {
    /// Longest wait between two polls; the first poll goes at once and the wait doubles from
    /// 10 ms up to this, so a fast indexer confirms within milliseconds and a slow one is not
    /// polled more than needed.
    pub max_poll_interval: Duration,
    /// How long to wait for `true` before the batch is resent.
    pub timeout: Duration,
}

/// How a HEC transport talks to Splunk.
#[derive(Debug, Clone)]
pub struct HecSettings {
    /// The HEC token.
    pub token: Secret,
    /// The channel (a GUID) sent with every request.
    pub channel: String,
    /// Indexer acknowledgement; `None` when off.
    pub ack: Option<AckSettings>,
    /// Send bodies with `Content-Encoding: gzip`.
    pub gzip: bool,
}

/// A new random channel GUID (RFC 4122 version 4 layout), one per transport instance:
/// docs/reference/splunk-hec.md §5 asks for one long-lived channel per connector.
pub fn new_channel() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    // SystemRandom only fails when the OS has no randomness at all; a fixed-but-valid
    // channel is still correct then (channels need to be unique per connector, not secret).
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A HEC endpoint.
#[derive(Debug)]
pub struct HecTransport {
    name: String,
    client: HttpClient,
    settings: HecSettings,
    auth: AuthReporter,
    warned_no_ack_id: AtomicBool,
}

impl HecTransport {
    /// A transport posting to `client`'s endpoint with `token`, acknowledgement off.
    pub fn new(client: HttpClient, token: Secret) -> Self {
        let settings = HecSettings {
            token,
            channel: new_channel(),
            ack: None,
            gzip: false,
        };
        Self::with_settings(client, settings, Arc::default())
    }

    /// A transport with `settings`, reporting authentication failures to `auth`.
    pub fn with_settings(
        client: HttpClient,
        settings: HecSettings,
        auth: Arc<AuthMonitor>,
    ) -> Self {
        let e = client.endpoint();
        let name = format!("hec:{}:{}", e.host, e.port);
        HecTransport {
            auth: AuthReporter::new(&name, auth),
            name,
            client,
            settings,
            warned_no_ack_id: AtomicBool::new(false),
        }
    }

    fn headers(&self, gzip: bool) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            (
                "authorization",
                format!("Splunk {}", self.settings.token.expose()),
            ),
            ("content-type", "application/json".to_string()),
            ("x-splunk-request-channel", self.settings.channel.clone()),
        ];
        if gzip {
            headers.push(("content-encoding", "gzip".to_string()));
        }
        headers
    }

    /// Asks the health endpoint (with `?ack=true` when acknowledgement is on): `Ok` with
    /// Splunk's text for 200, `Err` with the status and text otherwise (splunk-hec.md §1: 200
    /// code 17 healthy, 503 codes 18-20 unhealthy, 400 an invalid token).
    ///
    /// The request carries the token, so it is an authentication attempt and is audited like
    /// a batch ([`crate::auth`]): 400, 401 and 403 (and a refused TLS identity) are failures;
    /// a 200 with `?ack=true` is a success (Splunk checks the token for the acknowledgement
    /// service). A 200 without it proves nothing about the token and is not reported. The
    /// server's text is scrubbed of configured secrets and escaped before it is returned.
    pub async fn health(&self) -> Result<String, String> {
        let path = if self.settings.ack.is_some() {
            format!("{HEALTH_PATH}?ack=true")
        } else {
            HEALTH_PATH.to_string()
        };
        let response = match self.client.get(&path, &self.headers(false)).await {
            Ok(r) => r,
            Err(error) => {
                let _ = self.auth.connection_failed(&error);
                return Err(crate::secret::log_safe(&error.to_string()));
            }
        };
        let a = answer(response.status, None, &response.body);
        let text = format!(
            "HTTP {}{}{}",
            a.status,
            a.hec_code.map(|c| format!(" code {c}")).unwrap_or_default(),
            if a.text.is_empty() {
                String::new()
            } else {
                format!(": {}", crate::secret::log_safe(&a.text))
            }
        );
        match a.status {
            200 => {
                if self.settings.ack.is_some() {
                    self.auth.succeeded();
                }
                Ok(text)
            }
            400 | 401 | 403 => {
                self.auth.failed(&format!("health check: {text}"));
                Err(text)
            }
            _ => Err(text),
        }
    }

    fn body(&self, batch: &[Record]) -> Vec<u8> {
        if self.settings.gzip {
            // Streamed record by record into the encoder: no uncompressed copy of the batch.
            let len: usize = batch.iter().map(|r| r.payload.len()).sum();
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(len / 4),
                flate2::Compression::fast(),
            );
            // Writing into a Vec cannot fail.
            for record in batch {
                let _ = encoder.write_all(&record.payload);
            }
            encoder.finish().unwrap_or_default()
        } else {
            crate::connector::batch::concatenated(batch)
        }
    }

    async fn post_batch(&self, batch: &[Record]) -> Result<(HttpAnswer, Option<u64>), SiemError> {
        let response = self
            .client
            .post(
                EVENT_PATH,
                &self.headers(self.settings.gzip),
                self.body(batch),
            )
            .await?;
        let ack_id = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| v.get("ackId").and_then(Value::as_u64));
        let a = answer(
            response.status,
            response.retry_after.as_deref(),
            &response.body,
        );
        Ok((a, ack_id))
    }

    /// Polls until `ack_id` is confirmed; `Delivered` or a `Retry` that resends the batch.
    async fn await_ack(&self, ack: &AckSettings, ack_id: u64) -> BatchOutcome {
        let started = Instant::now();
        let mut wait = Duration::from_millis(10);
        let body = format!("{{\"acks\":[{ack_id}]}}").into_bytes();
        let path = format!("{ACK_PATH}?channel={}", self.settings.channel);
        let mut last_problem = String::from("not indexed yet");
        loop {
            match self
                .client
                .post(&path, &self.headers(false), body.clone())
                .await
            {
                Ok(response) if response.status == 200 => {
                    let confirmed = serde_json::from_slice::<Value>(&response.body)
                        .ok()
                        .and_then(|v| v.get("acks")?.get(ack_id.to_string())?.as_bool());
                    if confirmed == Some(true) {
                        return BatchOutcome::Delivered;
                    }
                }
                Ok(response) => {
                    let a = answer(response.status, None, &response.body);
                    if a.hec_code == Some(14) {
                        // The token has acknowledgement off after all: the 200 was final.
                        self.warn_no_ack("the ack endpoint answers code 14 (ACK is disabled)");
                        return BatchOutcome::Delivered;
                    }
                    if matches!(a.status, 401 | 403) {
                        self.auth
                            .failed(&format!("ack poll: HTTP {}: {}", a.status, a.text));
                    }
                    // Server text: scrubbed and escaped before it can reach a log or a dead letter.
                    last_problem = format!(
                        "ack poll answered HTTP {}: {}",
                        a.status,
                        crate::secret::log_safe(&a.text)
                    );
                }
                Err(e) => {
                    last_problem = format!(
                        "ack poll failed: {}",
                        crate::secret::log_safe(&e.to_string())
                    )
                }
            }
            let elapsed = started.elapsed();
            if elapsed >= ack.timeout {
                return BatchOutcome::Retry {
                    reason: format!(
                        "Splunk did not confirm indexing of ackId {ack_id} within {:.1} s ({last_problem}); resending the batch (Splunk may then hold it twice)",
                        ack.timeout.as_secs_f64()
                    ),
                    retry_after: None,
                };
            }
            tokio::time::sleep(wait.min(ack.timeout - elapsed)).await;
            wait = (wait * 2).min(ack.max_poll_interval);
        }
    }

    fn warn_no_ack(&self, why: &str) {
        if !self.warned_no_ack_id.swap(true, Ordering::Relaxed) {
            tracing::warn!(transport = %self.name, why, "Indexer acknowledgement is configured but the HEC token does not use it; a 200 is taken as final.");
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
            let (a, ack_id) = match self.post_batch(batch).await {
                Ok(answered) => answered,
                Err(error) => {
                    return self.auth.connection_failed(&error);
                }
            };
            if matches!(a.status, 401 | 403) {
                self.auth.failed(&format!(
                    "HTTP {}{}: {}",
                    a.status,
                    a.hec_code.map(|c| format!(" code {c}")).unwrap_or_default(),
                    a.text
                ));
            } else if a.status == 200 {
                self.auth.succeeded();
            }
            match (a.status, &self.settings.ack, ack_id) {
                (200, Some(ack), Some(id)) => self.await_ack(ack, id).await,
                (200, Some(_), None) => {
                    self.warn_no_ack("a successful answer carried no ackId");
                    BatchOutcome::Delivered
                }
                _ => classify(&a, &[200], batch.len()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::new_channel;

    #[test]
    fn channels_are_random_version_4_guids() {
        let a = new_channel();
        let b = new_channel();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'), "{a}");
        assert!(
            matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{a}"
        );
    }
}
