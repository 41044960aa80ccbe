//! Byte-level helpers shared by the encoders: integer rendering, truncation on UTF-8
//! character boundaries, and the test for characters that must never reach an output raw
//! (C0, DEL, C1 and the Unicode line and paragraph separators).
//!
//! Invariants: truncation never splits a UTF-8 sequence and always ends a shortened
//! value with [`TRUNCATION_MARKER`], so a reader can tell a value was cut; the result
//! is never longer than the requested byte limit.

use std::borrow::Cow;

/// Appended to every value shortened by a size cap.
pub const TRUNCATION_MARKER: &str = "...[truncated]";

/// Smallest size cap accepted by settings: room for the marker and some content.
pub(crate) const MIN_CAP: usize = 32;

/// Shortens `s` to at most `max` bytes, cutting on a character boundary and ending with
/// [`TRUNCATION_MARKER`]. Returns `s` unchanged when it fits.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    if max < TRUNCATION_MARKER.len() {
        return Cow::Borrowed(&s[..floor_char_boundary(s, max)]);
    }
    let keep = floor_char_boundary(s, max - TRUNCATION_MARKER.len());
    let mut out = String::with_capacity(keep + TRUNCATION_MARKER.len());
    out.push_str(&s[..keep]);
    out.push_str(TRUNCATION_MARKER);
    Cow::Owned(out)
}

/// The largest index `<= i` that is a character boundary of `s`.
pub(crate) fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Appends `v` in decimal.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` in decimal with a leading `-` when negative.
pub(crate) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// `true` if any byte satisfies `pred`. Written as a branch-free OR over 16-byte chunks so
/// the compiler vectorises it: the common case (a clean value, copied in one go) is then
/// far cheaper than a byte-by-byte escape loop.
#[inline]
pub(crate) fn any_byte(b: &[u8], pred: impl Fn(u8) -> bool) -> bool {
    let mut chunks = b.chunks_exact(32);
    for ch in &mut chunks {
        let mut hit = 0u8;
        for &c in ch {
            hit |= u8::from(pred(c));
        }
        if hit != 0 {
            return true;
        }
    }
    let mut hit = 0u8;
    for &c in chunks.remainder() {
        hit |= u8::from(pred(c));
    }
    hit != 0
}

/// Reusable per-thread scratch buffer (for rendering tool parameters to JSON before they
/// are capped and escaped) so formatting allocates nothing per event.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf)
        }
        // Re-entered (a formatter inside a formatter): fall back to a fresh buffer.
        Err(_) => f(&mut Vec::new()),
    })
}

/// C0 controls, DEL, and (as the second byte after 0xC2) the C1 controls U+0080..U+009F.
/// These never reach a text format raw: CR/LF are escaped or removed, the rest replaced.
#[inline]
pub(crate) fn is_c0_or_del(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// `true` if `bytes[i]` starts a C1 control character (U+0080..=U+009F, encoded C2 80..9F).
#[inline]
pub(crate) fn is_c1_at(bytes: &[u8], i: usize) -> bool {
    bytes[i] == 0xC2 && matches!(bytes.get(i + 1), Some(0x80..=0x9F))
}

/// `true` if `bytes[i]` starts U+2028 LINE SEPARATOR or U+2029 PARAGRAPH SEPARATOR
/// (E2 80 A8 / E2 80 A9). They are not control characters, but JavaScript, some log viewers
/// and line-oriented receivers end a line on them, so they are treated like CR and LF.
#[inline]
pub(crate) fn is_line_sep_at(bytes: &[u8], i: usize) -> bool {
    bytes[i] == 0xE2
        && bytes.get(i + 1) == Some(&0x80)
        && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9))
}

/// Byte length of the character at `bytes[i]` when it must never be written raw to a text
/// format: 1 for C0 and DEL, 2 for C1 (U+0080..=U+009F, which includes NEL U+0085), 3 for
/// U+2028/U+2029; 0 for every other character. The quick pre-scan for such characters is
/// [`may_need_cleaning`].
#[inline]
pub(crate) fn unsafe_char_width(bytes: &[u8], i: usize) -> usize {
    if is_c0_or_del(bytes[i]) {
        1
    } else if is_c1_at(bytes, i) {
        2
    } else if is_line_sep_at(bytes, i) {
        3
    } else {
        0
    }
}

/// Byte test for the pre-scan: `true` for every first byte [`unsafe_char_width`] can accept
/// (and for some others, which the precise test then lets through).
#[inline]
pub(crate) fn may_need_cleaning(c: u8) -> bool {
    (c < 0x20) | (c == 0x7f) | (c == 0xC2) | (c == 0xE2)
}

/// `true` for the characters [`unsafe_char_width`] reports, as `char`s.
#[inline]
pub(crate) fn is_unsafe_char(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_table() {
        let cases: &[(&str, usize, &str)] = &[
            ("short", 32, "short"),
            (
                "0123456789012345678901234567890123456789",
                32,
                "012345678901234567...[truncated]",
            ),
            // 'é' is 2 bytes: a cut inside it moves back to the boundary.
            (
                "ééééééééééééééééééééééééééééé",
                32,
                "ééééééééé...[truncated]",
            ),
            ("abc", 2, "ab"),
        ];
        for (input, max, want) in cases {
            let got = truncate(input, *max);
            assert_eq!(got, *want, "{input:?} @ {max}");
            assert!(got.len() <= *max);
        }
    }

    #[test]
    fn unsafe_character_widths() {
        for (s, w) in [
            ("\0", 1),
            ("\u{7f}", 1),
            ("\u{85}", 2),
            ("\u{9f}", 2),
            ("\u{a0}", 0),
            ("\u{2028}", 3),
            ("\u{2029}", 3),
            ("\u{2027}", 0),
            ("\u{2022}", 0),
            ("a", 0),
        ] {
            assert_eq!(unsafe_char_width(s.as_bytes(), 0), w, "{s:?}");
            let c = s.chars().next().unwrap();
            assert_eq!(is_unsafe_char(c), w > 0, "{s:?}");
            assert!(w == 0 || may_need_cleaning(s.as_bytes()[0]));
        }
    }

    #[test]
    fn integers() {
        let mut v = Vec::new();
        push_i64(&mut v, -42);
        v.push(b' ');
        push_u64(&mut v, u64::MAX);
        v.push(b' ');
        push_i64(&mut v, i64::MIN);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "-42 18446744073709551615 -9223372036854775808"
        );
    }
}
