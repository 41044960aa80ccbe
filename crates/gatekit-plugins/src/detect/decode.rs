//! Decoded views of a string, so that a secret hidden behind an encoding is still found.
//!
//! Job: from one scanned string, produce the text a receiver would see after undoing one
//! common encoding: percent-encoding (`%41KIA...`), backslash escapes as JSON, JavaScript and
//! many languages write them (`\u0041KIA...`, `\x41`, `\/`), string concatenation in code
//! (`"AKIA" + "IOSF..."`), and base64 (standard or URL-safe).
//!
//! Decoded bytes that are not UTF-8 become `?`, one for one: a stray `%FF` or a binary byte
//! next to an encoded secret must not make the whole view unreadable (that would be a bypass),
//! and keeping one byte per byte keeps the offset map exact.
//!
//! Invariants:
//! - a view is only produced when the string contains the encoding's marker (`%`, `\`, a
//!   quote followed by `+`, or a base64 run of [`MIN_BASE64_RUN`] characters), so clean
//!   text costs one scan per encoding;
//! - every byte of a view knows the range of the original string it came from
//!   ([`View::origin`]), so a detection in the view maps back to a span of the original
//!   that covers the whole encoded secret; for base64 that span is the whole base64 run
//!   (a partial run could still be decoded);
//! - one level of decoding only: nested encodings are not unwrapped (the cost would grow
//!   with every level, and the views here cover what tools and code commonly write).

/// Base64 runs shorter than this are not decoded: they would hold at most 15 bytes, shorter
/// than any secret shape, and short runs are everywhere (words, identifiers).
pub const MIN_BASE64_RUN: usize = 24;

/// A decoded view: `text`, and for each of its bytes the original range it came from.
#[derive(Debug)]
pub struct View {
    /// The decoded text.
    pub text: String,
    /// `origin[i]` is the original offset where decoded byte `i` starts; `origin[len]` is
    /// where the last one ends. Non-decreasing.
    origin: Vec<usize>,
    /// For base64 views: (offset in `text`, run start, run end) per decoded piece, in order;
    /// every byte of a piece maps to its whole run.
    pieces: Option<Vec<(usize, usize, usize)>>,
}

impl View {
    /// The original byte range covering decoded range `start..end`.
    pub fn origin(&self, start: usize, end: usize) -> (usize, usize) {
        if let Some(pieces) = &self.pieces {
            let piece = |i: usize| {
                let p = pieces.partition_point(|x| x.0 <= i).saturating_sub(1);
                pieces.get(p).copied().unwrap_or((0, 0, 0))
            };
            let first = piece(start).1;
            let last = piece(end.saturating_sub(1).max(start)).2;
            return (first, last.max(first));
        }
        let at = |i: usize| self.origin.get(i).copied().unwrap_or(0);
        (at(start), at(end))
    }
}

/// Builds a view byte by byte: decoded bytes with the original offset they start at.
struct Builder {
    bytes: Vec<u8>,
    origin: Vec<usize>,
    changed: bool,
}

impl Builder {
    fn new(len: usize) -> Self {
        Builder {
            bytes: Vec::with_capacity(len),
            origin: Vec::with_capacity(len + 1),
            changed: false,
        }
    }

    fn push(&mut self, b: &[u8], at: usize) {
        for &x in b {
            self.bytes.push(x);
            self.origin.push(at);
        }
    }

    /// The view, or `None` when nothing was decoded or the result is not UTF-8.
    fn finish(mut self, end: usize) -> Option<View> {
        if !self.changed {
            return None;
        }
        self.origin.push(end);
        Some(View {
            text: into_text(self.bytes),
            origin: self.origin,
            pieces: None,
        })
    }
}

/// `bytes` as text, every byte of an invalid UTF-8 sequence replaced by `?` (one for one).
fn into_text(mut bytes: Vec<u8>) -> String {
    let mut from = 0;
    while let Err(e) = std::str::from_utf8(&bytes[from..]) {
        let bad = from + e.valid_up_to();
        let len = e.error_len().unwrap_or(bytes.len() - bad);
        bytes[bad..bad + len].fill(b'?');
        from = bad + len;
    }
    String::from_utf8(bytes).unwrap_or_default()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// `%XX` sequences decoded (and `+` kept: it is a space only in form bodies, and a space
/// would never join a secret).
pub fn percent(s: &str) -> Option<View> {
    let b = s.as_bytes();
    let encoded = |w: &[u8]| w[0] == b'%' && hex(w[1]).is_some() && hex(w[2]).is_some();
    if !b.contains(&b'%') || !b.windows(3).any(encoded) {
        return None;
    }
    let mut out = Builder::new(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                out.push(&[h << 4 | l], i);
                out.changed = true;
                i += 3;
                continue;
            }
        }
        out.push(&b[i..=i], i);
        i += 1;
    }
    out.finish(b.len())
}

/// Backslash escapes: `\uXXXX` (with surrogate pairs), `\xXX`, and `\` before any other
/// ASCII punctuation or `n r t` (the escaped character, or a space for `n r t`: they split
/// tokens like the raw characters would).
pub fn escapes(s: &str) -> Option<View> {
    let b = s.as_bytes();
    let escape =
        |w: &[u8]| w[0] == b'\\' && (w[1].is_ascii_punctuation() || b"uxnrt".contains(&w[1]));
    if !b.contains(&b'\\') || !b.windows(2).any(escape) {
        return None;
    }
    let mut out = Builder::new(b.len());
    let hex4 = |i: usize| -> Option<u32> {
        let d = b.get(i..i + 4)?;
        d.iter()
            .try_fold(0u32, |acc, &c| Some(acc << 4 | u32::from(hex(c)?)))
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(&b[i..=i], i);
            i += 1;
            continue;
        }
        let mut buf = [0u8; 4];
        match b.get(i + 1) {
            Some(b'u') => {
                if let Some(hi) = hex4(i + 2) {
                    let (code, len) = match (0xD800..0xDC00).contains(&hi) {
                        true if b.get(i + 6..i + 8) == Some(b"\\u") => match hex4(i + 8) {
                            Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                (0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 12)
                            }
                            _ => (0xFFFD, 6),
                        },
                        _ => (hi, 6),
                    };
                    let c = char::from_u32(code).unwrap_or('\u{FFFD}');
                    out.push(c.encode_utf8(&mut buf).as_bytes(), i);
                    out.changed = true;
                    i += len;
                    continue;
                }
            }
            Some(b'x') => {
                if let (Some(h), Some(l)) = (
                    b.get(i + 2).copied().and_then(hex),
                    b.get(i + 3).copied().and_then(hex),
                ) {
                    let c = char::from(h << 4 | l);
                    out.push(c.encode_utf8(&mut buf).as_bytes(), i);
                    out.changed = true;
                    i += 4;
                    continue;
                }
            }
            Some(b'n' | b'r' | b't') => {
                out.push(b" ", i);
                out.changed = true;
                i += 2;
                continue;
            }
            Some(&c) if c.is_ascii_punctuation() => {
                out.push(&[c], i);
                out.changed = true;
                i += 2;
                continue;
            }
            _ => {}
        }
        out.push(&b[i..=i], i);
        i += 1;
    }
    out.finish(b.len())
}

/// Code that builds a string from pieces: `"AKIA" + "IOSF..."`, `'ab' . 'cd'` (PHP),
/// `"ab" "cd"` (C, Python): a closing quote, optional spaces, an optional `+` or `.`,
/// optional spaces and an opening quote of the same kind are dropped.
pub fn concatenation(s: &str) -> Option<View> {
    let b = s.as_bytes();
    if !(0..b.len()).any(|i| join_at(b, i).is_some()) {
        return None;
    }
    let mut out = Builder::new(b.len());
    let mut i = 0;
    while i < b.len() {
        if let Some(next) = join_at(b, i) {
            out.changed = true;
            i = next;
            continue;
        }
        out.push(&b[i..=i], i);
        i += 1;
    }
    out.finish(b.len())
}

/// When `b[i..]` starts with a join (closing quote, spaces, optional `+` or `.`, spaces, the
/// same quote opening again), the index after it.
fn join_at(b: &[u8], i: usize) -> Option<usize> {
    let q = b[i];
    if q != b'"' && q != b'\'' {
        return None;
    }
    let spaces = |mut j: usize| {
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        j
    };
    let mut j = spaces(i + 1);
    if j < b.len() && (b[j] == b'+' || b[j] == b'.') {
        j = spaces(j + 1);
    }
    (j > i + 1 && b.get(j) == Some(&q)).then_some(j + 1)
}

/// Each byte's base64 value (standard and URL-safe alphabets at once), or [`NOT_BASE64`]:
/// a table, because every byte of every scanned string goes through it.
const BASE64_VALUES: [u8; 256] = {
    let mut t = [NOT_BASE64; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
};
const NOT_BASE64: u8 = 0xFF;

fn base64_value(c: u8) -> Option<u32> {
    match BASE64_VALUES[usize::from(c)] {
        NOT_BASE64 => None,
        v => Some(u32::from(v)),
    }
}

/// Decodes `run` (no padding) into `out`; a trailing single character is ignored.
fn decode_base64(run: &[u8], out: &mut Vec<u8>) {
    out.reserve(run.len() / 4 * 3 + 2);
    let value = |c: u8| u32::from(BASE64_VALUES[usize::from(c)] & 0x3F);
    let mut chunks = run.chunks_exact(4);
    for c in &mut chunks {
        let acc = value(c[0]) << 18 | value(c[1]) << 12 | value(c[2]) << 6 | value(c[3]);
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..4]);
    }
    let rest = chunks.remainder();
    let mut acc = 0u32;
    for (k, &c) in rest.iter().enumerate() {
        acc |= value(c) << (18 - 6 * k);
    }
    let n = match rest.len() {
        3 => 2,
        2 => 1,
        _ => 0,
    };
    out.extend_from_slice(&acc.to_be_bytes()[1..=n]);
}

/// Base64 runs (standard or URL-safe alphabet, [`MIN_BASE64_RUN`] characters or more),
/// decoded, joined by newlines. All four alignments of a run are decoded, because the run may
/// start with characters that are not part of the encoding (`key` in `keyQUtJQ...`); binary
/// content (an image) is decoded too, so a secret next to binary bytes is still seen.
pub fn base64(s: &str) -> Option<View> {
    let b = s.as_bytes();
    let mut text = String::new();
    let mut pieces = Vec::new();
    let mut i = 0;
    let mut buf = Vec::new();
    while i < b.len() {
        if base64_value(b[i]).is_none() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && base64_value(b[i]).is_some() {
            i += 1;
        }
        let mut end = i;
        while end < b.len() && b[end] == b'=' && end - i < 2 {
            end += 1;
        }
        if i - start < MIN_BASE64_RUN {
            continue;
        }
        for skip in 0..4 {
            buf.clear();
            decode_base64(&b[start + skip..i], &mut buf);
            pieces.push((text.len(), start, end));
            // Decoded base64 is mostly binary (images, hashes), and every secret shape is
            // ASCII: non-ASCII bytes become `?` one for one in a single pass (validating it as
            // UTF-8 instead costs a restart at every invalid byte).
            for byte in &mut buf {
                if !byte.is_ascii() {
                    *byte = b'?';
                }
            }
            text.push_str(std::str::from_utf8(&buf).unwrap_or_default());
            text.push('\n');
        }
    }
    if text.is_empty() {
        return None;
    }
    Some(View {
        text,
        origin: Vec::new(),
        pieces: Some(pieces),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(v: &View, needle: &str) -> (usize, usize) {
        let at = v.text.find(needle).unwrap();
        v.origin(at, at + needle.len())
    }

    #[test]
    fn percent_decodes_and_maps_back() {
        let s = "x=%41KIA%2D1";
        let v = percent(s).unwrap();
        assert_eq!(v.text, "x=AKIA-1");
        assert_eq!(span(&v, "AKIA-"), (2, 11));
        // An invalid byte does not hide the rest.
        let v = percent("%FF%41KIA").unwrap();
        assert_eq!(v.text, "?AKIA");
        assert!(percent("no marker").is_none());
        assert!(percent("100% sure").is_none(), "nothing decoded");
    }

    #[test]
    fn escapes_decode_json_and_js_forms() {
        let v = escapes(r#"k=\u0041KIA\x49\/\"\n\ud83e\udd80"#).unwrap();
        assert_eq!(v.text, "k=AKIAI/\" 🦀");
        assert_eq!(span(&v, "AKIAI"), (2, 15));
        assert!(escapes(r"C:\dir").is_none(), "nothing decoded");
    }

    #[test]
    fn concatenation_joins_pieces() {
        let s = r#"key = "AKIAIOSF" + "ODNN7EXAMPLE"; b = 'ab' . 'cd' "x" "y""#;
        let v = concatenation(s).unwrap();
        assert_eq!(v.text, r#"key = "AKIAIOSFODNN7EXAMPLE"; b = 'abcd' "xy""#);
        assert_eq!(span(&v, "AKIAIOSFODNN7EXAMPLE"), (7, 32));
    }

    #[test]
    fn base64_text_is_decoded_and_maps_to_the_whole_run() {
        // "AKIAIOSFODNN7EXAMPLE" in base64, glued to a word on the left.
        let s = "id:keyQUtJQUlPU0ZPRE5ON0VYQU1QTEU= end";
        let v = base64(s).unwrap();
        assert!(v.text.contains("AKIAIOSFODNN7EXAMPLE"), "{:?}", v.text);
        assert_eq!(span(&v, "AKIAIOSFODNN7EXAMPLE"), (3, 34));
        // URL-safe alphabet.
        let v = base64("c2stcHJvai1hYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM").unwrap();
        assert!(
            v.text
                .starts_with("sk-proj-abcdefghijklmnopqrstuvwxyz0123\n"),
            "{:?}",
            v.text
        );
        // Binary bytes around an encoded secret do not hide it ("ABC", FF D8 00, the key,
        // 89 FE).
        let v = base64("QUJD/9gAQUtJQUlPU0ZPRE5ON0VYQU1QTEWJ/g==").unwrap();
        assert!(v.text.contains("AKIAIOSFODNN7EXAMPLE"), "{:?}", v.text);
        // Short runs give nothing.
        assert!(base64("short QUtJQQ==").is_none());
    }
}
