//! The command line: `check`, Python Gatekit's `gatekit-gateway` flags, `--version`, `demo`.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::process::Command;

use support::*;

fn gatekit_gateway() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_gatekit-gateway"))
}

#[test]
fn version_is_printed() {
    let out = Command::new(gatekit()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("gatekit {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(gatekit_gateway())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn check_prints_every_problem_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "proxy:\n  transport: stdio\n  upstreams:\n    - {name: a, command: [x]}\n    - {name: a, command: [y]}\nplugins:\n  security:\n    ghost:\n      - handler: basic_pi_filter\n",
    );
    let out = Command::new(gatekit())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("duplicate upstream name `a`"), "{err}");
    assert!(err.contains("plugins.security.ghost"), "{err}");
    assert!(err.contains("did you mean `basic_pii_filter`"), "{err}");
    assert!(err.contains("3 problems found"), "{err}");
}

#[test]
fn check_reports_a_bad_max_event_bytes_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let check = |siem: &str| {
        let config = write_config(
            dir.path(),
            &format!("proxy:\n  transport: stdio\n  upstreams:\n    - {{name: a, command: [x]}}\nsiem:\n{siem}"),
        );
        let out = Command::new(gatekit())
            .args(["check", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = check(
        "  splunk:\n    transport: file\n    file: {path: s.cef}\n    max_event_bytes: 100\n",
    );
    assert!(
        err.contains(":9:")
            && err.contains("siem.splunk.max_event_bytes")
            && err.contains("at least 1024"),
        "{err}"
    );
    let err = check("  qradar:\n    transport: syslog_tcp\n    syslog: {host: 127.0.0.1}\n    max_event_bytes: lots\n");
    assert!(
        err.contains(":9:") && err.contains("siem.qradar.max_event_bytes"),
        "{err}"
    );
}

#[test]
fn check_prints_every_warning_and_every_sections_errors_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "proxy:
  transport: stdio
  upstreams:
    - {name: a, command: [x]}
plugins:
  auditing:
    _global:
      - handler: audit_jsonl
        config: {output_file: a.jsonl, no_such_option: 1}
siem:
  splunk:
    transport: hec
    hec: {endpoint: \"http://splunk.example.com:8088\", token: plain-token}
  qradar:
    transport: syslog_tcp
    syslog: {host: q.example.com, tls: {ca_file: ca.pem}}
  azure_sentinel:
    transport: log_analytics_agent
    format: cef
    log_analytics_agent: {path: s.cef}
",
    );
    let out = Command::new(gatekit())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // The audit section's error and both SIEM errors, in one run, each with its line.
    assert!(err.contains("no_such_option"), "{err}");
    assert!(
        err.contains(":13:")
            && err.contains("siem.splunk.hec.endpoint")
            && err.contains("clear text"),
        "{err}"
    );
    assert!(
        err.contains(":16:")
            && err.contains("siem.qradar.syslog.tls")
            && err.contains("unencrypted"),
        "{err}"
    );
    assert!(err.contains("3 problems found"), "{err}");
    // The warning `run` would log: the token in plain text.
    assert!(
        err.contains("warning: siem.splunk.hec.token") && err.contains("plain text"),
        "{err}"
    );
    assert!(
        !err.contains("plain-token"),
        "a secret in the output: {err}"
    );
}

#[test]
fn python_validate_only_accepts_a_python_gatekit_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"
proxy:
  transport: stdio
  upstreams:
    - name: filesystem
      command: ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/data"]
  timeouts: {connection_timeout: 30, request_timeout: 60}
plugins:
  auditing:
    _global:
      - handler: audit_jsonl
        config: {enabled: true, output_file: logs/audit.jsonl}
logging:
  level: INFO
  handlers: [stderr]
"#,
    );
    let out = Command::new(gatekit_gateway())
        .args(["--validate-only", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("Configuration valid:"), "{stdout}");
}

#[test]
fn demo_runs_a_full_session() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(gatekit())
        .arg("demo")
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("example__echo"), "{stdout}");
    assert!(stdout.contains("\"text\":\"42\""), "{stdout}");
    assert!(stdout.contains("Unknown tool: nosuch__tool"), "{stdout}");
    assert!(stdout.contains("shut down cleanly"), "{stdout}");
    assert!(stdout.contains("[SECRET REDACTED by Gatekit]"), "{stdout}");
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(
        audit.contains("REQUEST_MODIFIED") && audit.contains("INVALID_PARAMS_ERROR"),
        "{audit}"
    );
    assert!(
        !audit.contains("AKIAIOSFODNN7EXAMPLE"),
        "the secret must not reach the audit file"
    );
}

#[test]
fn siem_sample_prints_every_event_type_in_each_format() {
    for format in [
        "cef",
        "leef",
        "leef2",
        "json",
        "hec",
        "sentinel",
        "syslog5424",
        "syslog3164",
        "syslog",
        "syslog3164kv",
    ] {
        let out = Command::new(gatekit())
            .args(["siem", "sample", "--format", format])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.lines().count() >= 6,
            "{format}: at least one event per type:\n{text}"
        );
    }
    let json = Command::new(gatekit())
        .args(["siem", "sample", "--format", "json"])
        .output()
        .unwrap();
    let types: std::collections::HashSet<String> = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event_type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for t in [
        "mcp_request",
        "mcp_response",
        "security_decision",
        "audit_event",
        "error_event",
        "system_event",
    ] {
        assert!(types.contains(t), "{t} missing from {types:?}");
    }
    let bad = Command::new(gatekit())
        .args(["siem", "sample", "--format", "xml"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("cef"),
        "lists the valid names"
    );
}

#[test]
fn check_warns_when_a_sandbox_cannot_be_launched_here() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "proxy:\n  transport: stdio\n  upstreams:\n    - {name: fs, command: [x], sandbox: {enabled: true, paths: [/srv], network: false}}\n",
    );
    let out = Command::new(gatekit())
        .args(["check", "--config"])
        .arg(&config)
        .env("PATH", "/nonexistent-gatekit-test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "the file itself is valid");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("upstream `fs`") && err.contains("`bubblewrap` package"),
        "{err}"
    );
}
