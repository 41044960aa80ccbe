//! The named formats `gatekit siem sample --format NAME` offers ([`FormatKind`]), each mapped
//! to a formatter with default settings, and rendering of the sample events.

use std::fmt;
use std::str::FromStr;

use gatekit_core::AuditEvent;

use crate::cef::{CefFormatter, CefSettings};
use crate::error::FormatError;
use crate::formatter::Formatter;
use crate::json::{HecFormatter, HecSettings, JsonFormatter};
use crate::kv::KeyValueFormatter;
use crate::leef::{LeefFormatter, LeefSettings};
use crate::sentinel::SentinelFormatter;
use crate::syslog::{Syslog3164Formatter, Syslog5424Formatter, SyslogSettings};

/// The formats `gatekit siem sample --format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatKind {
    /// `cef`: CEF:0 line.
    Cef,
    /// `leef`: LEEF 2.0 with `^`, what `format: leef` sends (the configuration's name and the
    /// sample's name mean the same format).
    Leef,
    /// `leef2`: LEEF 2.0 with `^` (same as `leef`).
    Leef2,
    /// `leef1`: LEEF 1.0 (TAB), what `format: leef1` sends.
    Leef1,
    /// `json`: canonical JSON object.
    Json,
    /// `hec`: Splunk HEC event envelope.
    Hec,
    /// `sentinel`: Logs Ingestion record.
    Sentinel,
    /// `syslog5424`: RFC 5424 header + CEF body.
    Syslog5424,
    /// `syslog3164`: RFC 3164 header + tag + CEF body.
    Syslog3164,
    /// `syslog`: RFC 5424 header + key=value body (`format: syslog` of Splunk and Sentinel).
    SyslogKv,
    /// `syslog3164kv`: RFC 3164 header + tag + key=value body.
    Syslog3164Kv,
}

impl FormatKind {
    /// Every kind, in the order of the CLI help.
    pub const ALL: [FormatKind; 11] = [
        Self::Cef,
        Self::Leef,
        Self::Leef2,
        Self::Leef1,
        Self::Json,
        Self::Hec,
        Self::Sentinel,
        Self::Syslog5424,
        Self::Syslog3164,
        Self::SyslogKv,
        Self::Syslog3164Kv,
    ];

    /// The CLI name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cef => "cef",
            Self::Leef => "leef",
            Self::Leef2 => "leef2",
            Self::Leef1 => "leef1",
            Self::Json => "json",
            Self::Hec => "hec",
            Self::Sentinel => "sentinel",
            Self::Syslog5424 => "syslog5424",
            Self::Syslog3164 => "syslog3164",
            Self::SyslogKv => "syslog",
            Self::Syslog3164Kv => "syslog3164kv",
        }
    }

    /// A formatter for this kind with default settings.
    pub fn default_formatter(self) -> Result<Box<dyn Formatter>, FormatError> {
        let cef = || CefFormatter::new(CefSettings::default());
        Ok(match self {
            Self::Cef => Box::new(cef()?),
            Self::Leef | Self::Leef2 => Box::new(LeefFormatter::new(LeefSettings::default())?),
            Self::Leef1 => Box::new(LeefFormatter::new(LeefSettings::v1())?),
            Self::Json => Box::new(JsonFormatter),
            Self::Hec => Box::new(HecFormatter::new(HecSettings::default())?),
            Self::Sentinel => Box::new(SentinelFormatter),
            Self::Syslog5424 => Box::new(Syslog5424Formatter::new(
                SyslogSettings::default(),
                Box::new(cef()?),
            )?),
            Self::Syslog3164 => Box::new(Syslog3164Formatter::new(
                SyslogSettings::default(),
                Box::new(cef()?),
            )?),
            Self::SyslogKv => Box::new(Syslog5424Formatter::new(
                SyslogSettings::default(),
                Box::new(KeyValueFormatter),
            )?),
            Self::Syslog3164Kv => Box::new(Syslog3164Formatter::new(
                SyslogSettings::default(),
                Box::new(KeyValueFormatter),
            )?),
        })
    }
}

impl fmt::Display for FormatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FormatKind {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| FormatError::UnknownFormat(s.to_owned()))
    }
}

/// Renders `events` with `formatter`, one event per line (LF after each).
pub fn render_lines(
    formatter: &dyn Formatter,
    events: &[AuditEvent],
) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(events.len() * 768);
    for e in events {
        crate::Framing::Lf.write_frame(formatter, e, &mut out)?;
    }
    Ok(out)
}

/// What `gatekit siem sample --format KIND` prints: [`crate::sample_events`] rendered with
/// the kind's default settings, one event per line.
pub fn render_samples(kind: FormatKind) -> Result<Vec<u8>, FormatError> {
    render_lines(kind.default_formatter()?.as_ref(), &crate::sample_events())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_their_names() {
        for k in FormatKind::ALL {
            assert_eq!(k.as_str().parse::<FormatKind>().unwrap(), k);
        }
        assert!("CEF".parse::<FormatKind>().is_err());
        assert!("SYSLOG".parse::<FormatKind>().is_err());
    }

    #[test]
    fn every_kind_renders_every_sample_on_its_own_line() {
        let n = crate::sample_events().len();
        for k in FormatKind::ALL {
            let out = render_samples(k).unwrap();
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), n, "{k}");
            assert!(!out.contains(&b'\r'), "{k}");
        }
    }
}
