//! Data minimisation end to end: with no `data_minimization` block and no security plugin,
//! secrets in a tool call's arguments (AWS key, GitHub token, JWT, a password) reach neither
//! the CEF nor the JSON SIEM file written by the real binary; the tool still gets them.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const SECRETS: &str = "deploy with AKIAIOSFODNN7EXAMPLE and ghp_0123456789abcdefghijABCDEFGHIJ012345, bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U, password=hunter2-Correct-Horse";

fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= n || Instant::now() >= deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn by_default_no_argument_secret_reaches_a_siem_file() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams:\n    - name: ex\n      command: [{:?}, example-server]\nsiem:\n  splunk: {{transport: file, format: cef, file: {{path: splunk.cef}}, delivery: {{batch_timeout: 0.05}}}}\n  azure_sentinel: {{transport: log_analytics_agent, format: json, log_analytics_agent: {{path: ama.jsonl}}, delivery: {{batch_timeout: 0.05}}}}\n",
        gatekit().display().to_string()
    );
    let mut gw = Gateway::start(&write_config(dir.path(), &yaml));
    assert!(gw.initialize().get("result").is_some());
    let reply = gw.call(
        1,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": SECRETS}}),
    );
    assert_eq!(
        result_text(&reply),
        SECRETS,
        "the tool itself gets the value"
    );
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));

    // start, request, response, stop
    let cef = wait_lines(&dir.path().join("splunk.cef"), 4);
    let json = wait_lines(&dir.path().join("ama.jsonl"), 4);
    assert_eq!((cef.len(), json.len()), (4, 4), "{cef:?} {json:?}");
    for line in cef.iter().chain(&json) {
        for secret in [
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_0123456789",
            "eyJhbGciOiJIUzI1NiJ9",
            "hunter2",
        ] {
            assert!(!line.contains(secret), "{secret} reached the SIEM: {line}");
        }
    }
    // The call is still visible: tool and parameter name, value omitted.
    assert!(
        cef[1].contains("cs2=echo") && cef[1].contains(r#"cs5={"text":"[omitted]"}"#),
        "{}",
        cef[1]
    );
    let request: serde_json::Value = serde_json::from_str(&json[1]).unwrap();
    assert_eq!(
        request["mcp_data"]["parameters"],
        json!({"text": "[omitted]"})
    );
}
