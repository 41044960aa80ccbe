//! The errors of the SIEM connectors, typed so that the code above them decides by kind, never
//! by searching error text: whether a failure is an authentication failure (counted and
//! reported by [`crate::auth`]) and what the delivery manager should do with the batch.
//!
//! Invariants:
//! - A TLS failure that is about identity (the peer's certificate, a pin, our client
//!   certificate, a fatal alert from the peer) is [`SiemError::TlsRejected`], whichever
//!   connector met it; plain network trouble is [`SiemError::Connect`] or
//!   [`SiemError::Connection`]. Only the first counts as an authentication failure.
//! - Messages never contain a credential: connectors pass statuses and the server's short
//!   text, never a token or key.

use std::time::Duration;

use gatekit_delivery::BatchOutcome;

/// One failure of a SIEM connector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiemError {
    /// The connector could not be set up: unreadable certificate files, a bad server name, a
    /// malformed credential. Fixing it needs the operator, not a retry.
    #[error("{0}")]
    Setup(String),
    /// The TCP connection could not be made (refused, unreachable, name not resolved).
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The operating system's reason.
        reason: String,
    },
    /// TLS refused the connection over identity: a certificate that does not verify, a pin
    /// that does not match, or the peer refusing our client certificate (a fatal alert, or a
    /// hang-up right after the handshake). An authentication failure.
    #[error("{reason}")]
    TlsRejected {
        /// `host:port`.
        peer: String,
        /// What happened, with the peer and what TLS said (the alert or the verification
        /// error).
        reason: String,
    },
    /// No answer within the deadline.
    #[error("{what} within {:.1} s", after.as_secs_f64())]
    Timeout {
        /// What did not happen, e.g. "no answer from host:port".
        what: String,
        /// How long.
        after: Duration,
    },
    /// An established connection failed while sending or reading.
    #[error("{0}")]
    Connection(String),
    /// A credential was refused by the endpoint or its token service (HTTP 401/403, a token
    /// endpoint's `invalid_client`). An authentication failure.
    #[error("authentication refused: {0}")]
    AuthRefused(String),
    /// The endpoint answered something this connector cannot use.
    #[error("{0}")]
    Protocol(String),
}

impl SiemError {
    /// Whether this failure is about credentials or identity (counted as an authentication
    /// failure and reported as a `system_event`).
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            SiemError::TlsRejected { .. } | SiemError::AuthRefused(_)
        )
    }

    /// The batch outcome for a send that failed with this error before any answer: every
    /// kind is worth another attempt later (a refused certificate may be rotated, a network
    /// may come back); the delivery manager's backoff and breaker decide when.
    pub fn retry(&self) -> BatchOutcome {
        BatchOutcome::Retry {
            reason: self.to_string(),
            retry_after: None,
        }
    }

    /// A connection error from an I/O error, telling TLS identity failures apart from
    /// network ones by the error's type (a `rustls::Error` inside the `io::Error`).
    pub fn from_io(peer: &str, during: &str, e: &std::io::Error) -> SiemError {
        if let Some(tls) = tls_error_in(e) {
            return SiemError::TlsRejected {
                peer: peer.to_string(),
                reason: format!("{during} {peer} failed: {tls}"),
            };
        }
        SiemError::Connection(format!("{during} {peer} failed: {e}"))
    }
}

/// The `rustls::Error` that caused `e`, if any, looking through the whole source chain
/// (hyper wraps I/O errors, which wrap the rustls error).
pub fn tls_error_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Some(tls);
                }
            }
        }
        current = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_failures_are_auth_failures_and_network_ones_are_not() {
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired),
        );
        let e = SiemError::from_io("h:1", "TLS write to", &alert);
        assert!(matches!(e, SiemError::TlsRejected { .. }), "{e:?}");
        assert!(e.is_auth_failure());
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = SiemError::from_io("h:1", "TLS write to", &reset);
        assert!(matches!(e, SiemError::Connection(_)), "{e:?}");
        assert!(!e.is_auth_failure());
        assert!(SiemError::AuthRefused("HTTP 403".into()).is_auth_failure());
        assert!(!SiemError::Connect {
            addr: "h:1".into(),
            reason: "refused".into()
        }
        .is_auth_failure());
    }
}
