//! What "delivered" means for TCP and TLS syslog: the peer's TCP stack has acknowledged every
//! byte of the batch. `write` returning only means the bytes reached this machine's kernel;
//! a receiver that stops reading, or restarts, would otherwise have records counted delivered
//! (and removed from the disk buffer) that it never got.
//!
//! The kernel knows how much of a socket's send queue the peer has not acknowledged yet
//! (Linux `SIOCOUTQ`, `tcp(7)`: unsent plus unacknowledged bytes). After writing a batch the
//! transport waits until that count is zero, or gives up after [`ACK_TIMEOUT`]: then the
//! connection is dropped and the whole batch is sent again on a new one (at-least-once; a
//! resent record keeps its event id, so a SIEM can de-duplicate).
//!
//! What this cannot promise: a TCP acknowledgement means the peer's kernel has the bytes, not
//! that the receiving program parsed or stored them. A receiver that crashes with data in its
//! socket buffer loses it silently; only an application-level acknowledgement (RELP, HEC with
//! indexer acknowledgement) closes that gap (docs/delivery.md).

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::error::SiemError;

/// How long a written batch may stay unacknowledged before the connection is given up.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes written to `fd` that the peer has not acknowledged (unsent included), or `None` when
/// the kernel cannot say (not a TCP socket, not Linux).
#[allow(
    unsafe_code,
    reason = "One ioctl that only writes an int; see the SAFETY note"
)]
fn unacknowledged(fd: RawFd) -> Option<usize> {
    let mut pending: libc::c_int = 0;
    // SAFETY: `fd` is an open socket owned by the caller for the duration of the call, and
    // SIOCOUTQ (= TIOCOUTQ on Linux) writes exactly one `int` through the pointer, which
    // points at a live local.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut pending as *mut libc::c_int) };
    (rc == 0).then(|| usize::try_from(pending).unwrap_or(0))
}

/// Waits until the peer has acknowledged everything written to `fd`.
pub async fn wait_acknowledged(fd: RawFd, peer: &str) -> Result<(), SiemError> {
    let started = Instant::now();
    let mut spins = 0u32;
    loop {
        match unacknowledged(fd) {
            None | Some(0) => return Ok(()),
            Some(pending) if started.elapsed() >= ACK_TIMEOUT => {
                return Err(SiemError::Timeout {
                    what: format!(
                        "{peer} has not acknowledged {pending} bytes of the batch (the receiver is not reading?)"
                    ),
                    after: ACK_TIMEOUT,
                })
            }
            Some(_) => {}
        }
        // A nearby peer acknowledges within microseconds: yield a few times before sleeping,
        // since the timer's resolution (a millisecond) would cost more than the wait.
        if spins < 64 {
            spins += 1;
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[tokio::test]
    async fn bytes_count_once_the_peer_acknowledged_them_and_not_before() {
        // A peer that accepts and never reads: its kernel acknowledges until its receive
        // buffer and window are full, then stops.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (_held, _) = listener.accept().unwrap();
        use tokio::io::AsyncWriteExt;
        stream.write_all(b"small\n").await.unwrap();
        wait_acknowledged(stream.as_raw_fd(), "peer").await.unwrap();
        // Far more than any receive buffer: some of it stays unacknowledged.
        let big = vec![b'x'; 32 * 1024 * 1024];
        let _ = tokio::time::timeout(Duration::from_millis(500), stream.write_all(&big)).await;
        assert!(
            unacknowledged(stream.as_raw_fd()).unwrap_or(0) > 0,
            "a peer that does not read cannot have acknowledged 32 MiB"
        );
    }
}
