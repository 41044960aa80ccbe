//! [`LogSafe`]: a value from outside Gatekit, made safe to put in one of Gatekit's own log
//! lines.
//!
//! Job: tool and method names, request ids, an upstream's stderr and error text are chosen by
//! a client or a server. Written raw into a log line, a CR or LF starts a forged line, ESC
//! sequences rewrite the operator's terminal, and a megabyte of text floods the log. Wrapping
//! such a value in `LogSafe` when logging it prevents all three. Log it in debug position,
//! `tool = ?LogSafe(name)`: the value is then quoted with inner `"` escaped, so a value holding
//! ` admin=true` cannot pass for another field of the line either.
//!
//! Invariants of the rendered text:
//! - no control character (C0, DEL, C1), no U+2028/U+2029 and no bidirectional override or
//!   isolate (U+202A..U+202E, U+2066..U+2069, which reorder what a reader sees): CR, LF and TAB
//!   are written `\r`, `\n`, `\t`, the others `\u{XXXX}`; a backslash is doubled, so an
//!   escape in the output always means an escaped character; in debug position (`{:?}`) the
//!   value is in double quotes and a `"` inside it is written `\"`;
//! - at most [`MAX_LOG_VALUE`] bytes of the value are written (cut on a character boundary),
//!   followed by `...[N bytes]` giving the value's full length when it was longer;
//! - no allocation: the value is escaped while it is formatted.

use std::fmt::{self, Write};

/// Bytes of a value written before it is cut.
pub const MAX_LOG_VALUE: usize = 512;

/// Displays the wrapped value with the escaping and the length bound of the module doc.
#[derive(Clone, Copy)]
pub struct LogSafe<T>(pub T);

impl<T: fmt::Display> fmt::Display for LogSafe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(&self.0, f, false)
    }
}

impl<T: fmt::Display> fmt::Debug for LogSafe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        write_escaped(&self.0, f, true)?;
        f.write_char('"')
    }
}

fn write_escaped(
    value: &impl fmt::Display,
    f: &mut fmt::Formatter<'_>,
    quotes: bool,
) -> fmt::Result {
    let mut w = Escaper {
        out: f,
        written: 0,
        seen: 0,
        quotes,
    };
    write!(w, "{value}")?;
    let (seen, written) = (w.seen, w.written);
    if seen > written {
        write!(f, "...[{seen} bytes]")?;
    }
    Ok(())
}

/// `true` for the characters written as escapes.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Escapes what is written through it and stops writing after [`MAX_LOG_VALUE`] bytes of
/// input, still counting them.
struct Escaper<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    /// Input bytes written (escaped) so far.
    written: usize,
    /// Input bytes seen so far.
    seen: usize,
    /// Escape `"` too (debug position).
    quotes: bool,
}

impl Write for Escaper<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            self.seen += c.len_utf8();
            if self.seen > MAX_LOG_VALUE {
                continue;
            }
            self.written = self.seen;
            if self.quotes && c == '"' {
                self.out.write_str("\\\"")?;
                continue;
            }
            if !needs_escape(c) {
                self.out.write_char(c)?;
                continue;
            }
            match c {
                '\\' => self.out.write_str("\\\\")?,
                '\n' => self.out.write_str("\\n")?,
                '\r' => self.out.write_str("\\r")?,
                '\t' => self.out.write_str("\\t")?,
                _ => write!(self.out, "\\u{{{:04x}}}", u32::from(c))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe(s: &str) -> String {
        LogSafe(s).to_string()
    }

    #[test]
    fn line_breaks_and_terminal_sequences_are_escaped() {
        let cases = [
            ("plain tool_name-1", "plain tool_name-1"),
            (
                "x\n2026-01-01T00:00:00Z ERROR forged",
                "x\\n2026-01-01T00:00:00Z ERROR forged",
            ),
            ("a\rb\tc", "a\\rb\\tc"),
            ("\u{1b}[2J\u{7}", "\\u{001b}[2J\\u{0007}"),
            (
                "nel\u{85}del\u{7f}nul\0",
                "nel\\u{0085}del\\u{007f}nul\\u{0000}",
            ),
            ("ls\u{2028}ps\u{2029}", "ls\\u{2028}ps\\u{2029}"),
            ("rlo\u{202e}iso\u{2066}", "rlo\\u{202e}iso\\u{2066}"),
            ("back\\n slash", "back\\\\n slash"),
            ("é🦀中", "é🦀中"),
        ];
        for (input, want) in cases {
            assert_eq!(safe(input), want, "{input:?}");
        }
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        let long = "é".repeat(400); // 800 bytes
        let got = safe(&long);
        assert_eq!(got, format!("{}...[800 bytes]", "é".repeat(256)));
        assert_eq!(safe(&"a".repeat(MAX_LOG_VALUE)), "a".repeat(MAX_LOG_VALUE));
    }

    fn hostile_char() -> impl proptest::strategy::Strategy<Value = char> {
        use proptest::prelude::*;
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '\n', '\r', '\t', '\0', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}', '\u{2028}',
                '\u{2029}', '\u{202e}', '\u{2066}', '"', '\\', '=', ' ',
            ]),
        ]
    }

    proptest::proptest! {
        /// Whatever the value, the rendered text is one line of printable characters, of
        /// bounded length, and in debug position a single quoted string.
        #[test]
        fn any_value_renders_as_one_bounded_printable_field(
            chars in proptest::collection::vec(hostile_char(), 0..700)
        ) {
            let value: String = chars.into_iter().collect();
            for (text, quoted) in [(LogSafe(&value).to_string(), false), (format!("{:?}", LogSafe(&value)), true)] {
                proptest::prop_assert!(
                    !text.chars().any(|c| c.is_control() || needs_escape(c) && c != '\\'),
                    "{:?}", text
                );
                // 8 bytes per escaped character at most, plus the length note and quotes.
                proptest::prop_assert!(text.len() <= 8 * MAX_LOG_VALUE + 32);
                if quoted {
                    let inner = &text[1..text.len() - 1];
                    let unescaped_quote = inner
                        .char_indices()
                        .any(|(i, c)| c == '"' && inner[..i].chars().rev().take_while(|&b| b == '\\').count() % 2 == 0);
                    proptest::prop_assert!(!unescaped_quote, "{:?}", text);
                }
            }
        }
    }

    #[test]
    fn works_on_any_display_value_and_in_debug_position() {
        let e = std::io::Error::other("bad\nthing");
        assert_eq!(LogSafe(&e).to_string(), "bad\\nthing");
        assert_eq!(
            format!("{:?}", LogSafe("a\" admin=\"true\n")),
            r#""a\" admin=\"true\n""#
        );
    }
}
