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
            // A syslog receiver never sends data: if the idle connection is readable, the peer
            // closed it (or reset it), and writing into it would "succeed" into the kernel
            // buffer and be lost. Reconnect instead.
            if let Some(stream) = conn.as_ref() {
                if peer_hung_up(stream).await {
                    *conn = None;
                }
            }
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
            let buf = crate::connector::batch::concatenated(batch);
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

/// Whether the peer closed (or reset) an idle connection: it is readable right now.
pub(crate) async fn peer_hung_up(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    tokio::time::timeout(Duration::ZERO, stream.peek(&mut probe))
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatekit_delivery::RecordId;
    use std::io::Read;

    #[tokio::test]
    async fn a_connection_the_peer_closed_is_not_written_into() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Each connection: read one record, then hang up.
            while let Ok((mut conn, _)) = listener.accept() {
                let mut buf = [0u8; 64];
                let n = conn.read(&mut buf).unwrap_or(0);
                if tx
                    .send(String::from_utf8_lossy(&buf[..n]).to_string())
                    .is_err()
                {
                    return;
                }
            }
        });
        let t = TcpTransport::new("127.0.0.1", port);
        let rec = |s: &str| vec![Record::new(RecordId(1), s.as_bytes().to_vec())];
        assert_eq!(t.send(&rec("first\n")).await, BatchOutcome::Delivered);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "first\n");
        // Let the receiver hang up and the runtime see it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(t.send(&rec("second\n")).await, BatchOutcome::Delivered);
        let second = rx.recv_timeout(Duration::from_secs(5));
        assert_eq!(
            second.as_deref(),
            Ok("second\n"),
            "the second record must go over a new connection, not into the closed one"
        );
    }
}
