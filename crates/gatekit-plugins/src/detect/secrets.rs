//! Credentials: cloud and SaaS tokens with recognisable shapes, private key headers, and
//! (optionally) long high-entropy tokens.

use regex::Regex;

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
        "aws_access_keys" => r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        "github_tokens" => r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        "google_api_keys" => r"\bAIza[0-9A-Za-z_-]{35}\b",
        "jwt_tokens" => r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        "openai_api_keys" => r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}\b",
        "slack_tokens" => r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b",
        "ssh_private_keys" => r"-----BEGIN (?:OPENSSH|RSA|DSA|EC) PRIVATE KEY-----",
        _ => r"-----BEGIN (?:ENCRYPTED )?PRIVATE KEY-----",
    }
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
}

impl SecretsDetector {
    /// A detector for `kinds` (names from [`SECRET_KINDS`]) and optional entropy detection.
    pub fn new(kinds: &[&'static str], entropy: Option<Entropy>) -> Self {
        let compile =
            |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("invalid built-in pattern {p}: {e}"));
        SecretsDetector {
            patterns: kinds.iter().map(|k| (*k, compile(pattern(k)))).collect(),
            entropy: entropy.map(|e| (e, compile(r"[A-Za-z0-9+/=_-]+"))),
        }
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
        for (kind, pattern) in &self.patterns {
            out.extend(pattern.find_iter(text).map(|m| Detection {
                kind,
                start: m.start(),
                end: m.end(),
            }));
        }
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
