//! LEEF 1.0 and 2.0 (IBM QRadar Log Event Extended Format) encoder.
//!
//! Job: render an [`AuditEvent`] as `LEEF:1.0|Vendor|Product|Version|EventID|attrs` (TAB
//! between attributes) or `LEEF:2.0|Vendor|Product|Version|EventID|Delim|attrs` with a
//! configurable delimiter written as a character (`^`) or in hex form (`x5E`), per IBM's
//! "LEEF event components".
//!
//! LEEF has no escape mechanism (IBM "LEEF event components", "Best practices"), so values
//! are sanitised by this rule (design note `docs/decisions/0101-leef-sanitisation.md`):
//! - in attribute values, CR, LF, TAB and every other control character (C0, DEL, C1), and
//!   the line and paragraph separators U+2028/U+2029, become a space (so a TAB delimiter in a value becomes a space), and a printable
//!   delimiter character becomes the configured substitute (default `_`);
//! - in header fields, `|` and a printable delimiter become the substitute and control
//!   characters (and U+2028/U+2029) a space;
//! - keys are fixed alphanumeric names, each written at most once;
//! - absent or empty values are omitted.
//!
//! Invariants: no raw CR/LF, no delimiter inside a value, no `|` inside a header field;
//! no clock reads, no I/O; settings are checked once in [`LeefFormatter::new`].

use gatekit_core::AuditEvent;

use crate::cef::signature_id;
use crate::error::FormatError;
use crate::formatter::Formatter;
use crate::text::{
    any_byte, is_unsafe_char, may_need_cleaning, push_i64, push_u64, truncate, unsafe_char_width,
    with_scratch, MIN_CAP,
};

/// Default substitute for a delimiter (or a header `|`) found inside a value.
pub(crate) const DEFAULT_SUBSTITUTE: char = '_';
const MAX_EVENT_ID: usize = 255;
const MAX_VALUE: usize = 4000;

/// Which LEEF version, and for 2.0 the attribute delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeefVersion {
    /// LEEF 1.0: attributes separated by TAB. TAB does not survive rsyslog relays
    /// (rewritten to `#011`), so prefer 2.0 through relays.
    V1,
    /// LEEF 2.0 with the delimiter as written in header field 6: one character (`^`) or a
    /// hex form `x5E` / `0x5E` (1-4 hex digits).
    V2 {
        /// The header-field text, e.g. `"^"` or `"x5E"`.
        delimiter: String,
    },
}

/// How `devTime` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeefTimeFormat {
    /// 13-digit epoch milliseconds; QRadar needs no `devTimeFormat` for it (the default).
    #[default]
    EpochMillis,
    /// `MMM dd yyyy HH:mm:ss.SSS` (UTC) plus `devTimeFormat=MMM dd yyyy HH:mm:ss.SSS`.
    Formatted,
}

/// LEEF settings, validated by [`LeefFormatter::new`].
#[derive(Debug, Clone)]
pub struct LeefSettings {
    /// Version and delimiter.
    pub version: LeefVersion,
    /// Vendor header field.
    pub vendor: String,
    /// Product header field (vendor + product must be unique; QRadar routes on them).
    pub product: String,
    /// `devTime` rendering.
    pub time_format: LeefTimeFormat,
    /// Replaces the delimiter in values and `|` in header fields. Must be printable,
    /// not a control character, not `|`, `=` or the delimiter.
    pub substitute: char,
    /// Cap for the JSON text of the tool parameters (`params`).
    pub max_parameters_bytes: usize,
}

impl Default for LeefSettings {
    fn default() -> Self {
        Self {
            version: LeefVersion::V2 {
                delimiter: "^".to_owned(),
            },
            vendor: crate::cef::DEFAULT_VENDOR.to_owned(),
            product: crate::cef::DEFAULT_PRODUCT.to_owned(),
            time_format: LeefTimeFormat::EpochMillis,
            substitute: DEFAULT_SUBSTITUTE,
            max_parameters_bytes: MAX_VALUE,
        }
    }
}

impl LeefSettings {
    /// LEEF 1.0 (TAB-delimited) with the other settings at their defaults.
    pub fn v1() -> Self {
        Self {
            version: LeefVersion::V1,
            ..Self::default()
        }
    }
}

/// Renders events as LEEF lines (no syslog header, no terminator).
#[derive(Debug, Clone)]
pub struct LeefFormatter {
    /// `LEEF:x|vendor|product|`, sanitised once.
    prefix: Vec<u8>,
    /// `|delim|` for 2.0, `|` for 1.0 (written after EventID).
    after_event_id: Vec<u8>,
    delimiter: char,
    substitute: char,
    time_format: LeefTimeFormat,
    max_parameters_bytes: usize,
}

/// Parses a LEEF 2.0 delimiter field: one character, or `x`/`0x` + 1-4 hex digits.
pub fn parse_delimiter(field: &str) -> Result<char, FormatError> {
    let bad = |why: &str| FormatError::setting("delimiter", why.to_owned());
    let mut chars = field.chars();
    let c = match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        (None, _) => return Err(bad("must not be empty")),
        _ => {
            let hex = field
                .strip_prefix("0x")
                .or_else(|| field.strip_prefix("x"))
                .ok_or_else(|| bad("must be one character or x/0x followed by hex digits"))?;
            if hex.is_empty() || hex.len() > 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("hex form takes 1 to 4 hex digits"));
            }
            let v = u32::from_str_radix(hex, 16).map_err(|_| bad("bad hex digits"))?;
            char::from_u32(v).ok_or_else(|| bad("hex value is not a character"))?
        }
    };
    if c == '|' || c == '=' || c == ' ' || c.is_alphanumeric() {
        return Err(bad("must not be space, '|', '=' or alphanumeric"));
    }
    // TAB is LEEF 1.0's own delimiter; any other control character or line separator would
    // put a raw line break or control byte on the wire (receivers split or rewrite those).
    if c != '\t' && is_unsafe_char(c) {
        return Err(bad(
            "must not be a control character (other than TAB) or a line separator",
        ));
    }
    Ok(c)
}

impl LeefFormatter {
    /// Validates `settings` and precomputes the constant header.
    pub fn new(settings: LeefSettings) -> Result<Self, FormatError> {
        let (version, delimiter, delim_field) = match &settings.version {
            LeefVersion::V1 => ("1.0", '\t', None),
            LeefVersion::V2 { delimiter } => ("2.0", parse_delimiter(delimiter)?, Some(delimiter)),
        };
        let s = settings.substitute;
        if is_unsafe_char(s) || s == '|' || s == '=' || s == delimiter {
            return Err(FormatError::setting(
                "substitute",
                "must be printable and differ from '|', '=' and the delimiter",
            ));
        }
        if !(MIN_CAP..=MAX_VALUE).contains(&settings.max_parameters_bytes) {
            return Err(FormatError::setting(
                "max_parameters_bytes",
                format!("must be between {MIN_CAP} and {MAX_VALUE}"),
            ));
        }
        for (name, v) in [("vendor", &settings.vendor), ("product", &settings.product)] {
            if v.is_empty() || v.len() > 255 {
                return Err(FormatError::setting(name, "must be 1 to 255 bytes"));
            }
        }
        let mut prefix = format!("LEEF:{version}|").into_bytes();
        sanitize_header(&settings.vendor, delimiter, s, &mut prefix);
        prefix.push(b'|');
        sanitize_header(&settings.product, delimiter, s, &mut prefix);
        prefix.push(b'|');
        let mut after_event_id = b"|".to_vec();
        if let Some(field) = delim_field {
            after_event_id.extend_from_slice(field.as_bytes());
            after_event_id.push(b'|');
        }
        Ok(Self {
            prefix,
            after_event_id,
            delimiter,
            substitute: s,
            time_format: settings.time_format,
            max_parameters_bytes: settings.max_parameters_bytes,
        })
    }

    /// The attribute delimiter in effect.
    pub fn delimiter(&self) -> char {
        self.delimiter
    }
}

impl Formatter for LeefFormatter {
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        out.extend_from_slice(&self.prefix);
        sanitize_header(
            &truncate(&event.gateway_version, 255),
            self.delimiter,
            self.substitute,
            out,
        );
        out.push(b'|');
        // EventID is column 1 of QRadar's QID lookup: stable, <= 255 bytes.
        let event_id = truncate(signature_id(event), MAX_EVENT_ID);
        sanitize_header(&event_id, self.delimiter, self.substitute, out);
        out.extend_from_slice(&self.after_event_id);

        let mut a = Attrs {
            out,
            delim: self.delimiter,
            sub: self.substitute,
            first: true,
        };
        a.key("devTime");
        match self.time_format {
            LeefTimeFormat::EpochMillis => event.timestamp.write_epoch_millis(a.out),
            LeefTimeFormat::Formatted => {
                event.timestamp.write_mmm_dd_yyyy_millis(a.out);
                a.text("devTimeFormat", "MMM dd yyyy HH:mm:ss.SSS");
            }
        }
        a.text("cat", event.event_type.as_str());
        a.key("sev");
        push_u64(a.out, u64::from(event.severity.cef_code().clamp(1, 10)));
        a.key("eventId");
        event.event_id.write_hyphenated(a.out);
        a.key("sequence");
        push_u64(a.out, event.sequence);
        a.text("severity", event.severity.as_str());
        a.text("host", &event.host);
        if let Some(c) = &event.client_info {
            if let Some(u) = &c.user {
                a.text("usrName", u);
            }
            a.text("clientId", &c.client_id);
            a.text("clientVersion", &c.client_version);
        }
        if let Some(m) = &event.mcp_data {
            a.text("mcpMethod", &m.method);
            if let Some(t) = &m.tool_name {
                a.text("resource", t);
            }
            if let Some(t) = &m.namespaced_tool_name {
                a.text("toolNs", t);
            }
            if let Some(p) = &m.parameters {
                with_scratch(|buf| -> Result<(), FormatError> {
                    crate::jsonw::write_map(p, buf)?;
                    // serde_json writes UTF-8; the fallback is unreachable.
                    let json = std::str::from_utf8(buf).unwrap_or_default();
                    a.text("params", &truncate(json, self.max_parameters_bytes));
                    Ok(())
                })?;
            }
        }
        if let Some(d) = &event.security_decision {
            a.text("action", if d.allowed { "allow" } else { "deny" });
            a.text("policy", &d.plugin);
            a.text("reason", &d.reason);
            if let Some(r) = d.risk_score {
                a.key("riskScore");
                push_u64(a.out, u64::from(r));
            }
        }
        a.text(
            "outcome",
            if event.is_failure() {
                "failure"
            } else {
                "success"
            },
        );
        if let Some(u) = &event.upstream_server {
            a.text("upstream", &u.name);
            if let Some(c) = &u.command {
                a.text("upstreamCommand", c);
            }
        }
        if let Some(s) = &event.session_id {
            a.text("sessionId", s);
        }
        if let Some(c) = &event.correlation_id {
            a.text("correlationId", c);
        }
        if let Some(us) = event.duration_us {
            a.key("durationUs");
            push_u64(a.out, us);
        }
        if let Some(e) = &event.error {
            a.key("errorCode");
            push_i64(a.out, e.code);
            a.text("errorMessage", &e.message);
        }
        if let Some(m) = &event.message {
            a.text("msg", m);
        }
        if let Some(h) = &event.hash_chain {
            a.text("prevHash", &h.prev_hash);
            a.text("hash", &h.hash);
        }
        if event.truncated {
            a.text("truncated", "true");
        }
        Ok(())
    }
}

struct Attrs<'a> {
    out: &'a mut Vec<u8>,
    delim: char,
    sub: char,
    first: bool,
}

impl Attrs<'_> {
    fn key(&mut self, key: &str) {
        if !self.first {
            if self.delim.is_ascii() {
                self.out.push(self.delim as u8);
            } else {
                push_char(self.out, self.delim);
            }
        }
        self.first = false;
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(b'=');
    }

    fn text(&mut self, key: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        self.key(key);
        sanitize_value(&truncate(value, MAX_VALUE), self.delim, self.sub, self.out);
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Appends a LEEF attribute value: CR, LF, TAB and other control characters → space;
/// a printable `delim` → `sub`. Everything else is copied (LEEF has no escaping).
pub fn sanitize_value(s: &str, delim: char, sub: char, out: &mut Vec<u8>) {
    sanitize(s, delim, sub, out);
}

/// Appends a LEEF header field: `|` and a printable `delim` → `sub`; control characters →
/// space. The delimiter is kept out of the header too, so that the only delimiter before
/// the attributes is LEEF 2.0's own header field 6 (consumers that split the whole line
/// on the delimiter, such as a syslog-ng csv-parser, then find the attributes intact).
pub fn sanitize_header(s: &str, delim: char, sub: char, out: &mut Vec<u8>) {
    if delim.is_control() || delim == '|' {
        sanitize(s, '|', sub, out);
        return;
    }
    if let Some(d) = delim.is_ascii().then_some(delim as u8) {
        let clean = !any_byte(s.as_bytes(), |c| {
            may_need_cleaning(c) | (c == b'|') | (c == d)
        });
        if clean {
            out.extend_from_slice(s.as_bytes());
            return;
        }
    }
    for c in s.chars() {
        if is_unsafe_char(c) {
            out.push(b' ');
        } else if c == '|' || c == delim {
            push_char(out, sub);
        } else {
            push_char(out, c);
        }
    }
}

fn sanitize(s: &str, special: char, sub: char, out: &mut Vec<u8>) {
    let Some(sp) = special.is_ascii().then_some(special as u8) else {
        return sanitize_chars(s, special, sub, out);
    };
    let b = s.as_bytes();
    // Fast path: nothing to replace (the common case) is one scan and one copy.
    if !any_byte(b, |c| may_need_cleaning(c) | (c == sp)) {
        out.extend_from_slice(b);
        return;
    }
    // Byte loop for an ASCII special character: the replaced characters are ASCII, two-byte
    // C1 controls or the three-byte U+2028/U+2029, so runs of other bytes are copied whole.
    let mut sub_buf = [0u8; 4];
    let sub_bytes = sub.encode_utf8(&mut sub_buf).as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        let c = b[i];
        let width = unsafe_char_width(b, i);
        let width = if width > 0 {
            width
        } else if c == sp {
            0
        } else {
            i += 1;
            continue;
        };
        out.extend_from_slice(&b[start..i]);
        if width == 0 {
            // Control characters were tested first, so a control delimiter (TAB) is a space.
            out.extend_from_slice(sub_bytes);
            i += 1;
        } else {
            out.push(b' ');
            i += width;
        }
        start = i;
    }
    out.extend_from_slice(&b[start..]);
}

/// Slow path for a non-ASCII delimiter (hex form above U+007F).
fn sanitize_chars(s: &str, special: char, sub: char, out: &mut Vec<u8>) {
    for c in s.chars() {
        // Control characters first: a TAB delimiter (LEEF 1.0, `x09`) inside a value
        // becomes a space like every other control character.
        if is_unsafe_char(c) {
            out.push(b' ');
        } else if c == special {
            push_char(out, sub);
        } else {
            push_char(out, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str, delim: char) -> String {
        let mut v = Vec::new();
        sanitize_value(s, delim, '_', &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn value_sanitisation_table() {
        let cases = [
            ("plain", '^', "plain"),
            ("a^b", '^', "a_b"),
            ("a\tb", '^', "a b"),
            ("a\tb", '\t', "a b"),
            ("line1\nline2\r", '^', "line1 line2 "),
            ("a|b=c\\d", '^', "a|b=c\\d"),
            ("nul\0\u{85}", '^', "nul  "),
            ("x•y", '•', "x_y"),
            ("é^ü", '^', "é_ü"),
        ];
        for (input, delim, want) in cases {
            assert_eq!(value(input, delim), want, "{input:?} with {delim:?}");
        }
    }

    #[test]
    fn header_sanitisation_table() {
        for (input, delim, want) in [
            ("a|b", '^', "a_b"),
            ("a\nb", '^', "a b"),
            ("a^b\\", '^', "a_b\\"),
            ("a^b\tc", '\t', "a^b c"),
        ] {
            let mut v = Vec::new();
            sanitize_header(input, delim, '_', &mut v);
            assert_eq!(String::from_utf8(v).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn delimiter_forms() {
        assert_eq!(parse_delimiter("^").unwrap(), '^');
        assert_eq!(parse_delimiter("x5E").unwrap(), '^');
        assert_eq!(parse_delimiter("0x5e").unwrap(), '^');
        assert_eq!(parse_delimiter("x09").unwrap(), '\t');
        assert_eq!(parse_delimiter("x2022").unwrap(), '•');
        for bad in [
            "", "ab", "x", "x12345", "xZZ", "|", "=", "a", "x0A", "0x0d", " ", "x00", "x7F", "x85",
            "x2028", "x2029",
        ] {
            assert!(parse_delimiter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn substitute_is_validated() {
        let s = LeefSettings {
            substitute: '^',
            ..LeefSettings::default()
        };
        assert!(LeefFormatter::new(s).is_err());
        let s = LeefSettings {
            substitute: '\n',
            ..LeefSettings::v1()
        };
        assert!(LeefFormatter::new(s).is_err());
    }
}
