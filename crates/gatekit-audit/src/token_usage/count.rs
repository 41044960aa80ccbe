//! Token estimates for one MCP message, as Python Gatekit 0.3's `token_usage` makes them.
//!
//! The text counted is the JSON-RPC message as Python's `json.dumps` writes it (keys
//! `jsonrpc`, `method`, `id`, `params` / `result` / `error`; `", "` and `": "` separators;
//! non-ASCII escaped as `\uXXXX`), encoded with cl100k_base (`tiktoken-rs`, whose ranks are
//! compiled in: nothing is downloaded at run time).
//!
//! Bound: at most [`MAX_TOKENIZED`] bytes of that text are encoded; a longer message is
//! sampled (three windows: start, middle, end) and the count scaled by its length, so a 50 MB
//! tool result costs the gateway thread a bounded amount of work. Python Gatekit encodes up to
//! 10 MB per message; below 64 KiB the counts are the same.

use std::fmt::Write as _;
use std::sync::OnceLock;

use serde_json::Value;
use tiktoken_rs::CoreBPE;

/// Bytes of message text encoded per message; longer texts are extrapolated.
pub const MAX_TOKENIZED: usize = 64 * 1024;

/// The cl100k_base encoder, built on first use (parsing the ranks takes a moment).
fn encoder() -> Option<&'static CoreBPE> {
    static ENCODER: OnceLock<Option<CoreBPE>> = OnceLock::new();
    ENCODER
        .get_or_init(|| tiktoken_rs::cl100k_base().ok())
        .as_ref()
}

/// Builds the encoder now, so the first message does not pay for it; an error means the
/// compiled-in ranks could not be loaded (a broken build).
pub fn warm_up() -> Result<(), String> {
    encoder()
        .map(|_| ())
        .ok_or_else(|| "the cl100k_base token ranks could not be loaded".to_string())
}

/// Estimated tokens of `text` (bounded work; see the module doc).
pub fn tokens(text: &str) -> u64 {
    let Some(bpe) = encoder() else { return 0 };
    if text.len() <= MAX_TOKENIZED {
        return bpe.encode_ordinary(text).len() as u64;
    }
    // Three samples (start, middle, end): content that changes along the message (numbers
    // that grow, a text part then a base64 part) is estimated better than from its start.
    let window = MAX_TOKENIZED / 3;
    let (mut counted, mut sampled) = (0u128, 0u128);
    for start in [0, (text.len() - window) / 2, text.len() - window] {
        let (from, to) = (
            floor_boundary(text, start),
            floor_boundary(text, start + window),
        );
        counted += bpe.encode_ordinary(&text[from..to]).len() as u128;
        sampled += (to - from) as u128;
    }
    // Scale by length; u128 so a huge text cannot overflow the product.
    (counted * text.len() as u128 / sampled.max(1)) as u64
}

/// The largest char boundary of `text` at or before `at`.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The JSON-RPC message as Python Gatekit serialises it before counting.
pub fn message_text(
    method: Option<&str>,
    id: Option<&Value>,
    payload: Option<(&str, &Value)>,
) -> String {
    let mut message = vec![("jsonrpc", Value::from("2.0"))];
    if let Some(method) = method {
        message.push(("method", Value::from(method)));
    }
    if let Some(id) = id {
        message.push(("id", id.clone()));
    }
    if let Some((key, value)) = payload {
        message.push((key, value.clone()));
    }
    let mut out = String::new();
    out.push('{');
    for (i, (key, value)) in message.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        python_string(key, &mut out);
        out.push_str(": ");
        python_json(value, &mut out);
    }
    out.push('}');
    out
}

/// `json.dumps` with its defaults: `", "` / `": "` separators, `ensure_ascii`.
pub fn python_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => python_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_string(key, out);
                out.push_str(": ");
                python_json(item, out);
            }
            out.push('}');
        }
    }
}

fn python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_what_python_json_dumps_writes() {
        let params = json!({"name": "echo", "arguments": {"text": "h\u{e9}llo \u{1f600}\n"}});
        let text = message_text(
            Some("tools/call"),
            Some(&json!(7)),
            Some(("params", &params)),
        );
        assert_eq!(
            text,
            r#"{"jsonrpc": "2.0", "method": "tools/call", "id": 7, "params": {"arguments": {"text": "h\u00e9llo \ud83d\ude00\n"}, "name": "echo"}}"#
        );
        let text = message_text(
            None,
            Some(&json!("a")),
            Some(("result", &json!([1, true, null]))),
        );
        assert_eq!(
            text,
            r#"{"jsonrpc": "2.0", "id": "a", "result": [1, true, null]}"#
        );
    }

    #[test]
    fn cl100k_counts_known_texts() {
        // Reference counts from OpenAI's tiktoken (cl100k_base).
        assert_eq!(tokens("hello world"), 2);
        assert_eq!(tokens(""), 0);
        assert_eq!(tokens(r#"{"jsonrpc": "2.0", "id": 1}"#), 15);
    }

    #[test]
    fn long_texts_are_extrapolated_from_a_bounded_prefix() {
        let unit = "the quick brown fox jumps over the lazy dog. ";
        let small = unit.repeat(MAX_TOKENIZED / unit.len());
        let big = unit.repeat(10 * MAX_TOKENIZED / unit.len());
        let (s, b) = (tokens(&small), tokens(&big));
        let ratio = b as f64 / (10.0 * s as f64);
        assert!((0.98..1.02).contains(&ratio), "{s} {b} {ratio}");
    }
}
