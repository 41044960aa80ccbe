//! One SIEM destination as the sink sees it: the formatter and framing that render an event
//! for it, and the producer of its delivery pipeline. For a platform whose `failover`
//! endpoints need different renderings, the formatter renders the minimised canonical JSON
//! and each endpoint's transport renders that for itself (`rerender.rs`, decision 0624).
//!
//! Invariant: rendering never fails silently: a format error is logged and the event counts as
//! settled for this destination (it can never be sent, so nobody must keep it for it).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use gatekit_core::AuditEvent;
use gatekit_delivery::{Pipeline, Producer};
use gatekit_format::{FormatError, Formatter, Framing};

/// One platform's pipeline.
pub(crate) struct Destination {
    pub(crate) platform: &'static str,
    pub(crate) formatter: Box<dyn Formatter>,
    pub(crate) framing: Framing,
    pub(crate) producer: Producer,
    pub(crate) pipeline: Mutex<Option<Pipeline>>,
    /// Size of the last rendered record: the next buffer starts that large, so rendering
    /// rarely grows (and copies) it.
    size_hint: AtomicUsize,
}

impl Destination {
    pub(crate) fn new(
        platform: &'static str,
        formatter: Box<dyn Formatter>,
        framing: Framing,
        pipeline: Pipeline,
    ) -> Self {
        Destination {
            platform,
            formatter,
            framing,
            producer: pipeline.producer(),
            pipeline: Mutex::new(Some(pipeline)),
            size_hint: AtomicUsize::new(512),
        }
    }

    /// `event` rendered and framed for this destination.
    pub(crate) fn render(&self, event: &AuditEvent) -> Result<Vec<u8>, FormatError> {
        let mut payload = Vec::with_capacity(self.size_hint.load(Relaxed) + 64);
        self.framing
            .write_frame(self.formatter.as_ref(), event, &mut payload)?;
        self.size_hint.store(payload.len(), Relaxed);
        Ok(payload)
    }
}
