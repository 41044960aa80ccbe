//! The QRadar DSM extension: the LSX and custom property documents parsed as XML and every
//! regular expression run by Java's regex engine (OpenJDK) over the LEEF 1.0, LEEF 2.0 and
//! JSON samples, compared with values computed from the sample events; one QID row per
//! Gatekit event id.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use gatekit_content::schema::event_kinds;
use gatekit_core::AuditEvent;
use gatekit_format::{
    cef_signature_id, leef_sanitize_value, render_lines, sample_events, LeefFormatter,
    LeefSettings, Syslog5424Formatter, SyslogSettings,
};

fn dir() -> std::path::PathBuf {
    support::root().join("integrations/qradar")
}

fn leef(s: &str, delim: char) -> String {
    let mut out = Vec::new();
    leef_sanitize_value(s, delim, '_', &mut out);
    String::from_utf8(out).unwrap()
}

/// (kind, name) → value the extension must extract from `e` written in `format`.
fn expected(e: &AuditEvent, format: &str) -> BTreeMap<String, String> {
    let text = |s: &str| match format {
        "leef1" => leef(s, '\t'),
        "leef2" => leef(s, '^'),
        _ => s.to_owned(),
    };
    let mut m = BTreeMap::new();
    let mut put = |kind: &str, name: &str, v: String| {
        m.insert(format!("{kind}\t{name}"), v);
    };
    let name = if format == "json" {
        e.event_type.as_str()
    } else {
        cef_signature_id(e)
    };
    put("lsx", "EventName", name.to_owned());
    put("lsx", "EventCategory", e.event_type.as_str().to_owned());
    if let Some(u) = e.client_info.as_ref().and_then(|c| c.user.as_deref()) {
        put("lsx", "UserName", text(u));
    }
    if let Some(t) = e.mcp_data.as_ref().and_then(|m| m.tool_name.as_deref()) {
        put("prop", "Gatekit Tool", text(t));
    }
    if let Some(s) = &e.session_id {
        put("prop", "Gatekit Session", text(s));
    }
    if let Some(d) = &e.security_decision {
        let decision = match (format, d.allowed) {
            ("json", a) => a.to_string(),
            (_, true) => "allow".to_owned(),
            (_, false) => "deny".to_owned(),
        };
        put("prop", "Gatekit Decision", decision);
        put("prop", "Gatekit Plugin", text(&d.plugin));
        if let Some(r) = d.risk_score {
            put("prop", "Gatekit Risk Score", r.to_string());
        }
    }
    m
}

fn unescape_tsv(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn java_regex_extracts_every_declared_property_from_every_sample() {
    let ok = support::has_program("javac", "-version") && support::has_program("java", "-version");
    if !support::require("a JDK (javac and java)", ok) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    support::run(
        Command::new("javac")
            .arg("-d")
            .arg(tmp.path())
            .arg(support::peers().join("LsxCheck.java")),
    );
    let events = sample_events();
    // Gatekit's QRadar default: LEEF 2.0 inside an RFC 5424 header.
    let wrapped = Syslog5424Formatter::new(
        SyslogSettings::default(),
        Box::new(LeefFormatter::new(LeefSettings::default()).unwrap()),
    )
    .unwrap();
    let syslog_leef2 = tmp.path().join("leef2-syslog5424.txt");
    std::fs::write(&syslog_leef2, render_lines(&wrapped, &events).unwrap()).unwrap();
    let mut total = 0;
    for (format, sample_kind, lsx) in [
        ("leef1", "leef1", "GatekitMCPGateway-LEEF.lsx.xml"),
        ("leef2", "leef2", "GatekitMCPGateway-LEEF.lsx.xml"),
        (
            "leef2",
            "leef2-syslog5424",
            "GatekitMCPGateway-LEEF.lsx.xml",
        ),
        ("json", "json", "GatekitMCPGateway-JSON.lsx.xml"),
    ] {
        let samples = if sample_kind == "leef2-syslog5424" {
            syslog_leef2.clone()
        } else {
            support::write_samples(tmp.path(), sample_kind)
        };
        let out = support::run(
            Command::new("java")
                .arg("-cp")
                .arg(tmp.path())
                .arg("LsxCheck")
                .arg(format)
                .arg(&samples)
                .arg(dir().join(lsx))
                .arg(dir().join("custom-properties.xml")),
        );
        let mut got: Vec<BTreeMap<String, String>> = vec![BTreeMap::new(); events.len()];
        for row in out.lines() {
            let mut cols = row.splitn(4, '\t');
            let line: usize = cols.next().unwrap().parse().unwrap();
            let kind = cols.next().unwrap();
            let name = cols.next().unwrap();
            let mut value = unescape_tsv(cols.next().unwrap());
            if format == "json" {
                value = serde_json::from_str(&format!("\"{value}\"")).unwrap();
            }
            got[line - 1].insert(format!("{kind}\t{name}"), value);
            total += 1;
        }
        for (i, e) in events.iter().enumerate() {
            assert_eq!(
                got[i],
                expected(e, format),
                "{sample_kind} sample {}",
                i + 1
            );
        }
    }
    eprintln!("Java regex: {total} values extracted, all as expected");
}

#[test]
fn every_event_id_has_one_qid_row() {
    let csv = std::fs::read_to_string(dir().join("qidmap.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert!(
        !csv.contains('"'),
        "create-qids.sh reads unquoted cells only"
    );
    let kinds = event_kinds();
    assert_eq!(rows.len(), kinds.len());
    let mut names = std::collections::BTreeSet::new();
    for k in &kinds {
        let row = rows
            .iter()
            .find(|r| r[0] == k.id)
            .unwrap_or_else(|| panic!("no QID for {}", k.id));
        assert_eq!(row.len(), 7);
        assert_eq!(row[1], k.event_type.as_str());
        let sev: u8 = row[4].parse().unwrap();
        assert!((1..=10).contains(&sev));
        assert!(names.insert(row[2]), "duplicate qname {}", row[2]);
    }
}
