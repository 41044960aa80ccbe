//! Microsoft Entra ID access tokens for the Azure transports (docs/reference/sentinel.md §2;
//! platform-facts.md §15).
//!
//! Job: hand a transport a bearer token for one resource, fetching it with the OAuth 2.0
//! client-credentials grant (client secret, or a certificate: a signed JWT assertion,
//! [`super::entra_assertion`]) or from the Azure instance metadata endpoint (managed
//! identity), and keeping it until shortly before it expires.
//!
//! Invariants:
//! * one scope per source (`<resource>/.default`); the Logs Ingestion scope is
//!   `https://monitor.azure.com//.default`, Event Hubs' is `https://eventhubs.azure.net/.default`;
//! * a cached token is refreshed [`refresh_margin`] before it expires: 5 minutes for Entra's
//!   usual one-hour tokens, a fifth of the lifetime for short ones (so a test receiver issuing
//!   3-second tokens exercises refresh without waiting minutes);
//! * refreshes are single-flight (one fetch at a time; the cache lock is held across it), and
//!   a refresh forced by a 401 only fetches when the refused token is still the cached one;
//! * a refused credential (token endpoint 400/401) is [`TokenError::Refused`], which the
//!   transport reports as an authentication failure; 429, 5xx and connection errors are
//!   [`TokenError::Unavailable`] (retry later, honouring `Retry-After`);
//! * no secret or token appears in an error: only statuses and Entra's error codes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::signature::url_encode;
use crate::error::SiemError;
use crate::http::client::{Endpoint, HttpClient};
use crate::http::status::parse_retry_after;
use crate::secret::Secret;
use crate::tls::TlsSettings;

/// Scope of the Logs Ingestion API (Microsoft's samples and the Azure SDK).
pub const MONITOR_SCOPE: &str = "https://monitor.azure.com//.default";
/// Scope of Event Hubs.
pub const EVENT_HUBS_SCOPE: &str = "https://eventhubs.azure.net/.default";
/// Public-cloud authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Azure instance metadata service.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";

/// How a token is obtained.
#[derive(Debug, Clone)]
pub enum Credential {
    /// Client credentials with a client secret, from `{authority}/{tenant}/oauth2/v2.0/token`.
    ClientSecret {
        /// Directory (tenant) id.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// Client secret.
        secret: Secret,
    },
    /// Client credentials with a certificate: a JWT assertion signed with its key.
    ClientCertificate {
        /// Directory (tenant) id.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// Certificate and key.
        certificate: super::entra_assertion::ClientCertificate,
    },
    /// The instance metadata endpoint (`GET /metadata/identity/oauth2/token`).
    ManagedIdentity {
        /// A user-assigned identity's client id; `None` for the system-assigned one.
        client_id: Option<String>,
    },
}

/// Where and how to get tokens.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The credential.
    pub credential: Credential,
    /// The authority (client secret) or the metadata endpoint (managed identity).
    pub endpoint: Endpoint,
    /// `<resource>/.default`.
    pub scope: String,
    /// TLS options for an `https://` endpoint.
    pub tls: TlsSettings,
    /// Time allowed per token request.
    pub timeout: Duration,
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The credential was refused (an authentication failure; retrying at once would not help).
    Refused(String),
    /// The token service could not be reached: a TLS rejection here is an authentication
    /// failure like a refused secret; other connection errors are retried.
    Connection(SiemError),
    /// The token service could not answer now (429, 5xx).
    Unavailable {
        /// Why.
        reason: String,
        /// The service's `Retry-After`.
        retry_after: Option<Duration>,
    },
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Refused(r) => write!(f, "token request refused: {r}"),
            TokenError::Connection(e) => write!(f, "token service unreachable: {e}"),
            TokenError::Unavailable { reason, .. } => {
                write!(f, "token service unavailable: {reason}")
            }
        }
    }
}

/// How long before expiry a token of `lifetime` is replaced: 5 minutes, or a fifth of the
/// lifetime when that is shorter.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 5).min(Duration::from_secs(300))
}

struct Cached {
    token: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

/// A cached source of bearer tokens for one scope.
pub struct TokenSource {
    settings: TokenSettings,
    client: HttpClient,
    cache: tokio::sync::Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("endpoint", &self.settings.endpoint)
            .field("scope", &self.settings.scope)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A source for `settings` (no request is made yet).
    pub fn new(settings: TokenSettings) -> Result<TokenSource, String> {
        let client = HttpClient::new(settings.endpoint.clone(), &settings.tls, settings.timeout)
            .map_err(|e| e.to_string())?;
        Ok(TokenSource {
            settings,
            client,
            cache: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
    }

    /// Token requests made so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A token that is not due for refresh, fetching one when needed. When a refresh fails
    /// but the cached token has not expired yet, the cached token is used.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if let Some(c) = cache.as_ref().filter(|c| now < c.refresh_at) {
            return Ok(c.token.clone());
        }
        match self.fetch().await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                *cache = Some(fresh);
                Ok(token)
            }
            Err(e) => match cache.as_ref().filter(|c| Instant::now() < c.expires_at) {
                Some(c) => {
                    tracing::warn!(error = %crate::secret::log_safe(&e.to_string()), "Entra token refresh failed; using the cached token until it expires.");
                    Ok(c.token.clone())
                }
                None => Err(e),
            },
        }
    }

    /// A new token after `refused` was answered 401: fetched unless another caller already
    /// replaced it.
    pub async fn refresh(&self, refused: &Secret) -> Result<Secret, TokenError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if c.token != *refused && Instant::now() < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        *cache = None;
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let response = match &self.settings.credential {
            Credential::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => {
                // sentinel.md §2.1: form-encoded client credentials; the secret goes in the body,
                // never in the URL.
                let body = format!(
                    "client_id={}&client_secret={}&grant_type=client_credentials&scope={}",
                    url_encode(client_id),
                    url_encode(secret.expose()),
                    url_encode(&self.settings.scope)
                );
                let path = format!("/{}/oauth2/v2.0/token", url_encode(tenant_id));
                let headers = [(
                    "content-type",
                    "application/x-www-form-urlencoded".to_string(),
                )];
                self.client.post(&path, &headers, body.into_bytes()).await
            }
            Credential::ClientCertificate {
                tenant_id,
                client_id,
                certificate,
            } => {
                let path = format!("/{}/oauth2/v2.0/token", url_encode(tenant_id));
                let e = &self.settings.endpoint;
                let scheme = if e.tls { "https" } else { "http" };
                let default_port = if e.tls { 443 } else { 80 };
                let authority = if e.port == default_port {
                    e.host.clone()
                } else {
                    format!("{}:{}", e.host, e.port)
                };
                let audience = format!("{scheme}://{authority}{}", e.path(&path));
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let assertion =
                    certificate
                        .assertion(client_id, &audience, now)
                        .map_err(|reason| TokenError::Unavailable {
                            reason,
                            retry_after: None,
                        })?;
                let body = format!(
                    "client_id={}&client_assertion_type={}&client_assertion={}&grant_type=client_credentials&scope={}",
                    url_encode(client_id),
                    url_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    assertion,
                    url_encode(&self.settings.scope)
                );
                let headers = [(
                    "content-type",
                    "application/x-www-form-urlencoded".to_string(),
                )];
                self.client.post(&path, &headers, body.into_bytes()).await
            }
            Credential::ManagedIdentity { client_id } => {
                let resource = self
                    .settings
                    .scope
                    .strip_suffix("/.default")
                    .unwrap_or(&self.settings.scope);
                let mut path = format!(
                    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
                    url_encode(resource)
                );
                if let Some(id) = client_id {
                    path.push_str(&format!("&client_id={}", url_encode(id)));
                }
                self.client
                    .get(&path, &[("metadata", "true".to_string())])
                    .await
            }
        };
        let response = response.map_err(TokenError::Connection)?;
        let json: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        match response.status {
            200 => {
                let token = json
                    .get("access_token")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| TokenError::Unavailable {
                        reason: "token response without access_token".into(),
                        retry_after: None,
                    })?;
                // Entra sends a number, the metadata endpoint a string.
                let secs = match json.get("expires_in") {
                    Some(Value::Number(n)) => n.as_u64(),
                    Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
                    _ => None,
                }
                .unwrap_or(3599)
                // Outside input: a day at most (Entra's are about an hour), so the arithmetic
                // on `Instant` cannot overflow.
                .clamp(1, 86_400);
                let lifetime = Duration::from_secs(secs);
                Ok(Cached {
                    token: Secret::runtime(token.to_string()),
                    refresh_at: started + lifetime - refresh_margin(lifetime),
                    expires_at: started + lifetime,
                })
            }
            // A refused client, secret, tenant or scope (AADSTS codes), or an unknown
            // managed identity.
            400 | 401 | 403 => Err(TokenError::Refused(describe(response.status, &json))),
            status => Err(TokenError::Unavailable {
                reason: describe(status, &json),
                retry_after: response.retry_after.as_deref().and_then(parse_retry_after),
            }),
        }
    }
}

/// `HTTP 400 invalid_client (AADSTS7000215)`: the status, Entra's `error` and the AADSTS code;
/// never the request.
fn describe(status: u16, json: &Value) -> String {
    let mut out = format!("HTTP {status}");
    if let Some(error) = json.get("error").and_then(Value::as_str) {
        out.push(' ');
        out.extend(error.chars().take(60));
    }
    let code = json
        .get("error_description")
        .and_then(Value::as_str)
        .and_then(|d| {
            d.split(|c: char| !c.is_ascii_alphanumeric())
                .find(|w| w.starts_with("AADSTS"))
        });
    if let Some(code) = code {
        out.push_str(&format!(" ({code})"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_scale_with_short_lifetimes() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3599)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(5)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn descriptions_carry_codes_not_requests() {
        let json = serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"});
        assert_eq!(
            describe(401, &json),
            "HTTP 401 invalid_client (AADSTS7000215)"
        );
        assert_eq!(describe(503, &Value::Null), "HTTP 503");
    }
}
