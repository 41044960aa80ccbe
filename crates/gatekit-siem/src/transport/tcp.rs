//! Plain TCP syslog (RFC 6587): one persistent connection, reconnected on failure, records
//! framed by the formatter's framing (LF or octet counting) before they get here.

use std::time::Duration;

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A TCP syslog peer.
#[derive(Debug)]
pub struct TcpTransport {
    name: String,
    addr: String,
    conn: Mutex<Option<TcpStream>>,
}

impl TcpTransport {
    /// A transport to `host:port`; connects on first use.
    pub fn new(host: &str, port: u16) -> Self {
        let addr = format!("{host}:{port}");
        TcpTransport {
            name: format!("tcp:{addr}"),
            addr,
            conn: Mutex::new(None),
        }
    }
}

impl Transport for TcpTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut conn = self.conn.lock().await;
            if conn.is_none() {
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.addr)).await {
                    Ok(Ok(stream)) => {
                        let _ = stream.set_nodelay(true);
                        *conn = Some(stream);
                    }
                    Ok(Err(e)) => {
                        return BatchOutcome::Retry {
                            reason: format!("cannot connect to {}: {e}", self.addr),
                            retry_after: None,
                        }
                    }
                    Err(_) => {
                        return BatchOutcome::Retry {
                            reason: format!("connecting to {} timed out", self.addr),
                            retry_after: None,
                        }
                    }
                }
            }
            let Some(stream) = conn.as_mut() else {
                return BatchOutcome::Retry {
                    reason: "no connection".into(),
                    retry_after: None,
                };
            };
            let mut buf = Vec::with_capacity(batch.iter().map(|r| r.payload.len()).sum());
            for record in batch {
                buf.extend_from_slice(&record.payload);
            }
            match stream.write_all(&buf).await.and(stream.flush().await) {
                Ok(()) => BatchOutcome::Delivered,
                Err(e) => {
                    // The peer may have read part of the batch; resending all of it gives
                    // duplicates, never gaps (at-least-once).
                    *conn = None;
                    BatchOutcome::Retry {
                        reason: format!("write to {} failed: {e}", self.addr),
                        retry_after: None,
                    }
                }
            }
        })
    }
}
