//! Visiting every string inside a JSON value, for scanning and in-place redaction.
//!
//! Redaction works on the parsed value, never on serialised text: rewriting serialised JSON
//! (as Python Gatekit's secrets filter did) can break its syntax or hide a match behind an
//! escape sequence.

use serde_json::Value;

/// Calls `f` on every string in `value` (object keys are not visited), depth-first.
pub fn strings<'a>(value: &'a Value, f: &mut impl FnMut(&'a str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, f)),
        Value::Object(map) => map.values().for_each(|v| strings(v, f)),
        _ => {}
    }
}

/// Replaces every string `s` in `value` with `f(s)` when `f` returns `Some`; returns how many
/// strings changed.
pub fn rewrite_strings(value: &mut Value, f: &mut impl FnMut(&str) -> Option<String>) -> usize {
    match value {
        Value::String(s) => match f(s) {
            Some(new) if new != *s => {
                *s = new;
                1
            }
            _ => 0,
        },
        Value::Array(items) => items.iter_mut().map(|v| rewrite_strings(v, f)).sum(),
        Value::Object(map) => map.values_mut().map(|v| rewrite_strings(v, f)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn visits_nested_strings_only() {
        let v = json!({"a": "x", "b": [1, "y", {"c": "z"}], "d": null});
        let mut seen = Vec::new();
        strings(&v, &mut |s| seen.push(s.to_string()));
        seen.sort();
        assert_eq!(seen, ["x", "y", "z"]);
    }

    #[test]
    fn rewrites_in_place_and_counts_changes() {
        let mut v = json!({"a": "secret", "b": ["fine", "secret"]});
        let n = rewrite_strings(&mut v, &mut |s| (s == "secret").then(|| "[X]".to_string()));
        assert_eq!(n, 2);
        assert_eq!(v, json!({"a": "[X]", "b": ["fine", "[X]"]}));
    }
}
