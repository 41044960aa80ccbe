//! The HEC transport against the strict HEC receiver: headers, concatenated batches, and the
//! classification of every answer the receiver can give.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::time::Duration;

use gatekit_delivery::{BatchOutcome, Record, RecordId, Transport};
use gatekit_siem::connector::hec::transport::HecTransport;
use gatekit_siem::http::client::{Endpoint, HttpClient};
use gatekit_siem::secret::Secret;
use gatekit_siem::tls::TlsSettings;
use gatekit_testkit::hec::{Fault, HecReceiver};
use serde_json::json;

const TOKEN: &str = "11111111-2222-3333-4444-555555555555";

fn transport(port: u16, token: &str) -> HecTransport {
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let tls = TlsSettings {
        verify: true,
        ca_file: None,
        cert_file: None,
        key_file: None,
        pins: vec![],
        server_name: None,
    };
    let client = HttpClient::new(endpoint, &tls, Duration::from_secs(5)).unwrap();
    let secret: Secret = gatekit_config::yaml::from_str(&format!("\"{token}\"")).unwrap();
    HecTransport::new(client, secret)
}

fn batch(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let envelope = json!({"time": 1_763_371_800.123, "event": {"n": i}, "sourcetype": "gatekit:audit"});
            Record::new(RecordId(i as u128), format!("{envelope}\n").into_bytes())
        })
        .collect()
}

#[tokio::test]
async fn a_batch_is_concatenated_events_with_a_splunk_token() {
    let rx = HecReceiver::start(TOKEN);
    let t = transport(rx.port(), TOKEN);
    assert_eq!(t.send(&batch(3)).await, BatchOutcome::Delivered);
    assert_eq!(rx.events().len(), 3);
    assert_eq!(rx.events()[2]["event"]["n"], 2);
    assert_eq!(rx.authorizations(), [format!("Splunk {TOKEN}")]);
}

#[tokio::test]
async fn every_receiver_answer_is_classified() {
    let rx = HecReceiver::start(TOKEN);
    let t = transport(rx.port(), TOKEN);
    rx.script([
        Fault::Reply(503, json!({"text": "Server is busy", "code": 9}), None),
        Fault::Reply(
            429,
            json!({"text": "Too many requests", "code": 27}),
            Some(7),
        ),
        Fault::Reply(
            500,
            json!({"text": "Internal server error", "code": 8}),
            None,
        ),
        Fault::Reply(413, json!({"text": "Content too large"}), None),
        Fault::InvalidAt(2),
    ]);
    assert!(matches!(
        t.send(&batch(4)).await,
        BatchOutcome::Retry {
            retry_after: None,
            ..
        }
    ));
    assert!(
        matches!(t.send(&batch(4)).await, BatchOutcome::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(7))
    );
    assert!(matches!(
        t.send(&batch(4)).await,
        BatchOutcome::Retry { .. }
    ));
    assert_eq!(t.send(&batch(4)).await, BatchOutcome::TooLarge);
    match t.send(&batch(4)).await {
        BatchOutcome::Partial { delivered, reason } => {
            assert_eq!(delivered, 2);
            assert!(reason.contains("Invalid data format"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rx.events().len(),
        2,
        "events before the invalid one were kept"
    );
}

#[tokio::test]
async fn a_wrong_token_waits_for_a_fixed_credential_instead_of_dead_lettering() {
    // It used to be a permanent rejection (dead-lettered); a refused credential says nothing
    // about the events, so the batch is retried slowly until the token is fixed.
    let rx = HecReceiver::start(TOKEN);
    let t = transport(rx.port(), "00000000-0000-0000-0000-000000000000");
    assert!(
        matches!(t.send(&batch(1)).await, BatchOutcome::Retry { reason, retry_after: Some(_) } if reason.contains("403") && reason.contains("Invalid token"))
    );
}

#[tokio::test]
async fn a_receiver_that_is_not_there_is_retried() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = transport(port, TOKEN);
    assert!(
        matches!(t.send(&batch(1)).await, BatchOutcome::Retry { reason, .. } if reason.contains("cannot connect"))
    );
}

#[tokio::test]
async fn the_receiver_is_strict() {
    // The receiver itself rejects what real HEC rejects, so the tests above mean something.
    let rx = HecReceiver::start(TOKEN);
    let port = rx.port();
    let array = post(
        port,
        r#"[{"event":1}]"#,
        "Splunk 11111111-2222-3333-4444-555555555555",
    )
    .await;
    assert!(
        array.starts_with("HTTP/1.1 400") && array.contains("\"code\":6"),
        "{array}"
    );
    let bearer = post(
        port,
        r#"{"event":1}"#,
        "Bearer 11111111-2222-3333-4444-555555555555",
    )
    .await;
    assert!(
        bearer.starts_with("HTTP/1.1 401") && bearer.contains("\"code\":3"),
        "{bearer}"
    );
    let no_event = post(
        port,
        r#"{"event":1}{"time":1}"#,
        "Splunk 11111111-2222-3333-4444-555555555555",
    )
    .await;
    assert!(
        no_event.contains("\"code\":12") && no_event.contains("\"invalid-event-number\":1"),
        "{no_event}"
    );
}

async fn post(port: u16, body: &str, auth: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!(
        "POST /services/collector/event HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}
