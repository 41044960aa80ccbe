//! The whole-event size limit of a destination ([`SizeLimited`]).
//!
//! Job: keep every rendered event within the number of bytes its receiver takes as one
//! message. A receiver that meets a longer message does not refuse it: stock rsyslog cuts it
//! at its `maxMessageSize` and parses the rest as a *new* message, so an attacker-chosen tail
//! (a tool name, an argument) becomes a complete, well-formed forged event at the SIEM
//! (docs/reference/event-size-limits.md §1). Fields are capped one by one by the formatters;
//! this is the cap on the whole.
//!
//! How an over-size event is shrunk (docs/formats.md §9), each step only if the previous one
//! was not enough, always by rendering the shortened *event* again, never by cutting bytes:
//! 1. the event is marked `truncated` (a field of every format, so SIEM content can see it);
//! 2. the tool parameters are replaced by `{"gatekit_truncated": "<their JSON text, cut>"}`,
//!    cut as little as needed (binary search on the cut length);
//! 3. every free-text value (message, reason, error message, tool and method names, client,
//!    user, upstream, session and correlation ids, parameter strings) is capped at one common
//!    length, as long as fits (binary search);
//! 4. if even that does not fit (identity fields such as the host are never cut), the event
//!    is refused with [`FormatError::TooLarge`] and `out` is left as it was.
//!
//! Invariants: the output is always a complete rendering by the inner formatter, so its
//! escaping, UTF-8 and structure (CEF/LEEF pairs, JSON) are intact by construction; an event
//! within the limit is rendered once and passed through byte for byte (the fast path costs
//! one length comparison); cuts happen on UTF-8 boundaries and end in
//! [`crate::TRUNCATION_MARKER`]. Shrinking runs after data minimisation, so the redactors
//! always see whole values (a secret cut in half could slip past them).

use gatekit_core::AuditEvent;
use serde_json::{Map, Value};

use crate::error::FormatError;
use crate::formatter::Formatter;
use crate::policy::{cap_strings, cap_value};
use crate::text::{truncate, MIN_CAP};

/// Smallest whole-event limit [`SizeLimited`] accepts: the identity fields and headers of
/// every format fit comfortably, with room for a shortened message.
pub const MIN_EVENT_BYTES: usize = 1024;

/// Key of the replacement parameter map of a shortened event.
pub const PARAMETERS_TRUNCATED_KEY: &str = "gatekit_truncated";

/// A formatter that keeps every rendered event within `max_bytes` (see the module doc for
/// the order in which an event is shortened).
#[derive(Debug)]
pub struct SizeLimited<F> {
    inner: F,
    max_bytes: usize,
}

impl<F: Formatter> SizeLimited<F> {
    /// Wraps `inner`; `max_bytes` must be at least [`MIN_EVENT_BYTES`].
    pub fn new(inner: F, max_bytes: usize) -> Result<Self, FormatError> {
        if max_bytes < MIN_EVENT_BYTES {
            return Err(FormatError::setting(
                "max_event_bytes",
                format!("must be at least {MIN_EVENT_BYTES}"),
            ));
        }
        Ok(Self { inner, max_bytes })
    }

    /// The limit, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Renders `e` at `out[start..]` (replacing what was there); whether it fits.
    fn fits(&self, e: &AuditEvent, out: &mut Vec<u8>, start: usize) -> Result<bool, FormatError> {
        out.truncate(start);
        self.inner.format(e, out)?;
        Ok(out.len() - start <= self.max_bytes)
    }

    /// The largest `n` in `lo..=hi` for which `build(n)` renders within the limit, with that
    /// rendering left in `out[start..]`; `None` (and `out` holding some over-size rendering)
    /// when not even `lo` fits. Sizes grow with `n` (a longer prefix never escapes to fewer
    /// bytes), so a binary search finds it in about log2(hi - lo) renderings.
    fn largest_fitting(
        &self,
        lo: usize,
        hi: usize,
        out: &mut Vec<u8>,
        start: usize,
        build: impl Fn(usize) -> AuditEvent,
    ) -> Result<Option<usize>, FormatError> {
        if !self.fits(&build(lo), out, start)? {
            return Ok(None);
        }
        let (mut good, mut bad) = (lo, hi.saturating_add(1));
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if self.fits(&build(mid), out, start)? {
                good = mid;
            } else {
                bad = mid;
            }
        }
        // Leave the best rendering in `out` (the last one tried may have been too large).
        self.fits(&build(good), out, start)?;
        Ok(Some(good))
    }

    fn shrink(
        &self,
        event: &AuditEvent,
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<(), FormatError> {
        let mut marked = event.clone();
        marked.truncated = true;
        if self.fits(&marked, out, start)? {
            return Ok(());
        }
        // Step 2: the tool parameters, as their JSON text cut to a length.
        let params_text = marked
            .mcp_data
            .as_ref()
            .and_then(|m| m.parameters.as_ref())
            .map(serde_json::to_string)
            .transpose()?;
        if let Some(text) = &params_text {
            let with_params = |n: usize| {
                let mut e = marked.clone();
                if let Some(m) = e.mcp_data.as_mut() {
                    m.parameters = Some(cut_parameters(text, n));
                }
                e
            };
            let hi = text.len().saturating_sub(1).max(MIN_CAP);
            if self
                .largest_fitting(MIN_CAP, hi, out, start, with_params)?
                .is_some()
            {
                return Ok(());
            }
            marked = with_params(MIN_CAP);
        }
        // Step 3: every free-text value at one common cap.
        let longest = longest_text(&marked);
        let with_cap = |n: usize| {
            let mut e = marked.clone();
            cap_strings(&mut e, n);
            if let Some(p) = e.mcp_data.as_mut().and_then(|m| m.parameters.as_mut()) {
                p.values_mut().for_each(|v| cap_value(v, n));
            }
            e
        };
        if self
            .largest_fitting(MIN_CAP, longest.max(MIN_CAP), out, start, with_cap)?
            .is_some()
        {
            return Ok(());
        }
        let size = out.len() - start;
        out.truncate(start);
        Err(FormatError::TooLarge {
            size,
            limit: self.max_bytes,
        })
    }
}

/// `{"gatekit_truncated": <text cut to n bytes>}`.
fn cut_parameters(text: &str, n: usize) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        PARAMETERS_TRUNCATED_KEY.to_owned(),
        Value::String(truncate(text, n).into_owned()),
    );
    m
}

/// The longest string step 3 may cap, in bytes.
fn longest_text(e: &AuditEvent) -> usize {
    let mut n = 0usize;
    let mut see = |s: &str| n = n.max(s.len());
    for s in [&e.correlation_id, &e.session_id, &e.message]
        .into_iter()
        .flatten()
    {
        see(s);
    }
    if let Some(c) = &e.client_info {
        see(&c.client_id);
        see(&c.client_version);
        c.user.as_deref().map(&mut see);
    }
    if let Some(m) = &e.mcp_data {
        see(&m.method);
        m.tool_name.as_deref().map(&mut see);
        m.namespaced_tool_name.as_deref().map(&mut see);
        if let Some(p) = &m.parameters {
            p.values().for_each(|v| longest_in_value(v, &mut see));
        }
    }
    if let Some(d) = &e.security_decision {
        see(&d.plugin);
        see(&d.reason);
    }
    if let Some(u) = &e.upstream_server {
        see(&u.name);
        u.command.as_deref().map(&mut see);
    }
    if let Some(x) = &e.error {
        see(&x.message);
    }
    n
}

fn longest_in_value(v: &Value, see: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => see(s),
        Value::Array(a) => a.iter().for_each(|x| longest_in_value(x, see)),
        Value::Object(o) => o.values().for_each(|x| longest_in_value(x, see)),
        _ => {}
    }
}

impl<F: Formatter> Formatter for SizeLimited<F> {
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        let start = out.len();
        self.inner.format(event, out)?;
        if out.len() - start <= self.max_bytes {
            return Ok(());
        }
        self.shrink(event, out, start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatekit_core::{EventType, McpData, Severity};

    fn event(params: Value, message: &str) -> AuditEvent {
        let Value::Object(params) = params else {
            unreachable!("test parameters are an object")
        };
        AuditEvent::new(
            EventType::McpRequest,
            Severity::Info,
            gatekit_core::Timestamp::from_unix_millis(0),
            gatekit_core::EventId::from_u128(1),
            1,
        )
        .with_origin("host-1", "0.1.0")
        .with_message(message)
        .with_mcp(McpData {
            method: "tools/call".into(),
            tool_name: Some("read".into()),
            namespaced_tool_name: None,
            parameters: Some(params),
        })
    }

    fn json(f: &SizeLimited<crate::JsonFormatter>, e: &AuditEvent) -> (Value, usize) {
        let mut out = b"prefix".to_vec();
        f.format(e, &mut out).unwrap();
        assert!(out.starts_with(b"prefix"));
        let n = out.len() - 6;
        assert!(n <= f.max_bytes(), "{n} > {}", f.max_bytes());
        (serde_json::from_slice(&out[6..]).unwrap(), n)
    }

    #[test]
    fn small_events_pass_unchanged_and_unmarked() {
        let f = SizeLimited::new(crate::JsonFormatter, 4096).unwrap();
        for e in crate::sample_events() {
            let mut a = Vec::new();
            let mut b = Vec::new();
            f.format(&e, &mut a).unwrap();
            crate::JsonFormatter.format(&e, &mut b).unwrap();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn parameters_are_cut_first_and_only_as_much_as_needed() {
        let f = SizeLimited::new(crate::JsonFormatter, 2048).unwrap();
        let e = event(
            serde_json::json!({"blob": "x".repeat(10_000)}),
            "keep me whole",
        );
        let (v, n) = json(&f, &e);
        assert_eq!(v["truncated"], true);
        assert_eq!(v["message"], "keep me whole");
        let cut = v["mcp_data"]["parameters"][PARAMETERS_TRUNCATED_KEY]
            .as_str()
            .unwrap();
        assert!(cut.starts_with("{\"blob\":\"xxx") && cut.ends_with(crate::TRUNCATION_MARKER));
        // As much as fits: one byte more of parameters would not.
        assert!(n > 2048 - 8, "{n}");
    }

    #[test]
    fn long_values_are_cut_when_parameters_are_not_enough() {
        let f = SizeLimited::new(crate::JsonFormatter, 1500).unwrap();
        let e = event(
            serde_json::json!({"a": "é".repeat(3000)}),
            &"ü|=\\\"\n".repeat(2000),
        );
        let (v, _) = json(&f, &e);
        assert_eq!(v["truncated"], true);
        assert!(v["message"]
            .as_str()
            .unwrap()
            .ends_with(crate::TRUNCATION_MARKER));
        assert_eq!(v["event_id"], e.event_id.to_string());
        assert_eq!(v["host"], "host-1");
    }

    #[test]
    fn identity_fields_are_never_cut_so_a_huge_host_is_refused() {
        let f = SizeLimited::new(crate::JsonFormatter, 1024).unwrap();
        let mut e = event(serde_json::json!({}), "m");
        e.host = "h".repeat(5000);
        let mut out = b"keep".to_vec();
        assert!(matches!(
            f.format(&e, &mut out),
            Err(FormatError::TooLarge { .. })
        ));
        assert_eq!(out, b"keep");
        assert!(SizeLimited::new(crate::JsonFormatter, 1023).is_err());
    }
}
