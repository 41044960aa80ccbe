//! Configuration errors that point at the offending key.
//!
//! Every error carries the source (file name), the dotted key path when one is known, and the
//! line and column when the YAML parser reported them. The `Display` form is one line per error,
//! in the `file:line:column: path: message` shape that editors and CI logs can jump to.

use std::fmt;

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
