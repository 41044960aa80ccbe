//! Golden (snapshot) tests: the sample events rendered in every format and setting
//! variant, compared byte for byte with `tests/golden/<name>.txt`.
//!
//! Regenerate after an intended change with `UPDATE_GOLDEN=1 cargo test -p gatekit-format
//! --test golden`, then review the diff: these files are the wire contract SIEM parsers
//! are built against.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::PathBuf;

use gatekit_format::{
    render_lines, sample_events, CefFormatter, CefSettings, DataPolicy, FnRedactor, Formatter,
    Framing, HecField, HecFormatter, HecSettings, JsonFormatter, KeyValueFormatter, LeefFormatter,
    LeefSettings, LeefTimeFormat, LeefVersion, Minimised, SentinelFormatter, Syslog3164Formatter,
    Syslog5424Formatter, SyslogSettings,
};
use std::sync::Arc;

fn cef() -> Box<dyn Formatter> {
    Box::new(CefFormatter::new(CefSettings::default()).unwrap())
}

fn syslog() -> SyslogSettings {
    SyslogSettings {
        procid: Some(4711),
        sd_id: Some("gatekit@32473".into()),
        ..SyslogSettings::default()
    }
}

fn leef2(delim: &str) -> Box<dyn Formatter> {
    Box::new(
        LeefFormatter::new(LeefSettings {
            version: LeefVersion::V2 {
                delimiter: delim.into(),
            },
            ..LeefSettings::default()
        })
        .unwrap(),
    )
}

fn cases() -> Vec<(&'static str, Box<dyn Formatter>, Framing)> {
    vec![
        ("cef", cef(), Framing::Lf),
        (
            "leef1",
            Box::new(LeefFormatter::new(LeefSettings::v1()).unwrap()),
            Framing::Lf,
        ),
        ("leef2_caret", leef2("^"), Framing::Lf),
        ("leef2_hex", leef2("x5E"), Framing::Lf),
        (
            "leef2_devtimeformat",
            Box::new(
                LeefFormatter::new(LeefSettings {
                    time_format: LeefTimeFormat::Formatted,
                    ..LeefSettings::default()
                })
                .unwrap(),
            ),
            Framing::Lf,
        ),
        ("json", Box::new(JsonFormatter), Framing::Lf),
        (
            "hec",
            Box::new(
                HecFormatter::new(HecSettings {
                    index: Some("mcp".into()),
                    indexed_fields: HecField::ALL.to_vec(),
                    ..HecSettings::default()
                })
                .unwrap(),
            ),
            Framing::Lf,
        ),
        ("sentinel", Box::new(SentinelFormatter), Framing::Lf),
        (
            "syslog5424_cef",
            Box::new(Syslog5424Formatter::new(syslog(), cef()).unwrap()),
            Framing::Lf,
        ),
        (
            "syslog5424_leef2_octet",
            Box::new(Syslog5424Formatter::new(syslog(), leef2("^")).unwrap()),
            Framing::OctetCounting,
        ),
        (
            "syslog5424_json_nosd",
            Box::new(
                Syslog5424Formatter::new(SyslogSettings::default(), Box::new(JsonFormatter))
                    .unwrap(),
            ),
            Framing::Lf,
        ),
        (
            "syslog3164_cef",
            Box::new(Syslog3164Formatter::new(syslog(), cef()).unwrap()),
            Framing::Lf,
        ),
        (
            "syslog5424_kv",
            Box::new(
                Syslog5424Formatter::new(SyslogSettings::default(), Box::new(KeyValueFormatter))
                    .unwrap(),
            ),
            Framing::Lf,
        ),
        (
            "syslog3164_kv",
            Box::new(
                Syslog3164Formatter::new(SyslogSettings::default(), Box::new(KeyValueFormatter))
                    .unwrap(),
            ),
            Framing::Lf,
        ),
        (
            "json_minimised",
            Box::new(Minimised::new(
                DataPolicy::default()
                    .with_exclude_fields(&["client_info.user", "upstream_server.command"])
                    .unwrap()
                    .with_exclude_params(&["note"])
                    .with_max_field_bytes(40)
                    .unwrap()
                    .with_redactor(Arc::new(FnRedactor(
                        |name: &str, v: &mut serde_json::Value| {
                            if name == "content" {
                                *v = serde_json::Value::String("[REDACTED]".into());
                            }
                        },
                    ))),
                JsonFormatter,
            )),
            Framing::Lf,
        ),
    ]
}

fn render(f: &dyn Formatter, framing: Framing) -> Vec<u8> {
    if framing == Framing::Lf {
        return render_lines(f, &sample_events()).unwrap();
    }
    let mut out = Vec::new();
    for e in &sample_events() {
        framing.write_frame(f, e, &mut out).unwrap();
        // One frame per line in the file for readability; the LF is not part of the frame.
        out.push(b'\n');
    }
    out
}

#[test]
fn golden_files_match() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for (name, f, framing) in cases() {
        let got = render(f.as_ref(), framing);
        let path = dir.join(format!("{name}.txt"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        match std::fs::read(&path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{name}: output differs from {}\n--- want\n{}\n--- got\n{}",
                path.display(),
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got)
            )),
            Err(e) => failures.push(format!(
                "{name}: cannot read {} ({e}); run with UPDATE_GOLDEN=1 to create it",
                path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
