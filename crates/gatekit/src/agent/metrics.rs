//! `/metrics`: the agent's delivery metrics and every gateway's counters in the OpenMetrics
//! text format (encoded by the `prometheus-client` crate; Prometheus scrapes it as is).
//!
//! Sources, read at each scrape: the agent's sink (its own destinations' pipelines, plus the
//! buffers it adopted from dead processes), and the status files of every process under the
//! spool path (`gatekit_siem::status`). Every metric is listed in `docs/operations.md`; a
//! metric added here belongs there too.
//!
//! Invariant: counters come from counters that only grow (they restart at 0 when the agent
//! restarts or reloads, which Prometheus treats as a counter reset).

use gatekit_delivery::{BreakerState, MetricsSnapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::Agent;

/// Labels of one series.
type Labels = Vec<(&'static str, String)>;

/// One metric family: name, help, type, and its series.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    series: Vec<(Labels, Value)>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug)]
enum Value {
    Int(u64),
    Float(f64),
    /// Sum in seconds, count, and (upper bound in seconds, count in that bucket).
    Histogram(f64, u64, Vec<(f64, u64)>),
}

/// Everything one scrape shows.
#[derive(Debug, Default)]
struct Scrape {
    families: Vec<Family>,
}

impl Scrape {
    fn family(&mut self, name: &'static str, help: &'static str, kind: Kind) -> &mut Family {
        if let Some(i) = self.families.iter().position(|f| f.name == name) {
            return &mut self.families[i];
        }
        self.families.push(Family {
            name,
            help,
            kind,
            series: Vec::new(),
        });
        let last = self.families.len() - 1;
        &mut self.families[last]
    }

    fn counter(&mut self, name: &'static str, help: &'static str, labels: Labels, v: u64) {
        self.family(name, help, Kind::Counter)
            .series
            .push((labels, Value::Int(v)));
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, labels: Labels, v: f64) {
        self.family(name, help, Kind::Gauge)
            .series
            .push((labels, Value::Float(v)));
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            let kind = match f.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut metric = encoder.encode_descriptor(f.name, f.help, None, kind)?;
            for (labels, value) in &f.series {
                let mut series = metric.encode_family(labels)?;
                match (f.kind, value) {
                    (Kind::Counter, Value::Int(v)) => {
                        series.encode_counter::<NoLabelSet, _, u64>(v, None)?
                    }
                    (Kind::Counter, Value::Float(v)) => {
                        series.encode_counter::<NoLabelSet, _, u64>(v, None)?
                    }
                    (_, Value::Int(v)) => series.encode_gauge(v)?,
                    (_, Value::Float(v)) => series.encode_gauge(v)?,
                    (_, Value::Histogram(sum, count, buckets)) => {
                        series.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?
                    }
                }
            }
        }
        Ok(())
    }
}

/// The body of `/metrics`.
pub(super) fn render(agent: &Agent) -> Result<String, std::fmt::Error> {
    let scrape = collect(agent);
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

fn dest(name: &str) -> Labels {
    vec![("destination", name.to_string())]
}

fn collect(agent: &Agent) -> Scrape {
    let sink = agent.sink();
    let settings = agent.settings();
    let mut m = Scrape::default();
    let adopted = sink.adopted_snapshots();
    for (name, own) in sink.snapshots() {
        let mut s = own.clone();
        if let Some((_, a)) = adopted.iter().find(|(p, _)| *p == name) {
            merge(&mut s, a);
        }
        destination(&mut m, name, &s);
    }
    m.counter(
        "gatekit_siem_auth_failures",
        "Authentication failures at SIEM endpoints (TLS handshakes refused, tokens rejected).",
        Vec::new(),
        sink.auth_failures(),
    );
    for ((destination, kind), n) in sink.alerts().counts() {
        m.counter(
            "gatekit_siem_alerts",
            "Alerts raised (each also a system_event and a log line), by destination and kind.",
            vec![("destination", destination), ("kind", kind.to_string())],
            n,
        );
    }
    let (reports_dropped, spool_refused) = sink.intake_losses();
    m.counter(
        "gatekit_siem_spool_refused",
        "Events the agent's spool refused (full or an I/O error; kept in memory only).",
        Vec::new(),
        spool_refused,
    );
    m.counter(
        "gatekit_siem_reports_dropped",
        "The agent's own system_events dropped because its render thread was far behind.",
        Vec::new(),
        reports_dropped,
    );
    m.counter(
        "gatekit_agent_reloads",
        "SIGHUP reloads done.",
        Vec::new(),
        agent.reloads.load(std::sync::atomic::Ordering::Relaxed),
    );
    m.counter(
        "gatekit_agent_reload_failures",
        "SIGHUP reloads refused (the file did not load; the running configuration stayed).",
        Vec::new(),
        agent
            .reload_failures
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    if let Some(path) = &settings.spool_path {
        processes(&mut m, path);
    }
    m
}

/// Per-destination metrics from one (merged) snapshot.
fn destination(m: &mut Scrape, name: &str, s: &MetricsSnapshot) {
    m.gauge(
        "gatekit_siem_queued_events",
        "Records waiting for the destination: memory queue, disk buffer and in flight.",
        dest(name),
        s.queue_events as f64,
    );
    m.gauge(
        "gatekit_siem_queued_bytes",
        "Bytes waiting for the destination in memory and in disk buffer segments.",
        dest(name),
        (s.memory_bytes + s.disk_bytes) as f64,
    );
    m.gauge(
        "gatekit_siem_oldest_event_age_seconds",
        "Age of the oldest record not yet delivered (0 when nothing waits).",
        dest(name),
        s.oldest_event_age.map_or(0.0, |d| d.as_secs_f64()),
    );
    m.counter(
        "gatekit_siem_delivered",
        "Records the destination acknowledged.",
        dest(name),
        s.delivered,
    );
    m.counter(
        "gatekit_siem_retried",
        "Records sent again after a retryable failure.",
        dest(name),
        s.retried,
    );
    m.counter(
        "gatekit_siem_failed_attempts",
        "Batch sends that failed with a retryable error.",
        dest(name),
        s.failed_attempts,
    );
    m.counter(
        "gatekit_siem_rejected",
        "Records the destination refused for good (then dead-lettered).",
        dest(name),
        s.rejected,
    );
    m.counter(
        "gatekit_siem_dead_lettered",
        "Records written to the dead-letter file.",
        dest(name),
        s.dead_lettered,
    );
    for (reason, n) in &s.dropped {
        let reason = serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        m.counter(
            "gatekit_siem_dropped",
            "Records dropped, by reason (queue or disk buffer full, record too large).",
            vec![("destination", name.to_string()), ("reason", reason)],
            *n,
        );
    }
    for (endpoint, state) in &s.breakers {
        let v = match state {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        };
        m.gauge(
            "gatekit_siem_breaker_state",
            "Circuit breaker per endpoint: 0 closed, 1 half-open, 2 open.",
            vec![
                ("destination", name.to_string()),
                ("endpoint", endpoint.clone()),
            ],
            v,
        );
    }
    m.gauge(
        "gatekit_siem_last_success_timestamp_seconds",
        "When a batch was last delivered (unix time; 0: never).",
        dest(name),
        s.last_success_unix_ms.map_or(0.0, |ms| ms as f64 / 1000.0),
    );
    m.gauge(
        "gatekit_siem_last_failure_timestamp_seconds",
        "When delivery last failed (unix time; 0: never).",
        dest(name),
        s.last_failure_unix_ms.map_or(0.0, |ms| ms as f64 / 1000.0),
    );
    m.family(
        "gatekit_siem_delivery_latency_seconds",
        "Time from a record's enqueue to its acknowledgement.",
        Kind::Histogram,
    )
    .series
    .push((dest(name), latency(s)));
}

/// The log2 microsecond buckets as a histogram from 1 ms to about 19 hours (faster ones fold
/// into the first bucket), with `+Inf` last.
fn latency(s: &MetricsSnapshot) -> Value {
    const FIRST: usize = 10; // 2^10 us, about 1 ms
    const LAST: usize = 36; // 2^36 us, about 19 hours
    let mut buckets = Vec::new();
    let mut below = 0;
    for (i, n) in s.latency_buckets.iter().enumerate() {
        if i <= FIRST {
            below += n;
            continue;
        }
        if i == FIRST + 1 {
            buckets.push((
                gatekit_delivery::metrics::bucket_upper_us(FIRST) as f64 / 1e6,
                below,
            ));
        }
        if i <= LAST {
            buckets.push((
                gatekit_delivery::metrics::bucket_upper_us(i) as f64 / 1e6,
                *n,
            ));
        }
    }
    let count: u64 = s.latency_buckets.iter().sum();
    let counted: u64 = buckets.iter().map(|(_, n)| n).sum();
    buckets.push((f64::MAX, count - counted));
    Value::Histogram(s.latency_sum_us as f64 / 1e6, count, buckets)
}

/// Adds an adopted backlog's metrics to a destination's own.
fn merge(t: &mut MetricsSnapshot, s: &MetricsSnapshot) {
    t.queue_events += s.queue_events;
    t.memory_bytes += s.memory_bytes;
    t.disk_bytes += s.disk_bytes;
    t.oldest_event_age = t.oldest_event_age.max(s.oldest_event_age);
    t.delivered += s.delivered;
    t.retried += s.retried;
    t.failed_attempts += s.failed_attempts;
    t.rejected += s.rejected;
    t.dead_lettered += s.dead_lettered;
    for (reason, n) in &s.dropped {
        if let Some((_, c)) = t.dropped.iter_mut().find(|(r, _)| r == reason) {
            *c += n;
        }
    }
    t.latency_sum_us += s.latency_sum_us;
    for (a, b) in t.latency_buckets.iter_mut().zip(&s.latency_buckets) {
        *a += b;
    }
}

/// Per-process metrics from the status files and spool directories under `path`.
fn processes(m: &mut Scrape, path: &std::path::Path) {
    let found = gatekit_siem::status::scan(path);
    let (mut alive, mut dead) = (0u64, 0u64);
    for f in &found {
        let dir = f
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if f.alive {
            alive += 1;
        } else {
            dead += 1;
        }
        let role = f.status.as_ref().map_or("unknown", |s| s.role.as_str());
        let labels = vec![
            ("process", dir.clone()),
            ("role", role.to_string()),
            ("alive", f.alive.to_string()),
        ];
        m.gauge(
            "gatekit_siem_spool_bytes",
            "Bytes of spool segment files per process directory (dead ones wait for adoption).",
            labels,
            f.spool_bytes as f64,
        );
        let Some(status) = &f.status else { continue };
        let labels = || vec![("process", dir.clone()), ("role", status.role.clone())];
        m.gauge(
            "gatekit_siem_spool_events",
            "Events in a process's spool not yet settled by every destination (its last report).",
            labels(),
            status.spool_events as f64,
        );
        if status.role != "gateway" {
            continue;
        }
        let g = &status.gateway;
        m.counter(
            "gatekit_gateway_calls",
            "Audit records a gateway process handed to its SIEM sink (its last report).",
            labels(),
            g.calls,
        );
        m.counter(
            "gatekit_gateway_blocks",
            "Records of calls a gateway process blocked (its last report).",
            labels(),
            g.blocks,
        );
        m.counter(
            "gatekit_gateway_redactions",
            "Records a gateway process redacted (its last report).",
            labels(),
            g.redactions,
        );
        m.counter(
            "gatekit_gateway_audit_errors",
            "Records a gateway process's SIEM sink could not take as asked (its last report).",
            labels(),
            g.audit_errors,
        );
    }
    m.gauge(
        "gatekit_siem_processes",
        "Process directories under the spool path, by whether their owner is alive.",
        vec![("alive", "true".into())],
        alive as f64,
    );
    m.gauge(
        "gatekit_siem_processes",
        "Process directories under the spool path, by whether their owner is alive.",
        vec![("alive", "false".into())],
        dead as f64,
    );
}
