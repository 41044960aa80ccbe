//! The [`Formatter`] contract: what every encoder promises. The named formats the CLI offers
//! are in `registry.rs` (apart, so the encoders and the list of them do not depend on each
//! other).

use std::fmt;
use std::sync::Arc;

use gatekit_core::AuditEvent;

use crate::error::FormatError;

/// Renders one event into bytes.
///
/// Contract (every implementation in this crate keeps it, and the property tests check it):
/// - `format` *appends* exactly one event to `out` and touches nothing before it;
/// - the bytes never contain a raw CR or LF: the caller adds framing ([`crate::Framing`]);
/// - no I/O, no clock reads, no allocation of shared state: settings were validated
///   when the formatter was built, so `format` fails only on internal errors;
/// - output is deterministic: the same event gives the same bytes.
pub trait Formatter: Send + Sync + fmt::Debug {
    /// Appends the rendered `event` to `out`.
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError>;
}

impl<F: Formatter + ?Sized> Formatter for Box<F> {
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        (**self).format(event, out)
    }
}

impl<F: Formatter + ?Sized> Formatter for Arc<F> {
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        (**self).format(event, out)
    }
}
