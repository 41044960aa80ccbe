//! RELP, the Reliable Event Logging Protocol (rsyslog's `imrelp`; spec: librelp's "RELP"
//! document, summarised in docs/reference/relp.md): syslog messages with an application-level
//! acknowledgement. A record counts as delivered only when the receiver answered its
//! transaction with `rsp` code 200, which it sends once rsyslog has taken the message into its
//! queue; plain TCP syslog can only prove that the peer's kernel has the bytes (`acked.rs`).
//!
//! Wire (one frame): `TXNR SP COMMAND SP DATALEN [SP DATA] LF`, TXNR 1-999,999,999 counting up
//! per connection, DATALEN the octets of DATA in decimal. A session opens with `open` (offers
//! `relp_version=0` and `commands=syslog`; the answer must be 200 and list `syslog`), sends one
//! `syslog` frame per record (DATA is the syslog message, without framing) and is closed with
//! `close`. The receiver may announce `serverclose` (TXNR 0) before it goes away.
//!
//! Invariants: a batch is written whole (at most [`WINDOW`] unanswered transactions are ever
//! outstanding), then every answer is read; it is `Delivered` only if every transaction got
//! 200. Anything else (an error code, a malformed or missing answer, a timeout, a closed
//! connection) drops the connection and retries the whole batch on a new session:
//! at-least-once, a resent record keeps its event id. Nothing read from the peer is trusted
//! for sizes beyond [`MAX_RESPONSE`].

use std::time::Duration;

use gatekit_delivery::{BatchOutcome, Record, SendFuture, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// How long connecting and the `open` handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the receiver may take to answer every transaction of a batch.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// Most transactions sent before their answers are read (librelp's default window is 128).
pub const WINDOW: usize = 128;
/// Largest answer accepted from the receiver, in bytes.
const MAX_RESPONSE: usize = 64 * 1024;
/// Highest transaction number; the next one is 1 again (RELP wraps TXNR).
const MAX_TXNR: u32 = 999_999_999;

/// The `open` offer: protocol version 0, this software, the one command used.
const OFFER: &str = concat!(
    "relp_version=0\nrelp_software=gatekit,",
    env!("CARGO_PKG_VERSION"),
    ",https://gatekit.ai\ncommands=syslog"
);

/// Appends one RELP frame.
pub(crate) fn write_frame(out: &mut Vec<u8>, txnr: u32, command: &str, data: &[u8]) {
    out.extend_from_slice(txnr.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(command.as_bytes());
    out.push(b' ');
    out.extend_from_slice(data.len().to_string().as_bytes());
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
}

/// One frame from the receiver.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) txnr: u32,
    pub(crate) command: String,
    pub(crate) data: Vec<u8>,
}

impl Frame {
    /// The response code of an `rsp` frame (`200 OK` → 200).
    pub(crate) fn code(&self) -> Option<u16> {
        let text = std::str::from_utf8(&self.data).ok()?;
        text.get(..3)?.parse().ok()
    }
}

/// Reads one frame; an error for anything that is not a well-formed RELP frame.
pub(crate) async fn read_frame<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> Result<Frame, String> {
    let mut header = Vec::new();
    // TXNR SP COMMAND SP DATALEN: at most 9 + 1 + 32 + 1 + 10 bytes before SP or LF.
    loop {
        let mut byte = [0u8; 1];
        r.read_exact(&mut byte)
            .await
            .map_err(|e| format!("connection lost while reading an answer: {e}"))?;
        match byte[0] {
            b'\n' | b' ' if header.iter().filter(|&&b| b == b' ').count() == 2 => {
                let text = String::from_utf8_lossy(&header).into_owned();
                let mut parts = text.split(' ');
                let (Some(txnr), Some(command), Some(len)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(format!("malformed RELP header {text:?}"));
                };
                let txnr: u32 = txnr
                    .parse()
                    .map_err(|_| format!("bad RELP transaction number {txnr:?}"))?;
                let len: usize = len
                    .parse()
                    .map_err(|_| format!("bad RELP data length {len:?}"))?;
                if len > MAX_RESPONSE {
                    return Err(format!("RELP answer of {len} bytes is too large"));
                }
                let mut data = vec![0u8; len];
                if byte[0] == b' ' {
                    r.read_exact(&mut data)
                        .await
                        .map_err(|e| format!("connection lost inside an answer: {e}"))?;
                    let mut trailer = [0u8; 1];
                    r.read_exact(&mut trailer)
                        .await
                        .map_err(|e| format!("connection lost before a trailer: {e}"))?;
                    if trailer[0] != b'\n' {
                        return Err("RELP frame without its LF trailer".into());
                    }
                } else if len != 0 {
                    return Err("RELP frame ended before its data".into());
                }
                return Ok(Frame {
                    txnr,
                    command: command.to_owned(),
                    data,
                });
            }
            b'\n' => {
                return Err(format!(
                    "malformed RELP header {:?}",
                    String::from_utf8_lossy(&header)
                ))
            }
            b => {
                header.push(b);
                if header.len() > 64 {
                    return Err("RELP header too long".into());
                }
            }
        }
    }
}

/// An open RELP session.
struct Session {
    stream: BufReader<TcpStream>,
    next: u32,
}

impl Session {
    fn take_txnr(&mut self) -> u32 {
        let t = self.next;
        self.next = if t >= MAX_TXNR { 1 } else { t + 1 };
        t
    }

    /// Connects and runs the `open` handshake.
    async fn open(addr: &str) -> Result<Session, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut s = Session {
            stream: BufReader::new(stream),
            next: 1,
        };
        let mut out = Vec::new();
        let txnr = s.take_txnr();
        write_frame(&mut out, txnr, "open", OFFER.as_bytes());
        s.stream
            .get_mut()
            .write_all(&out)
            .await
            .map_err(|e| format!("cannot send RELP open to {addr}: {e}"))?;
        let answer = read_frame(&mut s.stream).await?;
        let text = String::from_utf8_lossy(&answer.data);
        if answer.txnr != txnr || answer.command != "rsp" || answer.code() != Some(200) {
            return Err(format!("{addr} refused the RELP session: {text}"));
        }
        if !text.lines().any(|l| {
            l.strip_prefix("commands=")
                .is_some_and(|c| c.split(',').any(|c| c == "syslog"))
        }) {
            return Err(format!("{addr} does not offer the RELP syslog command"));
        }
        Ok(s)
    }

    /// Sends `batch` and reads every answer; `Ok` when every record got 200.
    async fn send(&mut self, batch: &[Record]) -> Result<(), String> {
        for chunk in batch.chunks(WINDOW) {
            let mut out = Vec::with_capacity(chunk.iter().map(|r| r.payload.len() + 24).sum());
            let mut expected = Vec::with_capacity(chunk.len());
            for r in chunk {
                let t = self.take_txnr();
                write_frame(&mut out, t, "syslog", &r.payload);
                expected.push(t);
            }
            self.stream
                .get_mut()
                .write_all(&out)
                .await
                .map_err(|e| format!("write failed: {e}"))?;
            for want in expected {
                let answer = read_frame(&mut self.stream).await?;
                if answer.command == "serverclose" {
                    return Err("the receiver closed the RELP session".into());
                }
                if answer.command != "rsp" || answer.txnr != want {
                    return Err(format!(
                        "unexpected RELP answer {} {} (waiting for {want})",
                        answer.txnr, answer.command
                    ));
                }
                if answer.code() != Some(200) {
                    return Err(format!(
                        "the receiver did not take record {want}: {}",
                        String::from_utf8_lossy(&answer.data)
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A RELP peer (rsyslog `imrelp`), plain TCP.
pub struct RelpTransport {
    name: String,
    addr: String,
    session: Mutex<Option<Session>>,
}

impl std::fmt::Debug for RelpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelpTransport")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RelpTransport {
    /// A transport to `host:port`; connects on first use.
    pub fn new(host: &str, port: u16) -> Self {
        let addr = format!("{host}:{port}");
        RelpTransport {
            name: format!("relp:{addr}"),
            addr,
            session: Mutex::new(None),
        }
    }
}

impl Transport for RelpTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut session = self.session.lock().await;
            if session.is_none() {
                match tokio::time::timeout(CONNECT_TIMEOUT, Session::open(&self.addr)).await {
                    Ok(Ok(s)) => *session = Some(s),
                    Ok(Err(reason)) => {
                        return BatchOutcome::Retry {
                            reason,
                            retry_after: None,
                        }
                    }
                    Err(_) => {
                        return BatchOutcome::Retry {
                            reason: format!("opening a RELP session with {} timed out", self.addr),
                            retry_after: None,
                        }
                    }
                }
            }
            let Some(s) = session.as_mut() else {
                return BatchOutcome::Retry {
                    reason: "no RELP session".into(),
                    retry_after: None,
                };
            };
            let result = tokio::time::timeout(ANSWER_TIMEOUT, s.send(batch))
                .await
                .unwrap_or_else(|_| Err("no answer within the timeout".into()));
            match result {
                Ok(()) => BatchOutcome::Delivered,
                Err(reason) => {
                    // A fresh session for the resend: the old one's state is unknown.
                    *session = None;
                    BatchOutcome::Retry {
                        reason: format!("RELP to {}: {reason}", self.addr),
                        retry_after: None,
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_written_as_the_spec_says() {
        let mut out = Vec::new();
        write_frame(&mut out, 7, "syslog", b"<134>1 x");
        write_frame(&mut out, 8, "close", b"");
        assert_eq!(out, b"7 syslog 8 <134>1 x\n8 close 0\n");
    }

    #[tokio::test]
    async fn answers_are_parsed_and_bad_ones_refused() {
        let input: &[u8] = b"1 rsp 6 200 OK\n0 serverclose 0\n2 rsp 9 500 error\n";
        let mut r = BufReader::new(input);
        let a = read_frame(&mut r).await.unwrap();
        assert_eq!(
            (a.txnr, a.command.as_str(), a.code()),
            (1, "rsp", Some(200))
        );
        let b = read_frame(&mut r).await.unwrap();
        assert_eq!(
            (b.txnr, b.command.as_str(), b.data.len()),
            (0, "serverclose", 0)
        );
        assert_eq!(read_frame(&mut r).await.unwrap().code(), Some(500));
        for bad in [
            &b"x rsp 6 200 OK\n"[..],
            b"1 rsp 99999999 ",
            b"1 rsp 6 200 OKX",
            b"1 rsp\n",
        ] {
            assert!(
                read_frame(&mut BufReader::new(bad)).await.is_err(),
                "{bad:?}"
            );
        }
    }
}
