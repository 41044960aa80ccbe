//! The committed content equals the generator's output, and the schema the generator
//! reads knows exactly the fields the formatters emit: a formatter that gains or loses a
//! CEF key, LEEF attribute, JSON field or Sentinel column fails here until
//! `src/schema.rs` follows (then regenerate with `cargo run -p gatekit-content`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::collections::BTreeSet;

use gatekit_content::schema::{event_kinds, CEF_LABELS, FIELDS, NOT_IN_SAMPLES};
use gatekit_format::{render_samples, FormatKind, SENTINEL_COLUMNS};
use serde_json::Value;

fn lines(kind: FormatKind) -> Vec<String> {
    String::from_utf8(render_samples(kind).unwrap())
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn check(format: &str, seen: &BTreeSet<String>, declared: BTreeSet<&str>) {
    let unknown: Vec<_> = seen
        .iter()
        .filter(|k| !declared.contains(k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "{format}: the formatter emits {unknown:?}, which src/schema.rs does not know"
    );
    let missing: Vec<_> = declared
        .iter()
        .filter(|k| !seen.contains(**k) && !NOT_IN_SAMPLES.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "{format}: src/schema.rs declares {missing:?}, which no sample event carries"
    );
}

#[test]
fn committed_content_is_what_the_generator_writes() {
    let stale = gatekit_content::stale(&support::root());
    assert!(
        stale.is_empty(),
        "stale generated content (run `cargo run -p gatekit-content` at the repository root): {stale:?}"
    );
}

#[test]
fn sentinel_columns_are_the_schema_columns_in_order() {
    let schema: Vec<&str> = FIELDS.iter().filter_map(|f| f.sentinel).collect();
    let formatter: Vec<&str> = SENTINEL_COLUMNS.iter().map(|c| c.name).collect();
    assert_eq!(schema, formatter);
    let mut seen = BTreeSet::new();
    for l in lines(FormatKind::Sentinel) {
        let v: Value = serde_json::from_str(&l).unwrap();
        seen.extend(v.as_object().unwrap().keys().cloned());
    }
    check("sentinel", &seen, schema.into_iter().collect());
}

#[test]
fn cef_keys_are_the_schema_keys() {
    let key = regex::Regex::new(r"(?:^|\s)([A-Za-z][A-Za-z0-9_]*)=").unwrap();
    let mut seen = BTreeSet::new();
    for l in lines(FormatKind::Cef) {
        let ext = l.splitn(8, '|').nth(7).unwrap();
        for c in key.captures_iter(ext) {
            seen.insert(c[1].to_owned());
        }
        for (k, label) in CEF_LABELS {
            if let Some(at) = ext.find(&format!(" {k}=")) {
                let rest = &ext[at + k.len() + 2..];
                assert!(rest.starts_with(&format!("{label} ")), "{k} is not {label}");
            }
        }
    }
    let mut declared: BTreeSet<&str> = FIELDS.iter().filter_map(|f| f.cef).collect();
    declared.extend(CEF_LABELS.iter().map(|(k, _)| *k));
    check("cef", &seen, declared);
}

#[test]
fn leef_keys_are_the_schema_keys() {
    for (kind, header_fields, delim) in [(FormatKind::Leef1, 5, '\t'), (FormatKind::Leef2, 6, '^')]
    {
        let mut seen = BTreeSet::new();
        for l in lines(kind) {
            let attrs = l.splitn(header_fields + 1, '|').nth(header_fields).unwrap();
            for a in attrs.split(delim) {
                seen.insert(a.split_once('=').unwrap().0.to_owned());
            }
        }
        check(
            kind.as_str(),
            &seen,
            FIELDS.iter().filter_map(|f| f.leef).collect(),
        );
    }
}

#[test]
fn json_fields_are_the_schema_fields() {
    let mut seen = BTreeSet::new();
    for l in lines(FormatKind::Json) {
        let v: Value = serde_json::from_str(&l).unwrap();
        for (k, v) in v.as_object().unwrap() {
            match v {
                Value::Object(inner) => {
                    for k2 in inner.keys() {
                        seen.insert(format!("{k}.{k2}"));
                    }
                }
                _ => {
                    seen.insert(k.clone());
                }
            }
        }
    }
    check(
        "json",
        &seen,
        FIELDS.iter().filter_map(|f| f.json).collect(),
    );
}

#[test]
fn every_event_id_is_known() {
    let ids: Vec<&str> = event_kinds().iter().map(|k| k.id).collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
    for l in lines(FormatKind::Cef) {
        let id = l.split('|').nth(4).unwrap();
        assert!(ids.contains(&id), "{id}");
    }
}

#[test]
fn splunk_names_are_unique() {
    let mut seen = BTreeSet::new();
    for f in FIELDS {
        assert!(seen.insert(f.splunk), "{}", f.splunk);
    }
}
