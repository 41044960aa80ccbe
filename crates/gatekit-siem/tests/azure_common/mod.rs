//! Helpers shared by the Azure transport tests: records rendered by the real formatters,
//! clients and delivery settings.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using a part; tests fail loudly on errors"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatekit_core::{EventFactory, EventType, Severity};
use gatekit_delivery::{DeliveryConfig, DeliverySettings, Record, RecordId};
use gatekit_format::Formatter;
use gatekit_siem::auth::{AuthMonitor, AuthReporter};
use gatekit_siem::http::client::{Endpoint, HttpClient};
use gatekit_siem::secret::Secret;
use gatekit_siem::tls::TlsSettings;

pub(crate) const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub(crate) const CLIENT_ID: &str = "0f2b8e4c-5d6a-4b7c-9e1f-a2b3c4d5e6f7";
pub(crate) const CLIENT_SECRET: &str = "gk~test.Secret_0123456789abcdefghijklmnop";
pub(crate) const DCR: &str = "dcr-000a00a000a00000a000000aa000a0aa";

pub(crate) fn tls() -> TlsSettings {
    TlsSettings {
        verify: true,
        ca_file: None,
        cert_file: None,
        key_file: None,
        pins: vec![],
        server_name: None,
    }
}

pub(crate) fn endpoint(port: u16) -> Endpoint {
    Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap()
}

pub(crate) fn client(port: u16) -> HttpClient {
    HttpClient::new(endpoint(port), &tls(), Duration::from_secs(5)).unwrap()
}

pub(crate) fn secret(s: &str) -> Secret {
    Secret::runtime(s.to_string())
}

/// A reporter on a fresh monitor, and the monitor (to count failures).
pub(crate) fn reporter(name: &str) -> (AuthReporter, Arc<AuthMonitor>) {
    let monitor: Arc<AuthMonitor> = Arc::default();
    (AuthReporter::new(name, Arc::clone(&monitor)), monitor)
}

/// `n` events rendered by `formatter`, each a record with its event id; `pad` bytes of text in
/// the message make records larger.
pub(crate) fn records(formatter: &dyn Formatter, n: usize, pad: usize) -> Vec<Record> {
    let factory = EventFactory::new("gk-test-host", "0.0.0-test");
    (0..n)
        .map(|i| {
            let event = factory
                .event(EventType::AuditEvent, Severity::Notice)
                .with_correlation_id(format!("req-{i}"))
                .with_message(format!("event {i} zoë {}", "x".repeat(pad)));
            let mut payload = Vec::new();
            formatter.format(&event, &mut payload).unwrap();
            Record::new(RecordId(event.event_id.as_uuid().as_u128()), payload)
        })
        .collect()
}

/// Delivery settings from YAML (Gatekit's `delivery` block).
pub(crate) fn delivery(yaml: &str) -> DeliverySettings {
    let config: DeliveryConfig = gatekit_config::yaml::from_str(yaml).unwrap();
    config.validate("test").unwrap()
}

/// Waits up to 30 s for `done`.
pub(crate) async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
