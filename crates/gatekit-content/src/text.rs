//! Escaping for the text formats the content is written in: XML, YAML scalars, CSV and
//! Splunk `.conf` values.
//!
//! Job: every generated file goes through these helpers, so a field description with a
//! quote or an ampersand cannot break a document. Invariant: pure functions, no I/O.

/// Escapes `&`, `<`, `>`, `"` and `'` for XML text and attribute values.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A regular expression in an XML CDATA section (`]]>` split so it cannot end the section).
pub fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

/// A single-quoted YAML scalar (`'` doubled; line breaks become spaces).
pub fn yaml_str(s: &str) -> String {
    format!("'{}'", s.replace(['\r', '\n'], " ").replace('\'', "''"))
}

/// A YAML literal block (`|`) whose lines are indented by `indent` spaces.
pub fn yaml_block(s: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::from("|\n");
    for line in s.trim_end().lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&pad);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A CSV cell (RFC 4180 quoting when needed).
pub fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A Splunk `.conf` value on one line: a multi-line value continues with `\` at line ends.
pub fn conf_value(s: &str) -> String {
    s.trim_end().lines().collect::<Vec<_>>().join(" \\\n")
}

/// Pretty JSON with a final newline.
pub fn json(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(xml("a<b & 'c'"), "a&lt;b &amp; &apos;c&apos;");
        assert_eq!(cdata("x]]>y"), "<![CDATA[x]]]]><![CDATA[>y]]>");
        assert_eq!(yaml_str("it's"), "'it''s'");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(conf_value("a\nb"), "a \\\nb");
    }
}
