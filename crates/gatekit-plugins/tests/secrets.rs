//! The secrets filter as a client or upstream would try to get past it: secrets as object keys,
//! glued to identifiers, followed by extra characters, encoded; each known shape in random
//! surroundings (property test); and the false-positive rate on ordinary tool traffic.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use gatekit_config::yaml;
use gatekit_plugins::builtin::content_filter::{secrets, ContentFilter};
use gatekit_plugins::pipeline::{Action, Plugin};
use proptest::prelude::*;
use serde_json::{json, Value};

/// One sample of every shape the filter knows, as the providers issue them (made-up values).
const SHAPES: &[(&str, &str)] = &[
    ("aws_access_keys", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_access_keys", "ASIAY34FZKBOKMUTVV7A"),
    ("github_tokens", "ghp_0123456789abcdefghijABCDEFGHIJ012345"),
    (
        "github_tokens",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
    ),
    ("google_api_keys", "AIzaSyA-1234567890abcdefghijklmnopqrstu"),
    (
        "jwt_tokens",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("openai_api_keys", "sk-proj-abcdefghijklmnopqrstuvwxyz0123"),
    (
        "openai_api_keys",
        "sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3kLm6n",
    ),
    ("slack_tokens", "xoxb-1234567890-abcdefghij"),
    ("ssh_private_keys", "-----BEGIN OPENSSH PRIVATE KEY-----"),
];

fn filter(action: &str) -> ContentFilter {
    let options: yaml::Mapping = yaml::from_str(&format!(
        "{{action: {action}, secret_types: {{private_keys: {{enabled: true}}}}}}"
    ))
    .unwrap();
    secrets(options, "test.yaml", "plugins.security._global[0].config").unwrap()
}

fn run(action: &str, mut params: Value) -> (Action, Value) {
    let a = filter(action)
        .on_notification("notifications/message", &mut params)
        .unwrap();
    (a, params)
}

/// Redacts `params` and checks that `secret` is gone from every string and key, and that
/// the filter reported a change.
fn assert_redacted(params: Value, secret: &str) {
    let (a, out) = run("redact", params.clone());
    assert!(matches!(a, Action::Modified { .. }), "{a:?} for {params}");
    let text = serde_json::to_string(&out).unwrap();
    assert!(!text.contains(secret), "{secret} survived in {text}");
}

fn assert_blocked(params: Value) {
    let (a, _) = run("block", params.clone());
    assert!(matches!(a, Action::Deny(_)), "{a:?} for {params}");
}

#[test]
fn a_secret_used_as_an_object_key_is_redacted() {
    let params = json!({"data": {"AKIAIOSFODNN7EXAMPLE": "value", "other": 1}});
    assert_redacted(params.clone(), "AKIAIOSFODNN7EXAMPLE");
    let (_, out) = run("redact", params);
    // Renamed, not dropped: the value and the sibling are still there.
    assert_eq!(
        out,
        json!({"data": {"[SECRET REDACTED by Gatekit]": "value", "other": 1}})
    );
}

#[test]
fn a_secret_used_as_an_object_key_is_blocked() {
    assert_blocked(json!({"data": {"ghp_0123456789abcdefghijABCDEFGHIJ012345": true}}));
}

#[test]
fn redacted_keys_stay_unique() {
    let (_, out) = run(
        "redact",
        json!({"AKIAIOSFODNN7EXAMPLE": 1, "AKIAIOSFODNN7EXAMPL2": 2}),
    );
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "[SECRET REDACTED by Gatekit]",
            "[SECRET REDACTED by Gatekit] #2"
        ]
    );
}

#[test]
fn an_aws_key_joined_by_underscore_is_redacted_and_blocked() {
    let params = json!({"env": "AWS_KEY_AKIAIOSFODNN7EXAMPLE"});
    assert_redacted(params.clone(), "AKIAIOSFODNN7EXAMPLE");
    assert_blocked(params);
}

#[test]
fn an_aws_key_with_a_trailing_alphanumeric_is_redacted_and_blocked() {
    let params = json!({"key": "AKIAIOSFODNN7EXAMPLE9"});
    assert_redacted(params.clone(), "AKIAIOSFODNN7EXAMPLE");
    assert_blocked(params);
    // Glued on both sides.
    assert_redacted(json!(["xAKIAIOSFODNN7EXAMPLEx"]), "AKIAIOSFODNN7EXAMPLE");
}

#[test]
fn encoded_secrets_are_found() {
    let key = "AKIAIOSFODNN7EXAMPLE";
    for (form, text) in [
        ("percent", "https://x.test/?k=%41KIAIOSFODNN7EXAMPLE&z=1"),
        (
            "percent, every byte",
            "%41%4B%49%41%49%4F%53%46%4F%44%4E%4E%37%45%58%41%4D%50%4C%45",
        ),
        ("json escape", r#"{"k":"\u0041KIAIOSFODNN7EXAMPLE"}"#),
        ("hex escape", r"k = '\x41KIAIOSFODNN7EXAMPLE'"),
        ("base64", "Y3JlZHM6IEFLSUFJT1NGT0ROTjdFWEFNUExF"),
        ("base64, glued", "blobQUtJQUlPU0ZPRE5ON0VYQU1QTEU="),
        // A byte that is not UTF-8 once decoded must not hide the rest.
        ("percent, after %FF", "%FF%41KIAIOSFODNN7EXAMPLE"),
        (
            "base64, binary around",
            "QUJD/9gAQUtJQUlPU0ZPRE5ON0VYQU1QTEWJ/g==",
        ),
        ("concatenation", r#"key = "AKIAIOSF" + "ODNN7EXAMPLE""#),
    ] {
        let params = json!({"text": text});
        let (a, out) = run("redact", params.clone());
        assert!(matches!(a, Action::Modified { .. }), "{form}: {a:?}");
        let s = out["text"].as_str().unwrap();
        assert!(!s.contains(key) && !s.contains("IOSFODNN"), "{form}: {s}");
        assert!(s.contains("[SECRET REDACTED by Gatekit]"), "{form}: {s}");
        assert_blocked(params);
    }
}

#[test]
fn ordinary_words_ending_in_sk_are_not_openai_keys() {
    let (a, _) = run(
        "block",
        json!({"t": "disk-usage-monitoring-service-config2 task-runner-0123456789abcdef"}),
    );
    assert!(matches!(a, Action::Allow), "{a:?}");
}

/// Characters put around a secret: identifier joiners, letters and digits, punctuation,
/// whitespace, non-ASCII.
fn surrounding_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '_', '-', '.', '/', '=', ':', '"', '\'', ' ', '\n', '\t', ',', '+', '%', '\\', '{',
            '}', '(', ')', '<', '>', '|', '@', '#',
        ]),
        prop::char::range('a', 'z'),
        prop::char::range('A', 'Z'),
        prop::char::range('0', '9'),
        prop::sample::select(vec!['é', 'ß', '中', '🦀', '\u{a0}', '\u{2028}', 'Я']),
    ]
}

fn surrounding() -> impl Strategy<Value = String> {
    prop::collection::vec(surrounding_char(), 0..12).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every shape, in random surroundings, as a key or as a value, is redacted (without a
    /// readable remainder) and blocked. `sk-` keys need a non-letter before them (module doc
    /// of `detect::secrets`): ordinary words end in `sk-`.
    #[test]
    fn every_shape_is_caught_in_any_surroundings(
        shape in prop::sample::select(SHAPES.to_vec()),
        mut prefix in surrounding(),
        suffix in surrounding(),
        as_key in any::<bool>(),
    ) {
        let (kind, secret) = shape;
        if kind == "openai_api_keys" && prefix.ends_with(|c: char| c.is_ascii_alphabetic()) {
            prefix.push('=');
        }
        let text = format!("{prefix}{secret}{suffix}");
        let params = if as_key { json!({ text: 1 }) } else { json!({"arg": text}) };
        let (a, out) = run("redact", params.clone());
        prop_assert!(matches!(a, Action::Modified { .. }), "{:?} for {}", a, params);
        let out = serde_json::to_string(&out).unwrap();
        // The distinctive middle of the secret must be gone, not only its start.
        let middle = &secret[secret.len() / 3..secret.len() * 2 / 3];
        prop_assert!(!out.contains(middle), "{} survived in {}", middle, out);
        let (a, _) = run("block", params.clone());
        prop_assert!(matches!(a, Action::Deny(_)), "{:?} for {}", a, params);
    }
}

/// Ordinary tool traffic (`tests/data/false_positives/`): source code, prose, JSON, UUIDs,
/// hashes, a base64 image, paths. Every line is one scanned string; the rate is the share of
/// lines with any detection, printed for the record (`cargo test -p gatekit-plugins --test
/// secrets false_positive_rate -- --nocapture`).
#[test]
fn false_positive_rate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/false_positives");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let f = filter("block");
    // For comparison only (off by default): entropy detection at its default settings.
    let options: yaml::Mapping =
        yaml::from_str("{action: block, entropy_detection: {enabled: true}}").unwrap();
    let entropy = secrets(options, "test.yaml", "x").unwrap();
    let mut entropy_hits = 0usize;
    let (mut lines, mut bytes, mut hits) = (0usize, 0usize, Vec::new());
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            lines += 1;
            bytes += line.len();
            let mut params = json!({"text": line});
            if !matches!(
                entropy.on_notification("m", &mut params.clone()).unwrap(),
                Action::Allow
            ) {
                entropy_hits += 1;
            }
            if !matches!(f.on_notification("m", &mut params).unwrap(), Action::Allow) {
                hits.push(format!(
                    "{}:{}",
                    path.file_name().unwrap().to_string_lossy(),
                    n + 1
                ));
            }
        }
    }
    let rate = hits.len() as f64 / lines as f64;
    println!(
        "secrets filter false positives: {} of {lines} lines ({:.3}%), {} files, {bytes} bytes; {hits:?}",
        hits.len(),
        rate * 100.0,
        files.len()
    );
    println!(
        "with entropy_detection enabled (threshold 5.0, min_length 20): {entropy_hits} of {lines} lines ({:.3}%)",
        entropy_hits as f64 / lines as f64 * 100.0
    );
    assert!(lines >= 500, "corpus too small: {lines} lines");
    // The corpus holds no secret: any hit is a false positive to look at.
    assert!(hits.is_empty(), "false positives: {hits:?}");
}
