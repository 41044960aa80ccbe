//! The secrets and PII detectors over ordinary tool traffic: the corpus the false-positive test
//! uses (code, prose, JSON; no secrets), one line per scanned string, as the SIEM data
//! minimisation scans every value of every event. `cargo bench -p gatekit-plugins --bench
//! detectors` (docs/performance.md).
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gatekit_plugins::detect::pii::{PiiDetector, PiiKinds};
use gatekit_plugins::detect::secrets::{SecretsDetector, SECRET_KINDS};
use gatekit_plugins::detect::Detector;

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/false_positives");
    let mut lines = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        lines.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
    }
    lines
}

fn bench(c: &mut Criterion) {
    let lines = corpus();
    let bytes: usize = lines.iter().map(String::len).sum();
    let kinds: Vec<&'static str> = SECRET_KINDS.iter().map(|(k, _)| *k).collect();
    let secrets = SecretsDetector::new(&kinds, None);
    let pii = PiiDetector::new(PiiKinds::default());
    let mut group = c.benchmark_group("detectors");
    group.throughput(Throughput::Bytes(bytes as u64));
    let mut out = Vec::new();
    group.bench_function("secrets", |b| {
        b.iter(|| {
            for l in &lines {
                out.clear();
                secrets.find(l, &mut out);
            }
        })
    });
    group.bench_function("pii", |b| {
        b.iter(|| {
            for l in &lines {
                out.clear();
                pii.find(l, &mut out);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
