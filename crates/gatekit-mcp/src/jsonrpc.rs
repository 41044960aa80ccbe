//! JSON-RPC 2.0 messages as MCP uses them, parsed just enough to route.
//!
//! Only the envelope is parsed: `params`, `result` and `error` stay as raw JSON text
//! ([`RawValue`]) so that a 20 MiB tool result is copied, never re-encoded, on its way through
//! the gateway. Methods that need to look inside (`tools/call` routing, list aggregation)
//! parse their params themselves.
//!
//! Invariants: every message this module encodes is one line (serde_json never writes a raw
//! newline; MCP stdio framing forbids embedded newlines), and ids are kept as the peer sent
//! them (MCP: "string or integer").

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Standard and Gatekit-specific JSON-RPC error codes.
///
/// The `-32000..-32005` range follows Python Gatekit 0.3 so that client-side handling carries
/// over (docs/reference/python-gatekit-compat.md §1).
pub mod codes {
    /// Invalid JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a valid JSON-RPC request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid method parameters (unknown tool, missing name, ...).
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal error.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// A security plugin blocked the message.
    pub const SECURITY_BLOCK: i64 = -32000;
    /// Configuration error.
    pub const CONFIG_ERROR: i64 = -32001;
    /// Plugin loading error.
    pub const PLUGIN_LOADING_ERROR: i64 = -32002;
    /// Permission error.
    pub const PERMISSION_ERROR: i64 = -32003;
    /// Upstream unavailable, timed out, crashed, or sent something unusable.
    pub const UPSTREAM_UNAVAILABLE: i64 = -32004;
    /// A critical audit destination cannot record; the call is refused.
    pub const AUDIT_FAILURE: i64 = -32005;
}

/// A JSON-RPC request id: MCP allows strings and integers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// Integer id.
    Number(i64),
    /// String id.
    String(String),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// The outcome half of a response.
#[derive(Debug)]
pub enum Outcome {
    /// `result`, as raw JSON.
    Result(Box<RawValue>),
    /// `error`, as raw JSON (an object with `code` and `message`).
    Error(Box<RawValue>),
}

/// One JSON-RPC message.
#[derive(Debug)]
pub enum Message {
    /// Expects a response with the same id.
    Request {
        /// Sender's id.
        id: RequestId,
        /// Method name.
        method: String,
        /// Raw params, if any.
        params: Option<Box<RawValue>>,
    },
    /// Expects nothing back.
    Notification {
        /// Method name.
        method: String,
        /// Raw params, if any.
        params: Option<Box<RawValue>>,
    },
    /// Answers a request.
    Response {
        /// Id of the request it answers; `None` for errors about unparseable requests.
        id: Option<RequestId>,
        /// Result or error.
        outcome: Outcome,
    },
}

impl Message {
    /// A short label for logs.
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request { method, .. } | Message::Notification { method, .. } => Some(method),
            Message::Response { .. } => None,
        }
    }
}

/// Why a frame is not a usable message.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not JSON (answered with -32700).
    #[error("invalid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// JSON, but not a JSON-RPC 2.0 message (answered with -32600).
    #[error("invalid request: {reason}")]
    Invalid {
        /// The id, when it could be read, so the error can be addressed.
        id: Option<RequestId>,
        /// What is wrong.
        reason: String,
    },
}

impl ParseError {
    /// The JSON-RPC error code this failure is answered with.
    pub fn code(&self) -> i64 {
        match self {
            ParseError::Json(_) => codes::PARSE_ERROR,
            ParseError::Invalid { .. } => codes::INVALID_REQUEST,
        }
    }

    /// The id to answer, if known.
    pub fn id(&self) -> Option<&RequestId> {
        match self {
            ParseError::Json(_) => None,
            ParseError::Invalid { id, .. } => id.as_ref(),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    jsonrpc: Option<String>,
    /// Raw, so that `"id": null` (present, null) stays distinguishable from no id at all.
    #[serde(default, deserialize_with = "present")]
    id: Option<Box<RawValue>>,
    method: Option<String>,
    params: Option<Box<RawValue>>,
    result: Option<Box<RawValue>>,
    error: Option<Box<RawValue>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// Parses one frame. Invalid UTF-8 is an error here; callers that want to be lenient with a
/// peer convert lossily first (see [`parse_lossy`]).
pub fn parse(frame: &[u8]) -> Result<Message, ParseError> {
    let trimmed = frame.trim_ascii_start();
    if trimmed.first() == Some(&b'[') {
        // JSON-RPC batches were removed from MCP in the 2025-06-18 revision.
        serde_json::from_slice::<serde::de::IgnoredAny>(frame).map_err(ParseError::Json)?;
        return Err(invalid(None, "batches are not supported by MCP"));
    }
    let env: Envelope = serde_json::from_slice(frame).map_err(|e| {
        if e.is_data() {
            invalid(None, &format!("not a JSON-RPC object: {e}"))
        } else {
            ParseError::Json(e)
        }
    })?;
    classify(env)
}

/// Parses a frame, replacing invalid UTF-8 with U+FFFD first. Returns whether replacement
/// happened so the caller can log it.
pub fn parse_lossy(frame: &[u8]) -> (Result<Message, ParseError>, bool) {
    match std::str::from_utf8(frame) {
        Ok(_) => (parse(frame), false),
        Err(_) => {
            let fixed = String::from_utf8_lossy(frame);
            (parse(fixed.as_bytes()), true)
        }
    }
}

fn invalid(id: Option<RequestId>, reason: &str) -> ParseError {
    ParseError::Invalid {
        id,
        reason: reason.to_string(),
    }
}

fn classify(env: Envelope) -> Result<Message, ParseError> {
    let id = match env.id.as_deref().map(RawValue::get) {
        None | Some("null") => None,
        Some(raw) => Some(
            serde_json::from_str::<RequestId>(raw)
                .map_err(|_| invalid(None, "id must be a string or an integer"))?,
        ),
    };
    let id_was_null = env.id.as_deref().map(RawValue::get) == Some("null");
    if env.jsonrpc.as_deref() != Some("2.0") {
        return Err(invalid(id, "`jsonrpc` must be \"2.0\""));
    }
    match (env.method, env.result, env.error) {
        (Some(method), None, None) => match id {
            Some(id) => Ok(Message::Request {
                id,
                method,
                params: env.params,
            }),
            None if id_was_null => Err(invalid(None, "a request id must not be null")),
            None => Ok(Message::Notification {
                method,
                params: env.params,
            }),
        },
        (None, Some(result), None) => match id {
            Some(id) => Ok(Message::Response {
                id: Some(id),
                outcome: Outcome::Result(result),
            }),
            None => Err(invalid(None, "a result needs an id")),
        },
        (None, None, Some(error)) => Ok(Message::Response {
            id,
            outcome: Outcome::Error(error),
        }),
        _ => Err(invalid(
            id,
            "a message needs exactly one of `method`, `result` or `error`",
        )),
    }
}

#[derive(Serialize)]
struct OutRequest<'a> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct OutNotification<'a> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct OutResult<'a> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    result: &'a RawValue,
}

#[derive(Serialize)]
struct OutError<'a, E: Serialize> {
    jsonrpc: &'static str,
    id: Option<&'a RequestId>,
    error: E,
}

/// A JSON-RPC error object built by the gateway.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorObject {
    /// Error code (see [`codes`]).
    pub code: i64,
    /// One-sentence description.
    pub message: String,
    /// Structured details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl ErrorObject {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Adds structured details.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

fn finish<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these structs cannot fail: all keys are strings and raw values are valid JSON.
    let mut out = serde_json::to_vec(value).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Encodes a request as one line.
pub fn encode_request(id: &RequestId, method: &str, params: Option<&RawValue>) -> Vec<u8> {
    finish(&OutRequest {
        jsonrpc: "2.0",
        id,
        method,
        params,
    })
}

/// Encodes a notification as one line.
pub fn encode_notification(method: &str, params: Option<&RawValue>) -> Vec<u8> {
    finish(&OutNotification {
        jsonrpc: "2.0",
        method,
        params,
    })
}

/// Encodes a response carrying `outcome` for request `id`.
pub fn encode_response(id: &RequestId, outcome: &Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Result(result) => finish(&OutResult {
            jsonrpc: "2.0",
            id,
            result,
        }),
        Outcome::Error(error) => finish(&OutError {
            jsonrpc: "2.0",
            id: Some(id),
            error: &**error,
        }),
    }
}

/// Encodes a result value built by the gateway.
pub fn encode_result<T: Serialize>(id: &RequestId, result: &T) -> Vec<u8> {
    #[derive(Serialize)]
    struct Out<'a, T> {
        jsonrpc: &'static str,
        id: &'a RequestId,
        result: &'a T,
    }
    finish(&Out {
        jsonrpc: "2.0",
        id,
        result,
    })
}

/// Encodes an error built by the gateway; `id` is `None` when the request could not be read.
pub fn encode_error(id: Option<&RequestId>, error: &ErrorObject) -> Vec<u8> {
    finish(&OutError {
        jsonrpc: "2.0",
        id,
        error,
    })
}

/// Serialises a value into raw JSON for use as params or result.
pub fn to_raw<T: Serialize>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Message, ParseError> {
        parse(s.as_bytes())
    }

    #[test]
    fn classifies_the_four_shapes() {
        assert!(matches!(
            parse_str(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Ok(Message::Request {
                id: RequestId::Number(1),
                ..
            })
        ));
        assert!(matches!(
            parse_str(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Message::Notification { .. })
        ));
        assert!(matches!(
            parse_str(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Ok(Message::Response {
                id: Some(RequestId::String(_)),
                outcome: Outcome::Result(_)
            })
        ));
        assert!(matches!(
            parse_str(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#),
            Ok(Message::Response {
                id: None,
                outcome: Outcome::Error(_)
            })
        ));
    }

    #[test]
    fn rejects_what_is_not_json_rpc() {
        let cases = [
            (r#"{"id":1,"method":"ping"}"#, codes::INVALID_REQUEST),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
                codes::INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
                codes::INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
                codes::INVALID_REQUEST,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"a","result":{}}"#,
                codes::INVALID_REQUEST,
            ),
            (
                r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
                codes::INVALID_REQUEST,
            ),
            (r#"42"#, codes::INVALID_REQUEST),
            (
                r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
                codes::INVALID_REQUEST,
            ),
            (r#"{"jsonrpc":"2.0", "id":"#, codes::PARSE_ERROR),
            ("not json", codes::PARSE_ERROR),
        ];
        for (input, code) in cases {
            let err = parse_str(input).expect_err(input);
            assert_eq!(err.code(), code, "{input}: {err}");
        }
    }

    #[test]
    fn invalid_request_keeps_a_readable_id() {
        let err = parse_str(r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#).unwrap_err();
        assert_eq!(err.id(), Some(&RequestId::Number(7)));
    }

    #[test]
    fn lossy_parse_replaces_invalid_utf8() {
        let mut frame = br#"{"jsonrpc":"2.0","id":1,"result":{"text":"a"#.to_vec();
        frame.extend_from_slice(&[0xff, 0xfe]);
        frame.extend_from_slice(br#""}}"#);
        let (msg, replaced) = parse_lossy(&frame);
        assert!(replaced);
        match msg.unwrap() {
            Message::Response {
                outcome: Outcome::Result(r),
                ..
            } => {
                assert!(r.get().contains('\u{fffd}'))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn encoded_messages_are_single_lines_and_round_trip() {
        let params = to_raw(&serde_json::json!({"text": "line1\nline2\u{2028}"}));
        let line = encode_request(&RequestId::String("x".into()), "tools/call", Some(&params));
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        assert_eq!(line.last(), Some(&b'\n'));
        match parse(&line).unwrap() {
            Message::Request { method, params, .. } => {
                assert_eq!(method, "tools/call");
                assert_eq!(params.unwrap().get(), params_text());
            }
            other => panic!("{other:?}"),
        }
        fn params_text() -> &'static str {
            "{\"text\":\"line1\\nline2\u{2028}\"}"
        }
    }
}
