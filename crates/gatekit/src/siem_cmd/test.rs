//! `gatekit siem test --config FILE`: one `system_event` straight through each enabled
//! destination's transport, then, per destination, the result in words, what that result
//! confirms for this transport and what it cannot.
//!
//! What "delivered" proves differs per transport (docs/delivery.md): a file line was written;
//! TCP bytes reached the peer's TCP stack; an HTTP endpoint answered success; Splunk with
//! indexer acknowledgement confirmed indexing; UDP proves nothing at all. For UDP the tool
//! waits briefly and reads the socket's pending error: on a connected socket an ICMP
//! port-unreachable from the peer (nothing listens there) shows up as "connection refused",
//! the one failure UDP can reveal. No such answer is not a confirmation.
//!
//! Authentication attempts (the HEC health check, TLS and HTTP logins of the send) are printed
//! as they happen, through the same monitor the gateway uses to audit them.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatekit_core::{EventFactory, EventType, Severity};
use gatekit_delivery::{BatchOutcome, Record, RecordId, Transport};
use gatekit_siem::auth::AuthMonitor;
use gatekit_siem::connector::syslog::udp::UdpTransport;
use gatekit_siem::connector::ConnectorPlan;

/// How long a UDP test waits for an ICMP port-unreachable before saying it saw none.
const ICMP_WAIT: Duration = Duration::from_millis(500);
/// How long one test send may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// What a success of this transport confirms, and what it cannot.
fn proof(connector: &ConnectorPlan) -> (&'static str, &'static str) {
    match connector {
        ConnectorPlan::File(_) => (
            "the line was written to the file",
            "that anything (a forwarder, the Azure Monitor Agent) reads the file",
        ),
        ConnectorPlan::SyslogTcp(_) => (
            "the receiver's TCP stack acknowledged every byte",
            "that the syslog daemon parsed, stored or forwarded the message",
        ),
        ConnectorPlan::SyslogTls(_) => (
            "the TLS handshake succeeded (server certificate verified) and the receiver's TCP stack acknowledged every byte",
            "that the syslog daemon parsed, stored or forwarded the message",
        ),
        ConnectorPlan::Relp(_) => (
            "the RELP server answered `rsp 200` for the message (it took responsibility for it)",
            "that the daemon's own output (a file, a forwarder) stored it",
        ),
        ConnectorPlan::SyslogUdp(_) => (
            "nothing: UDP has no acknowledgement, the datagram was only handed to the network",
            "delivery of any kind (a closed port on a reachable host may answer ICMP port-unreachable, which is reported; a firewall that drops ICMP, a host that is down or a full receive buffer give no signal)",
        ),
        ConnectorPlan::Hec(p) if p.settings.ack.is_some() => (
            "Splunk confirmed the event indexed (indexer acknowledgement)",
            "that a search finds it under the expected index and sourcetype (check in Splunk)",
        ),
        ConnectorPlan::Hec(_) => (
            "Splunk accepted the request (HTTP 200)",
            "indexing: without use_ack a 200 means parsed and queued, not indexed",
        ),
        ConnectorPlan::QRadarHttp(_) => (
            "the HTTP Receiver answered 2xx",
            "that QRadar parsed the event into the right log source (check Log Activity)",
        ),
        ConnectorPlan::LogsIngestion(_) => (
            "Azure accepted the record (HTTP 204)",
            "ingestion into the table, which takes minutes; a DCR transformation may still drop the row",
        ),
        ConnectorPlan::DataCollector(_) => (
            "Azure accepted the record (HTTP 200)",
            "ingestion into the custom table, which takes minutes",
        ),
        ConnectorPlan::EventHubs(_) => (
            "Event Hubs stored the event (HTTP 201)",
            "that a consumer (the Sentinel data connector) reads it",
        ),
    }
}

/// A failed outcome in words (never Rust debug text).
fn failure(outcome: &BatchOutcome) -> String {
    match outcome {
        BatchOutcome::Delivered => "delivered".into(),
        BatchOutcome::Retry {
            reason,
            retry_after,
        } => format!(
            "{reason} (a temporary failure: the gateway keeps the event and retries{})",
            retry_after
                .map(|d| format!(" after {} s", d.as_secs()))
                .unwrap_or_default()
        ),
        BatchOutcome::TooLarge => "the receiver refused the request as too large (HTTP 413)".into(),
        BatchOutcome::Reject { reason } => {
            format!("{reason} (refused for good: the gateway would dead-letter this event)")
        }
        BatchOutcome::Partial { reason, .. } => {
            format!("{reason} (the receiver refused the event: the gateway would dead-letter it)")
        }
    }
}

/// `gatekit siem test --config FILE`.
pub fn test(config: &Path) -> ExitCode {
    let plans = match super::checked(config) {
        Ok(c) => c.plans,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Authentication attempts are audited through this monitor, as the gateway does; here
    // each report is printed under the destination being tested.
    let auth_lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&auth_lines);
    let monitor = Arc::new(AuthMonitor::with_hook(Arc::new(move |m: String| {
        seen.lock().unwrap_or_else(|e| e.into_inner()).push(m);
    })));
    let print_auth = || {
        for line in auth_lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            println!("  {line}");
        }
    };
    let factory = EventFactory::new(crate::start::host_name(), env!("CARGO_PKG_VERSION"));
    let mut all_ok = true;
    for plan in &plans {
        let event = factory
            .event(EventType::SystemEvent, Severity::Notice)
            .with_message("Gatekit SIEM connectivity test (gatekit siem test)");
        // What the primary endpoint receives (its own rendering on a platform whose
        // endpoints render differently).
        let payload = match plan.render_for(0, &event) {
            Ok(payload) => payload,
            Err(e) => {
                println!(
                    "{:<15} FAILED: cannot format the test event: {e}",
                    plan.platform
                );
                all_ok = false;
                continue;
            }
        };
        // UDP is built here, not behind the trait, to read its pending error afterwards.
        let udp = match &plan.connector {
            ConnectorPlan::SyslogUdp(p) => Some(Arc::new(UdpTransport::new(&p.host, p.port))),
            _ => None,
        };
        let transport: Arc<dyn Transport> = match &udp {
            Some(u) => Arc::clone(u) as Arc<dyn Transport>,
            None => match plan.connector.build(Arc::clone(&monitor)) {
                Ok(t) => t,
                Err(e) => {
                    println!("{:<15} FAILED: {e}", plan.platform);
                    all_ok = false;
                    continue;
                }
            },
        };
        match rt.block_on(plan.connector.health_check(Arc::clone(&monitor))) {
            Some(Ok(text)) => println!("{:<15} health endpoint: {text}", plan.platform),
            Some(Err(text)) => {
                println!("{:<15} health endpoint FAILED: {text}", plan.platform);
                all_ok = false;
            }
            None => {}
        }
        print_auth();
        let record = Record::new(RecordId(event.event_id.as_uuid().as_u128()), payload);
        let started = Instant::now();
        let outcome = rt.block_on(async {
            tokio::time::timeout(SEND_TIMEOUT, transport.send(std::slice::from_ref(&record))).await
        });
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let name = transport.name();
        let (confirms, cannot) = proof(&plan.connector);
        match outcome {
            Ok(BatchOutcome::Delivered) => {
                let refused = udp.as_ref().and_then(|u| {
                    std::thread::sleep(ICMP_WAIT);
                    u.pending_error()
                });
                match refused {
                    Some(e) => {
                        println!(
                            "{:<15} FAILED via {name}: the host answered ICMP port unreachable ({e}): nothing listens on that UDP port",
                            plan.platform
                        );
                        all_ok = false;
                        continue;
                    }
                    None if udp.is_some() => {
                        println!(
                            "{:<15} sent via {name} in {ms:.1} ms (event_id {}); no ICMP port-unreachable came back within {} ms",
                            plan.platform,
                            event.event_id.as_uuid(),
                            ICMP_WAIT.as_millis()
                        );
                    }
                    None => {
                        println!(
                            "{:<15} delivered via {name} in {ms:.1} ms (event_id {})",
                            plan.platform,
                            event.event_id.as_uuid()
                        );
                    }
                }
                println!("  confirms: {confirms}");
                println!("  cannot confirm: {cannot}");
            }
            Ok(other) => {
                println!(
                    "{:<15} FAILED via {name} after {ms:.1} ms: {}",
                    plan.platform,
                    failure(&other)
                );
                all_ok = false;
            }
            Err(_) => {
                println!(
                    "{:<15} FAILED via {name}: no answer within {} s",
                    plan.platform,
                    SEND_TIMEOUT.as_secs()
                );
                all_ok = false;
            }
        }
        print_auth();
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
