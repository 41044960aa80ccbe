//! Criterion benchmarks: formatting throughput per format on one core.
//!
//! Target (docs/reference/targets.md §9): at least 1,000,000 events/s for each of
//! CEF, LEEF, JSON and RFC 5424. Each iteration formats the seven sample events (one of
//! each type plus a hostile one) into a reused buffer, so the figure includes escaping of
//! hostile content. Results go into `docs/performance.md` ("Formatting").
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gatekit_format::{
    sample_events, CefFormatter, CefSettings, Formatter, Framing, JsonFormatter, LeefFormatter,
    LeefSettings, Syslog5424Formatter, SyslogSettings,
};

fn bench(c: &mut Criterion) {
    let events = sample_events();
    let cef = || Box::new(CefFormatter::new(CefSettings::default()).unwrap());
    let cases: Vec<(&str, Box<dyn Formatter>)> = vec![
        ("cef", cef()),
        (
            "leef2",
            Box::new(LeefFormatter::new(LeefSettings::default()).unwrap()),
        ),
        (
            "leef1",
            Box::new(LeefFormatter::new(LeefSettings::v1()).unwrap()),
        ),
        ("json", Box::new(JsonFormatter)),
        (
            "syslog5424_cef",
            Box::new(
                Syslog5424Formatter::new(
                    SyslogSettings {
                        sd_id: Some("gatekit@32473".into()),
                        procid: Some(4711),
                        ..SyslogSettings::default()
                    },
                    cef(),
                )
                .unwrap(),
            ),
        ),
    ];
    let mut g = c.benchmark_group("format");
    g.throughput(Throughput::Elements(events.len() as u64));
    let mut buf = Vec::with_capacity(64 * 1024);
    for (name, f) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| {
                buf.clear();
                for e in &events {
                    f.format(black_box(e), &mut buf).unwrap();
                }
                black_box(buf.len())
            })
        });
    }
    let s5424 = &cases[4].1;
    g.bench_function("syslog5424_cef_octet_counted", |b| {
        b.iter(|| {
            buf.clear();
            for e in &events {
                Framing::OctetCounting
                    .write_frame(s5424.as_ref(), black_box(e), &mut buf)
                    .unwrap();
            }
            black_box(buf.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
