//! Newline-delimited frames with a size bound, for MCP's stdio transport.
//!
//! MCP stdio messages are single lines of JSON. A peer can send a line of any length, so the
//! reader caps each frame at `max_frame` bytes: a longer line is read to its end and discarded
//! (memory stays bounded), and reported as [`Frame::Oversized`] with its first bytes so the
//! caller can still tell which request it belonged to.
//!
//! Invariants: a returned frame never contains `\n`; a trailing `\r` is removed; empty lines
//! are skipped; a final line without a newline at EOF is still returned.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// How many leading bytes of an oversized frame are kept for diagnosis.
pub const OVERSIZED_PREFIX: usize = 4096;

/// One frame read from a peer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its terminator.
    Line(Vec<u8>),
    /// A line longer than the limit; only its first bytes are kept.
    Oversized {
        /// Full length of the discarded line.
        len: usize,
        /// Its first [`OVERSIZED_PREFIX`] bytes.
        prefix: Vec<u8>,
    },
}

/// Reads bounded lines from a buffered reader.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    max_frame: usize,
    line: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> FrameReader<R> {
    /// Wraps `inner`; lines over `max_frame` bytes are discarded.
    pub fn new(inner: R, max_frame: usize) -> Self {
        FrameReader {
            inner,
            max_frame,
            line: Vec::new(),
        }
    }

    /// The next frame, or `None` at end of input.
    pub async fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            let mut total = 0usize;
            let mut oversized = false;
            self.line.clear();
            let complete = loop {
                let available = self.inner.fill_buf().await?;
                if available.is_empty() {
                    break false;
                }
                let (chunk, consumed, found) = match memchr::memchr(b'\n', available) {
                    Some(i) => (&available[..i], i + 1, true),
                    None => (available, available.len(), false),
                };
                total += chunk.len();
                if total > self.max_frame {
                    // Keep only a prefix (to find the id); the rest of the line is skipped as
                    // it streams by, so memory stays bounded.
                    oversized = true;
                    self.line.truncate(OVERSIZED_PREFIX);
                    let keep = OVERSIZED_PREFIX
                        .saturating_sub(self.line.len())
                        .min(chunk.len());
                    self.line.extend_from_slice(&chunk[..keep]);
                } else {
                    self.line.extend_from_slice(chunk);
                }
                self.inner.consume(consumed);
                if found {
                    break true;
                }
            };
            if !complete && total == 0 {
                return Ok(None);
            }
            if oversized {
                return Ok(Some(Frame::Oversized {
                    len: total,
                    prefix: std::mem::take(&mut self.line),
                }));
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                if complete {
                    continue;
                }
                return Ok(None);
            }
            return Ok(Some(Frame::Line(std::mem::take(&mut self.line))));
        }
    }
}

/// Finds the top-level `"id"` of a (possibly truncated) JSON object, so that an oversized
/// response can be matched to its request. Tracks nesting and strings, so an `"id"` key inside
/// `result` is not mistaken for the message id.
pub fn top_level_id(prefix: &[u8]) -> Option<crate::jsonrpc::RequestId> {
    let mut depth = 0usize;
    let mut i = 0usize;
    let mut expect_key = false;
    while i < prefix.len() {
        match prefix[i] {
            b'{' => {
                depth += 1;
                expect_key = depth == 1;
            }
            b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_key = true,
            b'"' => {
                let start = i + 1;
                let end = string_end(prefix, start)?;
                if depth == 1 && expect_key && &prefix[start..end] == b"id" {
                    return read_id_value(&prefix[end + 1..]);
                }
                expect_key = false;
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn read_id_value(rest: &[u8]) -> Option<crate::jsonrpc::RequestId> {
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let end = if rest.first() == Some(&b'"') {
        string_end(rest, 1)? + 1
    } else {
        rest.iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'-'))
            .unwrap_or(rest.len())
    };
    serde_json::from_slice(&rest[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::RequestId;

    async fn frames(input: &[u8], max: usize, buf: usize) -> Vec<Frame> {
        let reader = tokio::io::BufReader::with_capacity(buf, input);
        let mut fr = FrameReader::new(reader, max);
        let mut out = Vec::new();
        while let Some(f) = fr.next_frame().await.unwrap() {
            out.push(f);
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_and_skips_blank_ones() {
        let got = frames(b"a\r\n\n  \nbb\nlast", 100, 3).await;
        assert_eq!(
            got,
            vec![
                Frame::Line(b"a".to_vec()),
                Frame::Line(b"bb".to_vec()),
                Frame::Line(b"last".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn oversized_line_is_discarded_and_reading_continues() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\nok\n");
        let got = frames(&input, 100, 64).await;
        assert_eq!(got.len(), 2);
        match &got[0] {
            Frame::Oversized { len, prefix } => {
                assert_eq!(*len, 10_000);
                assert_eq!(prefix.len(), OVERSIZED_PREFIX);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(got[1], Frame::Line(b"ok".to_vec()));
    }

    #[tokio::test]
    async fn a_line_exactly_at_the_limit_is_kept() {
        let mut input = vec![b'y'; 100];
        input.push(b'\n');
        assert_eq!(
            frames(&input, 100, 7).await,
            vec![Frame::Line(vec![b'y'; 100])]
        );
    }

    #[test]
    fn finds_the_top_level_id_only() {
        let cases: [(&[u8], Option<RequestId>); 5] = [
            (
                br#"{"jsonrpc":"2.0","id":42,"result":{"x":"#,
                Some(RequestId::Number(42)),
            ),
            (
                br#"{"result":{"id":7,"text":"}{"},"id":"abc","#,
                Some(RequestId::String("abc".into())),
            ),
            (br#"{"result":{"id":7,"#, None),
            (
                br#"{"jsonrpc":"2.0","method":"x","params":{"a":"\"id\":3"}"#,
                None,
            ),
            (br#"{"a":["id",1],"id":-5}"#, Some(RequestId::Number(-5))),
        ];
        for (input, want) in cases {
            assert_eq!(
                top_level_id(input),
                want,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn frames_never_contain_newlines_and_lose_no_small_line(
            lines in proptest::collection::vec("[^\n]{1,40}", 0..20),
            buf in 1usize..50,
        ) {
            let input = lines.join("\n");
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let got = rt.block_on(frames(input.as_bytes(), 1000, buf));
            let want: Vec<Frame> = lines
                .iter()
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .filter(|l| !l.bytes().all(|b| b.is_ascii_whitespace()))
                .map(|l| Frame::Line(l.as_bytes().to_vec()))
                .collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
