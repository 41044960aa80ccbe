//! Azure request signatures, from the documented string-to-sign (docs/reference/sentinel.md §3, §4;
//! platform-facts.md §16), checked against the worked test vectors (sentinel.md §3.3, §4.3).
//!
//! * Log Analytics HTTP Data Collector API: `SharedKey <workspace>:<sig>`, HMAC-SHA256 keyed
//!   with the Base64-DECODED workspace key over
//!   `POST\n<content length in bytes>\napplication/json\nx-ms-date:<RFC 1123 date>\n/api/logs`.
//! * Event Hubs SAS: HMAC-SHA256 keyed with the key string AS IS (not decoded) over
//!   `URL-encode(resource URI) + "\n" + expiry`; the token repeats the encoded URI.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatekit_core::Timestamp;
use ring::hmac;

fn hmac_sha256_b64(key: &[u8], message: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    STANDARD.encode(hmac::sign(&key, message).as_ref())
}

/// Percent-encodes everything but RFC 3986's unreserved characters, with upper-case hex
/// (as Python and JavaScript do; .NET's lower-case form signs differently).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `Mon, 17 Nov 2025 09:30:00 GMT` (RFC 1123, as `x-ms-date` wants).
pub fn rfc1123(ts: Timestamp) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = ts.civil();
    // 1970-01-01 was a Thursday.
    let days = ts.unix_nanos().div_euclid(86_400 * 1_000_000_000);
    let weekday = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(c.month.saturating_sub(1))
        .unwrap_or(0)
        .min(11)];
    format!(
        "{weekday}, {:02} {month} {} {:02}:{:02}:{:02} GMT",
        c.day, c.year, c.hour, c.minute, c.second
    )
}

/// Why a signature cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The workspace key is not Base64.
    #[error("the Data Collector shared key is not valid Base64")]
    KeyNotBase64,
}

/// The `Authorization` header of a Data Collector API request whose body is `content_length`
/// bytes, sent with `x-ms-date: date`.
pub fn data_collector_authorization(
    workspace_id: &str,
    shared_key_b64: &str,
    content_length: usize,
    date: &str,
) -> Result<String, SignError> {
    let key = STANDARD
        .decode(shared_key_b64.trim())
        .map_err(|_| SignError::KeyNotBase64)?;
    let to_sign = format!("POST\n{content_length}\napplication/json\nx-ms-date:{date}\n/api/logs");
    Ok(format!(
        "SharedKey {workspace_id}:{}",
        hmac_sha256_b64(&key, to_sign.as_bytes())
    ))
}

/// An Event Hubs `SharedAccessSignature` token for `resource_uri` valid until `expiry` (Unix
/// seconds).
pub fn event_hubs_sas(resource_uri: &str, key_name: &str, key: &str, expiry: u64) -> String {
    let encoded = url_encode(resource_uri);
    let sig = hmac_sha256_b64(key.as_bytes(), format!("{encoded}\n{expiry}").as_bytes());
    format!(
        "SharedAccessSignature sr={encoded}&sig={}&se={expiry}&skn={key_name}",
        url_encode(&sig)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_collector_signature_matches_the_worked_vector() {
        // docs/reference/sentinel.md §3.3.
        let body =
            r#"[{"EventType":"tool_call","Decision":"deny","Tool":"fs.write","User":"alice"}]"#;
        assert_eq!(body.len(), 78);
        let header = data_collector_authorization(
            "b9e2f1a0-1234-4cde-8f00-0123456789ab",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==",
            body.len(),
            "Mon, 17 Nov 2025 09:30:00 GMT",
        )
        .unwrap();
        assert_eq!(header, "SharedKey b9e2f1a0-1234-4cde-8f00-0123456789ab:5Y4NCaeX80ebKK5CUSZnjd7AaRfs2ifr3vjDbvoYLc4=");
        assert!(data_collector_authorization("w", "not base64!", 1, "d").is_err());
    }

    #[test]
    fn event_hubs_sas_matches_the_worked_vector() {
        // docs/reference/sentinel.md §4.3: the key string is used as is, not Base64-decoded.
        let token = event_hubs_sas(
            "https://gk-test-ns.servicebus.windows.net/audit",
            "gatekit-send",
            "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
            1_767_225_600,
        );
        assert_eq!(
            token,
            "SharedAccessSignature sr=https%3A%2F%2Fgk-test-ns.servicebus.windows.net%2Faudit&sig=tGGk2%2FIsHRoZ7Jq8kZqGC61i5GBm%2BVnSBrtbj2SupyE%3D&se=1767225600&skn=gatekit-send"
        );
        assert!(
            !token.contains("i06LyORCdp3Y"),
            "the Base64-decoded-key signature is the documented mistake"
        );
    }

    #[test]
    fn rfc1123_dates() {
        let ts = Timestamp::parse_rfc3339("2025-11-17T09:30:00Z").unwrap();
        assert_eq!(rfc1123(ts), "Mon, 17 Nov 2025 09:30:00 GMT");
        assert_eq!(
            rfc1123(Timestamp::parse_rfc3339("1970-01-01T00:00:00Z").unwrap()),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            rfc1123(Timestamp::parse_rfc3339("2024-02-29T23:59:59Z").unwrap()),
            "Thu, 29 Feb 2024 23:59:59 GMT"
        );
    }

    #[test]
    fn url_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            url_encode("a-b.c_d~e f/g+h=i:"),
            "a-b.c_d~e%20f%2Fg%2Bh%3Di%3A"
        );
    }
}
