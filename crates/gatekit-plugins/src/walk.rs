//! Visiting every string inside a JSON value, object keys included, for scanning and
//! in-place redaction.
//!
//! Redaction works on the parsed value, never on serialised text: rewriting serialised JSON
//! (as Python Gatekit's secrets filter did) can break its syntax or hide a match behind an
//! escape sequence.
//!
//! Keys are scanned like values: a client can put a secret in a key as easily as in a value
//! (`{"AKIA...": 1}`). A key that is rewritten is renamed; when the new name is already in the
//! object, ` #2`, ` #3`, ... is appended, so the object stays valid JSON with unique keys and
//! no value is lost.

use serde_json::Value;

/// Calls `f` on every string in `value`, object keys included, depth-first.
pub fn strings<'a>(value: &'a Value, f: &mut impl FnMut(&'a str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, f)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            f(k);
            strings(v, f)
        }),
        _ => {}
    }
}

/// `name`, or `name #2`, `name #3`, ... : the first that `taken` does not hold.
fn unique_key(name: String, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&name) {
        return name;
    }
    (2..)
        .map(|n| format!("{name} #{n}"))
        .find(|k| !taken(k))
        .unwrap_or(name)
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
        Value::Object(map) => {
            let mut changed: usize = map.values_mut().map(|v| rewrite_strings(v, f)).sum();
            let renames: Vec<(String, String)> = map
                .keys()
                .filter_map(|k| f(k).filter(|new| new != k).map(|new| (k.clone(), new)))
                .collect();
            for (old, new) in renames {
                if let Some(v) = map.remove(&old) {
                    let new = unique_key(new, |k| map.contains_key(k));
                    map.insert(new, v);
                    changed += 1;
                }
            }
            changed
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn visits_nested_strings_and_keys() {
        let v = json!({"a": "x", "b": [1, "y", {"c": "z"}], "d": null});
        let mut seen = Vec::new();
        strings(&v, &mut |s| seen.push(s.to_string()));
        seen.sort();
        assert_eq!(seen, ["a", "b", "c", "d", "x", "y", "z"]);
    }

    #[test]
    fn renamed_keys_stay_unique_and_keep_their_values() {
        let mut v = json!({"secret1": 1, "secret2": 2, "[X]": 0, "ok": {"secret3": "secret"}});
        let n = rewrite_strings(&mut v, &mut |s| {
            s.starts_with("secret").then(|| "[X]".into())
        });
        assert_eq!(n, 4);
        assert_eq!(
            v,
            json!({"[X]": 0, "[X] #2": 1, "[X] #3": 2, "ok": {"[X]": "[X]"}})
        );
    }

    #[test]
    fn rewrites_in_place_and_counts_changes() {
        let mut v = json!({"a": "secret", "b": ["fine", "secret"]});
        let n = rewrite_strings(&mut v, &mut |s| (s == "secret").then(|| "[X]".to_string()));
        assert_eq!(n, 2);
        assert_eq!(v, json!({"a": "[X]", "b": ["fine", "[X]"]}));
    }
}
