//! HEC indexer acknowledgement, gzip, health and authentication failures, against the strict
//! HEC receiver (`gatekit_testkit::hec`), first per batch, then through a real delivery
//! pipeline with an outage, lost answers and lost acknowledgements: nothing is lost and the
//! duplicates are exactly the batches whose answer was lost after indexing.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gatekit_delivery::{
    BatchOutcome, BreakerConfig, DeliveryConfig, Pipeline, Record, RecordId, Transport,
};
use gatekit_siem::auth::AuthMonitor;
use gatekit_siem::connector::hec::transport::{
    new_channel, AckSettings, HecSettings, HecTransport,
};
use gatekit_siem::http::client::{Endpoint, HttpClient};
use gatekit_siem::secret::Secret;
use gatekit_siem::tls::TlsSettings;
use gatekit_testkit::hec::{is_guid, Fault, HecOptions, HecReceiver};
use serde_json::json;

const TOKEN: &str = "11111111-2222-3333-4444-555555555555";

fn ack(timeout_ms: u64) -> Option<AckSettings> {
    Some(AckSettings {
        max_poll_interval: Duration::from_millis(50),
        timeout: Duration::from_millis(timeout_ms),
    })
}

fn transport(port: u16, ack: Option<AckSettings>, gzip: bool) -> (HecTransport, Arc<AuthMonitor>) {
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client =
        HttpClient::new(endpoint, &TlsSettings::default(), Duration::from_secs(2)).unwrap();
    let token: Secret = gatekit_config::yaml::from_str(&format!("\"{TOKEN}\"")).unwrap();
    let monitor = Arc::new(AuthMonitor::default());
    let settings = HecSettings {
        token,
        channel: new_channel(),
        ack,
        gzip,
    };
    (
        HecTransport::with_settings(client, settings, Arc::clone(&monitor)),
        monitor,
    )
}

/// A transport with our token and acknowledgement on, reporting to `monitor`.
fn hec_with_monitor(port: u16, monitor: Arc<AuthMonitor>) -> HecTransport {
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client =
        HttpClient::new(endpoint, &TlsSettings::default(), Duration::from_secs(2)).unwrap();
    let settings = HecSettings {
        token: gatekit_config::yaml::from_str(&format!("\"{TOKEN}\"")).unwrap(),
        channel: new_channel(),
        ack: ack(1_000),
        gzip: false,
    };
    HecTransport::with_settings(client, settings, monitor)
}

fn record(i: usize) -> Record {
    let envelope =
        json!({"time": 1_763_371_800.5, "event": {"n": i}, "sourcetype": "gatekit:audit"});
    Record::new(RecordId(i as u128), format!("{envelope}\n").into_bytes())
}

fn batch(range: std::ops::Range<usize>) -> Vec<Record> {
    range.map(record).collect()
}

fn with_ack(token: &str) -> HecReceiver {
    HecReceiver::start_with(
        HecOptions {
            ack: true,
            ..HecOptions::new(token)
        },
        None,
    )
}

#[tokio::test]
async fn a_batch_counts_only_when_splunk_confirms_indexing() {
    let rx = with_ack(TOKEN);
    let (t, _) = transport(rx.port(), ack(2_000), false);
    assert_eq!(t.send(&batch(0..3)).await, BatchOutcome::Delivered);
    assert_eq!(t.send(&batch(3..5)).await, BatchOutcome::Delivered);
    assert_eq!(rx.event_count(), 5);
    assert!(
        rx.ack_polls() >= 2,
        "each batch waits for its ack: {}",
        rx.ack_polls()
    );
    let channels = rx.channels();
    assert_eq!(channels.len(), 1, "one long-lived channel: {channels:?}");
    assert!(is_guid(&channels[0]));
}

#[tokio::test]
async fn an_ack_that_never_comes_resends_the_batch() {
    let rx = with_ack(TOKEN);
    rx.script([Fault::AckLost]);
    let (t, _) = transport(rx.port(), ack(300), false);
    let b = batch(0..4);
    let first = t.send(&b).await;
    assert!(
        matches!(&first, BatchOutcome::Retry { reason, .. } if reason.contains("did not confirm indexing of ackId 0")),
        "{first:?}"
    );
    assert_eq!(rx.event_count(), 0, "the lost batch was never indexed");
    assert_eq!(t.send(&b).await, BatchOutcome::Delivered);
    assert_eq!(rx.event_count(), 4);
}

#[tokio::test]
async fn a_token_without_ack_makes_the_200_final() {
    // The receiver's token has useACK off: no ackId in the answer, and the transport must not
    // wait for one.
    let rx = HecReceiver::start(TOKEN);
    let (t, _) = transport(rx.port(), ack(60_000), false);
    assert_eq!(t.send(&batch(0..2)).await, BatchOutcome::Delivered);
    assert_eq!(rx.ack_polls(), 0);
    assert_eq!(rx.event_count(), 2);
}

#[tokio::test]
async fn gzip_bodies_are_accepted_and_smaller() {
    let rx = HecReceiver::start(TOKEN);
    let (t, _) = transport(rx.port(), None, true);
    let b = batch(0..200);
    assert_eq!(t.send(&b).await, BatchOutcome::Delivered);
    assert_eq!(rx.gzip_requests(), 1);
    let events = rx.events();
    assert_eq!(events.len(), 200);
    assert_eq!(events[199]["event"]["n"], 199);
}

#[tokio::test]
async fn a_body_over_the_receivers_limit_is_split() {
    let rx = HecReceiver::start_with(
        HecOptions {
            max_content_length: 2_000,
            ..HecOptions::new(TOKEN)
        },
        None,
    );
    let (t, _) = transport(rx.port(), None, false);
    assert_eq!(t.send(&batch(0..100)).await, BatchOutcome::TooLarge);
    assert_eq!(t.send(&batch(0..10)).await, BatchOutcome::Delivered);
}

#[tokio::test]
async fn the_health_endpoint_is_read() {
    let rx = with_ack(TOKEN);
    let (t, _) = transport(rx.port(), ack(1_000), false);
    assert_eq!(
        t.health().await,
        Ok("HTTP 200 code 17: HEC is healthy".to_string())
    );
    rx.set_healthy(false);
    let unhealthy = t.health().await.unwrap_err();
    assert!(
        unhealthy.contains("503") && unhealthy.contains("code 18"),
        "{unhealthy}"
    );
}

/// The health check sends the token, so it is an authentication attempt: audited like a
/// batch's (a failure counted and reported, a success with `?ack=true` reported), through the
/// monitor's hook, and the server's text comes back escaped.
#[tokio::test]
async fn the_health_check_audits_its_authentication() {
    let reports = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&reports);
    let monitor = Arc::new(AuthMonitor::with_hook(Arc::new(move |m: String| {
        seen.lock().unwrap().push(m);
    })));
    let rx = with_ack("99999999-2222-3333-4444-555555555555");
    let wrong = hec_with_monitor(rx.port(), Arc::clone(&monitor));
    let refused = wrong.health().await.unwrap_err();
    assert!(refused.contains("HTTP 400 code 21"), "{refused}");
    assert_eq!(monitor.failures(), 1);
    let good_rx = with_ack(TOKEN);
    let good = hec_with_monitor(good_rx.port(), Arc::clone(&monitor));
    assert!(good.health().await.is_ok());
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(
        reports[0].starts_with("authentication failure on SIEM transport hec:127.0.0.1:")
            && reports[0].contains("health check: HTTP 400 code 21"),
        "{reports:?}"
    );
    assert!(
        reports[1].starts_with("authentication succeeded on SIEM transport hec:127.0.0.1:"),
        "{reports:?}"
    );
}

#[tokio::test]
async fn authentication_failures_are_counted() {
    let rx = HecReceiver::start("99999999-2222-3333-4444-555555555555");
    let (t, monitor) = transport(rx.port(), None, false);
    // Retried slowly rather than dead-lettered (a refused token says nothing about events).
    assert!(matches!(
        t.send(&batch(0..1)).await,
        BatchOutcome::Retry { .. }
    ));
    assert!(matches!(
        t.send(&batch(0..1)).await,
        BatchOutcome::Retry { .. }
    ));
    assert_eq!(monitor.failures(), 2);
}

#[tokio::test]
async fn a_slow_or_silent_receiver_is_retried() {
    let rx = HecReceiver::start(TOKEN);
    rx.script([Fault::Slow(Duration::from_secs(4)), Fault::HangUp]);
    let (t, _) = transport(rx.port(), None, false);
    let slow = t.send(&batch(0..1)).await;
    assert!(
        matches!(&slow, BatchOutcome::Retry { reason, .. } if reason.contains("no answer")),
        "{slow:?}"
    );
    let hung_up = t.send(&batch(0..1)).await;
    assert!(matches!(hung_up, BatchOutcome::Retry { .. }), "{hung_up:?}");
    assert_eq!(t.send(&batch(0..1)).await, BatchOutcome::Delivered);
}

#[test]
fn nothing_is_lost_and_duplicates_are_bounded_through_a_pipeline() {
    let rx = with_ack(TOKEN);
    // An outage (503s and a dropped connection), a lost acknowledgement, and two answers lost
    // after indexing: only the last kind can duplicate, and by exactly those batches.
    rx.script([
        Fault::Reply(
            503,
            json!({"text": "HEC is unhealthy, queues are full", "code": 18}),
            None,
        ),
        Fault::HangUp,
        Fault::Reply(503, json!({"text": "Server is busy", "code": 9}), Some(0)),
        Fault::AckLost,
        Fault::IndexThenHangUp,
        Fault::IndexThenHangUp,
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = DeliveryConfig {
        batch_size: 50,
        batch_timeout: 0.01,
        retry_initial_delay: 0.01,
        retry_max_delay: 0.05,
        retry_attempts: 20,
        buffer_size: 10_000,
        dead_letter_path: Some(dir.path().join("dead.jsonl")),
        breaker: BreakerConfig {
            failure_threshold: 5,
            open_for: 0.05,
        },
        ..DeliveryConfig::default()
    };
    let settings = config.validate("test").unwrap();
    const N: usize = 1_000;
    let report = rt.block_on(async {
        let (t, _) = transport(rx.port(), ack(300), false);
        let pipeline = Pipeline::spawn("splunk", settings, vec![Arc::new(t)]).unwrap();
        let producer = pipeline.producer();
        for i in 0..N {
            producer.submit(record(i)).await.unwrap();
        }
        for _ in 0..400 {
            if pipeline.snapshot().delivered >= N as u64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let snapshot = pipeline.snapshot();
        pipeline.shutdown().await;
        snapshot
    });
    assert_eq!(report.delivered, N as u64, "{report:?}");
    assert_eq!(report.dead_lettered + report.dropped_total, 0, "{report:?}");
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for e in rx.events() {
        *seen.entry(e["event"]["n"].as_u64().unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), N, "every event indexed at least once");
    let duplicates: usize = seen.values().map(|c| c - 1).sum();
    assert!(
        duplicates > 0 && duplicates <= 2 * 50,
        "duplicates come only from the two answers lost after indexing (at most two batches of 50): {duplicates}"
    );
}
