//! The Data Collector transport against the strict receiver of
//! `gatekit_testkit::data_collector` (docs/reference/sentinel.md §3): the SharedKey signature over
//! the exact body bytes (non-ASCII text included), the headers, and every documented status.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod azure_common;

use std::time::Duration;

use azure_common::*;
use gatekit_delivery::{BatchOutcome, Record, Transport};
use gatekit_siem::connector::data_collector::transport::{
    DataCollectorSettings, DataCollectorTransport,
};
use gatekit_siem::connector::data_collector::DataCollectorFormatter;
use gatekit_testkit::azure::Fault;
use gatekit_testkit::data_collector::DataCollectorReceiver;
use serde_json::json;

const WORKSPACE: &str = "b9e2f1a0-1234-4cde-8f00-0123456789ab";
const KEY: &str =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==";
const SLOW: Duration = Duration::from_secs(42);

fn transport(
    port: u16,
    key: &str,
    time_field: Option<&str>,
) -> (
    DataCollectorTransport,
    std::sync::Arc<gatekit_siem::auth::AuthMonitor>,
) {
    let (auth, monitor) = reporter("data_collector:test");
    let t = DataCollectorTransport::new(
        client(port),
        DataCollectorSettings {
            workspace_id: WORKSPACE.into(),
            shared_key: secret(key),
            log_type: "Gatekit".into(),
            time_generated_field: time_field.map(str::to_string),
            azure_resource_id: None,
            auth_retry: SLOW,
        },
        auth,
    );
    (t, monitor)
}

fn batch(n: usize) -> Vec<Record> {
    records(
        &DataCollectorFormatter {
            time_field: "EventTime".into(),
        },
        n,
        0,
    )
}

#[tokio::test]
async fn signed_batches_with_non_ascii_text_are_accepted() {
    let rx = DataCollectorReceiver::start(WORKSPACE, KEY);
    let (t, monitor) = transport(rx.port(), KEY, Some("EventTime"));
    let b = batch(3);
    assert_eq!(t.send(&b).await, BatchOutcome::Delivered);
    assert_eq!(rx.bad_signatures(), 0);
    let got = rx.records();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].log_type, "Gatekit");
    assert_eq!(got[0].time_generated_field.as_deref(), Some("EventTime"));
    let r = &got[2].record;
    assert_eq!(
        r["Message"], "event 2 zoë ",
        "the byte length, not the character count, was signed"
    );
    assert!(
        r.get("TimeGenerated").is_none(),
        "TimeGenerated is reserved in this API"
    );
    assert!(r["EventTime"].as_str().unwrap().ends_with('Z'));
    let sent: serde_json::Value = serde_json::from_slice(&b[2].payload).unwrap();
    assert_eq!(serde_json::Value::Object(r.clone()), sent);
    assert_eq!(monitor.failures(), 0);
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_failure_retried_slowly() {
    let rx = DataCollectorReceiver::start(WORKSPACE, KEY);
    // Another valid Base64 key.
    let (t, monitor) = transport(
        rx.port(),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        None,
    );
    let outcome = t.send(&batch(1)).await;
    assert!(
        matches!(&outcome, BatchOutcome::Retry { retry_after: Some(d), reason } if *d == SLOW && reason.contains("403") && reason.contains("InvalidAuthorization")),
        "{outcome:?}"
    );
    assert_eq!(rx.bad_signatures(), 1);
    assert_eq!(monitor.failures(), 1);
    assert!(rx.records().is_empty());
}

#[tokio::test]
async fn every_documented_status_is_classified() {
    let rx = DataCollectorReceiver::start(WORKSPACE, KEY);
    let (t, monitor) = transport(rx.port(), KEY, None);
    let fail = |code: &str| json!({"Error": code, "Message": "scripted"});
    rx.script([
        Fault::Reply(400, fail("InvalidLogType"), None),
        Fault::Reply(400, fail("InactiveCustomer"), None),
        Fault::Reply(404, fail("NotFound"), None),
        Fault::Reply(429, fail("TooManyRequests"), Some(11)),
        Fault::Reply(500, fail("UnspecifiedError"), None),
        Fault::Reply(503, fail("ServiceUnavailable"), None),
        Fault::HangUp,
    ]);
    let b = batch(2);
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Reject { reason } if reason.contains("InvalidLogType"))
    );
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Reject { reason } if reason.contains("InactiveCustomer"))
    );
    assert!(matches!(t.send(&b).await, BatchOutcome::Reject { reason } if reason.contains("404")));
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(11))
    );
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Retry { reason, .. } if reason.contains("UnspecifiedError"))
    );
    assert!(
        matches!(t.send(&b).await, BatchOutcome::Retry { reason, .. } if reason.contains("ServiceUnavailable"))
    );
    assert!(matches!(t.send(&b).await, BatchOutcome::Retry { .. }));
    assert_eq!(t.send(&b).await, BatchOutcome::Delivered);
    assert_eq!(rx.records().len(), 2);
    assert_eq!(monitor.failures(), 0);
}

#[tokio::test]
async fn the_receiver_is_strict() {
    // What real shippers get wrong is refused here, so the tests above mean something.
    let rx = DataCollectorReceiver::start(WORKSPACE, KEY);
    let body = r#"[{"Tool":"fs.write","User":"zoë"}]"#;
    let date = gatekit_siem::azure::signature::rfc1123(gatekit_core::Timestamp::now());
    let sign = |len: usize| {
        gatekit_siem::azure::signature::data_collector_authorization(WORKSPACE, KEY, len, &date)
            .unwrap()
    };
    let c = client(rx.port());
    let post = |content_type: &str, authorization: String| {
        let headers = vec![
            ("authorization", authorization),
            ("content-type", content_type.to_string()),
            ("log-type", "Gatekit".to_string()),
            ("x-ms-date", date.clone()),
        ];
        let c = &c;
        async move {
            c.post(
                "/api/logs?api-version=2016-04-01",
                &headers,
                body.as_bytes().to_vec(),
            )
            .await
            .unwrap()
            .status
        }
    };
    assert_eq!(post("application/json", sign(body.len())).await, 200);
    assert_eq!(
        post("application/json", sign(body.chars().count())).await,
        403,
        "character count"
    );
    assert_eq!(
        post("application/json; charset=utf-8", sign(body.len())).await,
        403,
        "charset"
    );
    assert_eq!(post("text/plain", sign(body.len())).await, 400);
    assert_eq!(rx.records().len(), 1);
}
