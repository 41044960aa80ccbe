//! The client side of the gateway: stdin and stdout.
//!
//! When stdin and stdout are pipes or sockets (how MCP clients launch servers), the runtime
//! reads and writes them directly in non-blocking mode: no thread hand-off per message, which
//! on a virtual machine costs tens of microseconds of wake-up latency each way. Anything else
//! (a terminal, a file) is served by two dedicated threads instead, because switching a
//! terminal shared with a shell to non-blocking mode would break the shell
//! (docs/decisions/0002-client-stdio.md).
//!
//! Invariants: nothing but complete protocol lines is ever written to stdout (logs go to
//! stderr); each line is written whole, in the order senders got the writer; a write error is
//! reported once.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::sync::mpsc;

/// Lines queued for the client before senders wait (back-pressure from a slow client).
const OUTBOUND_QUEUE: usize = 1024;
/// Size of one read from stdin.
const READ_CHUNK: usize = 64 * 1024;

type DirectWriter = Arc<tokio::sync::Mutex<Box<dyn AsyncWrite + Unpin + Send>>>;

/// Sends complete lines to the client.
#[derive(Clone)]
pub enum ClientSender {
    /// Queued for the stdout thread.
    Thread(mpsc::Sender<Vec<u8>>),
    /// Written by the sending task itself, one whole line under the lock.
    Direct(DirectWriter),
}

impl std::fmt::Debug for ClientSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClientSender::Thread(_) => "ClientSender::Thread",
            ClientSender::Direct(_) => "ClientSender::Direct",
        })
    }
}

impl ClientSender {
    /// Sends one line (ending in `\n`); false when the client is gone.
    pub async fn send(&self, line: Vec<u8>) -> bool {
        match self {
            ClientSender::Thread(tx) => tx.send(line).await.is_ok(),
            ClientSender::Direct(writer) => {
                let mut w = writer.lock().await;
                w.write_all(&line).await.is_ok() && w.flush().await.is_ok()
            }
        }
    }
}

/// The client's stdin and stdout, attached to the current runtime.
pub struct ClientIo {
    /// Stdin.
    pub input: Box<dyn AsyncBufRead + Unpin + Send>,
    /// Stdout.
    pub output: ClientSender,
    /// The stdout thread, when one is used: join it after the gateway stopped, so everything
    /// queued is written.
    pub writer_thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ClientIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIo")
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

/// Attaches stdin and stdout; must be called inside the tokio runtime.
pub fn attach() -> ClientIo {
    let input: Box<dyn AsyncBufRead + Unpin + Send> = match nonblocking_stdin() {
        Some(reader) => Box::new(BufReader::with_capacity(READ_CHUNK, reader)),
        None => Box::new(spawn_stdin_reader()),
    };
    let (output, writer_thread) = match nonblocking_stdout() {
        Some(writer) => (
            ClientSender::Direct(Arc::new(tokio::sync::Mutex::new(writer))),
            None,
        ),
        None => {
            let (tx, handle) = spawn_stdout_writer();
            (tx, Some(handle))
        }
    };
    ClientIo {
        input,
        output,
        writer_thread,
    }
}

/// A duplicate of `fd` as a `File`, if it is a pipe or a socket.
fn pipe_or_socket(fd: std::os::fd::BorrowedFd<'_>) -> Option<(File, bool)> {
    let file = File::from(fd.try_clone_to_owned().ok()?);
    let kind = file.metadata().ok()?.file_type();
    if kind.is_fifo() {
        Some((file, true))
    } else if kind.is_socket() {
        Some((file, false))
    } else {
        None
    }
}

fn nonblocking_stdin() -> Option<Box<dyn AsyncRead + Unpin + Send>> {
    let (file, fifo) = pipe_or_socket(std::io::stdin().as_fd())?;
    if fifo {
        // Sets O_NONBLOCK on the pipe's read end, which only this process reads.
        let rx = tokio::net::unix::pipe::Receiver::from_file(file).ok()?;
        Some(Box::new(rx))
    } else {
        let socket = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(file));
        socket.set_nonblocking(true).ok()?;
        Some(Box::new(tokio::net::UnixStream::from_std(socket).ok()?))
    }
}

fn nonblocking_stdout() -> Option<Box<dyn AsyncWrite + Unpin + Send>> {
    let (file, fifo) = pipe_or_socket(std::io::stdout().as_fd())?;
    if fifo {
        let tx = tokio::net::unix::pipe::Sender::from_file(file).ok()?;
        Some(Box::new(tx))
    } else {
        let socket = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(file));
        socket.set_nonblocking(true).ok()?;
        Some(Box::new(tokio::net::UnixStream::from_std(socket).ok()?))
    }
}

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
    (ClientSender::Thread(tx), handle)
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
