//! Every HTTPS connector, built from YAML the way `gatekit run` builds it, treats a TLS
//! rejection as an authentication failure (counted, typed, whatever the connector), and every
//! TLS client picks up a rotated client certificate without a restart.
//!
//! The peers are the testkit's HTTPS server with a throw-away PKI: it requires a client
//! certificate signed by its CA, as QRadar's HTTP Receiver and an mTLS-terminating proxy in
//! front of HEC or Azure would.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gatekit_config::Config;
use gatekit_core::{EventFactory, EventType, Severity};
use gatekit_delivery::{BatchOutcome, Record, RecordId};
use gatekit_siem::auth::AuthMonitor;
use gatekit_testkit::pki::Pki;
use gatekit_testkit::server::{HttpServer, Reply};

fn config(dir: &Path, siem: &str) -> Config {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n{siem}"
    );
    Config::from_yaml(&yaml, "t.yaml", dir.to_path_buf()).unwrap()
}

fn batch(formatter: &dyn gatekit_format::Formatter) -> Vec<Record> {
    let event = EventFactory::new("h", "0")
        .event(EventType::AuditEvent, Severity::Notice)
        .with_message("tls identity");
    let mut payload = Vec::new();
    formatter.format(&event, &mut payload).unwrap();
    payload.push(b'\n');
    vec![Record::new(
        RecordId(event.event_id.as_uuid().as_u128()),
        payload,
    )]
}

/// A server that answers every request with `status` (and a token for token requests).
fn answering(status: u16) -> gatekit_testkit::server::Handler {
    Arc::new(move |req| {
        if req.path.contains("oauth2") {
            Reply::json(
                200,
                &serde_json::json!({"access_token": "t", "expires_in": 3600, "token_type": "Bearer"}),
            )
        } else if status == 200 && req.path.contains("/services/collector") {
            Reply::json(200, &serde_json::json!({"text": "Success", "code": 0}))
        } else {
            Reply::empty(status)
        }
    })
}

/// The `siem` block of each HTTPS connector, pointed at `url` with TLS options `tls`; a plain
/// HTTP token service at `token_url` for the Entra-authenticated ones.
fn connectors(url: &str, tls: &str, token_url: &str) -> Vec<(&'static str, String)> {
    let entra =
        format!("    auth: {{method: managed_identity, metadata_endpoint: \"{token_url}\"}}\n");
    vec![
        ("hec", format!("  splunk:\n    transport: hec\n    hec: {{endpoint: \"{url}\", token: \"${{GATEKIT_TEST_HEC_TOKEN}}\", tls: {tls}}}\n")),
        ("qradar_http", format!("  qradar:\n    transport: rest_api\n    rest_api: {{endpoint: \"{url}\", tls: {tls}}}\n")),
        ("logs_ingestion", format!("  azure_sentinel:\n    transport: logs_ingestion_api\n    logs_ingestion_api: {{endpoint: \"{url}\", dcr_immutable_id: dcr-0a, tls: {tls}}}\n{entra}")),
        ("data_collector", format!("  azure_sentinel:\n    transport: data_collector_api\n    data_collector_api: {{workspace_id: 0b4c0e2a-1d3f-4e5a-8b6c-7d8e9f0a1b2c, shared_key: \"${{GATEKIT_TEST_DC_KEY}}\", endpoint: \"{url}\", tls: {tls}}}\n")),
        ("event_hubs", format!("  azure_sentinel:\n    transport: event_hubs\n    event_hubs: {{connection_string: \"${{GATEKIT_TEST_EH_CONN}}\", hub_name: gk, endpoint: \"{url}\", tls: {tls}}}\n")),
    ]
}

fn set_secrets() {
    std::env::set_var(
        "GATEKIT_TEST_HEC_TOKEN",
        "0c4a8f2e-5b1d-4f7a-9e3c-2d6b8a1f0e57",
    );
    std::env::set_var("GATEKIT_TEST_DC_KEY", "c2VjcmV0LWtleS1mb3ItdGVzdHM=");
    std::env::set_var(
        "GATEKIT_TEST_EH_CONN",
        "Endpoint=sb://gk-ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0",
    );
}

fn tls_options(ca: &Path, client: Option<(&Path, &Path)>) -> String {
    match client {
        Some((cert, key)) => format!(
            "{{ca_file: {:?}, cert_file: {:?}, key_file: {:?}, server_name: localhost}}",
            ca, cert, key
        ),
        None => format!("{{ca_file: {ca:?}, server_name: localhost}}"),
    }
}

#[tokio::test]
async fn a_tls_rejection_is_an_authentication_failure_on_every_https_connector() {
    set_secrets();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "gk").unwrap();
    let server = HttpServer::start_tls(answering(500), pki.server_config(true).unwrap()).unwrap();
    let tokens = HttpServer::start(answering(200)).unwrap();
    let url = format!("https://127.0.0.1:{}", server.port());
    let token_url = format!("http://127.0.0.1:{}", tokens.port());
    // No client certificate: the server refuses us with a TLS alert.
    let tls = tls_options(&pki.file("ca.pem"), None);
    for (name, siem) in connectors(&url, &tls, &token_url) {
        let checked = gatekit_siem::validate(&config(dir.path(), &siem)).unwrap();
        let plan = &checked.plans[0];
        let monitor: Arc<AuthMonitor> = Arc::default();
        let transport = plan.connector.build(Arc::clone(&monitor)).unwrap();
        let outcome = transport.send(&batch(plan.formatter.as_ref())).await;
        assert!(
            matches!(&outcome, BatchOutcome::Retry { .. }),
            "{name}: {outcome:?}"
        );
        assert!(
            monitor.failures() >= 1,
            "{name}: a refused client certificate was not counted as an authentication failure ({outcome:?})"
        );
    }
}

#[tokio::test]
async fn a_network_failure_is_not_an_authentication_failure() {
    set_secrets();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "gk").unwrap();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let tokens = HttpServer::start(answering(200)).unwrap();
    let url = format!("https://127.0.0.1:{port}");
    let token_url = format!("http://127.0.0.1:{}", tokens.port());
    let tls = tls_options(&pki.file("ca.pem"), None);
    for (name, siem) in connectors(&url, &tls, &token_url) {
        let checked = gatekit_siem::validate(&config(dir.path(), &siem)).unwrap();
        let plan = &checked.plans[0];
        let monitor: Arc<AuthMonitor> = Arc::default();
        let transport = plan.connector.build(Arc::clone(&monitor)).unwrap();
        let outcome = transport.send(&batch(plan.formatter.as_ref())).await;
        assert!(
            matches!(&outcome, BatchOutcome::Retry { .. }),
            "{name}: {outcome:?}"
        );
        assert_eq!(monitor.failures(), 0, "{name}: {outcome:?}");
    }
}

/// Copies `from` over `to` through a temporary file and a rename, as certificate tooling
/// does, with a later modification time.
fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

fn copy(from: &Path, to: PathBuf) -> PathBuf {
    std::fs::copy(from, &to).unwrap();
    to
}

#[tokio::test]
async fn every_tls_client_picks_up_a_rotated_client_certificate() {
    set_secrets();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path(), "gk").unwrap();
    let stranger = Pki::generate(dir.path(), "stranger").unwrap();
    let server = HttpServer::start_tls(answering(200), pki.server_config(true).unwrap()).unwrap();
    let tokens = HttpServer::start(answering(200)).unwrap();
    let url = format!("https://127.0.0.1:{}", server.port());
    let token_url = format!("http://127.0.0.1:{}", tokens.port());
    for (i, (name, _)) in connectors(&url, "{}", &token_url).into_iter().enumerate() {
        // Start with a certificate the server does not trust.
        let cert = copy(
            &stranger.file("client.pem"),
            dir.path().join(format!("c{i}.pem")),
        );
        let key = copy(
            &stranger.file("client.key"),
            dir.path().join(format!("c{i}.key")),
        );
        let tls = tls_options(&pki.file("ca.pem"), Some((&cert, &key)));
        let siem = connectors(&url, &tls, &token_url).swap_remove(i).1;
        let checked = gatekit_siem::validate(&config(dir.path(), &siem)).unwrap();
        let plan = &checked.plans[0];
        let monitor: Arc<AuthMonitor> = Arc::default();
        let transport = plan.connector.build(Arc::clone(&monitor)).unwrap();
        let records = batch(plan.formatter.as_ref());
        let refused = transport.send(&records).await;
        assert!(
            matches!(&refused, BatchOutcome::Retry { .. }),
            "{name}: {refused:?}"
        );
        assert!(monitor.failures() >= 1, "{name}: {refused:?}");
        // Rotate in a certificate the server trusts; file times must differ.
        std::thread::sleep(Duration::from_millis(20));
        replace(&pki.file("client.pem"), &cert);
        replace(&pki.file("client.key"), &key);
        let after = transport.send(&records).await;
        assert!(
            !matches!(&after, BatchOutcome::Retry { reason, .. } if reason.contains("TLS")),
            "{name}: the rotated certificate was not used: {after:?}"
        );
    }
    // TLS syslog shares the same reloading configuration; its rotation is tested against
    // syslog-ng in the gateway's siem_tls tests.
}
