//! UDP syslog (RFC 5426): one datagram per record. UDP gives no delivery signal, so
//! "delivered" means "sent"; prefer TCP or TLS for an audit trail
//! (docs/reference/platform-facts.md §21).

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};
use tokio::net::UdpSocket;
use tokio::sync::OnceCell;

/// Largest datagram payload over IPv4 (65,535 minus IP and UDP headers).
pub const MAX_DATAGRAM: usize = 65_507;

/// A UDP syslog peer.
#[derive(Debug)]
pub struct UdpTransport {
    name: String,
    addr: String,
    socket: OnceCell<UdpSocket>,
}

impl UdpTransport {
    /// A transport to `host:port`.
    pub fn new(host: &str, port: u16) -> Self {
        let addr = format!("{host}:{port}");
        UdpTransport {
            name: format!("udp:{addr}"),
            addr,
            socket: OnceCell::new(),
        }
    }
}

impl UdpTransport {
    /// The error the kernel recorded on the socket since the last send, if any (`SO_ERROR`).
    /// The socket is connected, so an ICMP port-unreachable answer to an earlier datagram
    /// shows here as `ConnectionRefused` (Linux `udp_err`: a hard error on a connected socket
    /// is stored on it). This is the only failure UDP can ever reveal; its absence proves
    /// nothing (ICMP may be filtered, the host may be down, the datagram may be dropped).
    pub fn pending_error(&self) -> Option<std::io::Error> {
        self.socket.get()?.take_error().ok().flatten()
    }
}

impl Transport for UdpTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            if let Some(big) = batch.iter().find(|r| r.payload.len() > MAX_DATAGRAM) {
                if batch.len() > 1 {
                    return BatchOutcome::TooLarge;
                }
                return BatchOutcome::Reject {
                    reason: format!(
                        "record of {} bytes does not fit in a UDP datagram",
                        big.payload.len()
                    ),
                };
            }
            let socket = match self
                .socket
                .get_or_try_init(|| async {
                    let s = UdpSocket::bind("0.0.0.0:0").await?;
                    s.connect(&self.addr).await?;
                    Ok::<_, std::io::Error>(s)
                })
                .await
            {
                Ok(s) => s,
                Err(e) => {
                    return BatchOutcome::Retry {
                        reason: format!("cannot reach {}: {e}", self.addr),
                        retry_after: None,
                    }
                }
            };
            for record in batch {
                if let Err(e) = socket.send(&record.payload).await {
                    return BatchOutcome::Retry {
                        reason: format!("send to {} failed: {e}", self.addr),
                        retry_after: None,
                    };
                }
            }
            BatchOutcome::Delivered
        })
    }
}
