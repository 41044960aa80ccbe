//! Detectors for sensitive content: PII, secrets, and prompt-injection patterns.
//!
//! A detector reports *where* and *what kind*, never keeps the matched text: detections end up
//! in logs and audit records, which must not become a second copy of the secret. The same
//! detectors serve the security plugins and, later, the SIEM connectors' redaction before
//! egress.

pub mod decode;
pub mod injection;
pub mod pii;
pub mod secrets;

/// One finding in a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// Kind, e.g. `email`, `aws_access_keys`, `context_hijacking`.
    pub kind: &'static str,
    /// Byte range in the scanned string.
    pub start: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
}

/// Something that finds sensitive spans in text.
pub trait Detector: Send + Sync + std::fmt::Debug {
    /// Appends the findings in `text` to `out`.
    fn find(&self, text: &str, out: &mut Vec<Detection>);
}

/// Replaces each detected span with `replacement(kind)`; overlapping spans are merged into
/// the first one.
pub fn redact(
    text: &str,
    detections: &[Detection],
    replacement: impl Fn(&str) -> String,
) -> String {
    let mut spans: Vec<Detection> = detections.to_vec();
    spans.sort_by_key(|d| (d.start, std::cmp::Reverse(d.end)));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for d in spans {
        if d.start < pos {
            // Overlaps the previous span: extend it, so no tail of this match stays in clear.
            pos = pos.max(d.end);
            continue;
        }
        out.push_str(&text[pos..d.start]);
        out.push_str(&replacement(d.kind));
        pos = d.end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_merges_overlaps_and_keeps_the_rest() {
        let text = "a secret and another";
        let d = [
            Detection {
                kind: "x",
                start: 2,
                end: 8,
            },
            Detection {
                kind: "y",
                start: 4,
                end: 6,
            },
            Detection {
                kind: "z",
                start: 13,
                end: 20,
            },
        ];
        assert_eq!(redact(text, &d, |k| format!("[{k}]")), "a [x] and [z]");
    }

    #[test]
    fn a_partly_overlapping_span_is_merged_not_dropped() {
        // `Bearer=eyJ...`: an entropy match ending at the first `.` and a JWT match starting
        // later must both be covered.
        let text = "0123456789";
        let d = [
            Detection {
                kind: "x",
                start: 1,
                end: 5,
            },
            Detection {
                kind: "y",
                start: 3,
                end: 8,
            },
        ];
        assert_eq!(redact(text, &d, |k| format!("[{k}]")), "0[x]89");
    }
}
