//! The client side of the gateway: stdin and stdout.
//!
//! Stdin and stdout are read and written by two dedicated threads rather than through tokio's
//! blocking pool: each blocking pool call is a thread hand-off per read or write, which adds
//! latency to every message, and putting the descriptors in non-blocking mode would also
//! change them for the parent process that shares them.
//!
//! Invariants: nothing but complete protocol lines is ever written to stdout (logs go to
//! stderr); lines are written in the order they were queued; a write error ends the writer and
//! is reported once.

use std::io::{Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};
use tokio::sync::mpsc;

/// Lines queued for the client before senders wait (back-pressure from a slow client).
const OUTBOUND_QUEUE: usize = 1024;
/// Size of one read from stdin.
const READ_CHUNK: usize = 64 * 1024;

/// Sends complete lines to the client.
pub type ClientSender = mpsc::Sender<Vec<u8>>;

/// Starts the stdout writer thread. The thread ends, after flushing, once every sender is
/// dropped; join the handle to make sure everything was written.
pub fn spawn_stdout_writer() -> (ClientSender, std::thread::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(OUTBOUND_QUEUE);
    let handle = std::thread::Builder::new()
        .name("gatekit-stdout".into())
        .spawn(move || {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
            while let Some(line) = rx.blocking_recv() {
                let mut ok = out.write_all(&line).is_ok();
                while ok {
                    match rx.try_recv() {
                        Ok(more) => ok = out.write_all(&more).is_ok(),
                        Err(_) => break,
                    }
                }
                if !ok || out.flush().is_err() {
                    tracing::warn!("Writing to the client failed; it probably went away.");
                    return;
                }
            }
            let _ = out.flush();
        })
        .unwrap_or_else(|e| panic!("cannot start the stdout thread: {e}"));
    (tx, handle)
}

/// Starts the stdin reader thread and returns an async reader over what it reads.
pub fn spawn_stdin_reader() -> ChunkReader {
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(16);
    let _ = std::thread::Builder::new()
        .name("gatekit-stdin".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            loop {
                let mut buf = vec![0u8; READ_CHUNK];
                match input.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.blocking_send(Ok(buf)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
    ChunkReader::new(rx)
}

/// An [`AsyncBufRead`] over chunks of bytes arriving on a channel.
#[derive(Debug)]
pub struct ChunkReader {
    rx: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    /// Reads the chunks sent on `rx`; the end of the channel is end of input.
    pub fn new(rx: mpsc::Receiver<std::io::Result<Vec<u8>>>) -> Self {
        ChunkReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let available = match self.as_mut().poll_fill_buf(cx) {
            Poll::Ready(Ok(bytes)) => bytes,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncBufRead for ChunkReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.pos >= this.chunk.len() {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.chunk = chunk;
                    this.pos = 0;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(&[])),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(&this.chunk[this.pos..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.chunk.len());
    }
}
