//! Endpoints of one platform that need different renderings (decision 0624): HEC, then SC4S
//! over TLS, then a local file.
//!
//! Job: such a platform's records are not rendered for an endpoint on the render thread. The
//! render thread stores the event's canonical JSON *after the platform's data minimisation*
//! (`platform/mixed.rs` plans that formatter), and each endpoint's transport is wrapped in
//! [`Rerendered`], which at send time parses every record back into the event and renders it
//! with that endpoint's own formatter, size limit (`max_event_bytes`) and framing
//! ([`Renderings`]). The queue, disk buffer, dead-letter file and `gatekit siem replay` see
//! the canonical record, never an endpoint's rendering.
//!
//! Invariants:
//! - Same bytes as a direct rendering: an endpoint receives exactly what a platform with that
//!   endpoint as its only transport would send (minimisation, then the endpoint's size limit,
//!   then its formatter and framing). The canonical JSON round-trips the event losslessly
//!   (the unit tests compare both paths on every sample event), and the hash chain fields
//!   are part of it, so every endpoint carries the same link.
//! - Nothing is lost silently: a record that cannot be rendered for an endpoint (not
//!   canonical JSON, for example a record written by another configuration, or a formatter
//!   error) is answered as a definitive rejection of that one record (`Partial`, or `Reject`
//!   for a batch of one), so the engine dead-letters it with the reason, holding the canonical
//!   JSON `gatekit siem replay` reads; the records before it are sent, the ones after it
//!   are sent again.
//! - Platforms whose endpoints share one rendering never meet this module (no cost).

use std::sync::Arc;

use gatekit_core::AuditEvent;
use gatekit_delivery::{BatchOutcome, PrepareFuture, Record, SendFuture, Transport};
use gatekit_format::{FormatError, Formatter, Framing};

/// How one endpoint renders an event: its formatter behind its own size limit (the data
/// minimisation already happened before the canonical record was stored), and its framing.
pub struct EndpointRendering {
    /// The endpoint's formatter inside its `max_event_bytes` limit.
    pub formatter: Box<dyn Formatter>,
    /// The endpoint's framing.
    pub framing: Framing,
    /// The endpoint's whole-event size limit, in bytes.
    pub max_event_bytes: usize,
}

impl std::fmt::Debug for EndpointRendering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRendering")
            .field("framing", &self.framing)
            .field("max_event_bytes", &self.max_event_bytes)
            .finish_non_exhaustive()
    }
}

/// Why a canonical record could not be rendered for an endpoint.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The record is not a canonical event (written by another configuration, or damaged).
    #[error("the record is not a canonical event ({0})")]
    NotCanonical(String),
    /// The endpoint's formatter refused the event.
    #[error("the endpoint's formatter refused the event: {0}")]
    Format(#[from] FormatError),
    /// No such endpoint (a bug: transports and renderings are built from one plan).
    #[error("no rendering for endpoint {0}")]
    NoEndpoint(usize),
}

/// Every endpoint's rendering of one platform, primary first, then the `failover` entries in
/// order (the same order as the transports).
#[derive(Debug)]
pub struct Renderings {
    endpoints: Vec<EndpointRendering>,
}

impl Renderings {
    /// The renderings, primary first.
    pub fn new(endpoints: Vec<EndpointRendering>) -> Self {
        Renderings { endpoints }
    }

    /// How many endpoints.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Whether there is none (never for a planned platform).
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Endpoint `i`'s rendering.
    pub fn endpoint(&self, i: usize) -> Option<&EndpointRendering> {
        self.endpoints.get(i)
    }

    /// The canonical record `canonical` rendered and framed for endpoint `i`.
    pub fn render(&self, i: usize, canonical: &[u8]) -> Result<Vec<u8>, RenderError> {
        let endpoint = self.endpoints.get(i).ok_or(RenderError::NoEndpoint(i))?;
        let event: AuditEvent = serde_json::from_slice(canonical).map_err(|e| {
            // serde_json names the position and the kind of mistake; bounded, since an
            // "unknown variant" message quotes the value it met.
            RenderError::NotCanonical(e.to_string().chars().take(200).collect())
        })?;
        // Most renderings are about as long as the canonical JSON; a HEC envelope a little
        // longer.
        let mut out = Vec::with_capacity(canonical.len() + 256);
        endpoint
            .framing
            .write_frame(endpoint.formatter.as_ref(), &event, &mut out)?;
        Ok(out)
    }
}

/// One endpoint's transport, fed canonical records and sending its own rendering of them.
pub(crate) struct Rerendered {
    pub(crate) inner: Arc<dyn Transport>,
    pub(crate) renderings: Arc<Renderings>,
    pub(crate) index: usize,
}

impl Transport for Rerendered {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn prepare(&self) -> PrepareFuture<'_> {
        self.inner.prepare()
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut rendered = Vec::with_capacity(batch.len());
            let mut failure = None;
            for r in batch {
                match self.renderings.render(self.index, &r.payload) {
                    Ok(payload) => rendered.push(Record {
                        id: r.id,
                        enqueued_us: r.enqueued_us,
                        payload,
                    }),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let Some(error) = failure else {
                return self.inner.send(&rendered).await;
            };
            let reason = format!(
                "cannot render for {}: {error}; the dead letter holds the event's canonical JSON, which `gatekit siem replay` reads",
                self.inner.name()
            );
            tracing::warn!(endpoint = %self.inner.name(), %reason, "A SIEM record could not be rendered for its endpoint; it is dead-lettered.");
            let good = rendered.len();
            if good == 0 {
                // Nothing sent: the engine dead-letters the first record and sends the rest
                // again (their own failures, if any, are found the same way).
                return if batch.len() == 1 {
                    BatchOutcome::Reject { reason }
                } else {
                    BatchOutcome::Partial {
                        delivered: 0,
                        reason,
                    }
                };
            }
            // Send what rendered; the record that did not is the first one after it.
            match self.inner.send(&rendered).await {
                BatchOutcome::Delivered => BatchOutcome::Partial {
                    delivered: good,
                    reason,
                },
                // A rejection of the part that was sent is known for its first record only;
                // the rest (including the unrenderable record) is resolved by later sends.
                BatchOutcome::Reject { reason } => BatchOutcome::Partial {
                    delivered: 0,
                    reason,
                },
                // Retry, TooLarge (the engine splits the whole batch) and a partial answer
                // (its index lies inside the part that was sent) mean the same for the batch.
                other => other,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on an unexpected error"
    )]

    use super::*;
    use gatekit_delivery::RecordId;
    use gatekit_format::{CefFormatter, CefSettings, JsonFormatter, SizeLimited};
    use std::sync::Mutex;

    /// Records what it was sent; answers `Delivered`.
    #[derive(Default)]
    struct Sink(Mutex<Vec<Vec<u8>>>);

    impl Transport for Sink {
        fn name(&self) -> &str {
            "test"
        }
        fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
            self.0
                .lock()
                .unwrap()
                .extend(batch.iter().map(|r| r.payload.clone()));
            Box::pin(async { BatchOutcome::Delivered })
        }
    }

    fn cef() -> Box<dyn Formatter> {
        Box::new(CefFormatter::new(CefSettings::default()).unwrap())
    }

    fn canonical(e: &AuditEvent) -> Vec<u8> {
        let mut out = Vec::new();
        JsonFormatter.format(e, &mut out).unwrap();
        out
    }

    #[test]
    fn a_rendering_from_the_canonical_record_equals_the_direct_one() {
        let renderings = Renderings::new(vec![EndpointRendering {
            formatter: Box::new(SizeLimited::new(cef(), 2048).unwrap()),
            framing: Framing::OctetCounting,
            max_event_bytes: 2048,
        }]);
        let direct = SizeLimited::new(cef(), 2048).unwrap();
        for e in gatekit_format::sample_events() {
            let mut want = Vec::new();
            Framing::OctetCounting
                .write_frame(&direct, &e, &mut want)
                .unwrap();
            assert_eq!(renderings.render(0, &canonical(&e)).unwrap(), want);
        }
    }

    #[test]
    fn an_unrenderable_record_is_rejected_alone() {
        let sink = Arc::new(Sink::default());
        let t = Rerendered {
            inner: Arc::clone(&sink) as Arc<dyn Transport>,
            renderings: Arc::new(Renderings::new(vec![EndpointRendering {
                formatter: cef(),
                framing: Framing::Lf,
                max_event_bytes: 8096,
            }])),
            index: 0,
        };
        let events = gatekit_format::sample_events();
        let good = |i: usize| Record::new(RecordId(i as u128), canonical(&events[i]));
        let bad = Record::new(RecordId(99), b"CEF:0|not|canonical".to_vec());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let batch = [good(0), good(1), bad.clone(), good(2)];
        match rt.block_on(t.send(&batch)) {
            BatchOutcome::Partial { delivered, reason } => {
                assert_eq!(delivered, 2);
                assert!(reason.contains("not a canonical event"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            sink.0.lock().unwrap().len(),
            2,
            "only the rendered prefix sent"
        );
        assert!(matches!(
            rt.block_on(t.send(&[bad.clone(), good(0)])),
            BatchOutcome::Partial { delivered: 0, .. }
        ));
        assert!(matches!(
            rt.block_on(t.send(std::slice::from_ref(&bad))),
            BatchOutcome::Reject { .. }
        ));
        assert_eq!(sink.0.lock().unwrap().len(), 2, "nothing sent for them");
    }
}
