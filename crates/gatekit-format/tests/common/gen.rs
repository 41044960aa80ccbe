//! proptest strategies for arbitrary audit events with hostile Unicode in every string.

use gatekit_core::{
    AuditEvent, ClientInfo, EventId, EventType, McpData, SecurityDecision, Severity, Timestamp,
    UpstreamServer,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Any char, biased towards the characters every format treats specially.
pub(crate) fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => prop::sample::select(vec![
            '\\', '|', '=', '\r', '\n', '\t', '"', ']', '[', '^', ' ', '\u{85}', '\u{7f}',
            '\0', '\u{2028}', '\u{2029}', '\u{80}', '\u{9f}', 'é', '🦀', '<', '>', '@', '-',
            ':', '{', '}', ',', '\'', '\u{1b}', '\u{a0}', '\u{feff}',
        ]),
        2 => prop::char::range('a', 'z'),
    ]
}

pub(crate) fn hostile_string() -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_char(), 0..24).prop_map(|v| v.into_iter().collect())
}

fn opt(s: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
    prop::option::of(s)
}

fn params() -> impl Strategy<Value = Option<Map<String, Value>>> {
    prop::option::of(
        prop::collection::btree_map(
            hostile_string(),
            prop_oneof![
                hostile_string().prop_map(Value::String),
                any::<i64>().prop_map(Value::from),
                any::<bool>().prop_map(Value::Bool),
            ],
            0..4,
        )
        .prop_map(|m| m.into_iter().collect::<Map<String, Value>>()),
    )
}

pub(crate) fn event() -> impl Strategy<Value = AuditEvent> {
    let ids = (
        prop::sample::select(EventType::ALL.to_vec()),
        prop::sample::select(Severity::ALL.to_vec()),
        0i64..4_102_444_800_000,
        any::<u128>(),
        any::<u64>(),
        hostile_string(),
        hostile_string(),
    );
    let who = (
        opt(hostile_string()),
        opt(hostile_string()),
        prop::option::of((hostile_string(), hostile_string(), opt(hostile_string()))),
        prop::option::of((
            hostile_string(),
            opt(hostile_string()),
            opt(hostile_string()),
            params(),
        )),
    );
    let what = (
        prop::option::of((
            any::<bool>(),
            hostile_string(),
            hostile_string(),
            prop::option::of(0u32..=10),
        )),
        prop::option::of((hostile_string(), opt(hostile_string()))),
        prop::option::of(any::<u64>()),
        prop::option::of((any::<i64>(), hostile_string())),
        opt(hostile_string()),
        prop::option::of((hostile_string(), hostile_string())),
    );
    (ids, who, what).prop_map(
        |(
            (t, s, ms, id, seq, host, ver),
            (corr, sess, client, mcp),
            (dec, up, dur, err, msg, chain),
        )| {
            let mut e = AuditEvent::new(
                t,
                s,
                Timestamp::from_unix_millis(ms),
                EventId::from_u128(id),
                seq,
            )
            .with_origin(host, ver);
            e.correlation_id = corr;
            e.session_id = sess;
            e.client_info = client.map(|(client_id, client_version, user)| ClientInfo {
                client_id,
                client_version,
                user,
            });
            e.mcp_data = mcp.map(
                |(method, tool_name, namespaced_tool_name, parameters)| McpData {
                    method,
                    tool_name,
                    namespaced_tool_name,
                    parameters,
                },
            );
            e.security_decision =
                dec.map(|(allowed, plugin, reason, risk_score)| SecurityDecision {
                    allowed,
                    plugin,
                    reason,
                    risk_score,
                });
            e.upstream_server = up.map(|(name, command)| UpstreamServer { name, command });
            e.duration_us = dur;
            if let Some((code, m)) = err {
                e = e.with_error(code, m);
            }
            e.message = msg;
            if let Some((p, h)) = chain {
                e = e.with_hash_chain(p, h);
            }
            // Every seventh event carries the size limit's mark, so each format's rendering
            // of it meets the parsers too.
            e.truncated = e.sequence % 7 == 0;
            e
        },
    )
}

/// The fixed sample events followed by `n` arbitrary hostile events from a deterministic
/// generator (the same events on every run).
pub(crate) fn samples_and_random(n: usize) -> Vec<AuditEvent> {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut v = gatekit_format::sample_events();
    let strat = event();
    for _ in 0..n {
        match strat.new_tree(&mut runner) {
            Ok(t) => v.push(t.current()),
            Err(e) => panic!("generator failed: {e}"),
        }
    }
    v
}
