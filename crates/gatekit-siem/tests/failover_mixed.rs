//! Failover across renderings (decision 0624), with real peers: Splunk HEC (the strict HEC
//! receiver of `gatekit-testkit`), then SC4S over TLS (a real syslog-ng with a TLS
//! `network()` source), then a local file. The HEC receiver goes down, then syslog-ng, then
//! HEC comes back. Every event must arrive, each endpoint must receive exactly its own
//! rendering (HEC JSON envelopes, RFC 5424 syslog lines with a CEF body that syslog-ng parses,
//! CEF file lines), and every switch and failback is a `system_event`.
//!
//! Needs `scripts/install-test-peers-syslog.sh` (syslog-ng, openssl); fails without it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

#[path = "../../gatekit-format/tests/common/peers.rs"]
#[allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]
mod peers;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use gatekit_config::Config;
use gatekit_core::{AuditEvent, Severity};
use gatekit_siem::platform::DestinationPlan;
use gatekit_siem::sink::{SiemSink, SinkOptions};
use gatekit_testkit::hec::{HecOptions, HecReceiver};
use serde_json::Value;

const TOKEN: &str = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

const SYSLOG_NG: &str = r#"@version: 3.38
options { keep-hostname(yes); stats_freq(0); };
source s_tls {
  network(ip("127.0.0.1") port(@PORT@) transport("tls") flags(syslog-protocol, store-raw-message)
    tls(key-file("@PKI@/m-server.key") cert-file("@PKI@/m-server.pem") peer-verify(optional-untrusted)));
};
destination d_out { file("@OUT@" template("$(format-json HOST=${HOST} PROGRAM=${PROGRAM} MSGID=${MSGID} MESSAGE=${MESSAGE} RAW=${RAWMSG})\n")); };
log { source(s_tls); destination(d_out); };
"#;

/// Waits up to 60 s (see `gatekit_testkit::wait`).
fn wait_until(what: &str, done: impl FnMut() -> bool) {
    gatekit_testkit::wait::wait_until(what, Duration::from_secs(60), done);
}

fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // Only complete lines: a writer may be in the middle of one.
    let complete = text.rfind('\n').map_or("", |end| &text[..=end]);
    complete.lines().map(str::to_owned).collect()
}

/// The value of CEF extension key `key` (`cs1` carries the event id, decision 0102).
fn cef_value<'a>(cef: &'a str, key: &str) -> Option<&'a str> {
    let start = cef.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &cef[start..];
    // The value runs to the next ` key=` (CEF values escape `=`, so the first unescaped
    // one after a space starts the next key).
    let end = rest
        .match_indices(' ')
        .find(|(i, _)| {
            let after = &rest[i + 1..];
            after
                .find('=')
                .is_some_and(|eq| after[..eq].bytes().all(|b| b.is_ascii_alphanumeric()))
        })
        .map_or(rest.len(), |(i, _)| i);
    Some(&rest[..end])
}

fn hec_id(envelope: &Value) -> Option<String> {
    envelope["event"]["event_id"].as_str().map(str::to_owned)
}

/// Events submitted, by id, with the event itself (to compute what each endpoint must get).
type Sent = HashMap<String, AuditEvent>;

fn send(sink: &SiemSink, sent: &mut Sent, phase: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let event = sink.system_event(Severity::Info, format!("{phase} event {i}"));
        let id = event.event_id.to_string();
        sink.submit(event.clone()).unwrap();
        sent.insert(id.clone(), event);
        ids.push(id);
        if i % 10 == 9 {
            sink.flush_intake();
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    sink.flush_intake();
    ids
}

fn start_hec(port: u16) -> HecReceiver {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match HecReceiver::start_at(port, HecOptions::new(TOKEN), None) {
            Ok(rx) => return rx,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "cannot restart HEC on {port}: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A sink over `plans` on a runtime of its own, its periodic monitor effectively off (one hour).
fn start_sink(
    plans: Vec<DestinationPlan>,
    host: &str,
) -> (tokio::runtime::Runtime, std::sync::Arc<SiemSink>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sink = SiemSink::start_with_options(
        plans,
        runtime.handle(),
        host.into(),
        SinkOptions {
            monitor_interval: Duration::from_secs(3600),
            ..SinkOptions::default()
        },
    )
    .unwrap();
    (runtime, sink)
}

fn plans(dir: &Path, hec_port: u16, tls_port: u16, file: &Path) -> Vec<DestinationPlan> {
    let ca = dir.join("m-ca.pem");
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n  splunk:\n    transport: hec\n    format: cef\n    hec: {{endpoint: 'http://127.0.0.1:{hec_port}', token: '{TOKEN}'}}\n    failover:\n      - transport: sc4s\n        sc4s: {{host: 127.0.0.1, port: {tls_port}, tls: {{ca_file: {ca:?}}}}}\n      - transport: file\n        file: {{path: {file:?}}}\n    delivery:\n      batch_timeout: 0.02\n      retry_attempts: 100000\n      retry_initial_delay: 0.02\n      retry_max_delay: 0.1\n      breaker: {{failure_threshold: 1, open_for: 0.3}}\n"
    );
    let cfg = Config::from_yaml(&yaml, "t.yaml", dir.to_path_buf()).unwrap();
    let plans = gatekit_siem::validate(&cfg).unwrap().plans;
    assert!(
        plans[0].rerender.is_some(),
        "HEC then SC4S renders per endpoint"
    );
    plans
}

#[test]
fn hec_then_sc4s_over_tls_then_a_file_each_get_their_own_rendering() {
    let dir = tempfile::tempdir().unwrap();
    gatekit_testkit::pki::Pki::generate(dir.path(), "m").unwrap();
    let syslog_out = dir.path().join("sc4s.jsonl");
    let file = dir.path().join("fallback.cef");
    let tls_port = peers::free_port();
    let config = SYSLOG_NG
        .replace("@PORT@", &tls_port.to_string())
        .replace("@PKI@", dir.path().to_str().unwrap())
        .replace("@OUT@", syslog_out.to_str().unwrap());
    let mut syslog_ng = Some(peers::start_syslog_ng(&config, &[tls_port]));
    let hec = HecReceiver::start(TOKEN);
    let hec_port = hec.port();
    let mut hec = Some(hec);
    // What each endpoint must receive, computed from a second plan of the same configuration.
    let expected = plans(dir.path(), hec_port, tls_port, &file).remove(0);

    let (runtime, sink) = start_sink(
        plans(dir.path(), hec_port, tls_port, &file),
        "mixed-failover-test",
    );
    let counts = || sink.switch_counts()[0].1;
    let mut sent = Sent::new();
    // Envelopes HEC received, kept across its restart.
    let mut at_hec: Vec<Value> = Vec::new();
    let hec_ids = |at: &[Value], live: Option<&HecReceiver>| -> HashSet<String> {
        let mut all: Vec<Value> = at.to_vec();
        all.extend(live.map(HecReceiver::events).unwrap_or_default());
        all.iter().filter_map(hec_id).collect()
    };

    // 1. Everything at HEC.
    let first = send(&sink, &mut sent, "hec", 40);
    wait_until("phase 1 at HEC", || {
        let ids = hec_ids(&at_hec, hec.as_ref());
        first.iter().all(|id| ids.contains(id))
    });
    assert_eq!(counts().failovers, 0);

    // 2. HEC goes down: SC4S over TLS takes the events (nothing is in flight: all arrived).
    at_hec.extend(hec.take().unwrap().events());
    let second = send(&sink, &mut sent, "sc4s", 40);
    let syslog_ids = |path: &Path| -> HashSet<String> {
        lines(path)
            .iter()
            .filter_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                cef_value(v["MESSAGE"].as_str()?, "cs1").map(str::to_owned)
            })
            .collect()
    };
    wait_until("phase 2 at SC4S", || {
        let ids = syslog_ids(&syslog_out);
        second.iter().all(|id| ids.contains(id))
    });
    assert!(counts().failovers >= 1, "{:?}", counts());

    // 3. syslog-ng goes down too (everything sent so far is in its file): the file takes them.
    drop(syslog_ng.take());
    let third = send(&sink, &mut sent, "file", 40);
    let file_ids = |path: &Path| -> HashSet<String> {
        lines(path)
            .iter()
            .filter_map(|l| cef_value(l, "cs1").map(str::to_owned))
            .collect()
    };
    wait_until("phase 3 in the file", || {
        let ids = file_ids(&file);
        third.iter().all(|id| ids.contains(id))
    });
    assert!(counts().failovers >= 2, "{:?}", counts());

    // 4. HEC comes back: the breaker lets a probe through and traffic fails back.
    hec = Some(start_hec(hec_port));
    let mut fourth = Vec::new();
    wait_until("failback to HEC", || {
        fourth.extend(send(&sink, &mut sent, "back", 5));
        // The breaker probes HEC again only after `open_for`; no need to flood meanwhile.
        std::thread::sleep(Duration::from_millis(100));
        counts().failbacks >= 1 && hec_ids(&at_hec, hec.as_ref()).contains(fourth.last().unwrap())
    });
    let fifth = send(&sink, &mut sent, "after", 20);
    wait_until("phase 5 at HEC", || {
        let ids = hec_ids(&at_hec, hec.as_ref());
        fifth.iter().all(|id| ids.contains(id))
    });
    runtime.block_on(sink.shutdown());
    at_hec.extend(hec.take().unwrap().events());

    // Each endpoint received exactly its own rendering of each event it got.
    let mut copies: HashMap<String, usize> = HashMap::new();
    let mut texts: Vec<String> = Vec::new();
    for envelope in &at_hec {
        let id = hec_id(envelope).expect("a HEC envelope with a canonical event");
        texts.push(
            envelope["event"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
        *copies.entry(id.clone()).or_default() += 1;
        if let Some(event) = sent.get(&id) {
            let want: Value =
                serde_json::from_slice(&expected.render_for(0, event).unwrap()).unwrap();
            assert_eq!(envelope, &want, "HEC envelope of {id}");
        }
    }
    for line in lines(&syslog_out) {
        let v: Value = serde_json::from_str(&line).unwrap();
        // syslog-ng parsed the RFC 5424 header and found the CEF body.
        assert_eq!(v["PROGRAM"], "gatekit", "{line}");
        let message = v["MESSAGE"].as_str().unwrap();
        assert!(message.starts_with("CEF:0|Gatekit|"), "{line}");
        let id = cef_value(message, "cs1").unwrap().to_owned();
        texts.push(cef_value(message, "msg").unwrap_or("").to_owned());
        *copies.entry(id.clone()).or_default() += 1;
        if let Some(event) = sent.get(&id) {
            let want = expected.render_for(1, event).unwrap();
            let want = std::str::from_utf8(&want).unwrap().trim_end_matches('\n');
            assert_eq!(v["RAW"].as_str().unwrap(), want, "syslog line of {id}");
        }
    }
    for line in lines(&file) {
        assert!(line.starts_with("CEF:0|Gatekit|"), "{line}");
        let id = cef_value(&line, "cs1").unwrap().to_owned();
        texts.push(cef_value(&line, "msg").unwrap_or("").to_owned());
        *copies.entry(id.clone()).or_default() += 1;
        if let Some(event) = sent.get(&id) {
            let want = expected.render_for(2, event).unwrap();
            assert_eq!(format!("{line}\n").into_bytes(), want, "file line of {id}");
        }
    }

    // None lost (duplicates are allowed: at-least-once, same id).
    let all: Vec<&String> = [&first, &second, &third, &fourth, &fifth]
        .into_iter()
        .flatten()
        .collect();
    let missing: Vec<&&String> = all.iter().filter(|id| !copies.contains_key(**id)).collect();
    assert!(missing.is_empty(), "lost events: {missing:?}");
    let c = counts();
    assert!(c.failovers >= 2 && c.failbacks >= 1, "{c:?}");
    // Every switch was reported as a system_event, delivered wherever it could go.
    let over = texts
        .iter()
        .filter(|t| t.contains("failed over from"))
        .count();
    let back = texts
        .iter()
        .filter(|t| t.contains("failed back from"))
        .count();
    assert!(
        over as u64 >= c.failovers && back as u64 >= c.failbacks,
        "every switch reported: {over} failover and {back} failback events for {c:?}"
    );
    assert_eq!(sink.intake_losses(), (0, 0));
    eprintln!(
        "sent {}; HEC {}, SC4S {}, file {}; switches {c:?}",
        all.len(),
        at_hec.len(),
        lines(&syslog_out).len(),
        lines(&file).len()
    );
}

/// Waits for `n` complete lines in `path`, parsed as JSON.
fn json_lines(path: &Path, n: usize) -> Vec<Value> {
    wait_until("dead letters", || lines(path).len() >= n);
    lines(path)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_dead_letter_of_a_mixed_platform_holds_the_canonical_event_and_replays_per_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    gatekit_testkit::pki::Pki::generate(dir.path(), "m").unwrap();
    let hec = HecReceiver::start(TOKEN);
    let dead = dir.path().join("dead.jsonl");
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n  splunk:\n    transport: hec\n    format: cef\n    hec: {{endpoint: 'http://127.0.0.1:{}', token: '{TOKEN}'}}\n    failover:\n      - transport: sc4s\n        sc4s: {{host: 127.0.0.1, port: {}, tls: {{ca_file: {:?}}}}}\n    delivery: {{batch_timeout: 0.02, dead_letter_path: {dead:?}}}\n",
        hec.port(),
        peers::free_port(),
        dir.path().join("m-ca.pem"),
    );
    let cfg = Config::from_yaml(&yaml, "t.yaml", dir.path().to_path_buf()).unwrap();
    let plans = || gatekit_siem::validate(&cfg).unwrap().plans;
    let (runtime, sink) = start_sink(plans(), "mixed-dead-letter-test");
    wait_until("the start event at HEC", || hec.event_count() >= 1);
    // HEC refuses the next event for good (code 6 at index 0): it is dead-lettered.
    hec.script([gatekit_testkit::hec::Fault::InvalidAt(0)]);
    let refused = sink.system_event(Severity::Info, "refused by HEC".into());
    sink.submit(refused.clone()).unwrap();
    sink.flush_intake();
    let letters = json_lines(&dead, 1);
    runtime.block_on(sink.shutdown());
    let letter = &letters[0];
    assert_eq!(letter["record_id"], refused.event_id.to_string());
    // The dead letter holds the minimised canonical event, not a HEC envelope.
    let stored: AuditEvent = serde_json::from_str(letter["payload"].as_str().unwrap()).unwrap();
    assert_eq!(stored.event_id, refused.event_id);
    assert_eq!(stored.message, refused.message);

    // A record that is not canonical (from another configuration) next to it.
    let other = dir.path().join("other.jsonl");
    std::fs::write(
        &other,
        format!(
            "{}\n",
            serde_json::json!({"record_id": "0190b3c4-0000-7000-8000-000000000001", "destination": "splunk", "reason": "test", "payload": "CEF:0|Gatekit|not canonical"})
        ),
    )
    .unwrap();
    let replay_dead = dir.path().join("replay-dead.jsonl");
    let before = hec.event_count();
    let report = gatekit_siem::replay::replay(
        plans(),
        &[dead.clone(), other],
        &gatekit_siem::replay::Options {
            dead_letter: Some(replay_dead.clone()),
            ..Default::default()
        },
        &runtime,
        &mut |_| {},
    )
    .unwrap();
    // The canonical record reached HEC as the envelope HEC gets for that event.
    assert_eq!(hec.event_count(), before + 1, "{report:?}");
    let envelope = hec.events().pop().unwrap();
    let want: Value = serde_json::from_slice(&plans()[0].render_for(0, &refused).unwrap()).unwrap();
    assert_eq!(envelope, want);
    // The other one could not be rendered: dead-lettered again with the reason, counted.
    assert_eq!(report.outcomes[0].failed, 1, "{report:?}");
    let again = json_lines(&replay_dead, 1);
    assert_eq!(
        again[0]["record_id"],
        "0190b3c4-0000-7000-8000-000000000001"
    );
    let reason = again[0]["reason"].as_str().unwrap();
    assert!(reason.contains("not a canonical event"), "{reason}");
}
