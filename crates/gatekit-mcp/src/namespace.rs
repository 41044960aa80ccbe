//! Python Gatekit's namespacing: every tool and prompt is exposed as `<upstream>__<name>`.
//!
//! The prefix is added even with a single upstream, so tool allowlists and client
//! configurations written for Python Gatekit keep matching. Upstream names cannot contain
//! `__` (checked at config load), so splitting at the first `__` is unambiguous even when the
//! tool's own name contains `__`.

/// Separator between upstream and item name.
pub const SEPARATOR: &str = "__";

/// `upstream__name`.
pub fn join(upstream: &str, name: &str) -> String {
    let mut out = String::with_capacity(upstream.len() + SEPARATOR.len() + name.len());
    out.push_str(upstream);
    out.push_str(SEPARATOR);
    out.push_str(name);
    out
}

/// Splits `upstream__name` into its parts; `None` when there is no separator or a part is
/// empty.
pub fn split(namespaced: &str) -> Option<(&str, &str)> {
    let (upstream, name) = namespaced.split_once(SEPARATOR)?;
    if upstream.is_empty() || name.is_empty() {
        return None;
    }
    Some((upstream, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_separator() {
        assert_eq!(split("fs__read_file"), Some(("fs", "read_file")));
        assert_eq!(split("fs__weird__name"), Some(("fs", "weird__name")));
        assert_eq!(split("plain"), None);
        assert_eq!(split("__x"), None);
        assert_eq!(split("fs__"), None);
    }

    #[test]
    fn join_and_split_round_trip() {
        let n = join("github", "create_issue");
        assert_eq!(n, "github__create_issue");
        assert_eq!(split(&n), Some(("github", "create_issue")));
    }
}
