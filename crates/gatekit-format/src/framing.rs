//! Stream framing for syslog over TCP/TLS (RFC 6587 §3.4, RFC 5425 §4.3).
//!
//! Job: turn one formatted event into one frame on a byte stream, with the framing chosen
//! per destination: octet counting (`MSG-LEN SP SYSLOG-MSG`, RFC 6587 §3.4.1, mandatory for
//! RFC 5425 TLS and for syslog-ng's `syslog()` source) or a trailing LF (non-transparent
//! framing, §3.4.2, which SC4S 514/6514, QRadar and `network()` listeners expect).
//!
//! Invariants: MSG-LEN counts the octets of the message only, in decimal without leading
//! zeros; an LF frame is refused ([`FormatError::RawLineBreak`]) if the event contains a raw
//! CR or LF, because the receiver would split it into two records; on error, `out` is left
//! as it was before the call.

use gatekit_core::AuditEvent;

use crate::error::FormatError;
use crate::formatter::Formatter;
use crate::text::push_u64;

/// How frames are delimited on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// No framing (datagrams, HTTP bodies, files written by the caller).
    None,
    /// Message followed by LF (RFC 6587 §3.4.2).
    Lf,
    /// `MSG-LEN SP MSG` (RFC 6587 §3.4.1).
    #[default]
    OctetCounting,
}

impl Framing {
    /// Parses `none`, `lf` or `octet-counting` (also `octet_counting`).
    pub fn parse(s: &str) -> Result<Self, FormatError> {
        match s {
            "none" => Ok(Self::None),
            "lf" => Ok(Self::Lf),
            "octet-counting" | "octet_counting" => Ok(Self::OctetCounting),
            _ => Err(FormatError::setting(
                "framing",
                "expected none, lf or octet-counting",
            )),
        }
    }

    /// Formats `event` with `formatter` and appends it to `out` as one frame.
    pub fn write_frame(
        self,
        formatter: &dyn Formatter,
        event: &AuditEvent,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let start = out.len();
        if self == Self::OctetCounting {
            // Reserve room for a typical `NNNN ` prefix so the message is written in place
            // and moved only when its length has a different number of digits.
            out.resize(start + GUESS, b' ');
            if let Err(e) = formatter.format(event, out) {
                out.truncate(start);
                return Err(e);
            }
            let msg_len = out.len() - start - GUESS;
            let mut digits = [0u8; 21];
            let n = render_len(msg_len, &mut digits);
            let plen = n + 1;
            if plen > GUESS {
                let end = out.len();
                out.resize(end + plen - GUESS, 0);
                out.copy_within(start + GUESS..end, start + plen);
            } else if plen < GUESS {
                let end = out.len();
                out.copy_within(start + GUESS..end, start + plen);
                out.truncate(end - (GUESS - plen));
            }
            out[start..start + n].copy_from_slice(&digits[digits.len() - n..]);
            out[start + n] = b' ';
            return Ok(());
        }
        if let Err(e) = formatter.format(event, out) {
            out.truncate(start);
            return Err(e);
        }
        self.finish(out, start)
    }

    /// Frames the message that occupies `out[start..]`.
    pub fn finish(self, out: &mut Vec<u8>, start: usize) -> Result<(), FormatError> {
        match self {
            Self::None => Ok(()),
            Self::Lf => {
                if memchr::memchr2(b'\n', b'\r', &out[start..]).is_some() {
                    out.truncate(start);
                    return Err(FormatError::RawLineBreak);
                }
                out.push(b'\n');
                Ok(())
            }
            Self::OctetCounting => {
                let len = out.len() - start;
                let mut prefix = Vec::with_capacity(8);
                push_u64(&mut prefix, len as u64);
                prefix.push(b' ');
                out.splice(start..start, prefix);
                Ok(())
            }
        }
    }
}

/// Bytes reserved for the octet-counting prefix (`NNNN `: messages of 1,000-9,999 bytes).
const GUESS: usize = 5;

/// Writes `v` right-aligned into `buf`; returns the number of digits.
fn render_len(mut v: usize, buf: &mut [u8; 21]) -> usize {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.len() - i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_counting_counts_bytes_not_chars() {
        let mut out = b"prev".to_vec();
        out.extend_from_slice("é msg".as_bytes());
        Framing::OctetCounting.finish(&mut out, 4).unwrap();
        assert_eq!(out, "prev6 é msg".as_bytes());
    }

    #[test]
    fn lf_refuses_embedded_newlines() {
        let mut out = b"ok".to_vec();
        out.extend_from_slice(b"bad\nline");
        assert!(matches!(
            Framing::Lf.finish(&mut out, 2),
            Err(FormatError::RawLineBreak)
        ));
        assert_eq!(out, b"ok");
        out.extend_from_slice(b"good");
        Framing::Lf.finish(&mut out, 2).unwrap();
        assert_eq!(out, b"okgood\n");
    }

    #[derive(Debug)]
    struct Fixed(usize);
    impl Formatter for Fixed {
        fn format(&self, _: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
            out.extend(std::iter::repeat_n(b'x', self.0));
            Ok(())
        }
    }

    #[test]
    fn write_frame_prefix_for_every_digit_count() {
        let e = crate::sample_events().remove(0);
        for n in [0usize, 1, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 123_456] {
            let mut out = b"before".to_vec();
            Framing::OctetCounting
                .write_frame(&Fixed(n), &e, &mut out)
                .unwrap();
            let want = format!("before{n} {}", "x".repeat(n));
            assert_eq!(out, want.as_bytes(), "{n}");
        }
    }

    #[test]
    fn parse_names() {
        assert_eq!(Framing::parse("lf").unwrap(), Framing::Lf);
        assert_eq!(
            Framing::parse("octet-counting").unwrap(),
            Framing::OctetCounting
        );
        assert!(Framing::parse("LF ").is_err());
    }
}
