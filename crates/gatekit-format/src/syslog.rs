//! Syslog headers: RFC 5424 and RFC 3164 (BSD), each wrapping a CEF, LEEF or JSON body.
//!
//! Job: [`Syslog5424Formatter`] writes
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA SP MSG` (RFC 5424 §6)
//! and [`Syslog3164Formatter`] writes `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`
//! (RFC 3164 §4.1), where MSG is the inner formatter's output.
//!
//! Invariants:
//! - PRI = facility × 8 + severity (RFC 5424 §6.2.1), facility from settings, severity
//!   from the configured [`SeverityMap`];
//! - HOSTNAME keeps only host-name characters (`A-Za-z0-9.-_`), others become `_`, `-`
//!   when empty (RFC 5424 §6.2.4); APP-NAME and PROCID are validated settings, MSGID is
//!   the event type;
//! - SD-PARAM values escape `"`, `\` and `]` with a backslash (RFC 5424 §6.3.3), drop
//!   CR/LF (nothing else is escaped there and LF framing would split the record) and turn
//!   other control characters into a space;
//! - custom SD-IDs have the form `name@PEN` (RFC 5424 §6.3.2), checked at construction;
//! - MSG has no BOM (MSG-ANY, §6.4): receivers keep a BOM as text and CEF/LEEF parsers
//!   anchored at `CEF:`/`LEEF:` then miss the record (rsyslog#284);
//! - RFC 3164 always has a TAG before the body (`HOST TAG: CEF:0|...`), otherwise
//!   receivers take `CEF` for the program name (docs/reference/real-peers.md §3).

use gatekit_core::{AuditEvent, Severity};

use crate::error::FormatError;
use crate::formatter::Formatter;
use crate::text::{any_byte, is_c0_or_del, is_c1_at, push_u64};

/// Maps event severities to syslog severity codes (0-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeverityMap([u8; 8]);

impl SeverityMap {
    /// The identity mapping (`Severity` is named after the syslog severities).
    pub const fn identity() -> Self {
        let mut m = [0u8; 8];
        let mut i = 0;
        while i < 8 {
            m[i] = Severity::ALL[i].syslog_code();
            i += 1;
        }
        Self(m)
    }

    /// A custom mapping; `codes[i]` is the syslog code for `Severity::ALL[i]`.
    pub fn new(codes: [u8; 8]) -> Result<Self, FormatError> {
        if codes.iter().any(|&c| c > 7) {
            return Err(FormatError::setting(
                "severity_map",
                "syslog severities are 0 to 7",
            ));
        }
        Ok(Self(codes))
    }

    /// Syslog code for `s`.
    pub fn code(&self, s: Severity) -> u8 {
        self.0[s as usize]
    }
}

impl Default for SeverityMap {
    fn default() -> Self {
        Self::identity()
    }
}

/// Settings shared by both syslog headers.
#[derive(Debug, Clone)]
pub struct SyslogSettings {
    /// Facility 0-23 (default 16, `local0`). Use a facility dedicated to Gatekit CEF when
    /// a Sentinel AMA forwarder is involved, or rows land in two tables.
    pub facility: u8,
    /// Severity mapping.
    pub severity_map: SeverityMap,
    /// HOSTNAME; the event's `host` when `None`.
    pub hostname: Option<String>,
    /// APP-NAME (5424, at most 48 printable ASCII) / TAG (3164, at most 32 alphanumerics).
    pub app_name: String,
    /// PROCID / `[PID]`; `-` / omitted when `None`.
    pub procid: Option<u32>,
    /// RFC 5424 SD-ID `name@PEN` for Gatekit's STRUCTURED-DATA element; `-` when `None`.
    /// PEN 32473 is reserved for documentation: use your organisation's own.
    pub sd_id: Option<String>,
}

impl Default for SyslogSettings {
    fn default() -> Self {
        Self {
            facility: 16,
            severity_map: SeverityMap::identity(),
            hostname: None,
            app_name: "gatekit".to_owned(),
            procid: None,
            sd_id: None,
        }
    }
}

fn validate_common(s: &SyslogSettings) -> Result<(), FormatError> {
    if s.facility > 23 {
        return Err(FormatError::setting("facility", "must be 0 to 23"));
    }
    if let Some(h) = &s.hostname {
        if h.is_empty() || h.len() > 255 || !h.chars().all(is_hostname_char) {
            return Err(FormatError::setting(
                "hostname",
                "1 to 255 characters of A-Z, a-z, 0-9, '.', '-', '_'",
            ));
        }
    }
    Ok(())
}

fn is_print_ascii(b: u8) -> bool {
    (33..=126).contains(&b)
}

/// RFC 5424 §6.2.4 HOSTNAME: an FQDN, IPv4 address or host name, so ASCII letters, digits,
/// `.`, `-` and `_` are kept and anything else becomes `_`. That is stricter than the ABNF
/// (printable US-ASCII) on purpose: syslog-ng 3.38 rejects a whole message whose HOSTNAME
/// contains `[`, or `:` together with `_` in some positions (found by the peer tests).
/// QRadar cannot route on IPv6 in the header anyway (docs/reference/qradar.md §4).
/// At most `max` bytes; `-` (NILVALUE) when empty.
fn push_hostname(out: &mut Vec<u8>, s: &str, max: usize) {
    if s.is_empty() {
        out.push(b'-');
        return;
    }
    if s.len() <= max && s.chars().all(is_hostname_char) {
        // The common case: already a clean host name.
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for c in s.chars().take(max) {
        out.push(if is_hostname_char(c) { c as u8 } else { b'_' });
    }
}

fn is_hostname_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// RFC 3164 §4.1.2 HOSTNAME: the host name without its domain, ASCII letters, digits, `-`
/// and `_` only (others become `_`), with trailing `-`/`_` removed, because rsyslog takes a
/// "hostname" with other characters or ending in `-`/`_` for the TAG. RFC 3164 has no
/// NILVALUE, so an empty result is written as `unknown`.
fn push_3164_host(out: &mut Vec<u8>, host: &str) {
    let short = host.split('.').next().unwrap_or("");
    let start = out.len();
    for c in short.chars().take(255) {
        out.push(if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c as u8
        } else {
            b'_'
        });
    }
    while out.len() > start && matches!(out.last(), Some(b'-' | b'_')) {
        out.pop();
    }
    if out.len() == start {
        out.extend_from_slice(b"unknown");
    }
}

fn push_pri(out: &mut Vec<u8>, facility: u8, sev: u8) {
    out.push(b'<');
    push_u64(out, u64::from(facility) * 8 + u64::from(sev));
    out.push(b'>');
}

/// Appends an SD-PARAM value escaped per RFC 5424 §6.3.3 (`"`, `\`, `]` get a backslash),
/// with CR and LF removed (nothing else is escaped there, and a raw line break would split
/// the record on LF-framed transports) and other control characters (C0, DEL, C1) replaced
/// by a space (receivers rewrite them, rsyslog as `#011`-style escapes).
pub fn escape_sd_value(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    if !any_byte(b, |c| {
        (c < 0x20) | (c == 0x7f) | (c == 0xC2) | (c == b'"') | (c == b'\\') | (c == b']')
    }) {
        out.extend_from_slice(b);
        return;
    }
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let special = matches!(c, b'"' | b'\\' | b']') || is_c0_or_del(c) || is_c1_at(b, i);
        if !special {
            i += 1;
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        match c {
            b'"' | b'\\' | b']' => {
                out.push(b'\\');
                out.push(c);
            }
            b'\r' | b'\n' => {}
            0xC2 => {
                out.push(b' ');
                i += 1;
            }
            _ => out.push(b' '),
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
}

/// Checks an SD-NAME (RFC 5424 §6.3.2): 1-32 printable ASCII, no `=`, space, `]`, `"`.
fn valid_sd_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| is_print_ascii(b) && !matches!(b, b'=' | b']' | b'"'))
}

/// RFC 5424 formatter wrapping a body formatter.
#[derive(Debug)]
pub struct Syslog5424Formatter {
    facility: u8,
    severity_map: SeverityMap,
    hostname: Option<Vec<u8>>,
    /// ` APP PROCID ` (between HOSTNAME and MSGID), precomputed.
    app_procid: Vec<u8>,
    sd_open: Option<Vec<u8>>,
    body: Box<dyn Formatter>,
}

impl Syslog5424Formatter {
    /// Validates `settings`; `body` renders MSG.
    pub fn new(settings: SyslogSettings, body: Box<dyn Formatter>) -> Result<Self, FormatError> {
        validate_common(&settings)?;
        let app = &settings.app_name;
        if app.is_empty() || app.len() > 48 || !app.bytes().all(is_print_ascii) {
            return Err(FormatError::setting(
                "app_name",
                "1 to 48 printable ASCII characters",
            ));
        }
        let sd_open = match &settings.sd_id {
            None => None,
            Some(id) => {
                let ok = valid_sd_name(id)
                    && id.split_once('@').is_some_and(|(name, pen)| {
                        !name.is_empty()
                            && !pen.is_empty()
                            && pen
                                .split('.')
                                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                    });
                if !ok {
                    return Err(FormatError::setting(
                        "sd_id",
                        "must be name@PEN (an IANA private enterprise number), at most 32 characters",
                    ));
                }
                Some(format!("[{id}").into_bytes())
            }
        };
        let mut app_procid = vec![b' '];
        app_procid.extend_from_slice(app.as_bytes());
        app_procid.push(b' ');
        match settings.procid {
            Some(p) => push_u64(&mut app_procid, u64::from(p)),
            None => app_procid.push(b'-'),
        }
        app_procid.push(b' ');
        Ok(Self {
            facility: settings.facility,
            severity_map: settings.severity_map,
            hostname: settings.hostname.map(String::into_bytes),
            app_procid,
            sd_open,
            body,
        })
    }
}

impl Formatter for Syslog5424Formatter {
    fn format(&self, e: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        push_pri(out, self.facility, self.severity_map.code(e.severity));
        out.extend_from_slice(b"1 ");
        e.timestamp.write_rfc3339_millis(out);
        out.push(b' ');
        match &self.hostname {
            Some(h) => out.extend_from_slice(h),
            None => push_hostname(out, &e.host, 255),
        }
        out.extend_from_slice(&self.app_procid);
        // MSGID (<= 32): the event type, already printable ASCII.
        out.extend_from_slice(e.event_type.as_str().as_bytes());
        out.push(b' ');
        match &self.sd_open {
            None => out.push(b'-'),
            Some(open) => {
                out.extend_from_slice(open);
                out.extend_from_slice(b" eventId=\"");
                e.event_id.write_hyphenated(out);
                out.extend_from_slice(b"\" sequence=\"");
                push_u64(out, e.sequence);
                out.push(b'"');
                if let Some(t) = e.tool_name() {
                    sd_param(out, "tool", t);
                }
                if let Some(u) = &e.upstream_server {
                    sd_param(out, "upstream", &u.name);
                }
                if let Some(s) = &e.session_id {
                    sd_param(out, "session", s);
                }
                if let Some(d) = &e.security_decision {
                    sd_param(out, "action", if d.allowed { "allow" } else { "deny" });
                }
                out.push(b']');
            }
        }
        out.push(b' ');
        self.body.format(e, out)
    }
}

fn sd_param(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    escape_sd_value(value, out);
    out.push(b'"');
}

/// RFC 3164 formatter wrapping a body formatter.
#[derive(Debug)]
pub struct Syslog3164Formatter {
    facility: u8,
    severity_map: SeverityMap,
    hostname: Option<Vec<u8>>,
    /// ` TAG[PID]: `, precomputed.
    tag: Vec<u8>,
    body: Box<dyn Formatter>,
}

impl Syslog3164Formatter {
    /// Validates `settings` (the TAG, `app_name`, must be 1-32 alphanumerics per
    /// RFC 3164 §4.1.3); `body` renders the CONTENT.
    pub fn new(settings: SyslogSettings, body: Box<dyn Formatter>) -> Result<Self, FormatError> {
        validate_common(&settings)?;
        let tag = &settings.app_name;
        if tag.is_empty() || tag.len() > 32 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(FormatError::setting(
                "app_name",
                "the RFC 3164 TAG is 1 to 32 alphanumerics",
            ));
        }
        let mut t = vec![b' '];
        t.extend_from_slice(tag.as_bytes());
        if let Some(p) = settings.procid {
            t.push(b'[');
            push_u64(&mut t, u64::from(p));
            t.push(b']');
        }
        t.extend_from_slice(b": ");
        Ok(Self {
            facility: settings.facility,
            severity_map: settings.severity_map,
            hostname: settings.hostname.map(String::into_bytes),
            tag: t,
            body,
        })
    }
}

impl Formatter for Syslog3164Formatter {
    fn format(&self, e: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        push_pri(out, self.facility, self.severity_map.code(e.severity));
        e.timestamp.write_rfc3164(out);
        out.push(b' ');
        match &self.hostname {
            Some(h) => out.extend_from_slice(h),
            None => push_3164_host(out, &e.host),
        }
        out.extend_from_slice(&self.tag);
        self.body.format(e, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_escaping_table() {
        let cases = [
            ("plain", "plain"),
            ("a\"b", "a\\\"b"),
            ("a\\b", "a\\\\b"),
            ("a]b", "a\\]b"),
            ("a[b", "a[b"),
            ("l1\nl2\r", "l1l2"),
            ("\\]\"", "\\\\\\]\\\""),
            ("tab\t=", "tab ="),
            ("nul\0del\x7fnel\u{85}é", "nul del nel é"),
        ];
        for (input, want) in cases {
            let mut v = Vec::new();
            escape_sd_value(input, &mut v);
            assert_eq!(String::from_utf8(v).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn header_fields_are_printable_ascii() {
        let mut v = Vec::new();
        push_hostname(&mut v, "gk 01\né[x]:1", 255);
        assert_eq!(v, b"gk_01___x__1");
        let mut v = Vec::new();
        push_hostname(&mut v, "", 255);
        assert_eq!(v, b"-");
        let mut v = Vec::new();
        push_3164_host(&mut v, "gk@01é.example.com");
        assert_eq!(v, b"gk_01");
        for (host, want) in [
            ("-_.x", "unknown"),
            ("", "unknown"),
            ("a-b_", "a-b"),
            ("GK-1", "GK-1"),
        ] {
            let mut v = Vec::new();
            push_3164_host(&mut v, host);
            assert_eq!(String::from_utf8(v).unwrap(), want, "{host:?}");
        }
    }

    #[test]
    fn settings_are_validated() {
        let body = || -> Box<dyn Formatter> { Box::new(crate::JsonFormatter) };
        for sd in [
            "gatekit",
            "gatekit@",
            "@32473",
            "ga tekit@1",
            "gatekit@12a",
            "a=b@1",
        ] {
            let s = SyslogSettings {
                sd_id: Some(sd.into()),
                ..SyslogSettings::default()
            };
            assert!(Syslog5424Formatter::new(s, body()).is_err(), "{sd}");
        }
        let ok = SyslogSettings {
            sd_id: Some("gatekit@32473".into()),
            ..SyslogSettings::default()
        };
        assert!(Syslog5424Formatter::new(ok, body()).is_ok());
        let s = SyslogSettings {
            facility: 24,
            ..SyslogSettings::default()
        };
        assert!(Syslog5424Formatter::new(s, body()).is_err());
        let s = SyslogSettings {
            app_name: "gate-kit".into(),
            ..SyslogSettings::default()
        };
        assert!(Syslog3164Formatter::new(s, body()).is_err());
        assert!(SeverityMap::new([0, 1, 2, 3, 4, 5, 6, 8]).is_err());
    }

    #[test]
    fn pri_table() {
        // RFC 5424 §6.2.1 examples: local0.info = 134, authpriv(10).notice = 85.
        for (fac, sev, want) in [
            (16u8, 6u8, "<134>"),
            (10, 5, "<85>"),
            (0, 0, "<0>"),
            (23, 7, "<191>"),
        ] {
            let mut v = Vec::new();
            push_pri(&mut v, fac, sev);
            assert_eq!(String::from_utf8(v).unwrap(), want);
        }
    }
}
