//! Azure Event Hubs over HTTPS (docs/reference/sentinel.md §4, platform-facts.md §16-17).
//!
//! Job: send a batch of events as one "send batch" request,
//! `POST https://<namespace>/<hub>/messages?api-version=2014-01` with
//! `Content-Type: application/vnd.microsoft.servicebus.json` and a body of
//! `[{"Body":"<event as a string>"},...]` (a batch of one event as a "send event" request whose
//! body is the event itself), authorised by a SAS token built from the connection string (or an
//! Entra bearer token), and classify the answer.
//!
//! Invariants:
//! * the SAS signs `URL-encode(https://<namespace>/<hub>) + "\n" + expiry` with the key
//!   string as is (never Base64-decoded), with no `/eventhubs/` segment; a token is reused
//!   until a fifth of its lifetime (at most 5 minutes) is left, then renewed;
//! * the body never exceeds the tier's limit (256 KiB Basic, 1 MiB Standard and Premium): a
//!   larger batch is [`BatchOutcome::TooLarge`] before sending, and so is a 413;
//! * 201 is the only success; a 401 gets one new token and one resend, then counts as an
//!   authentication failure, as does 403, both retried slowly; 429, 500 and 503 (ServerBusy)
//!   retry; other 4xx are permanent;
//! * the connection string's key never appears in an error or a log.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};

use crate::auth::AuthReporter;
use crate::azure::body::{answer, refused, token_failure, trim_line_end};
use crate::azure::entra::{refresh_margin, TokenSource};
use crate::azure::signature::event_hubs_sas;
use crate::http::client::HttpClient;
use crate::http::status::classify;
use crate::secret::Secret;

/// The batch content type.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.servicebus.json";
/// The content type of a single-event send (any is accepted; this is the documented one).
pub const SINGLE_CONTENT_TYPE: &str = "application/atom+xml;type=entry;charset=utf-8";
/// The API version.
pub const API_VERSION: &str = "2014-01";
/// Basic tier: largest event or batch.
pub const BASIC_MAX_BYTES: usize = 256 * 1024;
/// Standard and Premium tiers: largest event or batch.
pub const STANDARD_MAX_BYTES: usize = 1024 * 1024;

/// The parts of a namespace connection string.
#[derive(Debug, Clone)]
pub struct ConnectionString {
    /// Namespace host, e.g. `gk-test-ns.servicebus.windows.net`.
    pub namespace: String,
    /// `SharedAccessKeyName`.
    pub key_name: Option<String>,
    /// `SharedAccessKey` (used as its literal string).
    pub key: Option<Secret>,
    /// `EntityPath` (the hub), when the string is scoped to one hub.
    pub entity_path: Option<String>,
}

/// Parses `Endpoint=sb://<ns>/;SharedAccessKeyName=..;SharedAccessKey=..[;EntityPath=..]`.
/// Errors name the part that is missing or wrong, never the value.
pub fn parse_connection_string(s: &str) -> Result<ConnectionString, String> {
    let mut endpoint = None;
    let mut key_name = None;
    let mut key = None;
    let mut entity_path = None;
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(
                "the connection string has a part without `=`; expected `Name=value;...`".into(),
            );
        };
        let value = value.trim().to_string();
        if value.is_empty() {
            continue;
        }
        match name.trim().to_ascii_lowercase().as_str() {
            "endpoint" => endpoint = Some(value),
            "sharedaccesskeyname" => key_name = Some(value),
            "sharedaccesskey" => key = Some(Secret::runtime(value)),
            "entitypath" => entity_path = Some(value),
            // Other documented parts (UseDevelopmentEmulator, ...) do not change HTTPS sends.
            _ => {}
        }
    }
    let endpoint = endpoint.ok_or("the connection string has no `Endpoint=sb://<namespace>/`")?;
    let namespace = endpoint
        .strip_prefix("sb://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .ok_or("the connection string's `Endpoint` must start with sb://")?
        .trim_end_matches('/')
        .to_string();
    if namespace.is_empty() || namespace.contains('/') {
        return Err("the connection string's `Endpoint` must be sb://<namespace host>/".into());
    }
    if key_name.is_some() != key.is_some() {
        return Err(if key.is_none() {
            "the connection string has `SharedAccessKeyName` but no `SharedAccessKey`".into()
        } else {
            "the connection string has `SharedAccessKey` but no `SharedAccessKeyName`".into()
        });
    }
    Ok(ConnectionString {
        namespace,
        key_name,
        key,
        entity_path: entity_path.filter(|p| !p.is_empty()),
    })
}

/// How requests are authorised.
#[derive(Debug, Clone)]
pub enum EventHubsAuth {
    /// SAS tokens from a shared access key.
    Sas {
        /// `SharedAccessKeyName`.
        key_name: String,
        /// `SharedAccessKey`.
        key: Secret,
        /// Lifetime of each token.
        ttl: Duration,
    },
    /// Entra ID bearer tokens (role *Azure Event Hubs Data Sender*).
    Entra(Arc<TokenSource>),
}

/// What an Event Hubs transport needs besides its client.
#[derive(Debug, Clone)]
pub struct EventHubsSettings {
    /// Namespace host (for the SAS resource URI).
    pub namespace: String,
    /// Event hub.
    pub hub: String,
    /// Credentials.
    pub auth: EventHubsAuth,
    /// Largest body.
    pub max_batch_bytes: usize,
    /// Delay before retrying after an authentication failure.
    pub auth_retry: Duration,
}

struct Sas {
    token: Secret,
    renew_at: u64,
}

/// One event hub.
pub struct EventHubsTransport {
    name: String,
    path: String,
    client: HttpClient,
    settings: EventHubsSettings,
    sas: std::sync::Mutex<Option<Sas>>,
    auth: AuthReporter,
}

impl std::fmt::Debug for EventHubsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHubsTransport")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The batch body: each record (a JSON event, or a CEF line) as the string `Body` of one
/// message.
pub fn batch_body(batch: &[Record]) -> Vec<u8> {
    let mut body =
        Vec::with_capacity(batch.iter().map(|r| r.payload.len() + 16).sum::<usize>() + 2);
    body.push(b'[');
    for (i, record) in batch.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let text = String::from_utf8_lossy(trim_line_end(&record.payload));
        body.extend_from_slice(b"{\"Body\":");
        // Serialising a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut body, text.as_ref());
        body.push(b'}');
    }
    body.push(b']');
    body
}

impl EventHubsTransport {
    /// A transport posting through `client` (whose endpoint is the namespace, or an override).
    pub fn new(client: HttpClient, settings: EventHubsSettings, auth: AuthReporter) -> Self {
        let name = format!("event_hubs:{}/{}", settings.namespace, settings.hub);
        let path = format!(
            "/{}/messages?api-version={API_VERSION}&timeout=60",
            settings.hub
        );
        EventHubsTransport {
            name,
            path,
            client,
            settings,
            sas: std::sync::Mutex::new(None),
            auth,
        }
    }

    fn sas_token(&self, key_name: &str, key: &Secret, ttl: Duration, renew: bool) -> Secret {
        let now = unix_now();
        let mut cache = self.sas.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = cache.as_ref().filter(|s| !renew && now < s.renew_at) {
            return s.token.clone();
        }
        let ttl_secs = ttl.as_secs().max(1);
        let expiry = now.saturating_add(ttl_secs);
        let resource = format!("https://{}/{}", self.settings.namespace, self.settings.hub);
        let token = Secret::runtime(event_hubs_sas(&resource, key_name, key.expose(), expiry));
        *cache = Some(Sas {
            token: token.clone(),
            renew_at: expiry.saturating_sub(
                refresh_margin(Duration::from_secs(ttl_secs))
                    .as_secs()
                    .max(1),
            ),
        });
        token
    }

    async fn authorization(&self, renew: Option<&Secret>) -> Result<Secret, BatchOutcome> {
        match &self.settings.auth {
            EventHubsAuth::Sas { key_name, key, ttl } => {
                Ok(self.sas_token(key_name, key, *ttl, renew.is_some()))
            }
            EventHubsAuth::Entra(tokens) => {
                let token = match renew {
                    Some(refused) => tokens.refresh(refused).await,
                    None => tokens.token().await,
                };
                token
                    .map(|t| Secret::runtime(format!("Bearer {}", t.expose())))
                    .map_err(|e| token_failure(e, &self.auth, self.settings.auth_retry))
            }
        }
    }
}

impl Transport for EventHubsTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            // One event goes as a single send (the raw event bytes); more as a batch send.
            // Consumers read the same event bytes either way.
            let (body, content_type) = match batch {
                [one] => (trim_line_end(&one.payload).to_vec(), SINGLE_CONTENT_TYPE),
                _ => (batch_body(batch), BATCH_CONTENT_TYPE),
            };
            if body.len() > self.settings.max_batch_bytes {
                return BatchOutcome::TooLarge;
            }
            let mut authorization = match self.authorization(None).await {
                Ok(a) => a,
                Err(outcome) => return outcome,
            };
            let mut renewed = false;
            loop {
                let headers = [
                    ("authorization", authorization.expose().to_string()),
                    ("content-type", content_type.to_string()),
                ];
                let response = match self.client.post(&self.path, &headers, body.clone()).await {
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
                    201 => {
                        self.auth.succeeded();
                        return BatchOutcome::Delivered;
                    }
                    401 if !renewed => {
                        renewed = true;
                        let refused = match &self.settings.auth {
                            // The refused bearer token, without its scheme.
                            EventHubsAuth::Entra(_) => Secret::runtime(
                                authorization
                                    .expose()
                                    .trim_start_matches("Bearer ")
                                    .to_string(),
                            ),
                            EventHubsAuth::Sas { .. } => authorization.clone(),
                        };
                        authorization = match self.authorization(Some(&refused)).await {
                            Ok(a) => a,
                            Err(outcome) => return outcome,
                        };
                    }
                    401 | 403 => {
                        return refused("Event Hubs", &a, &self.auth, self.settings.auth_retry)
                    }
                    _ => return classify(&a, &[201], batch.len()),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatekit_delivery::RecordId;

    #[test]
    fn connection_strings_are_parsed_without_echoing_keys() {
        let c = parse_connection_string("Endpoint=sb://gk-test-ns.servicebus.windows.net/;SharedAccessKeyName=gatekit-send;SharedAccessKey=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=;EntityPath=audit").unwrap();
        assert_eq!(c.namespace, "gk-test-ns.servicebus.windows.net");
        assert_eq!(c.key_name.as_deref(), Some("gatekit-send"));
        assert_eq!(
            c.key.unwrap().expose(),
            "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
            "the `=` padding stays in the key"
        );
        assert_eq!(c.entity_path.as_deref(), Some("audit"));
        let e = parse_connection_string(
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=",
        )
        .unwrap_err();
        assert!(e.contains("SharedAccessKey"), "{e}");
        let e =
            parse_connection_string("SharedAccessKeyName=send;SharedAccessKey=s3cr3t").unwrap_err();
        assert!(e.contains("Endpoint") && !e.contains("s3cr3t"), "{e}");
        let e = parse_connection_string("Endpoint=sb://ns/;SharedAccessKey=s3cr3t").unwrap_err();
        assert!(
            e.contains("SharedAccessKeyName") && !e.contains("s3cr3t"),
            "{e}"
        );
        let e = parse_connection_string(
            "Endpoint=http://ns/;SharedAccessKeyName=a;SharedAccessKey=s3cr3t",
        )
        .unwrap_err();
        assert!(e.contains("sb://") && !e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn events_travel_as_string_bodies() {
        let batch = vec![
            Record::new(RecordId(1), b"{\"a\":\"zo\xc3\xab\"}\n".to_vec()),
            Record::new(RecordId(2), b"CEF:0|x".to_vec()),
        ];
        let body: serde_json::Value = serde_json::from_slice(&batch_body(&batch)).unwrap();
        assert_eq!(
            body,
            serde_json::json!([{"Body": "{\"a\":\"zoë\"}"}, {"Body": "CEF:0|x"}])
        );
    }
}
