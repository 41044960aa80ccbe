//! Property tests: whatever a client, a server or a plugin puts into a record, every audit
//! line is one valid line that gives the values back exactly.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::time::Duration;

use gatekit_audit::render::{csv_values, human_line, jsonl_object, BodyPolicy};
use gatekit_core::{EventFactory, EventType, Severity};
use gatekit_mcp::audit::{AuditRecord, ErrorInfo, Phase, SessionInfo};
use gatekit_mcp::hooks::StageRecord;
use gatekit_mcp::jsonrpc::RequestId;
use proptest::prelude::*;
use serde_json::{json, Value};

fn any_text() -> impl Strategy<Value = String> {
    // Arbitrary Unicode, weighted towards the characters that break naive writers.
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('\n'),
                Just('\r'),
                Just('\u{2028}'),
                Just('\u{2029}'),
                Just('\u{200b}'),
                Just('"'),
                Just('\\'),
                Just('\u{0}'),
                Just('\u{1b}'),
                Just(','),
                any::<char>()
            ],
            0..64
        )
        .prop_map(|chars| chars.into_iter().collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn jsonl_lines_are_single_valid_lines_that_round_trip(
        tool in any_text(), arg in any_text(), reason in any_text(), message in any_text(), client in any_text(),
    ) {
        let params = json!({"name": tool, "arguments": {"text": arg}});
        let stages = [StageRecord { plugin: "basic_pii_filter", category: "security", outcome: "modified", reason: reason.clone(), processing_ms: 0.1 }];
        let session = SessionInfo { session_id: "s".into(), client_name: Some(client.clone()), client_version: None, protocol_version: None };
        let id = RequestId::String(arg.clone());
        let record = AuditRecord {
            phase: Phase::Response, request_id: Some(&id), upstream: Some("ex"), method: "tools/call",
            tool: Some(&tool), stages: &stages, blocked: false, body: Some(&params),
            error: Some(ErrorInfo { code: -32000, message: message.clone() }),
            duration: Some(Duration::from_millis(3)), session: &session,
        };
        let event = EventFactory::new("h", "v").event(EventType::McpResponse, Severity::Info);
        let bodies = BodyPolicy { request: true, response: true, notification: true, max_size: 0 };
        let line = serde_json::to_string(&jsonl_object(&record, &event, bodies)).unwrap();
        prop_assert!(!line.contains('\n') && !line.contains('\r'));
        let back: Value = serde_json::from_str(&line).unwrap();
        prop_assert_eq!(back["tool"].as_str().unwrap(), tool.as_str());
        prop_assert_eq!(back["request_id"].as_str().unwrap(), arg.as_str());
        prop_assert_eq!(&back["response_body"], &params);
        prop_assert_eq!(back["error_message"].as_str().unwrap(), message.as_str());
        prop_assert_eq!(back["client_info"]["client_id"].as_str().unwrap(), client.as_str());
        prop_assert!(back["reason"].as_str().unwrap().ends_with(reason.as_str()));

        let plain = jsonl_object(&record, &event, BodyPolicy { request: false, response: false, notification: false, max_size: 0 });
        let human = human_line(&plain);
        prop_assert!(!human.contains('\n') && !human.contains('\r'));
        prop_assert_eq!(csv_values(&plain).len(), 15);
    }

    #[test]
    fn capped_bodies_cut_on_character_boundaries(text in any_text(), max in 1usize..64) {
        let capped = gatekit_audit::render::capped_body(&json!({"t": text}), max);
        if capped.get("truncated").is_some() {
            prop_assert!(capped["preview"].as_str().unwrap().len() <= max);
        }
    }
}
