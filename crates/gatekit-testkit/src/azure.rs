//! What the Azure receivers share: scripted faults, HMAC-SHA256, percent-decoding, Base64,
//! RFC 1123 dates, and the error bodies Azure sends. Written independently of the
//! transports' code (this crate does not depend on `gatekit-siem`), so a signature bug in a
//! transport cannot be mirrored here.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

pub use crate::server::lock;
use crate::server::Reply;

/// A scripted behaviour for the next data request of an Azure receiver.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, JSON body and optional `Retry-After` (seconds), keeping
    /// nothing.
    Reply(u16, Value, Option<u64>),
    /// Handle the request normally, but answer after this delay.
    Slow(Duration),
    /// Read the request and close the connection without answering (nothing kept).
    HangUp,
}

/// A queue of faults.
#[derive(Debug, Default)]
pub struct Script(Mutex<VecDeque<Fault>>);

impl Script {
    /// Appends faults.
    pub fn extend(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.0).extend(faults);
    }

    /// The next fault, if any.
    pub fn next(&self) -> Option<Fault> {
        lock(&self.0).pop_front()
    }
}

/// Applies a fault: `Err(reply)` to answer at once, `Ok(delay)` to handle the request
/// (answering after `delay`, if any).
pub fn apply(fault: Option<Fault>) -> Result<Option<Duration>, Reply> {
    match fault {
        None => Ok(None),
        Some(Fault::Slow(d)) => Ok(Some(d)),
        Some(Fault::HangUp) => Err(Reply::hang_up()),
        Some(Fault::Reply(status, body, retry_after)) => {
            Err(Reply::json(status, &body).with_retry_after(retry_after))
        }
    }
}

/// Azure's common error body, `{"error":{"code":..,"message":..}}`.
pub fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// Base64 of HMAC-SHA256(`key`, `message`).
pub fn hmac_b64(key: &[u8], message: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    STANDARD.encode(ring::hmac::sign(&key, message).as_ref())
}

/// Decodes standard Base64.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s.trim()).ok()
}

/// Percent-decodes (`+` stays `+`; form bodies here are encoded with `%20`).
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `application/x-www-form-urlencoded` → pairs (`+` means space here).
pub fn form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| {
            Some((
                percent_decode(&k.replace('+', " "))?,
                percent_decode(&v.replace('+', " "))?,
            ))
        })
        .collect()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Parses `Mon, 17 Nov 2025 09:30:00 GMT` (RFC 1123, GMT only) into Unix seconds; the weekday
/// must be the right one.
pub fn parse_rfc1123(s: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let (weekday, rest) = s.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    if parts.len() != 5 || parts[4] != "GMT" || parts[0].len() != 2 {
        return None;
    }
    let day: u32 = parts[0].parse().ok()?;
    let month = u32::try_from(MONTHS.iter().position(|m| *m == parts[1])?).ok()? + 1;
    let year: i64 = parts[2].parse().ok()?;
    let hms: Vec<u64> = parts[3]
        .split(':')
        .map(|p| if p.len() == 2 { p.parse().ok() } else { None })
        .collect::<Option<_>>()?;
    if hms.len() != 3 || hms[0] > 23 || hms[1] > 59 || hms[2] > 60 || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if DAYS[usize::try_from(days.rem_euclid(7)).ok()?] != weekday {
        return None;
    }
    u64::try_from(days * 86_400)
        .ok()
        .map(|d| d + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch of `YYYY-MM-DDThh:mm:ss[.fff]Z` (UTC only; enough for the
/// receivers' time-range checks).
pub fn parse_utc_seconds(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-');
    let (year, month, day) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let mut t = time.split(':');
    let (h, m, sec): (f64, f64, f64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    #[allow(
        clippy::cast_precision_loss,
        reason = "a duration in seconds for display"
    )]
    let days = days_from_civil(year, month, day) as f64;
    Some(days * 86_400.0 + h * 3600.0 + m * 60.0 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123_dates_parse() {
        assert_eq!(parse_rfc1123("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_rfc1123("Mon, 17 Nov 2025 09:30:00 GMT"),
            Some(1_763_371_800)
        );
        assert_eq!(
            parse_rfc1123("Tue, 17 Nov 2025 09:30:00 GMT"),
            None,
            "wrong weekday"
        );
        assert_eq!(parse_rfc1123("2025-11-17T09:30:00Z"), None);
    }

    #[test]
    fn utc_timestamps_parse() {
        assert_eq!(parse_utc_seconds("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_utc_seconds("2025-11-17T09:30:00.5Z"),
            Some(1_763_371_800.5)
        );
        assert_eq!(parse_utc_seconds("2025-11-17T09:30:00+01:00"), None);
    }

    #[test]
    fn hmac_matches_the_wire_reference_vector() {
        // docs/reference/sentinel.md §3.3.
        let key = base64_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==").unwrap_or_default();
        let to_sign =
            "POST\n78\napplication/json\nx-ms-date:Mon, 17 Nov 2025 09:30:00 GMT\n/api/logs";
        assert_eq!(
            hmac_b64(&key, to_sign.as_bytes()),
            "5Y4NCaeX80ebKK5CUSZnjd7AaRfs2ifr3vjDbvoYLc4="
        );
    }

    #[test]
    fn forms_decode() {
        assert_eq!(
            form(b"scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default&a=b+c"),
            vec![
                (
                    "scope".to_string(),
                    "https://monitor.azure.com//.default".to_string()
                ),
                ("a".to_string(), "b c".to_string())
            ]
        );
    }
}
