//! Errors of the format engine.
//!
//! Job: one error type, [`FormatError`], for settings rejected at construction and for
//! the (rare) failures while rendering. Invariant: messages are lower-case fragments
//! that name the setting and say why, and never contain event data (which may be
//! sensitive).

/// A formatter could not be built or could not render an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A setting is invalid; raised once, when the formatter is built.
    #[error("invalid setting `{setting}`: {reason}")]
    InvalidSetting {
        /// Setting name, as in the configuration.
        setting: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// An unknown format name.
    #[error("unknown format {0:?} (expected one of cef, leef, leef2, json, hec, sentinel, syslog5424, syslog3164)")]
    UnknownFormat(String),
    /// JSON serialisation failed.
    #[error("failed to serialise JSON")]
    Json(#[from] serde_json::Error),
    /// An event does not fit the destination's size limit even with every cap applied.
    #[error("event of {size} bytes does not fit the limit of {limit} bytes")]
    TooLarge {
        /// Size of the smallest rendering.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A formatter produced a raw CR or LF inside an event: a bug, reported rather than
    /// sent, because it would split the record on an LF-framed transport.
    #[error("formatter produced a raw line break inside an event")]
    RawLineBreak,
}

impl FormatError {
    pub(crate) fn setting(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidSetting {
            setting,
            reason: reason.into(),
        }
    }
}
