//! Configuration errors that point at the offending key.
//!
//! Every error carries the source (file name), the dotted key path when one is known, and the
//! line and column when the YAML parser reported them. The `Display` form is one line per error,
//! in the `file:line:column: path: message` shape that editors and CI logs can jump to.

use std::fmt;

/// `message` with every value serde quotes in it left out: `invalid type: integer \`1234\`,
/// expected a string` becomes `invalid type: integer, expected a string`, and
/// `unknown variant \`x\`` becomes `unknown variant`. A value in the wrong place may be a
/// secret (a token pasted under the wrong key, a numeric PIN where a string is expected), and
/// the error already names the key, line and column. Field and key names are kept: they are
/// the file's structure, not its values.
pub fn without_values(message: &str) -> String {
    // serde's wording: `invalid type: <kind> <value>, expected ...`, `invalid value: <kind>
    // <value>, expected ...`, `unknown variant <value>, expected ...`; values are written in
    // backticks (numbers, chars, variants) or as a Rust string literal ("...").
    let Some(start) = [
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "unknown variant ",
    ]
    .iter()
    .find_map(|p| message.find(p).map(|i| i + p.len())) else {
        return message.to_string();
    };
    let head = &message[..start];
    let rest = &message[start..];
    // The value ends at the `, expected` serde always writes after it.
    let (value_part, tail) = match rest.rfind(", expected") {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let kept = match value_part.find(['`', '"']) {
        Some(i) => value_part[..i].trim_end(),
        None => value_part,
    };
    let head = if kept.is_empty() {
        head.trim_end()
    } else {
        head
    };
    format!("{head}{kept}{tail}")
}

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File name or label of the configuration.
    pub source: String,
    /// Dotted path of the key, e.g. `proxy.upstreams[0].name`; empty for whole-file errors.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, as a lowercase sentence fragment.
    pub message: String,
}

impl ConfigError {
    /// An error about the file as a whole.
    pub fn file(source: &str, message: impl Into<String>) -> Self {
        ConfigError {
            source: source.to_string(),
            path: String::new(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// An error about the key at `path`.
    pub fn at(source: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            source: source.to_string(),
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.path, self.message)
        }
    }
}

/// All problems found in one configuration; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Wraps a single error.
    pub fn single(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }

    /// The individual errors, in file order where known.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_left_out() {
        let cases = [
            (
                "invalid type: integer `123456789`, expected a string",
                "invalid type: integer, expected a string",
            ),
            (
                "invalid type: floating point `3.14159`, expected a string",
                "invalid type: floating point, expected a string",
            ),
            (
                "invalid value: string \"sk-live-1234\", expected a list",
                "invalid value: string, expected a list",
            ),
            (
                "unknown variant `ghp_secret`, expected one of `block`, `redact`",
                "unknown variant, expected one of `block`, `redact`",
            ),
            (
                "invalid type: map, expected a string",
                "invalid type: map, expected a string",
            ),
            (
                "unknown field `actoin`, expected one of `action`",
                "unknown field `actoin`, expected one of `action`",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(without_values(input), want, "{input}");
        }
    }
}
