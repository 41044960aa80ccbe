//! The strict HEC receiver as a process, for benchmarks (`scripts/bench-siem-hec`): it checks
//! every request as the tests do but only counts events, and prints the running count, data
//! requests and ack polls once a second on stderr until it is killed.
//!
//! Usage: hec_receiver PORT TOKEN [--ack]

use std::time::Duration;

use gatekit_testkit::hec::{HecOptions, HecReceiver};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(port), Some(token)) = (args.get(1).and_then(|p| p.parse().ok()), args.get(2)) else {
        eprintln!("usage: hec_receiver PORT TOKEN [--ack]");
        return std::process::ExitCode::FAILURE;
    };
    let options = HecOptions {
        ack: args.iter().any(|a| a == "--ack"),
        keep_events: false,
        ..HecOptions::new(token)
    };
    let rx = match HecReceiver::start_at(port, options, None) {
        Ok(rx) => rx,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    loop {
        std::thread::sleep(Duration::from_secs(1));
        eprintln!(
            "events {} requests {} ack_polls {}",
            rx.event_count(),
            rx.requests(),
            rx.ack_polls()
        );
    }
}
