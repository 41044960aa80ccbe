//! JSON and Splunk HEC event-envelope encoders.
//!
//! Job: [`JsonFormatter`] writes the canonical event (the requirements' "Core Event
//! Structure" field names plus Gatekit's additions) as one compact JSON object;
//! [`HecFormatter`] wraps it in a Splunk HEC `/services/collector/event` envelope
//! (`time` in epoch seconds with a millisecond fraction, `host`, `source`, `sourcetype`,
//! `index`, indexed `fields`; docs/reference/splunk-hec.md §3).
//!
//! Invariants: output is one line (serde_json escapes every control character inside
//! strings, RFC 8259 §7), so no raw CR/LF; HEC batches are these envelopes concatenated,
//! never a JSON array (splunk-hec.md §4); `fields` is flat with string values only
//! (nested values are HEC error code 15).

use gatekit_core::AuditEvent;

use crate::error::FormatError;
use crate::formatter::Formatter;

/// The canonical JSON form (one object, compact, no terminator).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFormatter;

impl Formatter for JsonFormatter {
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        // Byte-identical to `serde_json::to_writer(out, event)`, faster (see `jsonw`).
        crate::jsonw::write_event(event, out)
    }
}

/// An index-time field HEC can carry in `fields` (flat string values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HecField {
    /// `event_type`
    EventType,
    /// `severity`
    Severity,
    /// `action`: `allow` / `deny` when a security decision is present.
    Action,
    /// `tool_name` (plain).
    ToolName,
    /// `upstream`: upstream server name.
    Upstream,
    /// `session_id`
    SessionId,
    /// `event_id`
    EventId,
}

impl HecField {
    /// Every field, in the order they are written.
    pub const ALL: [HecField; 7] = [
        Self::EventType,
        Self::Severity,
        Self::Action,
        Self::ToolName,
        Self::Upstream,
        Self::SessionId,
        Self::EventId,
    ];

    /// The key written in `fields`.
    pub const fn key(self) -> &'static str {
        match self {
            Self::EventType => "event_type",
            Self::Severity => "severity",
            Self::Action => "action",
            Self::ToolName => "tool_name",
            Self::Upstream => "upstream",
            Self::SessionId => "session_id",
            Self::EventId => "event_id",
        }
    }

    /// Parses a key as written in the configuration.
    pub fn parse(name: &str) -> Result<Self, FormatError> {
        Self::ALL.into_iter().find(|f| f.key() == name).ok_or_else(|| {
            FormatError::setting(
                "indexed_fields",
                format!("unknown field {name:?}; expected one of event_type, severity, action, tool_name, upstream, session_id, event_id"),
            )
        })
    }
}

/// Splunk HEC envelope settings.
#[derive(Debug, Clone)]
pub struct HecSettings {
    /// `host`; the event's `host` when `None`.
    pub host: Option<String>,
    /// `source` (default `gatekit`).
    pub source: String,
    /// `sourcetype` (default `gatekit:audit`).
    pub sourcetype: String,
    /// `index`; omitted when `None` (the token's default index is used).
    pub index: Option<String>,
    /// Index-time fields; `fields` is omitted when empty.
    pub indexed_fields: Vec<HecField>,
}

impl Default for HecSettings {
    fn default() -> Self {
        Self {
            host: None,
            source: "gatekit".to_owned(),
            sourcetype: "gatekit:audit".to_owned(),
            index: None,
            indexed_fields: vec![HecField::EventType, HecField::Action, HecField::ToolName],
        }
    }
}

/// Renders one HEC event envelope (no separator; a batch is envelopes back to back).
#[derive(Debug, Clone)]
pub struct HecFormatter {
    host: Option<Vec<u8>>,
    /// `,"source":..,"sourcetype":..[,"index":..]`, serialised once.
    constant: Vec<u8>,
    fields: Vec<HecField>,
}

impl HecFormatter {
    /// Validates and pre-serialises the constant parts.
    pub fn new(settings: HecSettings) -> Result<Self, FormatError> {
        if settings.source.is_empty() {
            return Err(FormatError::setting("source", "must not be empty"));
        }
        if settings.sourcetype.is_empty() {
            return Err(FormatError::setting("sourcetype", "must not be empty"));
        }
        if settings.index.as_deref() == Some("") {
            return Err(FormatError::setting("index", "must not be empty when set"));
        }
        let mut seen = Vec::new();
        for f in &settings.indexed_fields {
            if seen.contains(f) {
                return Err(FormatError::setting("indexed_fields", "duplicate field"));
            }
            seen.push(*f);
        }
        let host = match &settings.host {
            Some(h) => Some(serde_json::to_vec(h)?),
            None => None,
        };
        let mut constant = b",\"source\":".to_vec();
        serde_json::to_writer(&mut constant, &settings.source)?;
        constant.extend_from_slice(b",\"sourcetype\":");
        serde_json::to_writer(&mut constant, &settings.sourcetype)?;
        if let Some(i) = &settings.index {
            constant.extend_from_slice(b",\"index\":");
            serde_json::to_writer(&mut constant, i)?;
        }
        Ok(Self {
            host,
            constant,
            fields: seen,
        })
    }
}

impl Formatter for HecFormatter {
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        out.extend_from_slice(b"{\"time\":");
        event.timestamp.write_epoch_seconds_millis(out);
        out.extend_from_slice(b",\"host\":");
        match &self.host {
            Some(h) => out.extend_from_slice(h),
            None => serde_json::to_writer(&mut *out, &event.host)?,
        }
        out.extend_from_slice(&self.constant);
        out.extend_from_slice(b",\"event\":");
        crate::jsonw::write_event(event, out)?;
        let mut first = true;
        for f in &self.fields {
            let value: Option<String> = match f {
                HecField::EventType => Some(event.event_type.as_str().to_owned()),
                HecField::Severity => Some(event.severity.as_str().to_owned()),
                HecField::Action => event
                    .security_decision
                    .as_ref()
                    .map(|d| if d.allowed { "allow" } else { "deny" }.to_owned()),
                HecField::ToolName => event.tool_name().map(str::to_owned),
                HecField::Upstream => event.upstream_server.as_ref().map(|u| u.name.clone()),
                HecField::SessionId => event.session_id.clone(),
                HecField::EventId => Some(event.event_id.to_string()),
            };
            let Some(value) = value else { continue };
            out.extend_from_slice(if first { b",\"fields\":{" } else { b"," });
            first = false;
            serde_json::to_writer(&mut *out, f.key())?;
            out.push(b':');
            serde_json::to_writer(&mut *out, &value)?;
        }
        if !first {
            out.push(b'}');
        }
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hec_settings_are_validated() {
        assert!(HecFormatter::new(HecSettings::default()).is_ok());
        let s = HecSettings {
            sourcetype: String::new(),
            ..HecSettings::default()
        };
        assert!(HecFormatter::new(s).is_err());
        let s = HecSettings {
            indexed_fields: vec![HecField::Action, HecField::Action],
            ..HecSettings::default()
        };
        assert!(HecFormatter::new(s).is_err());
        assert!(HecField::parse("nope").is_err());
        assert_eq!(HecField::parse("tool_name").unwrap(), HecField::ToolName);
    }
}
