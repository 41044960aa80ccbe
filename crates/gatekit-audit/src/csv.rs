//! CSV rows in Python's `csv` module dialects (`quote_style` minimal / all / nonnumeric /
//! none). Each record stays on one line: CR, LF and the other characters some readers break
//! lines on (NEL U+0085, U+2028, U+2029) become spaces inside values, so line-based shippers
//! (Splunk's Universal Forwarder) never split a record.
//!
//! Formula injection: a spreadsheet opening the file runs any cell that starts with `=`, `+`,
//! `-` or `@` (and some also treat a leading tab or CR as the start of one) as a formula, so a
//! client could plant `=HYPERLINK(...)` in a request id or tool name. Such cells are prefixed
//! with a single quote (`'`), the OWASP recommendation, which spreadsheets show as text. A cell
//! that is a plain decimal number (`-3`, `+1.5`) is left alone: it cannot be a formula, and
//! prefixing it would turn numbers into text. The prefix is applied before quoting, so the
//! quote rules of the dialect still hold.

/// A validated dialect.
#[derive(Debug, Clone)]
pub struct Dialect {
    delimiter: char,
    quote: char,
    style: QuoteStyle,
    escape: Option<char>,
    null_value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteStyle {
    Minimal,
    All,
    NonNumeric,
    None,
}

fn one_char(value: &str, what: &str) -> Result<char, String> {
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(format!("{what} must be a single character, got {value:?}")),
    }
}

impl Dialect {
    /// Checks the options of `csv_config`.
    pub fn new(config: &crate::options::CsvConfig) -> Result<Dialect, String> {
        let delimiter = one_char(&config.delimiter, "delimiter")?;
        if ![',', '\t', ';', '|'].contains(&delimiter) {
            return Err(format!(
                "delimiter must be one of , \\t ; | (got {delimiter:?})"
            ));
        }
        let style = match config.quote_style.as_str() {
            "minimal" => QuoteStyle::Minimal,
            "all" => QuoteStyle::All,
            "nonnumeric" => QuoteStyle::NonNumeric,
            "none" => QuoteStyle::None,
            other => {
                return Err(format!(
                    "quote_style must be minimal, all, nonnumeric or none (got {other:?})"
                ))
            }
        };
        let escape = config
            .escape_char
            .as_deref()
            .map(|e| one_char(e, "escape_char"))
            .transpose()?;
        if style == QuoteStyle::None && escape.is_none() {
            return Err("quote_style none needs an escape_char".into());
        }
        Ok(Dialect {
            delimiter,
            quote: one_char(&config.quote_char, "quote_char")?,
            style,
            escape,
            null_value: config.null_value.clone(),
        })
    }

    /// One row, terminated by `\n`.
    pub fn row<S: AsRef<str>>(&self, values: &[Option<S>]) -> String {
        let mut out = String::new();
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            match value {
                None => out.push_str(&self.null_value),
                Some(v) => {
                    let one_line = v
                        .as_ref()
                        .replace(['\r', '\n', '\u{85}', '\u{2028}', '\u{2029}'], " ");
                    self.field(&neutralise_formula(one_line), &mut out)
                }
            }
        }
        out.push('\n');
        out
    }

    fn field(&self, v: &str, out: &mut String) {
        let special = v.contains(self.delimiter)
            || v.contains(self.quote)
            || self.escape.is_some_and(|e| v.contains(e));
        let numeric = !v.is_empty() && v.parse::<f64>().is_ok();
        let quote = match self.style {
            QuoteStyle::All => true,
            QuoteStyle::Minimal => special,
            QuoteStyle::NonNumeric => !numeric,
            QuoteStyle::None => false,
        };
        if quote {
            out.push(self.quote);
            for c in v.chars() {
                if c == self.quote {
                    out.push(self.quote);
                }
                out.push(c);
            }
            out.push(self.quote);
        } else if let Some(esc) = self.escape.filter(|_| special) {
            for c in v.chars() {
                if c == self.delimiter || c == self.quote || c == esc {
                    out.push(esc);
                }
                out.push(c);
            }
        } else {
            out.push_str(v);
        }
    }
}

/// Characters that make a spreadsheet read a cell as a formula when they come first.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `'`-prefixes a value a spreadsheet would evaluate; plain decimal numbers are kept as they
/// are (see the module doc).
fn neutralise_formula(v: String) -> String {
    if v.starts_with(FORMULA_STARTS) && !is_plain_number(&v) {
        let mut out = String::with_capacity(v.len() + 1);
        out.push('\'');
        out.push_str(&v);
        out
    } else {
        v
    }
}

/// `[+-]?digits(.digits)?`: nothing a spreadsheet can evaluate beyond the number itself.
fn is_plain_number(v: &str) -> bool {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && all_digits(frac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::CsvConfig;

    #[test]
    fn minimal_quotes_only_when_needed() {
        let d = Dialect::new(&CsvConfig::default()).unwrap();
        let row = d.row(&[
            Some("a"),
            Some("b,c"),
            Some("say \"hi\""),
            None,
            Some("x\ny"),
        ]);
        assert_eq!(row, "a,\"b,c\",\"say \"\"hi\"\"\",,x y\n");
    }

    #[test]
    fn formula_cells_are_neutralised() {
        let d = Dialect::new(&CsvConfig::default()).unwrap();
        let row = d.row(&[
            Some("=HYPERLINK(\"http://evil\",\"x\")"),
            Some("+1+2"),
            Some("-2+3"),
            Some("@SUM(A1)"),
            Some("\tcmd"),
            Some("plain=ok"),
        ]);
        assert_eq!(
            row,
            "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",'+1+2,'-2+3,'@SUM(A1),'\tcmd,plain=ok\n"
        );
        assert_eq!(d.row(&[Some("a\u{85}b\u{2028}c\u{2029}d")]), "a b c d\n");
        // A CR at the start is already a space (one record per line); numbers stay numbers.
        assert_eq!(d.row(&[Some("\r=1")]), " =1\n");
        assert_eq!(
            d.row(&[Some("-3"), Some("+1.5"), Some("-"), Some("-1e5")]),
            "-3,+1.5,'-,'-1e5\n"
        );
    }

    #[test]
    fn other_styles() {
        let all = Dialect::new(&CsvConfig {
            quote_style: "all".into(),
            ..CsvConfig::default()
        })
        .unwrap();
        assert_eq!(all.row(&[Some("1"), Some("a")]), "\"1\",\"a\"\n");
        let nn = Dialect::new(&CsvConfig {
            quote_style: "nonnumeric".into(),
            delimiter: ";".into(),
            ..CsvConfig::default()
        })
        .unwrap();
        assert_eq!(nn.row(&[Some("1.5"), Some("a")]), "1.5;\"a\"\n");
        let none = Dialect::new(&CsvConfig {
            quote_style: "none".into(),
            escape_char: Some("\\\\".into()),
            ..CsvConfig::default()
        });
        assert!(none.is_err(), "escape_char must be one character");
        let none = Dialect::new(&CsvConfig {
            quote_style: "none".into(),
            escape_char: Some("\\".into()),
            ..CsvConfig::default()
        })
        .unwrap();
        assert_eq!(none.row(&[Some("a,b")]), "a\\,b\n");
        // A trailing escape character must not swallow the next delimiter.
        assert_eq!(none.row(&[Some("a\\"), Some("b")]), "a\\\\,b\n");
        assert!(Dialect::new(&CsvConfig {
            delimiter: "x".into(),
            ..CsvConfig::default()
        })
        .is_err());
    }
}
