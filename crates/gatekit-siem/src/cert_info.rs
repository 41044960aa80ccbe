//! Just enough of an X.509 certificate (RFC 5280 §4.1) to explain why a client certificate
//! cannot be used, before any handshake: its version and its validity period.
//!
//! rustls reports a certificate it cannot use for client authentication with the same error
//! as a key that does not belong to it; an operator then hunts the wrong problem. Two causes
//! are common and easy to name: an X.509 v1 certificate (made by `openssl x509 -req` without
//! an extensions file; WebPKI accepts only v3, RFC 5280 §4.1.2.1) and an expired one.
//!
//! Invariant: a reader, never a validator: anything it cannot parse yields `None` and the TLS
//! library's own check decides. DER only (the PEM layer is decoded by `rustls-pki-types`).

use std::time::{SystemTime, UNIX_EPOCH};

/// What was read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// 1, 2 or 3.
    pub version: u8,
    /// `notBefore` in seconds since the Unix epoch.
    pub not_before: i64,
    /// `notAfter` in seconds since the Unix epoch.
    pub not_after: i64,
}

/// One DER element: (tag, contents, rest after it).
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// UTCTime (`YYMMDDHHMMSSZ`, RFC 5280 §4.1.2.5.1) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time(tag: u8, text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if text.len() == 12 => {
            let yy: i64 = text[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        0x18 if text.len() == 14 => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let n = |i: usize| rest.get(i..i + 2)?.parse::<i64>().ok();
    let days = days_from_civil(year, n(0)?, n(2)?);
    Some(days * 86_400 + n(4)? * 3600 + n(6)? * 60 + n(8)?)
}

/// Version and validity of the DER certificate `der`; `None` when it cannot be read.
pub fn read(der: &[u8]) -> Option<CertInfo> {
    let (0x30, cert, _) = element(der)? else {
        return None;
    };
    let (0x30, tbs, _) = element(cert)? else {
        return None;
    };
    let (tag, body, mut rest) = element(tbs)?;
    // version [0] EXPLICIT INTEGER DEFAULT v1
    let version = if tag == 0xa0 {
        let (0x02, v, _) = element(body)? else {
            return None;
        };
        v.last().copied()?.checked_add(1)?
    } else {
        rest = tbs;
        1
    };
    // serialNumber, signature, issuer, then validity.
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (0x30, validity, _) = element(rest)? else {
        return None;
    };
    let (t1, before, after_rest) = element(validity)?;
    let (t2, after, _) = element(after_rest)?;
    Some(CertInfo {
        version,
        not_before: time(t1, before)?,
        not_after: time(t2, after)?,
    })
}

/// `secs` since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let s = secs.rem_euclid(86_400);
    // Inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// Why the client certificate `der` (from `path`) cannot authenticate us, if one of the
/// common causes applies: not v3, expired, or not yet valid.
pub fn client_certificate_problem(der: &[u8], path: &str) -> Option<String> {
    let info = read(der)?;
    if info.version != 3 {
        return Some(format!(
            "client certificate {path} is an X.509 v{} certificate; TLS client authentication needs v3 (issue it with extensions, e.g. `openssl x509 -req ... -extfile` with `extendedKeyUsage = clientAuth`)",
            info.version
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if now > info.not_after {
        return Some(format!(
            "client certificate {path} expired on {}; renew it",
            utc(info.not_after)
        ));
    }
    if now < info.not_before {
        return Some(format!(
            "client certificate {path} is not valid before {} (check this machine's clock)",
            utc(info.not_before)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_convert_both_ways() {
        assert_eq!(time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(time(0x18, b"20261205090500Z"), Some(1_796_461_500));
        assert_eq!(utc(1_796_461_500), "2026-12-05 09:05:00 UTC");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(0x17, b"7001010000Z"), None);
    }

    #[test]
    fn garbage_is_not_read() {
        assert_eq!(read(b""), None);
        assert_eq!(read(&[0x30, 0x82, 0xff]), None);
        assert_eq!(read(&[0x30, 0x03, 0x30, 0x01, 0x00]), None);
    }
}
