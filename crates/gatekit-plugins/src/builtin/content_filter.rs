//! The three content filters: `basic_pii_filter`, `basic_secrets_filter` and
//! `basic_prompt_injection_defense`. They differ only in their detector, so they share one
//! plugin: scan every string of a request's params, a response's result and a notification's
//! params, then block, redact in place, or only record (`action: block | redact |
//! audit_only`).
//!
//! Every string is scanned, object keys included (`walk`): in redact mode a key holding a
//! detection is renamed to its redacted form (made unique within its object), in block mode
//! the message is refused.
//!
//! What is reported (in logs and in the error sent to the client) is the kinds and counts of
//! detections, never the matched text.

use std::collections::BTreeMap;
use std::time::Duration;

use gatekit_config::{yaml, ConfigError};
use gatekit_mcp::hooks::CallInfo;
use gatekit_mcp::jsonrpc::codes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::detect::injection::{InjectionDetector, Methods, Sensitivity};
use crate::detect::pii::{PiiDetector, PiiKinds};
use crate::detect::secrets::{Entropy, SecretsDetector, SECRET_KINDS};
use crate::detect::{redact, Detection, Detector};
use crate::plugin::{config_error, Action, Denial, Plugin, PluginError};
use crate::settings::parse_options;
use crate::walk;

/// Requests whose strings add up to more than this are blocked instead of scanned: scanning
/// megabytes of text per call would stall the gateway, and letting them through unscanned
/// would make size a bypass (Python Gatekit's PII filter has the same rule).
pub const MAX_SCANNED_BYTES: usize = 1024 * 1024;

/// What to do on a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDetection {
    /// Refuse the message.
    Block,
    /// Replace the detected text.
    Redact,
    /// Let it through and record the detection.
    AuditOnly,
}

/// A detector-driven filter.
#[derive(Debug)]
pub struct ContentFilter {
    handler: &'static str,
    display: &'static str,
    action: OnDetection,
    detector: Box<dyn Detector>,
    redaction: fn(&str) -> String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Toggle {
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

fn toggles(
    given: BTreeMap<String, Toggle>,
    known: &[(&'static str, bool)],
    source: &str,
    path: &str,
) -> Result<Vec<&'static str>, ConfigError> {
    for name in given.keys() {
        if !known.iter().any(|(k, _)| k == name) {
            let names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
            return Err(config_error(
                source,
                format!("{path}.{name}").as_str(),
                format!("unknown type; known: {}", names.join(", ")),
            ));
        }
    }
    Ok(known
        .iter()
        .filter(|(k, default)| given.get(*k).map_or(*default, |t| t.enabled))
        .map(|(k, _)| *k)
        .collect())
}

fn no_base64(scan_base64: bool, source: &str, path: &str) -> Result<(), ConfigError> {
    if scan_base64 {
        return Err(config_error(
            source,
            format!("{path}.scan_base64").as_str(),
            "scanning inside base64 is not available in this version of Gatekit; set it to false",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PiiOptions {
    #[serde(default = "redact_action")]
    action: OnDetection,
    #[serde(default)]
    pii_types: BTreeMap<String, Toggle>,
    #[serde(default)]
    scan_base64: bool,
}

fn redact_action() -> OnDetection {
    OnDetection::Redact
}

/// `basic_pii_filter`.
pub fn pii(options: yaml::Mapping, source: &str, path: &str) -> Result<ContentFilter, ConfigError> {
    let o: PiiOptions = parse_options(options, source, path)?;
    no_base64(o.scan_base64, source, path)?;
    const KINDS: &[(&str, bool)] = &[
        ("email", true),
        ("phone", true),
        ("credit_card", true),
        ("ip_address", true),
        ("national_id", true),
    ];
    let on = toggles(o.pii_types, KINDS, source, &format!("{path}.pii_types"))?;
    let kinds = PiiKinds {
        email: on.contains(&"email"),
        phone: on.contains(&"phone"),
        credit_card: on.contains(&"credit_card"),
        ip_address: on.contains(&"ip_address"),
        national_id: on.contains(&"national_id"),
    };
    Ok(ContentFilter {
        handler: "basic_pii_filter",
        display: "Basic PII Filter",
        action: o.action,
        detector: Box::new(PiiDetector::new(kinds)),
        redaction: |kind| format!("[{} REDACTED by Gatekit]", kind.to_uppercase()),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntropyOptions {
    #[serde(default)]
    enabled: bool,
    #[serde(default = "default_threshold")]
    threshold: f64,
    #[serde(default = "default_min_length")]
    min_length: usize,
}

fn default_threshold() -> f64 {
    5.0
}

fn default_min_length() -> usize {
    20
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsOptions {
    #[serde(default = "redact_action")]
    action: OnDetection,
    #[serde(default)]
    secret_types: BTreeMap<String, Toggle>,
    #[serde(default)]
    entropy_detection: Option<EntropyOptions>,
    /// Decode base64 text and scan it (on by default here, unlike Python Gatekit: a secret
    /// wrapped in base64 is still a secret, and binary content costs one decode).
    #[serde(default = "yes")]
    scan_base64: bool,
}

/// `basic_secrets_filter`.
pub fn secrets(
    options: yaml::Mapping,
    source: &str,
    path: &str,
) -> Result<ContentFilter, ConfigError> {
    let o: SecretsOptions = parse_options(options, source, path)?;
    let kinds = toggles(
        o.secret_types,
        SECRET_KINDS,
        source,
        &format!("{path}.secret_types"),
    )?;
    let entropy = match o.entropy_detection {
        Some(e) if e.enabled => {
            if !(1.0..=8.0).contains(&e.threshold) || e.min_length < 8 {
                return Err(config_error(
                    source,
                    format!("{path}.entropy_detection").as_str(),
                    "threshold must be between 1 and 8 bits per character and min_length at least 8",
                ));
            }
            Some(Entropy {
                threshold: e.threshold,
                min_length: e.min_length,
            })
        }
        _ => None,
    };
    Ok(ContentFilter {
        handler: "basic_secrets_filter",
        display: "Basic Secrets Filter",
        action: o.action,
        detector: Box::new(if o.scan_base64 {
            SecretsDetector::new(&kinds, entropy)
        } else {
            SecretsDetector::new(&kinds, entropy).without_base64()
        }),
        redaction: |_| "[SECRET REDACTED by Gatekit]".to_string(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectionOptions {
    #[serde(default = "redact_action")]
    action: OnDetection,
    #[serde(default = "standard")]
    sensitivity: Sensitivity,
    #[serde(default)]
    detection_methods: BTreeMap<String, Toggle>,
}

fn standard() -> Sensitivity {
    Sensitivity::Standard
}

/// `basic_prompt_injection_defense`.
pub fn injection(
    options: yaml::Mapping,
    source: &str,
    path: &str,
) -> Result<ContentFilter, ConfigError> {
    let o: InjectionOptions = parse_options(options, source, path)?;
    const METHODS: &[(&str, bool)] = &[
        ("delimiter_injection", true),
        ("role_manipulation", true),
        ("context_hijacking", true),
    ];
    let on = toggles(
        o.detection_methods,
        METHODS,
        source,
        &format!("{path}.detection_methods"),
    )?;
    let methods = Methods {
        delimiter_injection: on.contains(&"delimiter_injection"),
        role_manipulation: on.contains(&"role_manipulation"),
        context_hijacking: on.contains(&"context_hijacking"),
    };
    Ok(ContentFilter {
        handler: "basic_prompt_injection_defense",
        display: "Basic Prompt Injection Defense",
        action: o.action,
        detector: Box::new(InjectionDetector::new(o.sensitivity, methods)),
        redaction: |_| "[PROMPT INJECTION REDACTED by Gatekit]".to_string(),
    })
}

/// Kinds and counts, for reasons and error data.
fn summary(found: &[Detection]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for d in found {
        *counts.entry(d.kind).or_insert(0) += 1;
    }
    counts
}

fn describe(counts: &BTreeMap<&'static str, usize>) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{k} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ContentFilter {
    fn scan(&self, value: &Value) -> (Vec<Detection>, usize) {
        let mut found = Vec::new();
        let mut bytes = 0;
        walk::strings(value, &mut |s| {
            bytes += s.len();
            self.detector.find(s, &mut found);
        });
        (found, bytes)
    }

    fn apply(&self, value: &mut Value, direction: &str, limit: Option<usize>) -> Action {
        let (found, bytes) = self.scan(value);
        if let Some(limit) = limit.filter(|l| bytes > *l) {
            return Action::Deny(self.denial(
                direction,
                format!("content of {bytes} bytes exceeds the {limit}-byte scanning limit"),
                json!({}),
            ));
        }
        if found.is_empty() {
            return Action::Allow;
        }
        let counts = summary(&found);
        let reason = format!("detected {}", describe(&counts));
        match self.action {
            OnDetection::AuditOnly => Action::Observed { reason },
            OnDetection::Block => Action::Deny(self.denial(direction, reason, json!(counts))),
            OnDetection::Redact => {
                let detector = &self.detector;
                let replace = self.redaction;
                walk::rewrite_strings(value, &mut |s| {
                    let mut spans = Vec::new();
                    detector.find(s, &mut spans);
                    (!spans.is_empty()).then(|| redact(s, &spans, replace))
                });
                Action::Modified {
                    reason: format!("redacted {}", describe(&counts)),
                }
            }
        }
    }

    fn denial(&self, direction: &str, reason: String, detections: Value) -> Denial {
        Denial {
            code: codes::SECURITY_BLOCK,
            message: format!("{direction} blocked: {}", self.display),
            data: json!({"plugin": self.handler, "reason": reason, "detections": detections}),
            reason,
        }
    }
}

impl Plugin for ContentFilter {
    fn handler(&self) -> &'static str {
        self.handler
    }

    fn on_request(&self, _call: &CallInfo<'_>, params: &mut Value) -> Result<Action, PluginError> {
        Ok(self.apply(params, "Request", Some(MAX_SCANNED_BYTES)))
    }

    fn on_response(
        &self,
        _call: &CallInfo<'_>,
        _params: &Value,
        result: &mut Value,
        _elapsed: Duration,
    ) -> Result<Action, PluginError> {
        Ok(self.apply(result, "Response", None))
    }

    fn on_notification(&self, _method: &str, params: &mut Value) -> Result<Action, PluginError> {
        Ok(self.apply(params, "Notification", None))
    }
}
