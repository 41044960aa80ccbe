//! What the three Azure transports (Logs Ingestion, Data Collector, Event Hubs) share: the
//! JSON array body, reading Azure's error answers, and turning an authentication failure into
//! a slow retry that is reported once through the [`AuthReporter`].
//!
//! Authentication failures (a refused credential at the token endpoint, 401 after a fresh
//! token, 403 for a missing role assignment) are retried after a fixed, long delay rather than
//! rejected: role assignments take up to 30 minutes to propagate (docs/reference/sentinel.md §1.1)
//! and a rotated secret is fixed without a restart; `retry_attempts` still bounds the attempts and
//! dead-letters the batch in the end (docs/decisions/0301-azure-size-cap-and-auth-retries.md).

use std::time::Duration;

use gatekit_delivery::{BatchOutcome, Record};
use serde_json::Value;

use crate::auth::AuthReporter;
use crate::azure::entra::TokenError;
use crate::error::SiemError;
use crate::http::status::{parse_retry_after, HttpAnswer};

/// Default delay before retrying after an authentication failure.
pub const AUTH_FAILURE_RETRY: Duration = Duration::from_secs(30);

/// `[record,record,...]`: the records' JSON objects as one JSON array (each record's trailing
/// line break, if a framing added one, removed).
pub fn json_array(batch: &[Record]) -> Vec<u8> {
    let mut body = Vec::with_capacity(batch.iter().map(|r| r.payload.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, record) in batch.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(trim_line_end(&record.payload));
    }
    body.push(b']');
    body
}

/// The payload without a trailing CR/LF.
pub fn trim_line_end(payload: &[u8]) -> &[u8] {
    let mut end = payload.len();
    while end > 0 && matches!(payload[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &payload[..end]
}

/// Reads an Azure answer: the status, `Retry-After`, and a short text from the error body
/// (`{"error":{"code":..,"message":..}}`, or Data Collector's `{"Error":..,"Message":..}`).
pub fn answer(status: u16, retry_after: Option<&str>, body: &[u8]) -> HttpAnswer {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = json.get("error").unwrap_or(&json);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| error.get(*n).and_then(Value::as_str))
            .map(str::to_string)
    };
    let code = field(&["code", "Error"]);
    let message = field(&["message", "Message"]);
    let text = match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => String::new(),
    };
    HttpAnswer {
        status,
        retry_after: retry_after.and_then(parse_retry_after),
        text: text.chars().take(200).collect(),
        ..HttpAnswer::default()
    }
}

/// The outcome when no token could be had.
pub fn token_failure(e: TokenError, auth: &AuthReporter, slow: Duration) -> BatchOutcome {
    match e {
        TokenError::Refused(reason) => {
            let reason = format!("Entra ID token request refused: {reason}");
            auth.failed(&reason);
            BatchOutcome::Retry {
                reason,
                retry_after: Some(slow),
            }
        }
        TokenError::Connection(e) => {
            let reason = format!("Entra ID token service: {e}");
            if e.is_auth_failure() {
                auth.failed(&reason);
                return BatchOutcome::Retry {
                    reason,
                    retry_after: Some(slow),
                };
            }
            BatchOutcome::Retry {
                reason,
                retry_after: None,
            }
        }
        TokenError::Unavailable {
            reason,
            retry_after,
        } => BatchOutcome::Retry {
            reason: format!("Entra ID token service: {reason}"),
            retry_after,
        },
    }
}

/// The outcome of an endpoint answering 401 or 403: reported, retried after `slow`.
pub fn refused(what: &str, a: &HttpAnswer, auth: &AuthReporter, slow: Duration) -> BatchOutcome {
    let mut reason = format!("{what} answered HTTP {}", a.status);
    if !a.text.is_empty() {
        reason.push_str(": ");
        reason.push_str(&a.text);
    }
    auth.failed(&reason);
    BatchOutcome::Retry {
        reason,
        retry_after: Some(slow),
    }
}

/// Gzips `body` (level 6).
pub fn gzip(body: &[u8]) -> Result<Vec<u8>, SiemError> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::new(6),
    );
    let failed = |e: std::io::Error| SiemError::Setup(format!("gzip failed: {e}"));
    encoder.write_all(body).map_err(failed)?;
    encoder.finish().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatekit_delivery::RecordId;

    #[test]
    fn records_become_one_json_array() {
        let batch = vec![
            Record::new(RecordId(1), b"{\"a\":1}\n".to_vec()),
            Record::new(RecordId(2), b"{\"b\":2}".to_vec()),
        ];
        assert_eq!(json_array(&batch), b"[{\"a\":1},{\"b\":2}]");
    }

    #[test]
    fn azure_error_bodies_are_read() {
        let a = answer(
            413,
            None,
            br#"{"error":{"code":"ContentLengthLimitExceeded","message":"Maximum allowed content length: 1048576 bytes"}}"#,
        );
        assert_eq!(
            a.text,
            "ContentLengthLimitExceeded: Maximum allowed content length: 1048576 bytes"
        );
        let a = answer(
            403,
            Some("5"),
            br#"{"Error":"InvalidAuthorization","Message":"x"}"#,
        );
        assert_eq!(
            (a.text.as_str(), a.retry_after),
            ("InvalidAuthorization: x", Some(Duration::from_secs(5)))
        );
    }
}
