//! A small MCP server bundled with Gatekit (`gatekit example-server`).
//!
//! It exists so that the demo, the integration tests and the latency benchmark have a server
//! that starts in milliseconds, needs nothing installed, and can be asked to misbehave on
//! purpose: be slow, answer with a huge result, crash, ask the client for a sampling
//! completion, or send progress. It is deliberately simple: blocking I/O, one thread per tool
//! call (so slow calls do not block others), and no dependency beyond serde_json.
//!
//! Tools: `echo`, `add`, `slow`, `large`, `crash`, `sample`, `progress`, `env`, `fail`, `pid`,
//! `stats`.
//! Prompts: `greet`. Resources: `example://readme`.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// The server's shared state.
#[derive(Default)]
struct Server {
    out: Mutex<Option<std::io::Stdout>>,
    /// Server-to-client requests waiting for the client's answer, by id.
    waiting: Mutex<HashMap<String, mpsc::Sender<Value>>>,
    /// Ids of requests the client cancelled.
    cancelled: Mutex<HashSet<String>>,
    next_id: AtomicU64,
}

impl Server {
    fn send(&self, msg: &Value) {
        let mut line = msg.to_string();
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(out) = out.as_mut() {
            let mut lock = out.lock();
            let _ = lock.write_all(line.as_bytes());
            let _ = lock.flush();
        }
    }

    fn reply(&self, id: &Value, result: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    fn error(&self, id: &Value, code: i64, message: &str) {
        self.send(
            &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
        );
    }

    /// Sends a request to the client and waits for its answer.
    fn ask_client(&self, method: &str, params: Value) -> Option<Value> {
        let id = format!("srv-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = mpsc::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), tx);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        rx.recv_timeout(Duration::from_secs(30)).ok()
    }

    fn is_cancelled(&self, id: &Value) -> bool {
        self.cancelled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id.to_string())
    }
}

/// Serves MCP on stdin/stdout until stdin closes.
pub fn serve_stdio() {
    let server = Arc::new(Server {
        out: Mutex::new(Some(std::io::stdout())),
        ..Server::default()
    });
    let stdin = std::io::stdin();
    let mut workers = Vec::new();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            server.error(&Value::Null, -32700, "Parse error");
            continue;
        };
        let method = msg
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        let id = msg.get("id").cloned();
        match (method, id) {
            (Some(method), Some(id)) => {
                let params = msg.get("params").cloned().unwrap_or(Value::Null);
                if method == "tools/call" && !answers_at_once(&params) {
                    // Tools that wait (slow, sampling, progress) run on their own thread, so
                    // they never hold up other calls.
                    let server = Arc::clone(&server);
                    workers.push(std::thread::spawn(move || call_tool(&server, &id, &params)));
                } else if method == "tools/call" {
                    // A thread per call would put its creation (about 10 syscalls) into every
                    // round trip the latency harness measures.
                    call_tool(&server, &id, &params);
                } else {
                    handle_request(&server, &id, &method, &params);
                }
            }
            (Some(method), None) => {
                if method == "notifications/cancelled" {
                    if let Some(rid) = msg.pointer("/params/requestId") {
                        server
                            .cancelled
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(rid.to_string());
                    }
                }
            }
            (None, Some(id)) => {
                let key = id.as_str().unwrap_or_default().to_string();
                let waiter = server
                    .waiting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
                if let Some(tx) = waiter {
                    let _ = tx.send(msg);
                }
            }
            (None, None) => server.error(&Value::Null, -32600, "Invalid request"),
        }
        workers.retain(|w| !w.is_finished());
    }
    for w in workers {
        let _ = w.join();
    }
}

fn handle_request(server: &Server, id: &Value, method: &str, params: &Value) {
    match method {
        "initialize" => {
            let version = params
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("2025-06-18");
            server.reply(
                id,
                json!({
                    "protocolVersion": version,
                    "capabilities": {"tools": {"listChanged": false}, "prompts": {}, "resources": {}, "logging": {}},
                    "serverInfo": {"name": "gatekit-example-server", "version": env!("CARGO_PKG_VERSION")},
                    "instructions": "Example tools for trying Gatekit."
                }),
            );
        }
        "ping" | "logging/setLevel" => server.reply(id, json!({})),
        "tools/list" => server.reply(id, json!({ "tools": tool_list() })),
        "prompts/list" => server.reply(
            id,
            json!({"prompts": [{"name": "greet", "description": "Greets someone",
                   "arguments": [{"name": "name", "required": true}]}]}),
        ),
        "prompts/get" => {
            let who = params.pointer("/arguments/name").and_then(Value::as_str).unwrap_or("world");
            server.reply(
                id,
                json!({"messages": [{"role": "user", "content": {"type": "text", "text": format!("Say hello to {who}.")}}]}),
            );
        }
        "resources/list" => server.reply(
            id,
            json!({"resources": [{"uri": "example://readme", "name": "readme", "mimeType": "text/plain"}]}),
        ),
        "resources/read" => {
            let uri = params.get("uri").and_then(Value::as_str).unwrap_or_default();
            if uri == "example://readme" {
                server.reply(
                    id,
                    json!({"contents": [{"uri": uri, "mimeType": "text/plain", "text": "This server is bundled with Gatekit."}]}),
                );
            } else {
                server.error(id, -32002, &format!("Resource not found: {uri}"));
            }
        }
        _ => server.error(id, -32601, &format!("Method not found: {method}")),
    }
}

fn tool_list() -> Value {
    let tool = |name: &str, description: &str, props: Value| {
        json!({"name": name, "description": description,
               "inputSchema": {"type": "object", "properties": props}})
    };
    json!([
        tool(
            "echo",
            "Returns its text argument",
            json!({"text": {"type": "string"}})
        ),
        tool(
            "add",
            "Adds two numbers",
            json!({"a": {"type": "number"}, "b": {"type": "number"}})
        ),
        tool(
            "slow",
            "Waits `ms` milliseconds, then answers",
            json!({"ms": {"type": "integer"}})
        ),
        tool(
            "large",
            "Returns `bytes` bytes of text",
            json!({"bytes": {"type": "integer"}})
        ),
        tool("crash", "Exits the server process", json!({})),
        tool(
            "sample",
            "Asks the client's model for a completion",
            json!({"prompt": {"type": "string"}})
        ),
        tool(
            "progress",
            "Sends `steps` progress notifications",
            json!({"steps": {"type": "integer"}})
        ),
        tool(
            "env",
            "Returns an environment variable",
            json!({"name": {"type": "string"}})
        ),
        tool("fail", "Returns a tool error", json!({})),
        tool("pid", "Returns this server's process id", json!({})),
        tool(
            "stats",
            "Returns how many cancellations this server received",
            json!({})
        ),
    ])
}

fn text(result: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": result.into()}]})
}

/// Tools that compute their answer without waiting for anything.
fn answers_at_once(params: &Value) -> bool {
    matches!(
        params.get("name").and_then(Value::as_str),
        Some("echo" | "add" | "pid" | "crash")
    )
}

fn call_tool(server: &Server, id: &Value, params: &Value) {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let args = params.get("arguments").cloned().unwrap_or(json!({}));
    let num = |key: &str| args.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let result = match name {
        "echo" => text(args.get("text").and_then(Value::as_str).unwrap_or_default()),
        "add" => text((num("a") + num("b")).to_string()),
        "slow" => {
            let ms = args.get("ms").and_then(Value::as_u64).unwrap_or(1000);
            let step = Duration::from_millis(10);
            let mut waited = Duration::ZERO;
            while waited < Duration::from_millis(ms) {
                if server.is_cancelled(id) {
                    return; // MCP: no response to a cancelled request.
                }
                std::thread::sleep(step);
                waited += step;
            }
            text(format!("waited {ms} ms"))
        }
        "large" => {
            let bytes = args.get("bytes").and_then(Value::as_u64).unwrap_or(1024);
            text("x".repeat(usize::try_from(bytes).unwrap_or(0)))
        }
        "crash" => std::process::exit(3),
        "sample" => {
            let prompt = args
                .get("prompt")
                .and_then(Value::as_str)
                .unwrap_or("hello");
            let answer = server.ask_client(
                "sampling/createMessage",
                json!({"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}], "maxTokens": 50}),
            );
            match answer
                .as_ref()
                .and_then(|a| a.pointer("/result/content/text"))
                .and_then(Value::as_str)
            {
                Some(t) => text(format!("model said: {t}")),
                None => {
                    json!({"content": [{"type": "text", "text": format!("sampling failed: {answer:?}")}], "isError": true})
                }
            }
        }
        "progress" => {
            let steps = args.get("steps").and_then(Value::as_u64).unwrap_or(3);
            if let Some(token) = params.pointer("/_meta/progressToken") {
                for i in 1..=steps {
                    server.send(
                        &json!({"jsonrpc": "2.0", "method": "notifications/progress",
                        "params": {"progressToken": token, "progress": i, "total": steps}}),
                    );
                }
            }
            text(format!("{steps} steps done"))
        }
        "env" => {
            let key = args.get("name").and_then(Value::as_str).unwrap_or_default();
            text(std::env::var(key).unwrap_or_default())
        }
        "fail" => {
            json!({"content": [{"type": "text", "text": "this tool always fails"}], "isError": true})
        }
        "pid" => text(std::process::id().to_string()),
        "lone_surrogate" => {
            // Valid JSON syntax, but not a Unicode string.
            let line = format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":\"a\\ud800b\"}}]}}}}\n"
            );
            let out = server.out.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(out) = out.as_ref() {
                let mut lock = out.lock();
                let _ = lock.write_all(line.as_bytes());
                let _ = lock.flush();
            }
            return;
        }
        "invalid_utf8" => {
            // Deliberately broken output, to test how peers cope with it.
            let mut line = format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"bad "#
            )
            .into_bytes();
            line.extend_from_slice(&[0xff, 0xfe]);
            line.extend_from_slice(b" bytes\"}]}}\n");
            let out = server.out.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(out) = out.as_ref() {
                let mut lock = out.lock();
                let _ = lock.write_all(&line);
                let _ = lock.flush();
            }
            return;
        }
        "stats" => {
            let cancelled = server
                .cancelled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .len();
            text(json!({"cancelled": cancelled}).to_string())
        }
        _ => return server.error(id, -32602, &format!("Unknown tool: {name}")),
    };
    server.reply(id, result);
}
