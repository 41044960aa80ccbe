//! Plain TCP syslog (RFC 6587): one persistent connection, reconnected on failure, records
//! framed by the formatter's framing (LF or octet counting) before they get here. A batch is
//! delivered once the peer's TCP stack acknowledged it ([`super::acked`]).

use std::time::Duration;

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};
use std::os::fd::AsRawFd;

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
                    Ok(Ok(stream)) if connected_to_itself(&stream) => {
                        // With no receiver listening on a port in the ephemeral range, the
                        // kernel may pick that very port as the source: a TCP simultaneous
                        // open (RFC 9293 section 3.5) connects the socket to itself, and every
                        // byte written is "acknowledged" by ourselves and lost.
                        drop(stream);
                        return BatchOutcome::Retry {
                            reason: format!(
                                "cannot connect to {}: no receiver (the connection looped back to itself)",
                                self.addr
                            ),
                            retry_after: None,
                        };
                    }
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
                // Delivered only once the peer's TCP stack has every byte (`acked.rs`).
                Ok(()) => {
                    match super::acked::wait_acknowledged(stream.as_raw_fd(), &self.addr).await {
                        Ok(()) => BatchOutcome::Delivered,
                        Err(error) => {
                            *conn = None;
                            error.retry()
                        }
                    }
                }
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

/// Whether `stream` is connected to itself (same local and peer address).
fn connected_to_itself(stream: &TcpStream) -> bool {
    matches!((stream.local_addr(), stream.peer_addr()), (Ok(a), Ok(b)) if a == b)
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

    /// A listener whose connections have a 4 KiB receive buffer (inherited from the listener).
    #[allow(unsafe_code, reason = "setsockopt on a socket this test owns")]
    fn small_window_listener() -> std::net::TcpListener {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let size: libc::c_int = 4096;
        // SAFETY: the fd is the live listener's; the option value is a valid c_int.
        let rc = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        listener
    }

    #[tokio::test]
    async fn a_batch_the_peer_does_not_take_is_never_counted_delivered() {
        // Accepts and never reads, with a small receive window: a 1 MiB batch fits in this
        // side's send buffer, so `write` succeeds (and counted as delivered before), but the
        // peer's TCP stack acknowledges only a few KiB of it.
        let listener = small_window_listener();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::thread::spawn(move || listener.accept().map(|(c, _)| c));
        let t = TcpTransport::new("127.0.0.1", port);
        let batch: Vec<Record> = (0..16u128)
            .map(|i| Record::new(RecordId(i), vec![b'x'; 64 * 1024]))
            .collect();
        let outcome = tokio::time::timeout(Duration::from_secs(2), t.send(&batch)).await;
        assert!(
            !matches!(outcome, Ok(BatchOutcome::Delivered)),
            "1 MiB that the peer never acknowledged counted as delivered"
        );
        drop(accepted);
    }

    #[tokio::test]
    async fn a_connection_to_itself_is_recognised() {
        // A socket bound to port P that connects to P while nothing listens there opens a
        // connection to itself (TCP simultaneous open): what a retrying sender meets when
        // the kernel picks the receiver's port as its source port.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        let stream = socket.connect(addr).await.unwrap();
        assert!(connected_to_itself(&stream));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert!(!connected_to_itself(&other));
    }
}
