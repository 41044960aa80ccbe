//! The QRadar HTTP Receiver transport against the strict receiver
//! (`gatekit_testkit::qradar`): one text/plain POST per batch split into events by the
//! Message Pattern, every answer classified, and TLS rejections counted as authentication
//! failures.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::sync::Arc;
use std::time::Duration;

use gatekit_delivery::{BatchOutcome, Record, RecordId, Transport};
use gatekit_siem::auth::AuthMonitor;
use gatekit_siem::connector::qradar_http::transport::QRadarHttpTransport;
use gatekit_siem::http::client::{Endpoint, HttpClient};
use gatekit_siem::tls::TlsSettings;
use gatekit_testkit::pki::Pki;
use gatekit_testkit::qradar::{Fault, QRadarOptions, QRadarReceiver};

fn transport(url: &str, tls: &TlsSettings) -> (QRadarHttpTransport, Arc<AuthMonitor>) {
    let client =
        HttpClient::new(Endpoint::parse(url).unwrap(), tls, Duration::from_secs(2)).unwrap();
    let monitor = Arc::new(AuthMonitor::default());
    (
        QRadarHttpTransport::new(client, Arc::clone(&monitor)),
        monitor,
    )
}

fn batch(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            Record::new(
                RecordId(i as u128),
                format!("LEEF:2.0|Gatekit|MCP Gateway|0.1|tool_call|^|n={i}\n").into_bytes(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_batch_is_split_into_its_events_and_every_answer_is_classified() {
    let rx = QRadarReceiver::start(QRadarOptions::default(), None).unwrap();
    let (t, monitor) = transport(
        &format!("http://127.0.0.1:{}/events", rx.port()),
        &TlsSettings::default(),
    );
    assert_eq!(t.send(&batch(3)).await, BatchOutcome::Delivered);
    let events = rx.events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[2].ends_with("n=2"));
    rx.script([
        Fault::Status(503, None),
        Fault::Status(429, Some(9)),
        Fault::Status(400, None),
        Fault::Status(403, None),
        Fault::Status(413, None),
        Fault::HangUp,
        Fault::Slow(Duration::from_secs(4)),
    ]);
    assert!(matches!(
        t.send(&batch(1)).await,
        BatchOutcome::Retry {
            retry_after: None,
            ..
        }
    ));
    assert!(matches!(
        t.send(&batch(1)).await,
        BatchOutcome::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(9)
    ));
    assert!(matches!(
        t.send(&batch(1)).await,
        BatchOutcome::Reject { .. }
    ));
    // 403 waits for a fixed certificate instead of dead-lettering (it used to be a Reject).
    assert!(matches!(
        t.send(&batch(1)).await,
        BatchOutcome::Retry {
            retry_after: Some(_),
            ..
        }
    ));
    assert_eq!(monitor.failures(), 1, "403 is an authentication failure");
    assert_eq!(t.send(&batch(2)).await, BatchOutcome::TooLarge);
    assert!(matches!(
        t.send(&batch(1)).await,
        BatchOutcome::Retry { .. }
    ));
    assert!(matches!(
        t.send(&batch(1)).await,
        BatchOutcome::Retry { reason, .. } if reason.contains("no answer")
    ));
    // Only the slow request was kept: the receiver took it but answered too late, which is
    // how a resend duplicates (at-least-once).
    assert_eq!(rx.events().len(), 4);
}

#[tokio::test]
async fn tls_rejections_are_authentication_failures() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "q").unwrap();
    let other = Pki::generate(dir.path(), "other").unwrap();
    let rx = QRadarReceiver::start(
        QRadarOptions::default(),
        Some(pki.server_config(true).unwrap()),
    )
    .unwrap();
    let url = format!("https://127.0.0.1:{}", rx.port());
    let trusting = |p: &Pki, client: bool| TlsSettings {
        ca_file: Some(p.file("ca.pem")),
        cert_file: client.then(|| pki.file("client.pem")),
        key_file: client.then(|| pki.file("client.key")),
        ..TlsSettings::default()
    };
    // No client certificate: the receiver refuses us.
    let (t, monitor) = transport(&url, &trusting(&pki, false));
    let outcome = t.send(&batch(1)).await;
    assert!(
        matches!(&outcome, BatchOutcome::Retry { reason, .. } if reason.contains("CertificateRequired")),
        "{outcome:?}"
    );
    assert_eq!(monitor.failures(), 1);
    // A server certificate from a CA we do not trust: we refuse it.
    let (t, monitor) = transport(&url, &trusting(&other, true));
    let outcome = t.send(&batch(1)).await;
    assert!(
        matches!(&outcome, BatchOutcome::Retry { reason, .. } if reason.contains("certificate")),
        "{outcome:?}"
    );
    assert_eq!(monitor.failures(), 1);
    // A pin that is not the server's certificate: refused although the chain verifies.
    let pinned = |pin: String| TlsSettings {
        pins: vec![pin],
        ..trusting(&pki, true)
    };
    let (t, monitor) = transport(&url, &pinned("00".repeat(32)));
    let outcome = t.send(&batch(1)).await;
    assert!(
        matches!(&outcome, BatchOutcome::Retry { reason, .. } if reason.contains("pin")),
        "{outcome:?}"
    );
    assert_eq!(monitor.failures(), 1);
    // Everything right, with the server's own pin written as openssl prints it
    // (upper case, colons): delivered.
    let openssl_style = fingerprint(&pki.file("server.pem"))
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let (t, monitor) = transport(&url, &pinned(openssl_style));
    assert_eq!(t.send(&batch(2)).await, BatchOutcome::Delivered);
    assert_eq!(monitor.failures(), 0);
    assert_eq!(rx.events().len(), 2);
}

/// SHA-256 of the DER certificate in `pem`, lower-case hex.
fn fingerprint(pem: &std::path::Path) -> String {
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_file(pem).unwrap();
    ring::digest::digest(&ring::digest::SHA256, &der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
