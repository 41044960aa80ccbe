//! Load generator for the delivery pipeline (numbers go to docs/performance.md, "Delivery").
//!
//! ```text
//! cargo run --release -p gatekit-delivery --example load -- <mode> [events] [payload_bytes] [interval|never|always] [rate] [adaptive|fixed]
//!   mode: memory   pipeline without disk buffer -> null transport, events/s
//!         disk     pipeline with disk buffer (fsync every 100 ms) -> null transport, events/s
//!         backlog  destination down, everything spills to disk; resident memory at the end
//!         paced    disk buffer on, `rate` events/s (default 10,000) for `events / rate`
//!                  seconds, shipped batch defaults: delivery latency
//!   adaptive|fixed: `batch_mode` (default: the shipped default, adaptive)
//! ```
//! The producer uses the `block` policy so no event is dropped and the rate measured is the
//! pipeline's sustained rate, not the producer's.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatekit_delivery::{
    BatchMode, BatchOutcome, DeliveryConfig, DiskConfig, FsyncMode, OverflowPolicy, Pipeline,
    Record, RecordId, SendFuture, Transport,
};

#[derive(Debug)]
struct Null {
    hang: bool,
}

impl Transport for Null {
    fn name(&self) -> &str {
        "null"
    }
    fn send<'a>(&'a self, _batch: &'a [Record]) -> SendFuture<'a> {
        let hang = self.hang;
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            BatchOutcome::Delivered
        })
    }
}

fn proc_status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l[key.len()..].trim().to_owned())
        .unwrap_or_default()
}

/// User + system CPU seconds of this process (from /proc/self/stat, in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "disk".into());
    let events: u64 = args.next().map_or(1_000_000, |v| v.parse().unwrap());
    let payload_len: usize = args.next().map_or(256, |v| v.parse().unwrap());
    let fsync = match args.next().as_deref() {
        Some("always") => FsyncMode::Always,
        Some("never") => FsyncMode::Never,
        _ => FsyncMode::Interval,
    };
    let rate: u64 = args.next().map_or(10_000, |v| v.parse().unwrap()).max(1);
    let batch_mode = match args.next().as_deref() {
        Some("fixed") => BatchMode::Fixed,
        Some("adaptive") => BatchMode::Adaptive,
        _ => BatchMode::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let config = DeliveryConfig {
        batch_mode,
        buffer_size: 20_000,
        buffer_max_bytes: 32 << 20,
        // Paced mode uses the default `batch_size` (100) to show latency with shipped defaults.
        batch_size: if mode == "paced" { 100 } else { 1000 },
        batch_max_bytes: 4 << 20,
        // Paced mode shows latency at a realistic rate, so it uses the default batch timing.
        batch_timeout: if mode == "paced" { 1.0 } else { 0.05 },
        overflow: OverflowPolicy::Block,
        dead_letter_path: Some(dir.path().join("dl.jsonl")),
        disk: (mode != "memory").then(|| DiskConfig {
            path: dir.path().join("buffer"),
            max_bytes: 4 << 30,
            segment_bytes: 32 << 20,
            fsync,
            fsync_interval_ms: 100,
        }),
        ..DeliveryConfig::default()
    };
    let settings = config.validate("load").unwrap();
    let t: Arc<dyn Transport> = Arc::new(Null {
        hang: mode == "backlog",
    });
    let p = Pipeline::spawn("load", settings, vec![t]).unwrap();
    let prod = p.producer();
    let template = vec![b'a'; payload_len];
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    if mode == "paced" {
        // `rate` events/s in ticks of at least 1 ms (10,000/s: 10 events every 1 ms).
        let period = Duration::from_secs(1)
            .checked_div(rate as u32)
            .unwrap_or_default();
        let period = period.max(Duration::from_millis(1));
        let per_tick = ((rate as f64 * period.as_secs_f64()).round() as u64).max(1);
        let mut tick = tokio::time::interval(period);
        let mut i = 0u64;
        while i < events {
            tick.tick().await;
            for _ in 0..per_tick.min(events - i) {
                prod.submit(Record::new(RecordId(u128::from(i)), template.clone()))
                    .await
                    .unwrap();
                i += 1;
            }
        }
    } else {
        for i in 0..events {
            prod.submit(Record::new(RecordId(u128::from(i)), template.clone()))
                .await
                .unwrap();
        }
    }
    let target = |s: &gatekit_delivery::MetricsSnapshot| {
        if mode == "backlog" {
            s.spilled
        } else {
            s.delivered
        }
    };
    while target(&p.snapshot()) < events {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let s = p.snapshot();
    println!("mode={mode} events={events} payload={payload_len}B fsync={fsync:?} rate={rate} batch_mode={batch_mode:?}");
    println!(
        "  {:.0} events/s ({:.2} s), CPU {:.2} s = {:.2} CPU-s per million events",
        events as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        cpu,
        cpu * 1e6 / events as f64
    );
    println!(
        "  delivered={} spilled={} dropped={} disk_events={} disk_bytes={} MB p50={:?} p99={:?}",
        s.delivered,
        s.spilled,
        s.dropped_total,
        s.disk_events,
        s.disk_bytes >> 20,
        s.latency_percentile(0.5),
        s.latency_percentile(0.99)
    );
    println!(
        "  VmRSS={} VmHWM={}",
        proc_status("VmRSS:"),
        proc_status("VmHWM:")
    );
    let r = p.shutdown_within(Duration::from_millis(100)).await;
    println!("  shutdown: {r:?}");
}
