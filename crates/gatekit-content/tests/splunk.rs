//! The Splunk add-on against Splunk's own validator (AppInspect, precert mode: no failures,
//! errors or warnings) and its extractions run by Python's `re` over every CEF sample
//! (bare, RFC 5424 and RFC 3164), compared with values computed from the sample events.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use gatekit_format::{cef_escape_extension_value, cef_signature_id, sample_events};
use serde_json::Value;

fn app_dir() -> std::path::PathBuf {
    support::root().join("integrations/splunk/TA-gatekit")
}

#[test]
fn appinspect_precert_has_no_failures() {
    let bin = support::venv_bin().join("splunk-appinspect");
    if !support::require("splunk-appinspect", bin.exists()) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("appinspect.json");
    support::run(
        Command::new(&bin)
            .args(["inspect"])
            .arg(app_dir())
            .args([
                "--mode",
                "precert",
                "--data-format",
                "json",
                "--output-file",
            ])
            .arg(&report),
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let summary = &v["summary"];
    eprintln!("AppInspect summary: {summary}");
    let mut problems = Vec::new();
    for r in v["reports"].as_array().unwrap() {
        for g in r["groups"].as_array().unwrap() {
            for c in g["checks"].as_array().unwrap() {
                let result = c["result"].as_str().unwrap_or("");
                if matches!(result, "failure" | "error" | "warning" | "future_failure") {
                    problems.push(format!("{result}: {} {}", c["name"], c["messages"]));
                }
            }
        }
    }
    assert!(problems.is_empty(), "AppInspect:\n{}", problems.join("\n"));
    assert_eq!(summary["failure"], 0);
    assert_eq!(summary["error"], 0);
}

fn esc(s: &str) -> String {
    let mut out = Vec::new();
    cef_escape_extension_value(s, &mut out);
    String::from_utf8(out).unwrap()
}

/// The fields the add-on must give for `e` on `gatekit:cef`, computed from the event (not
/// from the line).
fn expected(e: &gatekit_core::AuditEvent) -> BTreeMap<&'static str, String> {
    expected_with(e, esc, true)
}

/// The same fields on `gatekit:audit` (JSON: values as the event holds them; the CEF header
/// fields and the ones the add-on computes with EVAL are not extractions).
fn expected_json(e: &gatekit_core::AuditEvent) -> BTreeMap<&'static str, String> {
    let mut m = expected_with(e, str::to_owned, false);
    for k in [
        "signature_id",
        "cef_vendor",
        "cef_product",
        "severity_level",
        "rt",
        "outcome",
        "decision",
    ] {
        m.remove(k);
    }
    m
}

fn expected_with(
    e: &gatekit_core::AuditEvent,
    esc: impl Fn(&str) -> String,
    cef: bool,
) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    m.insert("signature_id", cef_signature_id(e).to_owned());
    m.insert("cef_vendor", "Gatekit".to_owned());
    m.insert("cef_product", "Gatekit MCP Gateway".to_owned());
    m.insert("gateway_version", e.gateway_version.clone());
    m.insert("severity_level", e.severity.cef_code().to_string());
    m.insert("rt", e.timestamp.unix_millis().to_string());
    m.insert("event_type", e.event_type.as_str().to_owned());
    m.insert("event_id", e.event_id.to_string());
    m.insert("sequence", e.sequence.to_string());
    m.insert("gateway_host", esc(&e.host));
    m.insert(
        "outcome",
        if e.is_failure() { "failure" } else { "success" }.to_owned(),
    );
    if let Some(s) = &e.session_id {
        m.insert("session_id", esc(s));
    }
    if let Some(c) = &e.correlation_id {
        m.insert("correlation_id", esc(c));
    }
    if let Some(c) = &e.client_info {
        if let Some(u) = &c.user {
            m.insert("user", esc(u));
        }
    }
    if let Some(mcp) = &e.mcp_data {
        m.insert("mcp_method", esc(&mcp.method));
        if let Some(t) = &mcp.tool_name {
            m.insert("tool", esc(t));
        }
        if let Some(t) = &mcp.namespaced_tool_name {
            m.insert("namespaced_tool", esc(t));
        }
    }
    if let Some(d) = &e.security_decision {
        m.insert(
            "decision",
            if d.allowed { "allow" } else { "deny" }.to_owned(),
        );
        m.insert("plugin", esc(&d.plugin));
        m.insert("reason", esc(&d.reason));
        if let Some(r) = d.risk_score {
            m.insert("risk_score", r.to_string());
        }
    }
    if let Some(u) = &e.upstream_server {
        m.insert("upstream", esc(&u.name));
        if let Some(c) = &u.command {
            m.insert("upstream_command", esc(c));
        }
    }
    if let Some(d) = e.duration_us {
        m.insert("duration_us", d.to_string());
    }
    if let Some(err) = &e.error {
        m.insert("error_code", err.code.to_string());
    }
    let msg = if cef {
        e.message
            .as_deref()
            .or(e.error.as_ref().map(|x| x.message.as_str()))
    } else {
        e.message.as_deref()
    };
    if let Some(msg) = msg {
        m.insert("message", esc(msg));
    }
    if !cef {
        if let Some(err) = &e.error {
            m.insert("error_message", err.message.clone());
        }
        if let Some(c) = &e.client_info {
            m.insert("client_id", c.client_id.clone());
            m.insert("client_version", c.client_version.clone());
        }
        m.insert("severity_name", e.severity.as_str().to_owned());
    }
    m
}

#[test]
fn extractions_give_the_expected_fields_on_every_cef_sample() {
    let python = support::venv_bin().join("python");
    if !support::require("the test Python (target/test-venv)", python.exists()) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let events = sample_events();
    for kind in ["cef", "syslog5424", "syslog3164"] {
        let samples = support::write_samples(tmp.path(), kind);
        let out = support::run(
            Command::new(&python)
                .arg(support::peers().join("splunk_extract.py"))
                .arg(app_dir())
                .arg("gatekit:cef")
                .arg(&samples),
        );
        let got: Vec<BTreeMap<String, String>> = serde_json::from_str(&out).unwrap();
        assert_eq!(
            got.len(),
            events.len(),
            "{kind}: one result per sample line"
        );
        for (i, (e, fields)) in events.iter().zip(&got).enumerate() {
            for (name, want) in expected(e) {
                assert_eq!(
                    fields.get(name),
                    Some(&want),
                    "{kind} sample {}: field `{name}`; extracted: {fields:?}",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn json_fields_and_aliases_give_the_expected_fields_on_json_and_hec_samples() {
    let python = support::venv_bin().join("python");
    if !support::require("the test Python (target/test-venv)", python.exists()) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let events = sample_events();
    for kind in ["json", "hec"] {
        let samples = support::write_samples(tmp.path(), kind);
        let out = support::run(
            Command::new(&python)
                .arg(support::peers().join("splunk_extract.py"))
                .arg(app_dir())
                .arg("gatekit:audit")
                .arg(&samples),
        );
        let got: Vec<BTreeMap<String, String>> = serde_json::from_str(&out).unwrap();
        assert_eq!(
            got.len(),
            events.len(),
            "{kind}: one result per sample line"
        );
        for (i, (e, fields)) in events.iter().zip(&got).enumerate() {
            for (name, want) in expected_json(e) {
                assert_eq!(
                    fields.get(name),
                    Some(&want),
                    "{kind} sample {}: field `{name}`; extracted: {fields:?}",
                    i + 1
                );
            }
        }
    }
}

/// Splunk evaluates a stanza's `EVAL-` settings independently: one must not read a field that
/// another creates (it would see nothing).
#[test]
fn calculated_fields_do_not_chain() {
    let props = std::fs::read_to_string(app_dir().join("default/props.conf")).unwrap();
    let strings = regex::Regex::new(r#""[^"]*""#).unwrap();
    let ident = regex::Regex::new(r"'?([A-Za-z_][A-Za-z0-9_.]*)'?").unwrap();
    for stanza in props.split("\n[").skip(1) {
        let evals: Vec<(&str, &str)> = stanza
            .lines()
            .filter_map(|l| l.strip_prefix("EVAL-"))
            .filter_map(|l| l.split_once(" = "))
            .collect();
        let names: Vec<&str> = evals.iter().map(|(n, _)| *n).collect();
        for (name, expr) in &evals {
            let bare = strings.replace_all(expr, "");
            for c in ident.captures_iter(&bare) {
                let used = c.get(1).unwrap().as_str();
                assert!(
                    !names.contains(&used),
                    "[{}: EVAL-{name} reads {used}, which another EVAL- creates",
                    stanza.lines().next().unwrap_or("")
                );
            }
        }
    }
}
