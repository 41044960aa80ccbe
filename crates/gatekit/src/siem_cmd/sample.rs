//! `gatekit siem sample`: the sample events (one of each event type and a hostile one, from
//! `gatekit_format::sample_events`) as SIEM text.
//!
//! * `--format NAME` renders them with the named format's default settings. The names are the
//!   configuration's names: `leef` is LEEF 2.0, exactly what `format: leef` sends.
//! * `--config FILE` renders them exactly as each configured destination would: its formatter
//!   (with its data minimisation), its syslog header and its framing. Stdout carries only the
//!   bytes; a header per destination goes to stderr. Where a transport sends records without
//!   framing (a UDP datagram, an HTTP record), a newline is printed after each record so the
//!   output stays readable, and the stderr header says that the newline is not sent. A
//!   platform whose `failover` endpoints render differently (decision 0624) shows each
//!   endpoint's own rendering, one header per endpoint.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use gatekit_format::Framing;
use gatekit_siem::connector::ConnectorPlan;

fn write_out(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `gatekit siem sample --format NAME`.
pub fn sample_format(format: &str) -> ExitCode {
    let rendered = format
        .parse::<gatekit_format::FormatKind>()
        .and_then(gatekit_format::render_samples);
    match rendered {
        Ok(bytes) => write_out(&bytes),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How a destination's records travel, for the stderr header.
fn wire(connector: &ConnectorPlan) -> String {
    match connector {
        ConnectorPlan::File(s) => format!("appended to {}", s.path.display()),
        ConnectorPlan::SyslogTcp(p) => format!("TCP syslog to {}:{}", p.host, p.port),
        ConnectorPlan::SyslogUdp(p) => {
            format!(
                "UDP syslog to {}:{}, one datagram per record",
                p.host, p.port
            )
        }
        ConnectorPlan::SyslogTls(p) => format!("TLS syslog to {}:{}", p.host, p.port),
        ConnectorPlan::Relp(p) => format!("RELP to {}:{}", p.host, p.port),
        ConnectorPlan::Hec(p) => format!(
            "Splunk HEC {}://{}:{}, batches of envelopes back to back{}",
            if p.endpoint.tls { "https" } else { "http" },
            p.endpoint.host,
            p.endpoint.port,
            if p.settings.gzip { ", gzipped" } else { "" }
        ),
        ConnectorPlan::QRadarHttp(p) => format!(
            "QRadar HTTP Receiver {}:{}, batches of lines in one text/plain POST",
            p.endpoint.host, p.endpoint.port
        ),
        ConnectorPlan::LogsIngestion(p) => format!(
            "Azure Logs Ingestion {}, batches sent as one JSON array",
            p.endpoint.host
        ),
        ConnectorPlan::DataCollector(p) => format!(
            "Azure Data Collector API {}, batches sent as one JSON array",
            p.endpoint.host
        ),
        ConnectorPlan::EventHubs(p) => format!(
            "Event Hubs {}, batches sent as one JSON array of messages",
            p.endpoint.host
        ),
    }
}

/// `gatekit siem sample --config FILE [--platform NAME]`.
pub fn sample_config(config: &Path, platform: Option<&str>) -> ExitCode {
    let checked = match super::checked(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let plans: Vec<_> = checked
        .plans
        .iter()
        .filter(|p| platform.is_none_or(|name| p.platform == name))
        .collect();
    if plans.is_empty() {
        let names: Vec<_> = checked.plans.iter().map(|p| p.platform).collect();
        eprintln!(
            "error: no enabled platform is called {:?}; enabled: {}",
            platform.unwrap_or_default(),
            names.join(", ")
        );
        return ExitCode::FAILURE;
    }
    let events = gatekit_format::sample_events();
    for plan in plans {
        // A platform whose endpoints render differently shows each endpoint's rendering; one
        // with a single rendering shows it once, for the primary.
        let endpoints = match &plan.rerender {
            Some(_) => plan.endpoints(),
            None => 1,
        };
        for i in 0..endpoints {
            let framing = plan
                .rerender
                .as_ref()
                .and_then(|r| r.endpoint(i))
                .map_or(plan.framing, |e| e.framing);
            let Some(connector) = plan.endpoint_connector(i) else {
                continue;
            };
            let unframed = framing == Framing::None;
            let which = if endpoints > 1 {
                format!(" endpoint {} of {endpoints}", i + 1)
            } else {
                String::new()
            };
            eprintln!(
                "==> {}{which}: {}; framing: {}{} <==",
                plan.platform,
                wire(connector),
                match framing {
                    Framing::None => "none",
                    Framing::Lf => "LF after each record",
                    Framing::OctetCounting => "octet counting (RFC 6587 3.4.1)",
                },
                if unframed {
                    " (records unframed: the newline after each is printed here, not sent)"
                } else {
                    ""
                }
            );
            let mut out = Vec::new();
            for event in &events {
                match plan.render_for(i, event) {
                    Ok(record) => out.extend_from_slice(&record),
                    Err(e) => {
                        eprintln!(
                            "error: {}: cannot format a sample event: {e}",
                            plan.platform
                        );
                        return ExitCode::FAILURE;
                    }
                }
                if unframed && !out.ends_with(b"\n") {
                    out.push(b'\n');
                }
            }
            if write_out(&out) == ExitCode::FAILURE {
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
