//! A strict Azure Event Hubs HTTPS send endpoint (docs/reference/sentinel.md §4,
//! platform-facts.md §16-17), checked against the SAS test vector of
//! sentinel.md §4.3 (see this module's tests).
//!
//! What it checks on `POST /{hub}/messages`:
//! * the route: another hub → 404 (`MessagingEntityNotFound`), another method → 405;
//! * `api-version=2014-01`, else 400;
//! * `Authorization: SharedAccessSignature sr=..&sig=..&se=..&skn=..` (any order): `skn` is
//!   the configured key name; `se` is in the future (else 401 `ExpiredToken`); `sr`,
//!   percent-decoded, is the namespace URI `https://<namespace>/` or the hub URI
//!   `https://<namespace>/<hub>` (else 401 `InvalidAudience`; an `/eventhubs/` segment is
//!   wrong, azure-docs#76515); `sig` equals Base64(HMAC-SHA256(key = the key string AS IS,
//!   `<sr exactly as sent>\n<se>`)), else 401 `InvalidSignature` (a Base64-decoded key fails
//!   here). With an Entra issuer attached, `Authorization: Bearer <token>` for the Event Hubs
//!   scope is accepted too;
//! * the body: with `Content-Type: application/vnd.microsoft.servicebus.json`, a JSON array of
//!   objects each with a string `Body` (else 400); any other content type is one event whose
//!   body is the raw bytes; a body over the tier limit (256 KiB Basic, 1 MiB Standard) → 413
//!   `MessageSizeExceeded`.
//!
//! Success is 201 with an empty body. Event bodies are kept in order (with duplicates of an
//! `event_id` counted when the body is JSON). Faults ([`Fault`]) are scripted per request.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::azure::{apply, hmac_b64, lock, percent_decode, unix_now, Fault, Script};
use crate::entra::{TokenCheck, TokenIssuer, EVENT_HUBS_SCOPE};
use crate::server::{HttpServer, Reply, Request};

/// The batch content type.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.servicebus.json";

/// How the receiver is set up.
#[derive(Debug, Clone)]
pub struct EventHubsOptions {
    /// Namespace host, e.g. `gk-test-ns.servicebus.windows.net`.
    pub namespace: String,
    /// The event hub.
    pub hub: String,
    /// `SharedAccessKeyName`.
    pub key_name: String,
    /// `SharedAccessKey` (a string, used as is).
    pub key: String,
    /// Largest body (tier limit).
    pub max_bytes: usize,
}

#[derive(Debug, Default)]
struct State {
    bodies: Vec<String>,
    ids: HashSet<String>,
    duplicates: u64,
    requests: u64,
    refused: u64,
    single_sends: u64,
    signatures: HashSet<String>,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct EventHubsReceiver {
    server: HttpServer,
    state: Arc<Mutex<State>>,
    script: Arc<Script>,
}

fn failure(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

impl EventHubsReceiver {
    /// Starts a receiver taking SAS tokens (and, with `entra`, bearer tokens it issued).
    ///
    /// # Panics
    /// When no port on 127.0.0.1 can be bound (a test setup failure).
    pub fn start(options: EventHubsOptions, entra: Option<Arc<TokenIssuer>>) -> EventHubsReceiver {
        let state: Arc<Mutex<State>> = Arc::default();
        let script: Arc<Script> = Arc::default();
        let (st, sc) = (Arc::clone(&state), Arc::clone(&script));
        let handler = Arc::new(move |req: Request| {
            if let Some(reply) = entra.as_ref().and_then(|i| i.handle(&req)) {
                return reply;
            }
            handle(&options, entra.as_deref(), &st, &sc, &req)
        });
        match HttpServer::start(handler) {
            Ok(server) => EventHubsReceiver {
                server,
                state,
                script,
            },
            Err(e) => panic!("cannot start the Event Hubs receiver: {e}"),
        }
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Queues faults for the next requests.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.script.extend(faults);
    }

    /// Event bodies kept, in arrival order.
    pub fn bodies(&self) -> Vec<String> {
        lock(&self.state).bodies.clone()
    }

    /// Requests received (any answer).
    pub fn requests(&self) -> u64 {
        lock(&self.state).requests
    }

    /// Accepted single-event sends (not batch sends).
    pub fn single_sends(&self) -> u64 {
        lock(&self.state).single_sends
    }

    /// Requests refused for their authorization.
    pub fn refused(&self) -> u64 {
        lock(&self.state).refused
    }

    /// Distinct valid SAS signatures seen (a new one per renewed token).
    pub fn distinct_signatures(&self) -> usize {
        lock(&self.state).signatures.len()
    }

    /// Events whose JSON `event_id` had been received before.
    pub fn duplicates(&self) -> u64 {
        lock(&self.state).duplicates
    }
}

/// Checks a SAS token against `o`; `Ok(sig)` when valid.
pub fn check_sas(
    o: &EventHubsOptions,
    header: &str,
) -> Result<String, (&'static str, &'static str)> {
    let fields = header.strip_prefix("SharedAccessSignature ").ok_or((
        "InvalidToken",
        "Authorization must be SharedAccessSignature or Bearer",
    ))?;
    let get = |name: &str| {
        fields
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    };
    let (Some(sr), Some(sig), Some(se), Some(skn)) = (get("sr"), get("sig"), get("se"), get("skn"))
    else {
        return Err(("InvalidToken", "The SAS token needs sr, sig, se and skn"));
    };
    if skn != o.key_name {
        return Err(("InvalidSignature", "Unknown SharedAccessKeyName"));
    }
    let expiry: u64 = se
        .parse()
        .map_err(|_| ("InvalidToken", "se is not a number"))?;
    if expiry <= unix_now() {
        return Err(("ExpiredToken", "The SAS token has expired"));
    }
    let resource = percent_decode(sr).ok_or(("InvalidToken", "sr is not percent-encoded UTF-8"))?;
    let namespace = format!("https://{}", o.namespace);
    let allowed = [
        format!("{namespace}/"),
        namespace.clone(),
        format!("{namespace}/{}", o.hub),
        format!("{namespace}/{}/", o.hub),
    ];
    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&resource)) {
        return Err((
            "InvalidAudience",
            "The token's resource is not this namespace or hub",
        ));
    }
    let expected = hmac_b64(o.key.as_bytes(), format!("{sr}\n{se}").as_bytes());
    let given = percent_decode(sig).ok_or(("InvalidSignature", "sig is not percent-encoded"))?;
    if expected != given {
        return Err(("InvalidSignature", "The token signature does not match"));
    }
    Ok(given)
}

fn handle(
    o: &EventHubsOptions,
    entra: Option<&TokenIssuer>,
    state: &Mutex<State>,
    script: &Script,
    req: &Request,
) -> Reply {
    let Some(rest) = req.path.strip_prefix('/') else {
        return failure(404, "NotFound", "Not found");
    };
    if rest != format!("{}/messages", o.hub) {
        return failure(
            404,
            "MessagingEntityNotFound",
            "The event hub does not exist",
        );
    }
    if req.method != "POST" {
        return failure(405, "MethodNotAllowed", "Use POST");
    }
    lock(state).requests += 1;
    let delay = match apply(script.next()) {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let reply = ingest(o, entra, state, req);
    match delay {
        Some(d) => reply.delayed(d),
        None => reply,
    }
}

fn ingest(
    o: &EventHubsOptions,
    entra: Option<&TokenIssuer>,
    state: &Mutex<State>,
    req: &Request,
) -> Reply {
    if req.query_param("api-version") != Some("2014-01") {
        return failure(400, "InvalidApiVersion", "api-version must be 2014-01");
    }
    let authorization = req.header("authorization").unwrap_or_default();
    let checked = match (authorization.strip_prefix("Bearer "), entra) {
        (Some(token), Some(issuer)) => match issuer.check(token, &[EVENT_HUBS_SCOPE]) {
            TokenCheck::Live => Ok(None),
            TokenCheck::Expired => Err(("ExpiredToken", "The bearer token has expired")),
            _ => Err(("InvalidToken", "Unknown bearer token")),
        },
        _ => check_sas(o, authorization).map(Some),
    };
    let signature = match checked {
        Ok(s) => s,
        Err((code, message)) => {
            lock(state).refused += 1;
            return failure(401, code, message);
        }
    };
    if req.body.len() > o.max_bytes || req.wire_len > o.max_bytes {
        return failure(
            413,
            "MessageSizeExceeded",
            "The message or batch exceeds the size limit",
        );
    }
    let bodies: Vec<String> = if req.header("content-type") == Some(BATCH_CONTENT_TYPE) {
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&req.body) else {
            return failure(400, "BadRequest", "A batch must be a JSON array");
        };
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            match item.get("Body").and_then(Value::as_str) {
                Some(b) => out.push(b.to_string()),
                None => return failure(400, "BadRequest", "Every batch item needs a string Body"),
            }
        }
        out
    } else {
        vec![String::from_utf8_lossy(&req.body).into_owned()]
    };
    let mut st = lock(state);
    if req.header("content-type") != Some(BATCH_CONTENT_TYPE) {
        st.single_sends += 1;
    }
    if let Some(s) = signature {
        st.signatures.insert(s);
    }
    for body in bodies {
        let id = serde_json::from_str::<Value>(&body).ok().and_then(|v| {
            v.get("event_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        if let Some(id) = id {
            if !st.ids.insert(id) {
                st.duplicates += 1;
            }
        }
        st.bodies.push(body);
    }
    Reply::empty(201)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> EventHubsOptions {
        EventHubsOptions {
            namespace: "gk-test-ns.servicebus.windows.net".into(),
            hub: "audit".into(),
            key_name: "gatekit-send".into(),
            key: "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=".into(),
            max_bytes: 1024 * 1024,
        }
    }

    #[test]
    fn the_wire_reference_sas_vector_checks_out() {
        // docs/reference/sentinel.md §4.3: the signature of the worked vector, recomputed here;
        // only the expiry is moved into the future, so the signature is recomputed the same way.
        let o = vector();
        let sr = "https%3A%2F%2Fgk-test-ns.servicebus.windows.net%2Faudit";
        assert_eq!(
            hmac_b64(o.key.as_bytes(), format!("{sr}\n1767225600").as_bytes()),
            "tGGk2/IsHRoZ7Jq8kZqGC61i5GBm+VnSBrtbj2SupyE="
        );
        let lower = "https%3a%2f%2fgk-test-ns.servicebus.windows.net%2faudit";
        assert_eq!(
            hmac_b64(o.key.as_bytes(), format!("{lower}\n1767225600").as_bytes()),
            "e/3SnmqaU9NMnVWeZsIUMb0/iosKD/6mJH+Y1lapZ38="
        );
        let se = unix_now() + 600;
        let sig = hmac_b64(o.key.as_bytes(), format!("{sr}\n{se}").as_bytes());
        let token = format!(
            "SharedAccessSignature sr={sr}&sig={}&se={se}&skn=gatekit-send",
            sig.replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        );
        assert!(check_sas(&o, &token).is_ok());
        let decoded_key = crate::azure::base64_decode(&o.key).unwrap_or_default();
        let wrong = hmac_b64(&decoded_key, format!("{sr}\n{se}").as_bytes());
        let bad = format!("SharedAccessSignature sr={sr}&sig={wrong}&se={se}&skn=gatekit-send");
        assert_eq!(
            check_sas(&o, &bad).map_err(|e| e.0),
            Err("InvalidSignature")
        );
        let old = "SharedAccessSignature sr=https%3A%2F%2Fgk-test-ns.servicebus.windows.net%2Faudit&sig=tGGk2%2FIsHRoZ7Jq8kZqGC61i5GBm%2BVnSBrtbj2SupyE%3D&se=1767225600&skn=gatekit-send";
        assert_eq!(check_sas(&o, old).map_err(|e| e.0), Err("ExpiredToken"));
        let eventhubs = "https%3A%2F%2Fgk-test-ns.servicebus.windows.net%2Feventhubs%2Faudit";
        let sig = hmac_b64(o.key.as_bytes(), format!("{eventhubs}\n{se}").as_bytes());
        let bad = format!(
            "SharedAccessSignature sr={eventhubs}&sig={}&se={se}&skn=gatekit-send",
            sig.replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        );
        assert_eq!(check_sas(&o, &bad).map_err(|e| e.0), Err("InvalidAudience"));
    }
}
