//! The strict Logs Ingestion receiver (with its Entra token endpoint) as a process, for
//! benchmarks and manual runs: `cargo run --release -p gatekit-testkit --example
//! azure_receiver -- --port P [--keep]`. It serves until its standard input closes, then prints
//! what it received (records, requests, largest body, dropped properties, bare objects, token
//! requests) and exits. Credentials: tenant `gatekit-bench`, client `gatekit-bench`, secret
//! from `GATEKIT_BENCH_SECRET` (default `bench-secret`); DCR
//! `dcr-00000000000000000000000000000000`, stream `Custom-GatekitAudit`.

use std::io::Read;

use gatekit_testkit::entra::EntraOptions;
use gatekit_testkit::logs_ingestion::{LogsIngestionOptions, LogsIngestionReceiver};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(0);
    let keep = args.iter().any(|a| a == "--keep");
    let secret = std::env::var("GATEKIT_BENCH_SECRET").unwrap_or_else(|_| "bench-secret".into());
    let mut options = LogsIngestionOptions::new(
        "dcr-00000000000000000000000000000000",
        EntraOptions::new("gatekit-bench", "gatekit-bench", &secret),
    );
    options.keep_records = keep;
    let rx = LogsIngestionReceiver::start_on(options, port);
    println!("listening on 127.0.0.1:{}", rx.port());
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    println!(
        "records: {}, requests: {}, largest body: {} bytes, accepted body bytes: {}, dropped properties: {}, bare objects: {}, token requests: {}",
        rx.record_count(),
        rx.requests(),
        rx.largest_body(),
        rx.body_bytes(),
        rx.dropped_properties(),
        rx.bare_objects(),
        rx.issuer().requests()
    );
}
