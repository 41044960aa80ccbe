//! The Event Hubs transport against the strict receiver of `gatekit_testkit::event_hubs`
//! (docs/reference/sentinel.md §4): SAS tokens from the connection string checked by signature,
//! token renewal, the batch body, the tier size limit, every status, and Entra bearer tokens.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod azure_common;

use std::sync::Arc;
use std::time::Duration;

use azure_common::*;
use gatekit_delivery::{BatchOutcome, Record, Transport};
use gatekit_format::JsonFormatter;
use gatekit_siem::auth::AuthMonitor;
use gatekit_siem::azure::entra::{Credential, TokenSettings, TokenSource, EVENT_HUBS_SCOPE};
use gatekit_siem::connector::event_hubs::transport::{
    parse_connection_string, EventHubsAuth, EventHubsSettings, EventHubsTransport, BASIC_MAX_BYTES,
    STANDARD_MAX_BYTES,
};
use gatekit_testkit::azure::Fault;
use gatekit_testkit::entra::{EntraOptions, TokenIssuer};
use gatekit_testkit::event_hubs::{EventHubsOptions, EventHubsReceiver};
use serde_json::json;

const NAMESPACE: &str = "gk-test-ns.servicebus.windows.net";
const KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const SLOW: Duration = Duration::from_secs(42);

fn options(max_bytes: usize) -> EventHubsOptions {
    EventHubsOptions {
        namespace: NAMESPACE.into(),
        hub: "audit".into(),
        key_name: "gatekit-send".into(),
        key: KEY.into(),
        max_bytes,
    }
}

fn sas_transport(
    port: u16,
    key: &str,
    ttl: Duration,
    max: usize,
) -> (EventHubsTransport, Arc<AuthMonitor>) {
    let conn = parse_connection_string(&format!(
        "Endpoint=sb://{NAMESPACE}/;SharedAccessKeyName=gatekit-send;SharedAccessKey={key};EntityPath=audit"
    ))
    .unwrap();
    let (auth, monitor) = reporter("event_hubs:test");
    let t = EventHubsTransport::new(
        client(port),
        EventHubsSettings {
            namespace: conn.namespace,
            hub: conn.entity_path.unwrap(),
            auth: EventHubsAuth::Sas {
                key_name: conn.key_name.unwrap(),
                key: conn.key.unwrap(),
                ttl,
            },
            max_batch_bytes: max,
            auth_retry: SLOW,
        },
        auth,
    );
    (t, monitor)
}

fn batch(n: usize) -> Vec<Record> {
    records(&JsonFormatter, n, 0)
}

#[tokio::test]
async fn events_arrive_as_string_bodies_under_a_valid_sas() {
    let rx = EventHubsReceiver::start(options(STANDARD_MAX_BYTES), None);
    let (t, monitor) = sas_transport(
        rx.port(),
        KEY,
        Duration::from_secs(3600),
        STANDARD_MAX_BYTES,
    );
    let b = batch(3);
    assert_eq!(t.send(&b).await, BatchOutcome::Delivered);
    assert_eq!(t.send(&batch(2)).await, BatchOutcome::Delivered);
    let single = batch(1);
    assert_eq!(
        t.send(&single).await,
        BatchOutcome::Delivered,
        "a single send"
    );
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 6);
    assert_eq!(bodies[5].as_bytes(), &single[0].payload[..]);
    assert_eq!(rx.single_sends(), 1);
    assert_eq!(
        bodies[1].as_bytes(),
        &b[1].payload[..],
        "each event travels as it was rendered"
    );
    let event: serde_json::Value = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(event["message"], "event 1 zoë ");
    assert_eq!(rx.refused(), 0);
    assert_eq!(rx.distinct_signatures(), 1, "one token reused while fresh");
    assert_eq!(monitor.failures(), 0);
}

#[tokio::test]
async fn sas_tokens_are_renewed_before_they_expire() {
    let rx = EventHubsReceiver::start(options(STANDARD_MAX_BYTES), None);
    let (t, _) = sas_transport(rx.port(), KEY, Duration::from_secs(3), STANDARD_MAX_BYTES);
    assert_eq!(t.send(&batch(1)).await, BatchOutcome::Delivered);
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(2600)).await;
        assert_eq!(t.send(&batch(1)).await, BatchOutcome::Delivered);
    }
    assert_eq!(rx.refused(), 0, "no expired token was sent");
    assert_eq!(rx.distinct_signatures(), 3, "a new token per lifetime");
}

#[tokio::test]
async fn a_refused_sas_is_renewed_once_then_reported() {
    // The receiver holds another key: every signature is refused.
    let mut other = options(STANDARD_MAX_BYTES);
    other.key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into();
    let rx = EventHubsReceiver::start(other, None);
    let (t, monitor) = sas_transport(
        rx.port(),
        KEY,
        Duration::from_secs(3600),
        STANDARD_MAX_BYTES,
    );
    let outcome = t.send(&batch(1)).await;
    assert!(
        matches!(&outcome, BatchOutcome::Retry { retry_after: Some(d), reason } if *d == SLOW && reason.contains("401") && reason.contains("InvalidSignature")),
        "{outcome:?}"
    );
    assert_eq!(rx.refused(), 2, "one renewed token, then no more");
    assert_eq!(monitor.failures(), 1);
}

#[tokio::test]
async fn every_documented_status_is_classified() {
    let rx = EventHubsReceiver::start(options(STANDARD_MAX_BYTES), None);
    let (t, monitor) = sas_transport(
        rx.port(),
        KEY,
        Duration::from_secs(3600),
        STANDARD_MAX_BYTES,
    );
    let e = |code: &str| json!({"error": {"code": code, "message": "scripted"}});
    rx.script([
        Fault::Reply(500, e("InternalError"), None),
        Fault::Reply(503, e("ServerBusy"), Some(4)),
        Fault::Reply(429, e("Throttled"), Some(2)),
        Fault::Reply(413, e("MessageSizeExceeded"), None),
        Fault::Reply(400, e("BadRequest"), None),
        Fault::Reply(404, e("MessagingEntityNotFound"), None),
        Fault::Reply(403, e("Forbidden"), None),
        Fault::HangUp,
    ]);
    let b = batch(2);
    assert!(matches!(
        t.send(&b).await,
        BatchOutcome::Retry {
            retry_after: None,
            ..
        }
    ));
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(4))
    );
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(2))
    );
    assert_eq!(t.send(&b).await, BatchOutcome::TooLarge);
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Reject { reason } if reason.contains("BadRequest"))
    );
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Reject { reason } if reason.contains("MessagingEntityNotFound"))
    );
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Retry { retry_after: Some(d), .. } if d == SLOW)
    );
    assert_eq!(monitor.failures(), 1, "403 is an authentication failure");
    assert!(matches!(t.send(&b).await, BatchOutcome::Retry { .. }));
    assert_eq!(t.send(&b).await, BatchOutcome::Delivered);
    assert_eq!(rx.bodies().len(), 2);
}

#[tokio::test]
async fn the_tier_limit_is_enforced_before_sending() {
    let rx = EventHubsReceiver::start(options(BASIC_MAX_BYTES), None);
    let (t, _) = sas_transport(rx.port(), KEY, Duration::from_secs(3600), BASIC_MAX_BYTES);
    let big = records(&JsonFormatter, 30, 10_000);
    assert_eq!(
        t.send(&big).await,
        BatchOutcome::TooLarge,
        "~300 KB is over Basic's 256 KiB"
    );
    assert_eq!(rx.requests(), 0);
    assert_eq!(t.send(&big[..15]).await, BatchOutcome::Delivered);
    // The receiver enforces it too: 413, which splits.
    let (uncapped, _) = sas_transport(
        rx.port(),
        KEY,
        Duration::from_secs(3600),
        STANDARD_MAX_BYTES,
    );
    assert_eq!(uncapped.send(&big).await, BatchOutcome::TooLarge);
    assert_eq!(rx.bodies().len(), 15);
}

#[tokio::test]
async fn entra_bearer_tokens_work_too() {
    let issuer = Arc::new(TokenIssuer::new(EntraOptions::new(
        TENANT,
        CLIENT_ID,
        CLIENT_SECRET,
    )));
    let rx = EventHubsReceiver::start(options(STANDARD_MAX_BYTES), Some(Arc::clone(&issuer)));
    let tokens = Arc::new(
        TokenSource::new(TokenSettings {
            credential: Credential::ClientSecret {
                tenant_id: TENANT.into(),
                client_id: CLIENT_ID.into(),
                secret: secret(CLIENT_SECRET),
            },
            endpoint: endpoint(rx.port()),
            scope: EVENT_HUBS_SCOPE.into(),
            tls: tls(),
            timeout: Duration::from_secs(5),
        })
        .unwrap(),
    );
    let (auth, monitor) = reporter("event_hubs:entra");
    let t = EventHubsTransport::new(
        client(rx.port()),
        EventHubsSettings {
            namespace: NAMESPACE.into(),
            hub: "audit".into(),
            auth: EventHubsAuth::Entra(tokens),
            max_batch_bytes: STANDARD_MAX_BYTES,
            auth_retry: SLOW,
        },
        auth,
    );
    assert_eq!(t.send(&batch(2)).await, BatchOutcome::Delivered);
    issuer.revoke_all();
    assert_eq!(
        t.send(&batch(1)).await,
        BatchOutcome::Delivered,
        "401, one fresh token, resent"
    );
    assert_eq!(rx.bodies().len(), 3);
    assert_eq!(rx.refused(), 1);
    assert_eq!(issuer.requests(), 2);
    assert_eq!(monitor.failures(), 0);
}
