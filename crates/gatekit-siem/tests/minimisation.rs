//! Data minimisation per SIEM destination (`data_minimization`): with no block at all, AWS
//! keys, GitHub tokens, passwords and JWTs in tool arguments never reach the rendered CEF or
//! JSON; `full` still redacts what the detectors know and every credential-named parameter;
//! `hashed` is stable under one key and differs across keys; insecure choices warn.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::PathBuf;

use gatekit_config::Config;
use gatekit_core::{AuditEvent, EventId, EventType, McpData, Severity, Timestamp};
use serde_json::{json, Value};

const AWS: &str = "AKIAIOSFODNN7EXAMPLE";
const GITHUB: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
const JWT: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
const PASSWORD: &str = "hunter2-Correct-Horse";

fn load(siem: &str) -> Config {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: a, command: [x]}}]\nsiem:\n{siem}"
    );
    Config::from_yaml(&yaml, "t.yaml", PathBuf::from("/etc/gk")).unwrap()
}

fn event(params: Value) -> AuditEvent {
    let Value::Object(map) = params else {
        panic!("params must be an object")
    };
    AuditEvent::new(
        EventType::McpRequest,
        Severity::Info,
        Timestamp::parse_rfc3339("2025-11-17T09:30:00.123Z").unwrap(),
        EventId::from_u128(1),
        1,
    )
    .with_origin("gk01", "0.1.0")
    .with_mcp(McpData {
        method: "tools/call".into(),
        tool_name: Some("deploy".into()),
        namespaced_tool_name: Some("ci__deploy".into()),
        parameters: Some(map),
    })
    .with_message(format!("upstream said: bad key {AWS}"))
}

fn hostile() -> AuditEvent {
    event(json!({
        "aws_key": AWS,
        "note": format!("use {GITHUB} then"),
        "password": PASSWORD,
        "auth": {"header": format!("Bearer {JWT}")},
        GITHUB: "secret as a key",
        "list": [AWS, {"nested_token": JWT}],
    }))
}

/// Renders `e` through the one destination of `siem`, with the warnings.
fn render(siem: &str, e: &AuditEvent) -> (String, Vec<String>) {
    let checked = gatekit_siem::validate(&load(siem)).unwrap();
    assert_eq!(checked.plans.len(), 1);
    let mut out = Vec::new();
    checked.plans[0].formatter.format(e, &mut out).unwrap();
    let warnings = checked
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.path, w.message))
        .collect();
    (String::from_utf8(out).unwrap(), warnings)
}

fn assert_clean(out: &str) {
    for secret in [AWS, GITHUB, JWT, PASSWORD, "eyJhbGciOiJIUzI1NiJ9"] {
        assert!(!out.contains(secret), "{secret} reached the SIEM: {out}");
    }
}

const CEF_FILE: &str = "  splunk: {transport: file, format: cef, file: {path: s.cef}}\n";
const JSON_FILE: &str = "  splunk: {transport: file, format: json, file: {path: s.json}}\n";

#[test]
fn by_default_no_argument_value_and_no_secret_reaches_cef_or_json() {
    for siem in [CEF_FILE, JSON_FILE] {
        let (out, warnings) = render(siem, &hostile());
        assert_clean(&out);
        // Names stay (the SIEM still sees which arguments a call had), values do not.
        assert!(
            out.contains("aws_key") && out.contains("[omitted]"),
            "{out}"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }
    let (out, _) = render(JSON_FILE, &hostile());
    let j: Value = serde_json::from_str(&out).unwrap();
    let params = j["mcp_data"]["parameters"].as_object().unwrap();
    assert!(params.values().all(|v| v == "[omitted]"), "{params:?}");
    assert_eq!(j["mcp_data"]["tool_name"], "deploy");
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:aws_access_keys]"),
        "{j}"
    );
}

#[test]
fn full_mode_still_redacts_known_secrets_and_credential_names_and_warns() {
    let block = "    data_minimization: {parameters: full}\n";
    for fmt in ["cef", "json"] {
        let siem = format!(
            "  splunk:\n    transport: file\n    format: {fmt}\n    file: {{path: s.out}}\n{block}"
        );
        let (out, warnings) = render(&siem, &hostile());
        assert_clean(&out);
        assert!(out.contains("[REDACTED:credential]"), "{out}");
        assert!(out.contains("[REDACTED:github_tokens]"), "{out}");
        assert!(
            warnings
                .iter()
                .any(|w| w
                    .starts_with("siem.splunk.data_minimization.parameters: `parameters: full`")),
            "{warnings:?}"
        );
    }
}

#[test]
fn off_drops_parameters() {
    let siem = "  splunk:\n    transport: file\n    format: json\n    file: {path: s.json}\n    data_minimization: {parameters: off}\n";
    let (out, _) = render(siem, &hostile());
    let j: Value = serde_json::from_str(&out).unwrap();
    assert!(j["mcp_data"].get("parameters").is_none(), "{j}");
    assert_clean(&out);
}

fn hashed(key: &str, e: &AuditEvent) -> Value {
    let siem = format!(
        "  splunk:\n    transport: file\n    format: json\n    file: {{path: s.json}}\n    data_minimization: {{parameters: hashed, hash_key: {key:?}}}\n"
    );
    let (out, warnings) = render(&siem, e);
    assert_clean(&out);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("hash_key") && w.contains("plain text")),
        "{warnings:?}"
    );
    serde_json::from_str(&out).unwrap()
}

#[test]
fn hashed_values_match_under_one_key_and_differ_across_keys() {
    let k1 = "k1-0123456789abcdef0123456789abcdef";
    let k2 = "k2-0123456789abcdef0123456789abcdef";
    let a = hashed(
        k1,
        &event(json!({"path": "/etc/passwd", "other": "/etc/passwd"})),
    );
    let b = hashed(
        k1,
        &event(json!({"path": "/etc/passwd", "other": "/etc/shadow"})),
    );
    let c = hashed(
        k2,
        &event(json!({"path": "/etc/passwd", "other": "/etc/passwd"})),
    );
    let p = |v: &Value, k: &str| v["mcp_data"]["parameters"][k].as_str().unwrap().to_owned();
    assert!(p(&a, "path").starts_with("hmac-sha256:"), "{a}");
    assert_eq!(p(&a, "path"), p(&a, "other"), "same value, same key");
    assert_eq!(p(&a, "path"), p(&b, "path"), "stable across events");
    assert_ne!(p(&b, "path"), p(&b, "other"), "different values");
    assert_ne!(p(&a, "path"), p(&c, "path"), "different keys");
    // HMAC-SHA256 of the UTF-8 string (RFC 4231-style check with ring's HMAC).
    let want = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k1.as_bytes()),
        b"/etc/passwd",
    );
    let hex: String = want.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(p(&a, "path"), format!("hmac-sha256:{hex}"));
}

#[test]
fn hashed_needs_a_long_enough_key() {
    for block in [
        "{parameters: hashed}",
        "{parameters: hashed, hash_key: short}",
    ] {
        let siem = format!(
            "  splunk:\n    transport: file\n    format: json\n    file: {{path: s.json}}\n    data_minimization: {block}\n"
        );
        let err = gatekit_siem::validate(&load(&siem))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("siem.splunk.data_minimization.hash_key"),
            "{err}"
        );
    }
}

#[test]
fn a_global_block_applies_to_every_platform_and_detectors_off_warns() {
    let siem = "  data_minimization: {parameters: full, pii_filtering: false}\n  splunk: {transport: file, format: json, file: {path: s.json}}\n";
    let (out, warnings) = render(siem, &hostile());
    assert!(
        out.contains(AWS),
        "full without detectors sends values: {out}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("siem.data_minimization.pii_filtering")),
        "{warnings:?}"
    );
}

#[test]
fn every_transport_is_minimised() {
    for siem in [
        "  splunk: {transport: sc4s, sc4s: {host: h}}\n",
        "  splunk: {transport: hec, hec: {endpoint: \"https://h:8088\", token: \"${GK_TEST_HEC}\"}}\n",
        "  qradar: {transport: syslog_tcp, syslog: {host: h}}\n",
        "  azure_sentinel: {transport: log_analytics_agent, log_analytics_agent: {path: s.json}}\n",
    ] {
        std::env::set_var("GK_TEST_HEC", "00000000-0000-0000-0000-000000000000");
        let (out, _) = render(siem, &hostile());
        assert_clean(&out);
    }
}

#[test]
fn system_event_text_keeps_addresses_but_not_secrets() {
    let e = AuditEvent::new(
        EventType::SystemEvent,
        Severity::Warning,
        Timestamp::parse_rfc3339("2025-11-17T09:30:00.123Z").unwrap(),
        EventId::from_u128(2),
        2,
    )
    .with_origin("gk01", "0.1.0")
    .with_message(format!(
        "authentication failure on SIEM transport tls:10.1.2.3:6514: server said {GITHUB}"
    ));
    let (out, _) = render(JSON_FILE, &e);
    assert!(out.contains("tls:10.1.2.3:6514"), "{out}");
    assert!(!out.contains(GITHUB), "{out}");
}
