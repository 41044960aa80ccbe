//! A strict Microsoft Entra ID token endpoint (client-credentials grant) and Azure instance
//! metadata token endpoint, written from docs/reference/sentinel.md §2 and platform-facts.md §15.
//!
//! What it checks on `POST /{tenant}/oauth2/v2.0/token`:
//! * `Content-Type: application/x-www-form-urlencoded`, else 400 `invalid_request`;
//! * the tenant in the path, else 400 `invalid_tenant` (AADSTS90002);
//! * `grant_type=client_credentials`, else 400 `unsupported_grant_type` (AADSTS70003);
//! * `client_id`, else 400 `unauthorized_client` (AADSTS700016); `client_secret`, else 401
//!   `invalid_client` (AADSTS7000215); or, for certificate credentials, a `client_assertion`
//!   verified by [`crate::entra_jwt`] (RS256 signature by the registered certificate's key,
//!   `x5t#S256`, `aud`, `iss`/`sub`, validity), else 401 `invalid_client`;
//! * `scope`: exactly one of the configured `<resource>/.default` scopes, else 400
//!   `invalid_scope` (AADSTS1002012: `user_impersonation` or no scope is refused);
//!
//! and on `GET /metadata/identity/oauth2/token` (managed identity): `Metadata: true` (else
//! 400), `api-version=2018-02-01`, a `resource` whose `/.default` scope is configured; its
//! answer carries `expires_in` as a string, as the real endpoint does.
//!
//! It issues opaque tokens with a short configurable `expires_in`, remembers each token's
//! scope and expiry so a data receiver can answer 401 to an unknown or expired one
//! ([`TokenIssuer::check`]), counts token requests, and can be scripted to fail (`Fault`).

pub use crate::entra_jwt::RegisteredCertificate;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::azure::{apply, form, lock, percent_decode, Fault, Script};
use crate::server::{HttpServer, Reply, Request};

/// The scope of the Logs Ingestion API.
pub const MONITOR_SCOPE: &str = "https://monitor.azure.com//.default";
/// The scope of Event Hubs.
pub const EVENT_HUBS_SCOPE: &str = "https://eventhubs.azure.net/.default";

/// The one registered application.
#[derive(Debug, Clone)]
pub struct EntraOptions {
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Scopes a token may be issued for.
    pub scopes: Vec<String>,
    /// Lifetime of issued tokens, in seconds.
    pub expires_in: u64,
    /// The registered certificate, for certificate credentials.
    pub certificate: Option<RegisteredCertificate>,
}

impl EntraOptions {
    /// An application allowed the Logs Ingestion and Event Hubs scopes, one-hour tokens.
    pub fn new(tenant_id: &str, client_id: &str, client_secret: &str) -> EntraOptions {
        EntraOptions {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scopes: vec![
                MONITOR_SCOPE.into(),
                "https://monitor.azure.com/.default".into(),
                EVENT_HUBS_SCOPE.into(),
            ],
            expires_in: 3599,
            certificate: None,
        }
    }
}

/// What a data receiver learns about a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// Issued here, for this scope, not expired.
    Live,
    /// Issued here but expired.
    Expired,
    /// Issued here for another scope (wrong audience).
    WrongScope,
    /// Never issued here.
    Unknown,
}

/// Issues and remembers tokens.
#[derive(Debug)]
pub struct TokenIssuer {
    options: Mutex<EntraOptions>,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    requests: AtomicU64,
    issued: AtomicU64,
    script: Script,
}

impl TokenIssuer {
    /// An issuer for `options`.
    pub fn new(options: EntraOptions) -> TokenIssuer {
        TokenIssuer {
            options: Mutex::new(options),
            tokens: Mutex::default(),
            requests: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            script: Script::default(),
        }
    }

    /// Token requests received (any answer).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Tokens issued.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    /// Queues faults for the next token requests.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.script.extend(faults);
    }

    /// Changes the lifetime of tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        lock(&self.options).expires_in = secs;
    }

    /// Makes every issued token invalid (as a revoked credential would).
    pub fn revoke_all(&self) {
        lock(&self.tokens).clear();
    }

    /// Whether `token` is live for one of `scopes`.
    pub fn check(&self, token: &str, scopes: &[&str]) -> TokenCheck {
        match lock(&self.tokens).get(token) {
            None => TokenCheck::Unknown,
            Some((_, expiry)) if Instant::now() >= *expiry => TokenCheck::Expired,
            Some((scope, _)) if !scopes.contains(&scope.as_str()) => TokenCheck::WrongScope,
            Some(_) => TokenCheck::Live,
        }
    }

    /// Answers a token request, or `None` when `req` is not one.
    pub fn handle(&self, req: &Request) -> Option<Reply> {
        let client_credentials = req.method == "POST" && req.path.ends_with("/oauth2/v2.0/token");
        let metadata = req.method == "GET" && req.path == "/metadata/identity/oauth2/token";
        if !client_credentials && !metadata {
            return None;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let delay = match apply(self.script.next()) {
            Ok(d) => d,
            Err(reply) => return Some(reply),
        };
        let reply = if metadata {
            self.managed_identity(req)
        } else {
            self.client_credentials(req)
        };
        Some(match delay {
            Some(d) => reply.delayed(d),
            None => reply,
        })
    }

    fn issue(&self, scope: &str, expires_in: u64) -> String {
        let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        let token = format!("eyJ0eXAiOiJKV1QifQ.gatekit-test-token-{n}.sig");
        lock(&self.tokens).insert(token.clone(), (scope.to_string(), expiry_after(expires_in)));
        token
    }

    fn client_credentials(&self, req: &Request) -> Reply {
        let o = lock(&self.options).clone();
        let refuse = |status: u16, error: &str, code: &str, text: &str| {
            Reply::json(
                status,
                &json!({
                    "error": error,
                    "error_description": format!("{code}: {text}\r\nTrace ID: 00000000-0000-0000-0000-000000000000"),
                    "error_codes": [code.trim_start_matches("AADSTS").parse::<u64>().unwrap_or(0)],
                    "timestamp": "2025-11-17 09:30:00Z",
                }),
            )
        };
        if req.header("content-type") != Some("application/x-www-form-urlencoded") {
            return refuse(
                400,
                "invalid_request",
                "AADSTS900144",
                "The request body must be form-encoded.",
            );
        }
        if req.path != format!("/{}/oauth2/v2.0/token", o.tenant_id) {
            return refuse(400, "invalid_tenant", "AADSTS90002", "Tenant not found.");
        }
        let fields = form(&req.body);
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if get("grant_type") != Some("client_credentials") {
            return refuse(
                400,
                "unsupported_grant_type",
                "AADSTS70003",
                "The app requested an unsupported grant type.",
            );
        }
        if get("client_id") != Some(o.client_id.as_str()) {
            return refuse(
                400,
                "unauthorized_client",
                "AADSTS700016",
                "Application not found in the directory.",
            );
        }
        match get("client_assertion_type") {
            None => {
                if get("client_secret") != Some(o.client_secret.as_str()) {
                    return refuse(
                        401,
                        "invalid_client",
                        "AADSTS7000215",
                        "Invalid client secret provided.",
                    );
                }
            }
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") => {
                if get("client_secret").is_some() {
                    return refuse(
                        400,
                        "invalid_request",
                        "AADSTS50049",
                        "Send a client secret or an assertion, not both.",
                    );
                }
                let audience_path = format!("/{}/oauth2/v2.0/token", o.tenant_id);
                if let Err((code, text)) = crate::entra_jwt::verify(
                    get("client_assertion").unwrap_or_default(),
                    o.certificate.as_ref(),
                    &o.client_id,
                    &audience_path,
                ) {
                    return refuse(401, "invalid_client", code, text);
                }
            }
            Some(_) => {
                return refuse(
                    400,
                    "invalid_request",
                    "AADSTS50027",
                    "Unsupported client_assertion_type.",
                );
            }
        }
        let Some(scope) = get("scope").filter(|s| o.scopes.iter().any(|x| x == s)) else {
            return refuse(
                400,
                "invalid_scope",
                "AADSTS1002012",
                "The provided value for scope is not valid.",
            );
        };
        let token = self.issue(scope, o.expires_in);
        Reply::json(
            200,
            &json!({"token_type": "Bearer", "expires_in": o.expires_in, "ext_expires_in": o.expires_in, "access_token": token}),
        )
    }

    fn managed_identity(&self, req: &Request) -> Reply {
        let o = lock(&self.options).clone();
        if req.header("metadata") != Some("true") {
            return Reply::json(
                400,
                &json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
            );
        }
        if req.query_param("api-version") != Some("2018-02-01") {
            return Reply::json(
                400,
                &json!({"error": "invalid_request", "error_description": "Invalid API version"}),
            );
        }
        let resource = req
            .query_param("resource")
            .and_then(percent_decode)
            .unwrap_or_default();
        let scope = format!("{resource}/.default");
        if resource.is_empty() || !o.scopes.contains(&scope) {
            return Reply::json(
                400,
                &json!({"error": "invalid_resource", "error_description": "AADSTS500011: The resource principal was not found"}),
            );
        }
        let token = self.issue(&scope, o.expires_in);
        Reply::json(
            200,
            &json!({"access_token": token, "expires_in": o.expires_in.to_string(), "resource": resource, "token_type": "Bearer"}),
        )
    }
}

/// Now plus `secs`, or as far as `Instant` reaches (huge lifetimes are a test input).
fn expiry_after(secs: u64) -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(secs))
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

/// A standalone token endpoint on 127.0.0.1; stops when dropped.
#[derive(Debug)]
pub struct EntraReceiver {
    server: HttpServer,
    issuer: Arc<TokenIssuer>,
}

impl EntraReceiver {
    /// Starts an endpoint for `options`.
    ///
    /// # Panics
    /// When no port on 127.0.0.1 can be bound (a test setup failure).
    pub fn start(options: EntraOptions) -> EntraReceiver {
        let issuer = Arc::new(TokenIssuer::new(options));
        let i = Arc::clone(&issuer);
        let handler = Arc::new(move |req: Request| {
            i.handle(&req)
                .unwrap_or_else(|| Reply::json(404, &json!({"error": "not_found"})))
        });
        match HttpServer::start(handler) {
            Ok(server) => EntraReceiver { server, issuer },
            Err(e) => panic!("cannot start the Entra receiver: {e}"),
        }
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The issuer (to check tokens, script faults, count requests).
    pub fn issuer(&self) -> &Arc<TokenIssuer> {
        &self.issuer
    }
}
