//! CEF:0 (ArcSight Common Event Format) encoder.
//!
//! Job: render an [`AuditEvent`] as one `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|ext`
//! line whose extension keys land in the right Microsoft Sentinel `CommonSecurityLog`
//! columns and Splunk CIM fields (field map in `docs/formats.md`).
//!
//! Invariants (CEF Implementation Standard, "Character encoding" and "Header/Extension"):
//! - header fields escape `\` as `\\` and `|` as `\|`; CR, LF, other control characters and
//!   U+2028/U+2029 become a space (the header may not contain line breaks);
//! - extension values escape `\` as `\\` and `=` as `\=`, write CR as `\r` and LF as `\n`,
//!   and turn other control characters (C0, DEL, C1) and the line and paragraph separators
//!   U+2028/U+2029 into a space; `|` stays literal;
//! - extension keys are fixed alphanumeric names (dictionary keys or `Gatekit*` custom
//!   keys); absent or empty values are omitted, never written as `key=`;
//! - the last pair is always `externalId=<sequence>` (numeric, so Sentinel's int
//!   `ExternalID` column is filled and a trailing space in a text value is never the
//!   final, whitespace-trimmed one);
//! - values are cut to the dictionary's length limits on a UTF-8 boundary before escaping,
//!   and marked with [`crate::TRUNCATION_MARKER`];
//! - no raw CR or LF is ever written, no clock is read, no I/O is done.

use gatekit_core::{AuditEvent, EventType};

use crate::error::FormatError;
use crate::formatter::Formatter;
use crate::text::{
    any_byte, is_c0_or_del, is_c1_at, is_line_sep_at, may_need_cleaning, push_i64, push_u64,
    truncate, with_scratch, MIN_CAP,
};

/// Default `Device Vendor`.
pub(crate) const DEFAULT_VENDOR: &str = "Gatekit";
/// Default `Device Product`.
pub(crate) const DEFAULT_PRODUCT: &str = "Gatekit MCP Gateway";

// Length limits from the CEF dictionary (docs/reference/cef.md §1, §4), in bytes.
const MAX_VENDOR: usize = 63;
const MAX_PRODUCT: usize = 63;
const MAX_DEVICE_VERSION: usize = 31;
const MAX_TEXT: usize = 1023; // reason, msg, requestMethod, suser, ...
const MAX_DVCHOST: usize = 100;
const MAX_DEVICE_EXTERNAL_ID: usize = 255;
const MAX_CS: usize = 4000; // cs1..cs6

/// CEF settings, validated by [`CefFormatter::new`].
#[derive(Debug, Clone)]
pub struct CefSettings {
    /// `Device Vendor` header field (at most 63 bytes once escaped).
    pub vendor: String,
    /// `Device Product` header field (at most 63 bytes once escaped). SC4S and Sentinel
    /// route on the vendor/product pair: keep it stable.
    pub product: String,
    /// `deviceExternalId` (gateway instance name); the event's `host` when `None`.
    pub device_external_id: Option<String>,
    /// Cap for the JSON text of the tool parameters in `cs5` (at most 4000).
    pub max_parameters_bytes: usize,
}

impl Default for CefSettings {
    fn default() -> Self {
        Self {
            vendor: DEFAULT_VENDOR.to_owned(),
            product: DEFAULT_PRODUCT.to_owned(),
            device_external_id: None,
            max_parameters_bytes: MAX_CS,
        }
    }
}

/// Renders events as CEF:0 lines (no syslog header, no line terminator).
#[derive(Debug, Clone)]
pub struct CefFormatter {
    /// `CEF:0|vendor|product|`, escaped once at construction.
    prefix: Vec<u8>,
    device_external_id: Option<String>,
    max_parameters_bytes: usize,
}

impl CefFormatter {
    /// Validates `settings` and precomputes the constant header.
    pub fn new(settings: CefSettings) -> Result<Self, FormatError> {
        let mut vendor = Vec::new();
        escape_header(&settings.vendor, &mut vendor);
        let mut product = Vec::new();
        escape_header(&settings.product, &mut product);
        if vendor.is_empty() || vendor.len() > MAX_VENDOR {
            return Err(FormatError::setting("vendor", "must be 1 to 63 bytes"));
        }
        if product.is_empty() || product.len() > MAX_PRODUCT {
            return Err(FormatError::setting("product", "must be 1 to 63 bytes"));
        }
        if !(MIN_CAP..=MAX_CS).contains(&settings.max_parameters_bytes) {
            return Err(FormatError::setting(
                "max_parameters_bytes",
                format!("must be between {MIN_CAP} and {MAX_CS}"),
            ));
        }
        let mut prefix = b"CEF:0|".to_vec();
        prefix.extend_from_slice(&vendor);
        prefix.push(b'|');
        prefix.extend_from_slice(&product);
        prefix.push(b'|');
        Ok(Self {
            prefix,
            device_external_id: settings.device_external_id,
            max_parameters_bytes: settings.max_parameters_bytes,
        })
    }
}

/// Device Event Class ID: stable, never localised; QRadar and SC4S key on it.
pub fn signature_id(event: &AuditEvent) -> &'static str {
    match (
        event.event_type,
        event.security_decision.as_ref().map(|d| d.allowed),
    ) {
        (EventType::McpRequest, Some(true)) => "mcp_request.allowed",
        (EventType::McpRequest, Some(false)) => "mcp_request.denied",
        (EventType::McpResponse, Some(true)) => "mcp_response.allowed",
        (EventType::McpResponse, Some(false)) => "mcp_response.denied",
        (EventType::SecurityDecision, Some(true)) => "security_decision.allowed",
        (EventType::SecurityDecision, Some(false)) => "security_decision.denied",
        (t, _) => t.as_str(),
    }
}

/// CEF `Name`: short fixed text (no event data, which belongs in the extension).
pub fn event_name(event: &AuditEvent) -> &'static str {
    match (
        event.event_type,
        event.security_decision.as_ref().map(|d| d.allowed),
    ) {
        (EventType::McpRequest, Some(false)) => "MCP request denied",
        (EventType::McpRequest, _) => "MCP request",
        (EventType::McpResponse, Some(false)) => "MCP response blocked",
        (EventType::McpResponse, _) => "MCP response",
        (EventType::SecurityDecision, Some(false)) => "Security policy denied",
        (EventType::SecurityDecision, _) => "Security policy decision",
        (EventType::AuditEvent, _) => "Audit event",
        (EventType::ErrorEvent, _) => "Gateway error",
        (EventType::SystemEvent, _) => "Gateway system event",
    }
}

impl Formatter for CefFormatter {
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        out.extend_from_slice(&self.prefix);
        escape_header(&truncate(&event.gateway_version, MAX_DEVICE_VERSION), out);
        out.push(b'|');
        out.extend_from_slice(signature_id(event).as_bytes());
        out.push(b'|');
        out.extend_from_slice(event_name(event).as_bytes());
        out.push(b'|');
        push_u64(out, u64::from(event.severity.cef_code()));
        // `rt` is always the first pair; every later prefix starts with its separating space.
        out.extend_from_slice(b"|rt=");
        event.timestamp.write_epoch_millis(out);

        let mut ext = Ext { out };
        ext.text(b" cat=", event.event_type.as_str(), MAX_TEXT);
        let decision = event.security_decision.as_ref();
        if let Some(d) = decision {
            ext.out.extend_from_slice(if d.allowed {
                b" act=allow"
            } else {
                b" act=deny"
            });
        }
        ext.out.extend_from_slice(if event.is_failure() {
            b" outcome=failure"
        } else {
            b" outcome=success"
        });
        if let Some(d) = decision {
            ext.text(b" reason=", &d.reason, MAX_TEXT);
        }
        ext.out.extend_from_slice(b" app=MCP");
        let mcp = event.mcp_data.as_ref();
        if let Some(m) = mcp {
            ext.text(b" requestMethod=", &m.method, MAX_TEXT);
        }
        if let Some(c) = &event.client_info {
            let (id, ver) = (&c.client_id, &c.client_version);
            if id.len() + 1 + ver.len() <= MAX_TEXT {
                if !id.is_empty() || !ver.is_empty() {
                    ext.out.extend_from_slice(b" requestClientApplication=");
                    escape_extension_value(id, ext.out);
                    ext.out.push(b'/');
                    escape_extension_value(ver, ext.out);
                }
            } else {
                let app = format!("{id}/{ver}");
                ext.text(b" requestClientApplication=", &app, MAX_TEXT);
            }
            if let Some(u) = &c.user {
                ext.text(b" suser=", u, MAX_TEXT);
            }
        }
        if let Some(u) = &event.upstream_server {
            ext.text(b" destinationServiceName=", &u.name, MAX_TEXT);
            if let Some(cmd) = &u.command {
                ext.text(b" dproc=", cmd, MAX_TEXT);
            }
        }
        ext.text(b" dvchost=", &event.host, MAX_DVCHOST);
        let dev_id = self.device_external_id.as_deref().unwrap_or(&event.host);
        ext.text(b" deviceExternalId=", dev_id, MAX_DEVICE_EXTERNAL_ID);
        let error_message = event.error.as_ref().map(|e| e.message.as_str());
        match (&event.message, error_message) {
            (Some(m), _) => ext.text(b" msg=", m, MAX_TEXT),
            (None, Some(em)) => ext.text(b" msg=", em, MAX_TEXT),
            (None, None) => {}
        }
        // event_id cannot go in externalId: Sentinel's ExternalID column is int.
        ext.out.extend_from_slice(b" cs1Label=eventId cs1=");
        event.event_id.write_hyphenated(ext.out);
        if let Some(t) = mcp.and_then(|m| m.tool_name.as_deref()) {
            ext.text(b" cs2Label=mcpTool cs2=", t, MAX_CS);
        }
        if let Some(s) = &event.session_id {
            ext.text(b" cs3Label=mcpSession cs3=", s, MAX_CS);
        }
        if let Some(c) = &event.correlation_id {
            ext.text(b" cs4Label=correlationId cs4=", c, MAX_CS);
        }
        if let Some(p) = mcp.and_then(|m| m.parameters.as_ref()) {
            with_scratch(|buf| -> Result<(), FormatError> {
                crate::jsonw::write_map(p, buf)?;
                // The JSON writer emits UTF-8; the fallback is unreachable.
                let json = std::str::from_utf8(buf).unwrap_or_default();
                let cap = self.max_parameters_bytes;
                ext.text(b" cs5Label=mcpParameters cs5=", json, cap);
                Ok(())
            })?;
        }
        if let Some(d) = decision {
            ext.text(b" cs6Label=securityPlugin cs6=", &d.plugin, MAX_CS);
            if let Some(r) = d.risk_score {
                ext.num(b" cn1Label=riskScore cn1=", i64::from(r));
            }
        }
        if let Some(us) = event.duration_us {
            let us = i64::try_from(us).unwrap_or(i64::MAX);
            ext.num(b" cn2Label=durationUs cn2=", us);
        }
        if let Some(e) = &event.error {
            ext.num(b" cn3Label=errorCode cn3=", e.code);
            if event.message.is_some() {
                ext.text(b" GatekitErrorMessage=", &e.message, MAX_TEXT);
            }
        }
        if let Some(ns) = mcp.and_then(|m| m.namespaced_tool_name.as_deref()) {
            ext.text(b" GatekitToolNs=", ns, MAX_TEXT);
        }
        if let Some(h) = &event.hash_chain {
            ext.text(b" GatekitPrevHash=", &h.prev_hash, MAX_TEXT);
            ext.text(b" GatekitHash=", &h.hash, MAX_TEXT);
        }
        if event.truncated {
            ext.out.extend_from_slice(b" GatekitTruncated=true");
        }
        ext.out.extend_from_slice(b" externalId=");
        push_u64(ext.out, event.sequence);
        Ok(())
    }
}

/// Writes extension pairs. Each `prefix` is a constant ` key=` (or
/// ` csNLabel=label csN=`), so the key bytes are copied without a call per piece.
struct Ext<'a> {
    out: &'a mut Vec<u8>,
}

impl Ext<'_> {
    /// ` key=value` with `value` capped at `max` bytes and escaped; nothing when empty
    /// (an empty value, last or not, is rejected by liblognorm).
    #[inline]
    fn text(&mut self, prefix: &'static [u8], value: &str, max: usize) {
        if value.is_empty() {
            return;
        }
        self.out.extend_from_slice(prefix);
        escape_extension_value(&truncate(value, max), self.out);
    }

    #[inline]
    fn num(&mut self, prefix: &'static [u8], v: i64) {
        self.out.extend_from_slice(prefix);
        push_i64(self.out, v);
    }
}

/// Byte classes for CEF escaping (0 = copy, else handled in the slow path).
const fn special_table(extension: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[0x7f] = true;
    t[0xC2] = true; // possible C1 control; checked precisely in the slow path
    t[0xE2] = true; // possible U+2028/U+2029; likewise
    t[b'\\' as usize] = true;
    if extension {
        t[b'=' as usize] = true;
    } else {
        t[b'|' as usize] = true;
    }
    t
}
static HEADER_SPECIAL: [bool; 256] = special_table(false);
static EXT_SPECIAL: [bool; 256] = special_table(true);

/// Appends `s` escaped for a CEF header field: `\` → `\\`, `|` → `\|`, CR/LF, other
/// control characters and U+2028/U+2029 → space (CEF Implementation Standard: header fields may not contain
/// line breaks).
pub fn escape_header(s: &str, out: &mut Vec<u8>) {
    escape(s, out, &HEADER_SPECIAL, false);
}

/// Appends `s` escaped for a CEF extension value: `\` → `\\`, `=` → `\=`, CR → `\r`,
/// LF → `\n`, other control characters and U+2028/U+2029 → space; `|` is left literal, as the standard says.
pub fn escape_extension_value(s: &str, out: &mut Vec<u8>) {
    escape(s, out, &EXT_SPECIAL, true);
}

fn escape(s: &str, out: &mut Vec<u8>, table: &[bool; 256], extension: bool) {
    let b = s.as_bytes();
    let delim = if extension { b'=' } else { b'|' };
    if !any_byte(b, |c| may_need_cleaning(c) | (c == b'\\') | (c == delim)) {
        out.extend_from_slice(b);
        return;
    }
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !table[c as usize] {
            i += 1;
            continue;
        }
        if (c == 0xC2 && !is_c1_at(b, i)) || (c == 0xE2 && !is_line_sep_at(b, i)) {
            i += 1;
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'|' => out.extend_from_slice(b"\\|"),
            b'=' => out.extend_from_slice(b"\\="),
            b'\r' if extension => out.extend_from_slice(b"\\r"),
            b'\n' if extension => out.extend_from_slice(b"\\n"),
            0xC2 => {
                // C1 control: two bytes become one space.
                out.push(b' ');
                i += 1;
            }
            0xE2 => {
                // Line or paragraph separator: three bytes become one space.
                out.push(b' ');
                i += 2;
            }
            _ => {
                debug_assert!(is_c0_or_del(c));
                out.push(b' ');
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> String {
        let mut v = Vec::new();
        escape_header(s, &mut v);
        String::from_utf8(v).unwrap()
    }

    fn ext(s: &str) -> String {
        let mut v = Vec::new();
        escape_extension_value(s, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn header_escaping_table() {
        let cases = [
            ("plain", "plain"),
            (r"a\b", r"a\\b"),
            ("a|b", r"a\|b"),
            (r"\|", r"\\\|"),
            ("a=b", "a=b"),
            ("line1\nline2", "line1 line2"),
            ("cr\rlf", "cr lf"),
            ("tab\there", "tab here"),
            ("nul\0del\x7f", "nul del "),
            ("c1\u{85}nel", "c1 nel"),
            ("é|ü", "é\\|ü"),
        ];
        for (input, want) in cases {
            assert_eq!(header(input), want, "{input:?}");
        }
    }

    #[test]
    fn extension_escaping_table() {
        let cases = [
            ("plain value", "plain value"),
            (r"C:\tmp", r"C:\\tmp"),
            ("a=b", r"a\=b"),
            ("a|b", "a|b"),
            ("line1\nline2", r"line1\nline2"),
            ("cr\rx", r"cr\rx"),
            ("\r\n", r"\r\n"),
            ("tab\tx", "tab x"),
            (r"\=", r"\\\="),
            ("x act=deny", r"x act\=deny"),
            ("c1\u{9f}x", "c1 x"),
            ("not c1 \u{a0}", "not c1 \u{a0}"),
            ("emoji 🦀", "emoji 🦀"),
        ];
        for (input, want) in cases {
            assert_eq!(ext(input), want, "{input:?}");
        }
    }

    #[test]
    fn settings_are_validated() {
        let long = CefSettings {
            vendor: "v".repeat(64),
            ..CefSettings::default()
        };
        assert!(CefFormatter::new(long).is_err());
        let empty = CefSettings {
            product: String::new(),
            ..CefSettings::default()
        };
        assert!(CefFormatter::new(empty).is_err());
        let cap = CefSettings {
            max_parameters_bytes: 5000,
            ..CefSettings::default()
        };
        assert!(CefFormatter::new(cap).is_err());
        assert!(CefFormatter::new(CefSettings::default()).is_ok());
    }
}
