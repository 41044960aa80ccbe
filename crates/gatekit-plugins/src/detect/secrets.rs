//! Credentials: cloud and SaaS tokens with recognisable shapes, private key headers, and
//! (optionally) long high-entropy tokens.
//!
//! Boundaries. A regex word boundary (`\b`) is not a token boundary for secrets: `_` is a
//! word character, so `AWS_KEY_AKIA...` has no boundary before `AKIA`, and a key followed by
//! one more letter (`AKIA...9`) has none after it. Whoever controls the text around a secret
//! controls any boundary rule, so each shape's rule is the weakest one its prefix allows:
//!
//! | Shape | Before | After |
//! |---|---|---|
//! | AWS `AKIA`/`ASIA` + 16 upper-case alphanumerics | anything | anything; adjacent upper-case alphanumerics are taken into the match |
//! | GitHub `gh[pousr]_`, `github_pat_` | anything | anything; the match runs to the end of the token |
//! | Google `AIza` + 35 | anything | anything; likewise |
//! | JWT `eyJ...` `.eyJ...` `.` signature | anything | anything |
//! | Slack `xox?-` | anything | anything |
//! | OpenAI `sk-` (optionally `proj-`, `svcacct-`, `admin-`) + 20 or more | not an ASCII letter | anything |
//! | PEM headers | anything | anything |
//!
//! The prefixes `AKIA`, `ghp_`, `AIza`, `eyJ`, `xoxb-` and the PEM armour do not occur inside
//! ordinary words, so no boundary is needed and none is required. `sk-` does end ordinary
//! words (`task-`, `disk-`, `risk-`), so it needs a non-letter before it: `KEY=sk-...`,
//! `OPENAI_KEY_sk-...`, `"sk-...` and `1sk-...` are found, `disk-usage-...` is not. Matches
//! extend over the rest of the token, so redaction never leaves a readable tail of a key.
//!
//! Encodings. A secret is also looked for in the decoded views of [`super::decode`]
//! (percent-encoding, backslash escapes, string concatenation, and, unless switched off,
//! base64); a detection there is reported on the original span that encodes it.

use regex::Regex;

use super::decode::{self, View};
use super::{Detection, Detector};

/// Every secret kind and whether it is on by default (Python Gatekit's defaults).
pub const SECRET_KINDS: &[(&str, bool)] = &[
    ("aws_access_keys", true),
    ("github_tokens", true),
    ("google_api_keys", true),
    ("jwt_tokens", true),
    ("openai_api_keys", true),
    ("slack_tokens", true),
    ("ssh_private_keys", true),
    ("private_keys", false),
];

fn pattern(kind: &str) -> &'static str {
    match kind {
        // Boundary rules per shape: see the module doc. Where a pattern has a capture group,
        // the group is the secret and what precedes it is the boundary.
        "aws_access_keys" => r"(?:AKIA|ASIA)[0-9A-Z]{16,}",
        "github_tokens" => r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}",
        "google_api_keys" => r"AIza[0-9A-Za-z_-]{35,}",
        "jwt_tokens" => r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        "openai_api_keys" => r"(?:^|[^A-Za-z])(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})",
        "slack_tokens" => r"xox[abposr]-[A-Za-z0-9-]{10,}",
        "ssh_private_keys" => r"-----BEGIN (?:OPENSSH|RSA|DSA|EC) PRIVATE KEY-----",
        _ => r"-----BEGIN (?:ENCRYPTED )?PRIVATE KEY-----",
    }
}

/// Bytes of a string decoded at a time (see [`SecretsDetector`]'s `find`).
const VIEW_WINDOW: usize = 1 << 20;

/// Overlap of consecutive windows: longer than any encoded secret shape.
const VIEW_OVERLAP: usize = 8 << 10;

/// The largest index `<= i` (clamped to `text.len()`) on a character boundary.
fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Entropy-based detection of unknown token formats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entropy {
    /// Shannon entropy in bits per character at or above which a token is reported.
    pub threshold: f64,
    /// Shortest token considered.
    pub min_length: usize,
}

/// The secrets detector.
#[derive(Debug)]
pub struct SecretsDetector {
    patterns: Vec<(&'static str, Regex)>,
    entropy: Option<(Entropy, Regex)>,
    base64: bool,
}

impl SecretsDetector {
    /// A detector for `kinds` (names from [`SECRET_KINDS`]) and optional entropy detection;
    /// base64 text is decoded and scanned (see [`SecretsDetector::without_base64`]).
    pub fn new(kinds: &[&'static str], entropy: Option<Entropy>) -> Self {
        let compile =
            |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("invalid built-in pattern {p}: {e}"));
        SecretsDetector {
            patterns: kinds.iter().map(|k| (*k, compile(pattern(k)))).collect(),
            entropy: entropy.map(|e| (e, compile(r"[A-Za-z0-9+/=_-]+"))),
            base64: true,
        }
    }

    /// The same detector without the base64 view (`scan_base64: false`).
    pub fn without_base64(mut self) -> Self {
        self.base64 = false;
        self
    }

    /// The shape patterns only (no entropy), on `text` as it is.
    fn find_shapes(&self, text: &str, out: &mut Vec<Detection>) {
        for (kind, pattern) in &self.patterns {
            // Only a pattern with a boundary group needs captures (the group is the secret);
            // the others report their whole match, and `find_iter` skips building captures.
            if pattern.captures_len() == 1 {
                out.extend(pattern.find_iter(text).map(|m| Detection {
                    kind,
                    start: m.start(),
                    end: m.end(),
                }));
                continue;
            }
            for c in pattern.captures_iter(text) {
                if let Some(m) = c.get(1).or_else(|| c.get(0)) {
                    out.push(Detection {
                        kind,
                        start: m.start(),
                        end: m.end(),
                    });
                }
            }
        }
    }

    /// Shapes found in a decoded view, reported on the original spans.
    fn find_in_view(&self, view: &View, out: &mut Vec<Detection>) {
        let mut found = Vec::new();
        self.find_shapes(&view.text, &mut found);
        out.extend(found.into_iter().map(|d| {
            let (start, end) = view.origin(d.start, d.end);
            Detection { start, end, ..d }
        }));
    }
}

/// Shannon entropy of `s` in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let len = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / len;
            -p * p.log2()
        })
        .sum()
}

impl Detector for SecretsDetector {
    fn find(&self, text: &str, out: &mut Vec<Detection>) {
        let base = out.len();
        self.find_shapes(text, out);
        // Views are built per window, so their offset maps stay small for any string size (a
        // response is not size-capped); windows overlap by more than any encoded secret.
        let mut start = 0;
        loop {
            let end = floor_char_boundary(text, start + VIEW_WINDOW);
            let part = &text[start..end];
            let views = [
                decode::percent(part),
                decode::escapes(part),
                decode::concatenation(part),
                self.base64.then(|| decode::base64(part)).flatten(),
            ];
            let first = out.len();
            for view in views.iter().flatten() {
                self.find_in_view(view, out);
            }
            for d in &mut out[first..] {
                d.start += start;
                d.end += start;
            }
            if end >= text.len() {
                break;
            }
            start = floor_char_boundary(text, end - VIEW_OVERLAP).max(start + 1);
            while !text.is_char_boundary(start) {
                start += 1;
            }
        }
        // A secret found raw is often found again by a view (a string with an escape in it
        // elsewhere), and windows overlap: report each kind once per span, and drop a view's
        // finding inside a span already reported for the same kind.
        // Sorted by start, longest first: a span is covered when an earlier one of its kind
        // reaches at least as far (one pass; kinds are few).
        out[base..].sort_by_key(|x| (x.start, std::cmp::Reverse(x.end), x.kind));
        let mut reach: Vec<(&'static str, usize)> = Vec::new();
        let mut kept = Vec::new();
        for d in out.drain(base..) {
            match reach.iter_mut().find(|(k, _)| *k == d.kind) {
                Some((_, end)) if *end >= d.end => continue,
                Some((_, end)) => *end = d.end,
                None => reach.push((d.kind, d.end)),
            }
            kept.push(d);
        }
        out.extend(kept);
        if let Some((entropy, token)) = &self.entropy {
            for m in token.find_iter(text) {
                if m.len() >= entropy.min_length && shannon_entropy(m.as_str()) >= entropy.threshold
                {
                    out.push(Detection {
                        kind: "high_entropy",
                        start: m.start(),
                        end: m.end(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> SecretsDetector {
        let kinds: Vec<&'static str> = SECRET_KINDS.iter().map(|(k, _)| *k).collect();
        SecretsDetector::new(&kinds, None)
    }

    #[test]
    fn finds_known_token_shapes() {
        let cases = [
            ("key AKIAIOSFODNN7EXAMPLE end", "aws_access_keys"),
            ("ghp_0123456789abcdefghijABCDEFGHIJ012345", "github_tokens"),
            ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "google_api_keys"),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt_tokens"),
            ("sk-proj-abcdefghijklmnopqrstuvwxyz0123", "openai_api_keys"),
            ("xoxb-1234567890-abcdefghij", "slack_tokens"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", "ssh_private_keys"),
            ("-----BEGIN PRIVATE KEY-----", "private_keys"),
        ];
        for (text, kind) in cases {
            let mut out = Vec::new();
            all().find(text, &mut out);
            assert!(
                out.iter().any(|d| d.kind == kind),
                "{kind} not found in {text}: {out:?}"
            );
        }
    }

    #[test]
    fn encoded_secrets_are_found_in_strings_longer_than_a_window() {
        let secret = "%41KIAIOSFODNN7EXAMPLE";
        for at in [10, VIEW_WINDOW - 5, VIEW_WINDOW + 100, 2 * VIEW_WINDOW + 3] {
            let mut text = "é ".repeat((2 * VIEW_WINDOW + 200) / 3);
            let at = floor_char_boundary(&text, at);
            text.insert_str(at, secret);
            let mut out = Vec::new();
            all().find(&text, &mut out);
            assert!(
                out.iter().any(|d| &text[d.start..d.end] == secret),
                "at {at}: {out:?}"
            );
        }
    }

    #[test]
    fn a_secret_found_raw_and_in_a_view_is_reported_once() {
        let mut out = Vec::new();
        all().find(r#"key AKIAIOSFODNN7EXAMPLE and a \n escape"#, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        let mut out = Vec::new();
        let long = format!("{}%41KIAIOSFODNN7EXAMPLE", "x".repeat(VIEW_WINDOW - 10));
        all().find(&long, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn ordinary_text_is_clean() {
        let mut out = Vec::new();
        all().find("the quick brown fox; sk-short; AKIA-not-a-key", &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn entropy_flags_random_tokens_only() {
        let d = SecretsDetector::new(
            &[],
            Some(Entropy {
                threshold: 4.5,
                min_length: 20,
            }),
        );
        let mut out = Vec::new();
        d.find("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &mut out);
        assert!(out.is_empty());
        d.find("Zx8Qp2Lr9Tk4Wm7Nb3Vc6Hy1Jd5Gf0Sa", &mut out);
        assert_eq!(out.len(), 1);
    }
}
