//! The `token_usage` audit plugin through the binary: its CSV, counters shared by two gateway
//! processes and kept across restarts, and counts compared with Python Gatekit 0.3's own plugin
//! on the same traffic.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn config(dir: &Path) -> PathBuf {
    let yaml = format!(
        "proxy:\n  transport: stdio\n  upstreams: [{{name: ex, command: [{:?}, example-server]}}]\nplugins:\n  auditing:\n    _global:\n      - handler: token_usage\n        config: {{output_file: logs/tokens.csv, state_file: logs/state.json, flush_interval_seconds: 0.2}}\n",
        gatekit().display().to_string()
    );
    write_config(dir, &yaml)
}

fn start(config: &Path) -> Gateway {
    let mut gw = Gateway::start(config);
    assert!(gw.initialize().get("result").is_some());
    gw
}

fn finish(mut gw: Gateway) {
    gw.close_stdin();
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
}

/// `(input, output)` of `tool` in the state file.
fn totals(dir: &Path, tool: &str) -> (u64, u64) {
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("logs/state.json")).unwrap())
            .unwrap();
    let t = &state["servers"]["ex"]["tools"][tool];
    (t["input"].as_u64().unwrap(), t["output"].as_u64().unwrap())
}

/// Sums of the CSV's `input_tokens` and `output_tokens` for `tool`, and its row count.
fn csv_sums(dir: &Path, tool: &str) -> (u64, u64, usize) {
    let text = std::fs::read_to_string(dir.join("logs/tokens.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,server,method,tool,input_tokens,output_tokens")
    );
    let (mut input, mut output, mut rows) = (0, 0, 0);
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 6, "{line}");
        assert!(cells[0].ends_with('Z') && cells[0].contains('T'), "{line}");
        if cells[3] == tool {
            input += cells[4].parse::<u64>().unwrap();
            output += cells[5].parse::<u64>().unwrap();
            rows += 1;
        }
    }
    (input, output, rows)
}

#[test]
fn counters_are_shared_by_two_gateways_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    // Two gateways on one state file at the same time, as two MCP clients would run them.
    let mut a = start(&config);
    let mut b = start(&config);
    for i in 0..20 {
        for gw in [&mut a, &mut b] {
            let text = format!("message number {i} with a few words to count");
            let reply = gw.call(
                i,
                "tools/call",
                json!({"name": "ex__echo", "arguments": {"text": text}}),
            );
            assert_eq!(result_text(&reply), text);
        }
    }
    finish(a);
    finish(b);
    let (input, output, rows) = csv_sums(dir.path(), "echo");
    assert_eq!(rows, 40, "one CSV row per answered call");
    assert!(input > 0 && output > input, "{input} {output}");
    assert_eq!(
        totals(dir.path(), "echo"),
        (input, output),
        "the state file holds exactly what both processes counted"
    );

    // A restart continues from the totals in the file.
    let mut c = start(&config);
    let reply = gw_echo(&mut c, "one more after the restart");
    assert_eq!(result_text(&reply), "one more after the restart");
    finish(c);
    let (input2, output2, rows2) = csv_sums(dir.path(), "echo");
    assert_eq!(rows2, 41);
    assert!(input2 > input && output2 > output);
    assert_eq!(totals(dir.path(), "echo"), (input2, output2));
}

fn gw_echo(gw: &mut Gateway, text: &str) -> Value {
    gw.call(
        100,
        "tools/call",
        json!({"name": "ex__echo", "arguments": {"text": text}}),
    )
}

/// The cl100k_base ranks compiled into tiktoken-rs, found in cargo's registry sources, laid out
/// as tiktoken's cache expects them (file named after the SHA-1 of the download URL), so the
/// Python reference counts with the real encoder instead of its heuristic fallback.
fn tiktoken_cache(dir: &Path) -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let registries = std::fs::read_dir(cargo_home.join("registry/src")).unwrap();
    let ranks = registries
        .flatten()
        .flat_map(|reg| {
            std::fs::read_dir(reg.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|p| {
            p.file_name()
                .to_string_lossy()
                .starts_with("tiktoken-rs-0.12")
        })
        .map(|p| p.path().join("assets/cl100k_base.tiktoken"))
        .find(|p| p.exists())
        .expect("tiktoken-rs sources (with assets/cl100k_base.tiktoken) in cargo's registry");
    let cache = dir.join("tiktoken-cache");
    std::fs::create_dir_all(&cache).unwrap();
    // sha1("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken")
    std::fs::copy(
        &ranks,
        cache.join("9b5ad71b2ce5302211f9c61530b329a4922fc6a4"),
    )
    .unwrap();
    cache
}

#[test]
fn counts_match_python_gatekits_own_plugin_on_the_same_traffic() {
    let python = workspace_root().join("target/test-venv-gatekit03/bin/python");
    assert!(
        python.exists(),
        "Python Gatekit 0.3.0 is not installed: run scripts/setup-test-peers (expected {})",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let texts = [
        "The quick brown fox jumps over the lazy dog.".to_string(),
        "fn main() { println!(\"{}\", 40 + 2); } // code, symbols: <>[]{}".to_string(),
        "Grüße aus Köln — naïve café, 日本語のテキスト, emoji 🚀🔥".to_string(),
        "{\"nested\": {\"json\": [1, 2.5, true, null]}, \"key\": \"value\"}".to_string(),
        "lorem ipsum dolor sit amet ".repeat(400),
        "x".repeat(3000),
        // Over the 64 KiB tokenized per message: the rest is extrapolated.
        (0..3000)
            .map(|i| {
                format!(
                    "line {i}: status=ok path=/srv/data/file_{i}.txt size={} ",
                    i * 37
                )
            })
            .collect::<String>(),
    ];
    let mut gw = start(&config);
    let mut exchanges = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let id = i as i64 + 1;
        let params = json!({"name": "echo", "arguments": {"text": text}});
        let mut namespaced = params.clone();
        namespaced["name"] = json!("ex__echo");
        let reply = gw.call(id, "tools/call", namespaced);
        exchanges.push(
            json!({"id": id, "method": "tools/call", "params": params, "result": reply["result"]}),
        );
    }
    finish(gw);
    let (input, output) = totals(dir.path(), "echo");

    let recorded = dir.path().join("exchanges.json");
    std::fs::write(
        &recorded,
        json!({"server": "ex", "exchanges": exchanges}).to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(&python)
        .arg(python_dir().join("token_usage_reference.py"))
        .arg(&recorded)
        .arg(dir.path())
        .env("TIKTOKEN_CACHE_DIR", tiktoken_cache(dir.path()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (ref_in, ref_out) = (
        reference["echo"]["input"].as_u64().unwrap(),
        reference["echo"]["output"].as_u64().unwrap(),
    );
    let off = |ours: u64, theirs: u64| (ours as f64 - theirs as f64).abs() / theirs as f64;
    eprintln!("token_usage: gatekit input {input} output {output}; python input {ref_in} output {ref_out}");
    assert!(
        off(input, ref_in) < 0.03,
        "input: ours {input}, Python's {ref_in}"
    );
    assert!(
        off(output, ref_out) < 0.03,
        "output: ours {output}, Python's {ref_out}"
    );
}
