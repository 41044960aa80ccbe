//! A TLS syslog pipeline opens its connection as it starts (decision 0211): the receiver
//! completes the handshake before any record exists, and the first record travels on that
//! connection. When the receiver is not there yet, the start says nothing and the first
//! record connects for itself.
//!
//! The receiver is rustls with the client certificate required, like the mutual-TLS syslog
//! receivers Gatekit sends to.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the failure report"
)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatekit_delivery::{DeliveryConfig, Pipeline, Record, RecordId};
use gatekit_siem::connector::syslog::tls::TlsTransport;
use gatekit_siem::tls::TlsSettings;
use gatekit_testkit::pki::Pki;
use gatekit_testkit::wait::wait_until;
use tokio::io::AsyncBufReadExt;

/// Completed handshakes, and each received line with the number of the connection it came on.
#[derive(Default)]
struct Seen {
    handshakes: AtomicUsize,
    lines: Mutex<Vec<(usize, String)>>,
}

/// Accepts TLS connections on `listener` until the runtime stops.
fn receive(rt: &tokio::runtime::Runtime, listener: std::net::TcpListener, pki: &Pki) -> Arc<Seen> {
    let seen = Arc::new(Seen::default());
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(pki.server_config(true).unwrap()));
    let shared = Arc::clone(&seen);
    rt.spawn(async move {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), Arc::clone(&shared));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let n = seen.handshakes.fetch_add(1, Ordering::SeqCst);
                let mut lines = tokio::io::BufReader::new(tls).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    seen.lines.lock().unwrap().push((n, line));
                }
            });
        }
    });
    seen
}

fn transport(pki: &Pki, port: u16) -> TlsTransport {
    let settings = TlsSettings {
        ca_file: Some(pki.file("ca.pem")),
        cert_file: Some(pki.file("client.pem")),
        key_file: Some(pki.file("client.key")),
        ..TlsSettings::default()
    };
    TlsTransport::new("127.0.0.1", port, settings).unwrap()
}

fn start(rt: &tokio::runtime::Runtime, dir: &Path, transport: TlsTransport) -> Pipeline {
    let config = DeliveryConfig {
        dead_letter_path: Some(dir.join("dead.jsonl")),
        ..DeliveryConfig::default()
    };
    let settings = config.validate("qradar").unwrap();
    Pipeline::spawn_on(rt.handle(), "qradar", settings, vec![Arc::new(transport)]).unwrap()
}

fn deliver(rt: &tokio::runtime::Runtime, pipeline: &Pipeline, text: &str) {
    let record = Record::new(
        RecordId(1),
        format!("<14>1 - - gatekit - - - {text}\n").into(),
    );
    rt.block_on(pipeline.producer().submit(record)).unwrap();
    wait_until("the record delivered", Duration::from_secs(20), || {
        pipeline.snapshot().delivered == 1
    });
}

fn received(seen: &Seen) -> Vec<(usize, String)> {
    seen.lines.lock().unwrap().clone()
}

#[test]
fn the_connection_is_open_before_the_first_record_and_carries_it() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "start").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = receive(&rt, listener, &pki);

    let pipeline = start(&rt, dir.path(), transport(&pki, port));
    wait_until("the pipeline's start", Duration::from_secs(20), || {
        pipeline.prepared()
    });
    assert_eq!(
        seen.handshakes.load(Ordering::SeqCst),
        1,
        "the pipeline completed a handshake before any record was submitted"
    );

    deliver(&rt, &pipeline, "first");
    wait_until("the line at the receiver", Duration::from_secs(20), || {
        !received(&seen).is_empty()
    });
    let lines = received(&seen);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0].0, 0,
        "the record came on the connection opened at start"
    );
    assert!(lines[0].1.ends_with("first"), "{lines:?}");
    assert_eq!(
        seen.handshakes.load(Ordering::SeqCst),
        1,
        "no second connection"
    );
    let report = rt.block_on(pipeline.shutdown());
    assert_eq!(report.lost, 0, "{report:?}");
}

#[test]
fn a_receiver_that_is_not_there_at_start_gets_the_first_record_later() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "late").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A port that was free a moment ago: nothing listens on it while the pipeline starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let pipeline = start(&rt, dir.path(), transport(&pki, port));
    wait_until("the pipeline's start", Duration::from_secs(20), || {
        pipeline.prepared()
    });
    let quiet = pipeline.snapshot();
    assert_eq!(
        (quiet.retried, quiet.last_error.clone()),
        (0, None),
        "a failed connection at start is not reported: the first batch reports what it meets"
    );

    let seen = receive(
        &rt,
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(),
        &pki,
    );
    deliver(&rt, &pipeline, "late");
    wait_until("the line at the receiver", Duration::from_secs(20), || {
        !received(&seen).is_empty()
    });
    let lines = received(&seen);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].1.ends_with("late"), "{lines:?}");
    let report = rt.block_on(pipeline.shutdown());
    assert_eq!(report.lost, 0, "{report:?}");
}
