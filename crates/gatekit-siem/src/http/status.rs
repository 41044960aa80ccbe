//! HTTP status → delivery outcome, in one place (docs/reference/splunk-hec.md §6,
//! delivery-semantics.md §2).
//!
//! Retry: 408, 429, 500, 502, 503, 504 (honouring `Retry-After`), and 401/403 after
//! [`AUTH_RETRY_AFTER`] (a credential problem is fixed without touching the events). Split: 413. Splunk HEC codes 6
//! ("Invalid data format"), 12 ("Event field is required") and 13 ("Event field cannot be
//! blank"), with `invalid-event-number`: the events before it were indexed, the bad one is
//! dead-lettered and the rest is resent. Everything else in 4xx, and 501, is permanent: retrying
//! a bad token or a malformed request only repeats the failure (Fluent Bit's Logs Ingestion
//! output retries every non-2xx and loops on 400s forever).

use std::time::Duration;

use gatekit_delivery::BatchOutcome;

/// Delay before a batch refused with 401 or 403 is tried again.
pub const AUTH_RETRY_AFTER: Duration = Duration::from_secs(30);

/// What the HTTP layer learned from one response.
#[derive(Debug, Clone, Default)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Parsed `Retry-After` (seconds form).
    pub retry_after: Option<Duration>,
    /// Splunk HEC's `code` from the JSON body, when there is one.
    pub hec_code: Option<i64>,
    /// Splunk HEC's `invalid-event-number`, with code 6.
    pub invalid_event_number: Option<usize>,
    /// Short text from the body, for logs and dead letters (never secrets).
    pub text: String,
}

/// Parses a `Retry-After` header in its delay-seconds form; the HTTP-date form is ignored
/// (the delivery manager's own backoff applies).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The outcome of a batch of `batch_len` records that got `answer`; `success` lists the
/// statuses that mean delivered for this endpoint (200 for HEC, 204 for Logs Ingestion, 201
/// for Event Hubs, 2xx for the QRadar HTTP Receiver).
pub fn classify(answer: &HttpAnswer, success: &[u16], batch_len: usize) -> BatchOutcome {
    let s = answer.status;
    // The endpoint's text is outside input: configured secrets are scrubbed from it (a server
    // that echoes the token must not put it in logs and dead letters) and it is bounded.
    let what = || {
        format!(
            "HTTP {s}{}",
            if answer.text.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    gatekit_core::LogSafe(&crate::secret::scrub(&answer.text))
                )
            }
        )
    };
    if success.contains(&s) {
        return BatchOutcome::Delivered;
    }
    // Codes 6, 12 and 13 name the first bad event; the ones before it were indexed.
    if matches!(answer.hec_code, Some(6 | 12 | 13)) {
        if let Some(n) = answer.invalid_event_number.filter(|n| *n < batch_len) {
            return BatchOutcome::Partial {
                delivered: n,
                reason: what(),
            };
        }
    }
    match s {
        413 => BatchOutcome::TooLarge,
        // A refused credential is not a verdict on the events: a rotated token or a role
        // assignment still propagating fixes it without a restart, so the batch waits (slowly;
        // counted as an authentication failure by the connector) instead of being
        // dead-lettered. Without a disk buffer `retry_attempts` still bounds it.
        401 | 403 => BatchOutcome::Retry {
            reason: what(),
            retry_after: Some(AUTH_RETRY_AFTER),
        },
        408 | 429 | 500 | 502 | 503 | 504 => BatchOutcome::Retry {
            reason: what(),
            retry_after: answer.retry_after,
        },
        _ => BatchOutcome::Reject { reason: what() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> HttpAnswer {
        HttpAnswer {
            status,
            ..HttpAnswer::default()
        }
    }

    #[test]
    fn every_documented_status_has_its_outcome() {
        let retry = |o: &BatchOutcome| matches!(o, BatchOutcome::Retry { .. });
        let reject = |o: &BatchOutcome| matches!(o, BatchOutcome::Reject { .. });
        assert_eq!(classify(&answer(200), &[200], 5), BatchOutcome::Delivered);
        assert_eq!(classify(&answer(204), &[204], 5), BatchOutcome::Delivered);
        assert_eq!(classify(&answer(201), &[201], 5), BatchOutcome::Delivered);
        assert!(
            reject(&classify(&answer(200), &[204], 5)),
            "a 200 where 204 is success is not proof"
        );
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retry(&classify(&answer(s), &[200], 5)), "{s}");
        }
        for s in [400, 404, 405, 415, 501] {
            assert!(reject(&classify(&answer(s), &[200], 5)), "{s}");
        }
        // Authentication failures wait for a fixed credential instead of dead-lettering.
        for s in [401, 403] {
            assert!(retry(&classify(&answer(s), &[200], 5)), "{s}");
        }
        assert_eq!(classify(&answer(413), &[200], 5), BatchOutcome::TooLarge);
    }

    /// Every row of the HEC status table (docs/reference/splunk-hec.md §6).
    #[test]
    fn every_hec_code_has_its_outcome() {
        #[derive(Debug, PartialEq)]
        enum Want {
            Delivered,
            Retry,
            Reject,
            Partial,
        }
        use Want::*;
        let table = [
            (200, 0, Delivered),
            (403, 1, Retry),
            (401, 2, Retry),
            (401, 3, Retry),
            (403, 4, Retry),
            (400, 5, Reject),
            (400, 6, Partial),
            (400, 7, Reject),
            (500, 8, Retry),
            (503, 9, Retry),
            (400, 10, Reject),
            (400, 11, Reject),
            (400, 12, Partial),
            (400, 13, Partial),
            (400, 14, Reject),
            (400, 15, Reject),
            (400, 16, Reject),
            (503, 18, Retry),
            (503, 19, Retry),
            (503, 20, Retry),
            (400, 21, Reject),
            (400, 22, Reject),
            (503, 23, Retry),
            (200, 24, Delivered),
            (200, 25, Delivered),
            (429, 26, Retry),
            (429, 27, Retry),
        ];
        for (status, code, want) in table {
            let a = HttpAnswer {
                status,
                hec_code: Some(code),
                invalid_event_number: Some(1),
                ..HttpAnswer::default()
            };
            let got = match classify(&a, &[200], 4) {
                BatchOutcome::Delivered => Delivered,
                BatchOutcome::Retry { .. } => Retry,
                BatchOutcome::Reject { .. } => Reject,
                BatchOutcome::Partial { delivered: 1, .. } => Partial,
                other => panic!("code {code}: {other:?}"),
            };
            assert_eq!(got, want, "HTTP {status} code {code}");
        }
    }

    #[test]
    fn retry_after_is_carried() {
        let a = HttpAnswer {
            status: 429,
            retry_after: parse_retry_after(" 17 "),
            ..HttpAnswer::default()
        };
        assert_eq!(
            classify(&a, &[204], 3),
            BatchOutcome::Retry {
                reason: "HTTP 429".into(),
                retry_after: Some(Duration::from_secs(17))
            }
        );
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn hec_code_6_resends_only_the_tail() {
        let a = HttpAnswer {
            status: 400,
            hec_code: Some(6),
            invalid_event_number: Some(3),
            text: "Invalid data format".into(),
            ..HttpAnswer::default()
        };
        assert_eq!(
            classify(&a, &[200], 10),
            BatchOutcome::Partial {
                delivered: 3,
                reason: "HTTP 400: Invalid data format".into()
            }
        );
        // An index outside the batch cannot be trusted: the whole batch is rejected.
        let bad = HttpAnswer {
            invalid_event_number: Some(10),
            ..a
        };
        assert!(matches!(
            classify(&bad, &[200], 10),
            BatchOutcome::Reject { .. }
        ));
    }
}
