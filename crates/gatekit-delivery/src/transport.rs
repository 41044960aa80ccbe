//! The transport contract: how the delivery core hands one batch to a destination.
//!
//! Job: define the single call a connector implements and the closed set of answers it may
//! give. All retry, split, dead-letter, breaker and failover policy lives above this trait,
//! so every connector gets the same behaviour.
//!
//! Calling contract:
//! - The pipeline calls [`Transport::send`] once per batch, never concurrently on the same
//!   pipeline (one batch in flight per destination), and awaits it.
//! - The batch is non-empty and in enqueue order.
//! - The future may be dropped at shutdown; a transport must tolerate cancellation.
//! - The transport must not retry internally beyond what its protocol requires (token
//!   refresh, for example); it reports [`BatchOutcome::Retry`] and the pipeline decides.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::record::Record;

/// The future returned by [`Transport::send`].
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = BatchOutcome> + Send + 'a>>;

/// The future returned by [`Transport::prepare`].
pub type PrepareFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What happened to one batch. The transport classifies; the pipeline acts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Every record was confirmed by the strongest acknowledgement the transport offers.
    Delivered,
    /// Nothing can be assumed delivered; try again later (connection errors, timeouts,
    /// 408/429/5xx). `retry_after` carries a server's `Retry-After` when it sent one.
    Retry {
        /// Why, for logs and the dead-letter file.
        reason: String,
        /// Server-requested delay before the next attempt.
        retry_after: Option<Duration>,
    },
    /// The batch is too large for the destination (HTTP 413): split it in halves and retry.
    TooLarge,
    /// Permanent failure for every record in the batch (400, 403, ...). Records are
    /// dead-lettered with `reason`; retrying would not help.
    Reject {
        /// Why, recorded in the dead-letter file.
        reason: String,
    },
    /// The first `delivered` records were accepted, the record at index `delivered` was
    /// rejected permanently, and the rest must be sent again (Splunk HEC code 6 with
    /// `invalid-event-number`, docs/reference/splunk-hec.md §4).
    Partial {
        /// Number of leading records accepted.
        delivered: usize,
        /// Why the record at index `delivered` was rejected.
        reason: String,
    },
}

/// One endpoint of a destination (a HEC URL, a syslog peer, a local file).
///
/// Implementations must be cheap to call repeatedly and keep connections themselves.
pub trait Transport: Send + Sync + 'static {
    /// A short name for metrics and logs (for example `hec:splunk.example.com:8088`).
    /// Must not contain secrets.
    fn name(&self) -> &str;

    /// Sends one batch and classifies the result. See the module doc for the contract.
    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a>;

    /// Opens what [`Transport::send`] would otherwise open on the first batch (a TLS
    /// connection, for example), so the first event after start does not wait for it.
    ///
    /// Best effort and silent: a failure leaves nothing behind, and the first `send` meets
    /// the same failure and reports it. The pipeline calls this once, on the primary
    /// endpoint, as it starts; a transport with nothing slow to open keeps the default.
    fn prepare(&self) -> PrepareFuture<'_> {
        Box::pin(std::future::ready(()))
    }
}
