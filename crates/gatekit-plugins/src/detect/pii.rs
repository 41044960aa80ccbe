//! Personally identifiable information: e-mail addresses, phone numbers (North American
//! formats), payment card numbers (Luhn-checked), IP addresses, and national ids (US SSN,
//! UK National Insurance number, Canadian SIN). Regular expressions only: good at obvious
//! cases, not a data-loss-prevention product.

use regex::{Regex, RegexSet};

use super::{Detection, Detector};

/// Which PII kinds to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiiKinds {
    /// `email`.
    pub email: bool,
    /// `phone`.
    pub phone: bool,
    /// `credit_card`.
    pub credit_card: bool,
    /// `ip_address`.
    pub ip_address: bool,
    /// `national_id`.
    pub national_id: bool,
}

impl Default for PiiKinds {
    fn default() -> Self {
        PiiKinds {
            email: true,
            phone: true,
            credit_card: true,
            ip_address: true,
            national_id: true,
        }
    }
}

/// The PII detector.
#[derive(Debug)]
pub struct PiiDetector {
    patterns: Vec<(&'static str, Regex)>,
    /// All of `patterns` in one automaton: one pass over a string says which patterns (if
    /// any) need running, instead of one pass per pattern. Most values hold no PII.
    any: RegexSet,
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this module, covered by its tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

impl PiiDetector {
    /// A detector for the selected kinds.
    pub fn new(kinds: PiiKinds) -> Self {
        let mut patterns = Vec::new();
        if kinds.email {
            patterns.push((
                "email",
                re(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
            ));
        }
        if kinds.phone {
            patterns.push((
                "phone",
                re(r"(?:\+1[-. ]?)?(?:\(\d{3}\)\s?|\b\d{3}[-. ])\d{3}[-. ]\d{4}\b"),
            ));
        }
        if kinds.credit_card {
            patterns.push(("credit_card", re(r"\b\d(?:[ -]?\d){12,18}\b")));
        }
        if kinds.ip_address {
            patterns.push((
                "ip_address",
                re(r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b"),
            ));
            patterns.push((
                "ip_address",
                re(r"\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b|\b(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4})?\b"),
            ));
        }
        if kinds.national_id {
            patterns.push(("national_id", re(r"\b\d{3}-\d{2}-\d{4}\b")));
            patterns.push((
                "national_id",
                re(r"\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"),
            ));
            patterns.push(("national_id", re(r"\b\d{3}[- ]\d{3}[- ]\d{3}\b")));
        }
        let any = RegexSet::new(patterns.iter().map(|(_, p)| p.as_str()))
            .unwrap_or_else(|e| panic!("invalid built-in pattern set: {e}"));
        PiiDetector { patterns, any }
    }
}

/// The Luhn checksum used by payment card numbers.
pub fn luhn_valid(digits: &str) -> bool {
    let digits: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                *d
            }
        })
        .sum();
    sum % 10 == 0
}

impl Detector for PiiDetector {
    fn find(&self, text: &str, out: &mut Vec<Detection>) {
        for i in self.any.matches(text).iter() {
            let (kind, pattern) = &self.patterns[i];
            for m in pattern.find_iter(text) {
                if *kind == "credit_card" && !luhn_valid(m.as_str()) {
                    continue;
                }
                out.push(Detection {
                    kind,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        PiiDetector::new(PiiKinds::default()).find(text, &mut out);
        let mut k: Vec<_> = out.iter().map(|d| d.kind).collect();
        k.sort();
        k.dedup();
        k
    }

    #[test]
    fn finds_each_kind() {
        assert_eq!(kinds("mail ada@example.com now"), ["email"]);
        assert_eq!(kinds("call (555) 123-4567"), ["phone"]);
        assert_eq!(kinds("card 4111 1111 1111 1111"), ["credit_card"]);
        assert_eq!(kinds("host 192.168.10.20 up"), ["ip_address"]);
        assert_eq!(kinds("ssn 123-45-6789"), ["national_id"]);
        assert_eq!(kinds("ni AB123456C"), ["national_id"]);
    }

    #[test]
    fn ignores_lookalikes() {
        assert!(kinds("card 4111 1111 1111 1112").is_empty(), "fails Luhn");
        assert!(kinds("version 1.2.3 and 999.1.1.1").is_empty());
        assert!(kinds("plain words only").is_empty());
    }

    #[test]
    fn respects_disabled_kinds() {
        let d = PiiDetector::new(PiiKinds {
            ip_address: false,
            ..PiiKinds::default()
        });
        let mut out = Vec::new();
        d.find("10.0.0.1", &mut out);
        assert!(out.is_empty());
    }
}
