//! A nesting-depth check run on the configuration text before the YAML parser sees it.
//!
//! Job: refuse a file nested deeper than any Gatekit configuration needs, with an error that
//! names the line, before parsing. The YAML parser's cost grows faster than linearly with
//! nesting (a 100,000-deep `[[[...]]]` took tens of seconds of CPU in `gatekit check`), and
//! a configuration can come from a place an attacker can write to.
//!
//! What is measured, in one pass over the text:
//! - flow nesting: `[` and `{` minus `]` and `}`, outside quoted scalars and comments, carried
//!   across lines (a flow collection may span lines);
//! - block nesting: the column where a line's content starts, counting `- `, `? ` and `: `
//!   indicators before it as indentation (`- - - x` nests three sequences on one line).
//!
//! Invariants: linear in the text's length; never rejects a file whose real nesting is within
//! the limits (both measures are upper bounds of the real depth: a level needs at least one
//! bracket or one column); may over-count brackets inside multi-line quoted or block scalars,
//! which only matters for text with dozens of unclosed brackets.

/// Deepest flow nesting accepted (`[`/`{` levels). Gatekit's own sections need fewer than ten.
pub const MAX_FLOW_DEPTH: usize = 64;

/// Widest indentation accepted, in columns (block nesting).
pub const MAX_INDENT: usize = 256;

/// Where and why the text is nested too deeply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Sentence fragment for the error.
    pub message: String,
}

/// Checks `text` against [`MAX_FLOW_DEPTH`] and [`MAX_INDENT`].
pub fn check(text: &str) -> Result<(), TooDeep> {
    let mut flow = 0usize;
    for (n, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        // Block indentation, with sequence/complex-key/value indicators counted as indent.
        let mut indent = 0;
        loop {
            while indent < b.len() && b[indent] == b' ' {
                indent += 1;
            }
            match (b.get(indent), b.get(indent + 1)) {
                (Some(b'-' | b'?'), Some(b' ')) => indent += 2,
                _ => break,
            }
        }
        if flow == 0 && indent > MAX_INDENT {
            return Err(TooDeep {
                line: n + 1,
                column: MAX_INDENT + 1,
                message: format!(
                    "nested more than {MAX_INDENT} columns deep; Gatekit's configuration never needs this"
                ),
            });
        }
        let mut quote: Option<u8> = None;
        let mut prev = b' ';
        for (i, &c) in b.iter().enumerate() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    b'#' if prev == b' ' || prev == b'\t' => break,
                    b'"' | b'\'' if matches!(prev, b' ' | b'[' | b'{' | b',' | b':') => {
                        quote = Some(c)
                    }
                    b'[' | b'{' => {
                        flow += 1;
                        if flow > MAX_FLOW_DEPTH {
                            return Err(TooDeep {
                                line: n + 1,
                                column: i + 1,
                                message: format!(
                                    "collections nested more than {MAX_FLOW_DEPTH} levels deep; \
                                     Gatekit's configuration never needs this"
                                ),
                            });
                        }
                    }
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_files_pass() {
        let text = "proxy:\n  upstreams:\n    - name: a\n      command: [\"x\", '[[[', \"]]\"]  # [[[\n      env: {A: \"{{{\"}\nplugins: {security: {_global: [{handler: h, config: {a: [1, [2, [3]]]}}]}}\n";
        assert_eq!(check(text), Ok(()));
        let nested = format!(
            "a: {}1{}",
            "[".repeat(MAX_FLOW_DEPTH),
            "]".repeat(MAX_FLOW_DEPTH)
        );
        assert_eq!(check(&nested), Ok(()));
    }

    #[test]
    fn deep_flow_nesting_is_refused_with_its_position() {
        let text = format!(
            "proxy:\n  x: {}{}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let e = check(&text).unwrap_err();
        assert_eq!((e.line, e.column), (2, 6 + MAX_FLOW_DEPTH));
        let text = format!("proxy: {}1{}", "{a: ".repeat(1000), "}".repeat(1000));
        assert_eq!(check(&text).unwrap_err().line, 1);
    }

    #[test]
    fn deep_block_nesting_is_refused() {
        let text = format!("proxy:\n{}x\n", "- ".repeat(200));
        let e = check(&text).unwrap_err();
        assert_eq!(e.line, 2);
        let text = format!("proxy:\n{}x: 1\n", " ".repeat(MAX_INDENT + 1));
        assert!(check(&text).is_err());
    }
}
