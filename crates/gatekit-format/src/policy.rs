//! Data minimisation before egress: per-destination field and parameter selection, size
//! caps and parameter redaction (the whole-event limit is in `size.rs`).
//!
//! Job: [`DataPolicy`] turns the canonical event into the event a destination may see:
//! drop optional fields (exclude list, or keep only an include list), keep or drop tool
//! parameters by name, pass each parameter through a [`Redactor`] (the PII and secrets
//! detectors plug in here), and cap string sizes. [`Minimised`] applies a policy in front
//! of any [`Formatter`].
//!
//! Invariants: identity fields (timestamp, event type, severity, source, version,
//! event_id, sequence, host, versions) can never be removed, so every destination can
//! still de-duplicate and order events; truncation happens on UTF-8 character boundaries
//! and appends [`crate::TRUNCATION_MARKER`]; an over-size parameter map is replaced by
//! `{"gatekit_truncated": "<cut JSON text>"}` so the SIEM sees that it was cut; a policy
//! with nothing to do borrows the event instead of cloning it.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use gatekit_core::{AuditEvent, EventType};
use serde_json::{Map, Value};

use crate::error::FormatError;
use crate::formatter::Formatter;
use crate::text::{truncate, MIN_CAP};

/// Rewrites one tool parameter in place (e.g. replaces a detected secret with
/// `"[REDACTED]"`). Called once per top-level parameter, with its name.
pub trait Redactor: Send + Sync + fmt::Debug {
    /// Redacts `value`, the parameter called `name`.
    fn redact(&self, name: &str, value: &mut Value);

    /// A replacement for a parameter *name* that must not be sent as it is (a secret used
    /// as an object key); `None` keeps the name. The default keeps every name.
    fn redact_key(&self, _name: &str) -> Option<String> {
        None
    }

    /// Redacts a free-text field (`message`, `error.message`, `security_decision.reason`)
    /// of an event of type `event_type` in place. The default leaves text alone.
    fn redact_text(&self, _event_type: EventType, _text: &mut String) {}
}

/// Adapts a closure into a [`Redactor`].
pub struct FnRedactor<F>(pub F);

impl<F> fmt::Debug for FnRedactor<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnRedactor")
    }
}

impl<F: Fn(&str, &mut Value) + Send + Sync> Redactor for FnRedactor<F> {
    fn redact(&self, name: &str, value: &mut Value) {
        (self.0)(name, value);
    }
}

/// An optional event field that a destination may drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// `correlation_id`
    CorrelationId,
    /// `session_id`
    SessionId,
    /// `client_info` (whole)
    ClientInfo,
    /// `client_info.user`
    ClientUser,
    /// `mcp_data.parameters`
    Parameters,
    /// `security_decision.reason`
    Reason,
    /// `upstream_server.command`
    UpstreamCommand,
    /// `error.message`
    ErrorMessage,
    /// `message`
    Message,
    /// `hash_chain`
    HashChain,
}

impl Field {
    const NAMES: [(&'static str, Field); 10] = [
        ("correlation_id", Field::CorrelationId),
        ("session_id", Field::SessionId),
        ("client_info", Field::ClientInfo),
        ("client_info.user", Field::ClientUser),
        ("mcp_data.parameters", Field::Parameters),
        ("security_decision.reason", Field::Reason),
        ("upstream_server.command", Field::UpstreamCommand),
        ("error.message", Field::ErrorMessage),
        ("message", Field::Message),
        ("hash_chain", Field::HashChain),
    ];

    /// Parses a field path as written in the configuration (`mcp_data.parameters`).
    pub fn parse(path: &str) -> Result<Self, FormatError> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == path)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                FormatError::setting(
                    "fields",
                    format!("{path:?} is not a removable field (identity fields are always sent)"),
                )
            })
    }
}

/// A destination's minimisation policy. Build with the `with_*` methods; [`Default`]
/// keeps everything.
#[derive(Debug, Clone, Default)]
pub struct DataPolicy {
    include_fields: Option<BTreeSet<Field>>,
    exclude_fields: BTreeSet<Field>,
    include_params: Option<BTreeSet<String>>,
    exclude_params: BTreeSet<String>,
    max_field_bytes: Option<usize>,
    max_parameters_bytes: Option<usize>,
    redactor: Option<Arc<dyn Redactor>>,
}

impl DataPolicy {
    /// Keeps only these optional fields (identity fields are always kept).
    pub fn with_include_fields(mut self, paths: &[&str]) -> Result<Self, FormatError> {
        let set = paths
            .iter()
            .map(|p| Field::parse(p))
            .collect::<Result<_, _>>()?;
        self.include_fields = Some(set);
        Ok(self)
    }

    /// Drops these optional fields.
    pub fn with_exclude_fields(mut self, paths: &[&str]) -> Result<Self, FormatError> {
        for p in paths {
            self.exclude_fields.insert(Field::parse(p)?);
        }
        Ok(self)
    }

    /// Keeps only the tool parameters with these names.
    pub fn with_include_params(mut self, names: &[&str]) -> Self {
        self.include_params = Some(names.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Drops the tool parameters with these names.
    pub fn with_exclude_params(mut self, names: &[&str]) -> Self {
        self.exclude_params
            .extend(names.iter().map(|s| (*s).to_owned()));
        self
    }

    /// Caps every free-text string (and every string inside parameters) at `max` bytes.
    pub fn with_max_field_bytes(mut self, max: usize) -> Result<Self, FormatError> {
        if max < MIN_CAP {
            return Err(FormatError::setting(
                "max_field_bytes",
                format!("must be at least {MIN_CAP}"),
            ));
        }
        self.max_field_bytes = Some(max);
        Ok(self)
    }

    /// Caps the JSON text of the parameter map at `max` bytes.
    pub fn with_max_parameters_bytes(mut self, max: usize) -> Result<Self, FormatError> {
        if max < MIN_CAP {
            return Err(FormatError::setting(
                "max_parameters_bytes",
                format!("must be at least {MIN_CAP}"),
            ));
        }
        self.max_parameters_bytes = Some(max);
        Ok(self)
    }

    /// Passes every kept parameter through `redactor`.
    pub fn with_redactor(mut self, redactor: Arc<dyn Redactor>) -> Self {
        self.redactor = Some(redactor);
        self
    }

    fn is_noop(&self) -> bool {
        self.include_fields.is_none()
            && self.exclude_fields.is_empty()
            && self.include_params.is_none()
            && self.exclude_params.is_empty()
            && self.max_field_bytes.is_none()
            && self.max_parameters_bytes.is_none()
            && self.redactor.is_none()
    }

    fn keeps(&self, f: Field) -> bool {
        !self.exclude_fields.contains(&f)
            && self
                .include_fields
                .as_ref()
                .is_none_or(|inc| inc.contains(&f))
    }

    /// The event as this destination may see it.
    pub fn apply<'a>(&self, event: &'a AuditEvent) -> Cow<'a, AuditEvent> {
        if self.is_noop() {
            return Cow::Borrowed(event);
        }
        let mut e = event.clone();
        if !self.keeps(Field::CorrelationId) {
            e.correlation_id = None;
        }
        if !self.keeps(Field::SessionId) {
            e.session_id = None;
        }
        if !self.keeps(Field::ClientInfo) {
            e.client_info = None;
        } else if !self.keeps(Field::ClientUser) {
            if let Some(c) = &mut e.client_info {
                c.user = None;
            }
        }
        if !self.keeps(Field::Reason) {
            if let Some(d) = &mut e.security_decision {
                d.reason.clear();
            }
        }
        if !self.keeps(Field::UpstreamCommand) {
            if let Some(u) = &mut e.upstream_server {
                u.command = None;
            }
        }
        if !self.keeps(Field::ErrorMessage) {
            if let Some(x) = &mut e.error {
                x.message.clear();
            }
        }
        if !self.keeps(Field::Message) {
            e.message = None;
        }
        if !self.keeps(Field::HashChain) {
            e.hash_chain = None;
        }
        if let Some(r) = &self.redactor {
            // Free text can quote what a client sent (an upstream's error echoing an
            // argument): it goes through the same detectors as the parameters.
            let t = e.event_type;
            if let Some(s) = &mut e.message {
                r.redact_text(t, s);
            }
            if let Some(x) = &mut e.error {
                r.redact_text(t, &mut x.message);
            }
            if let Some(d) = &mut e.security_decision {
                r.redact_text(t, &mut d.reason);
            }
        }
        let keep_params = self.keeps(Field::Parameters);
        if let Some(m) = &mut e.mcp_data {
            if !keep_params {
                m.parameters = None;
            } else if let Some(p) = m.parameters.take() {
                m.parameters = Some(self.minimise_params(p));
            }
        }
        if let Some(max) = self.max_field_bytes {
            cap_strings(&mut e, max);
        }
        Cow::Owned(e)
    }

    fn minimise_params(&self, params: Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, mut v) in params {
            if self.exclude_params.contains(&k)
                || self
                    .include_params
                    .as_ref()
                    .is_some_and(|inc| !inc.contains(&k))
            {
                continue;
            }
            let mut key = k;
            if let Some(r) = &self.redactor {
                r.redact(&key, &mut v);
                if let Some(renamed) = r.redact_key(&key) {
                    key = renamed;
                }
            }
            if let Some(max) = self.max_field_bytes {
                cap_value(&mut v, max);
            }
            out.insert(key, v);
        }
        if let Some(max) = self.max_parameters_bytes {
            let text = serde_json::to_string(&out).unwrap_or_default();
            if text.len() > max {
                let mut cut = Map::new();
                cut.insert(
                    "gatekit_truncated".to_owned(),
                    Value::String(truncate(&text, max).into_owned()),
                );
                return cut;
            }
        }
        out
    }
}

fn cap(s: &mut String, max: usize) {
    if s.len() > max {
        *s = truncate(s, max).into_owned();
    }
}

pub(crate) fn cap_value(v: &mut Value, max: usize) {
    match v {
        Value::String(s) => cap(s, max),
        Value::Array(a) => a.iter_mut().for_each(|x| cap_value(x, max)),
        Value::Object(o) => o.values_mut().for_each(|x| cap_value(x, max)),
        _ => {}
    }
}

pub(crate) fn cap_strings(e: &mut AuditEvent, max: usize) {
    for s in [&mut e.correlation_id, &mut e.session_id, &mut e.message]
        .into_iter()
        .flatten()
    {
        cap(s, max);
    }
    if let Some(c) = &mut e.client_info {
        cap(&mut c.client_id, max);
        cap(&mut c.client_version, max);
        if let Some(u) = &mut c.user {
            cap(u, max);
        }
    }
    if let Some(m) = &mut e.mcp_data {
        cap(&mut m.method, max);
        for s in [&mut m.tool_name, &mut m.namespaced_tool_name]
            .into_iter()
            .flatten()
        {
            cap(s, max);
        }
    }
    if let Some(d) = &mut e.security_decision {
        cap(&mut d.plugin, max);
        cap(&mut d.reason, max);
    }
    if let Some(u) = &mut e.upstream_server {
        cap(&mut u.name, max);
        if let Some(c) = &mut u.command {
            cap(c, max);
        }
    }
    if let Some(x) = &mut e.error {
        cap(&mut x.message, max);
    }
}

/// A formatter that applies a [`DataPolicy`] first.
#[derive(Debug)]
pub struct Minimised<F> {
    policy: DataPolicy,
    inner: F,
}

impl<F: Formatter> Minimised<F> {
    /// Wraps `inner` with `policy`.
    pub fn new(policy: DataPolicy, inner: F) -> Self {
        Self { policy, inner }
    }
}

impl<F: Formatter> Formatter for Minimised<F> {
    fn format(&self, event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), FormatError> {
        self.inner.format(&self.policy.apply(event), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatekit_core::{EventType, Severity};

    fn event() -> AuditEvent {
        let mut params = Map::new();
        params.insert("path".into(), Value::String("/etc/passwd".into()));
        params.insert("token".into(), Value::String("sk-secret".into()));
        params.insert("blob".into(), Value::String("x".repeat(200)));
        AuditEvent::new(
            EventType::McpRequest,
            Severity::Info,
            gatekit_core::Timestamp::from_unix_millis(0),
            gatekit_core::EventId::from_u128(1),
            1,
        )
        .with_session_id("s-1")
        .with_message("m".repeat(100))
        .with_client(gatekit_core::ClientInfo {
            client_id: "c".into(),
            client_version: "1".into(),
            user: Some("alice".into()),
        })
        .with_mcp(gatekit_core::McpData {
            method: "tools/call".into(),
            tool_name: Some("read".into()),
            namespaced_tool_name: None,
            parameters: Some(params),
        })
    }

    #[test]
    fn default_policy_borrows() {
        let e = event();
        assert!(matches!(DataPolicy::default().apply(&e), Cow::Borrowed(_)));
    }

    #[test]
    fn include_and_exclude_fields() {
        let e = event();
        let p = DataPolicy::default()
            .with_include_fields(&["session_id", "client_info"])
            .unwrap()
            .with_exclude_fields(&["client_info.user"])
            .unwrap();
        let m = p.apply(&e);
        assert_eq!(m.session_id.as_deref(), Some("s-1"));
        assert_eq!(m.message, None);
        assert_eq!(m.mcp_data.as_ref().unwrap().parameters, None);
        let c = m.client_info.as_ref().unwrap();
        assert_eq!((c.client_id.as_str(), c.user.as_deref()), ("c", None));
        assert_eq!(m.event_id, e.event_id);
        assert!(DataPolicy::default()
            .with_exclude_fields(&["event_id"])
            .is_err());
        assert!(DataPolicy::default()
            .with_include_fields(&["nope"])
            .is_err());
    }

    #[test]
    fn params_are_filtered_redacted_and_capped() {
        let e = event();
        let redactor = FnRedactor(|name: &str, v: &mut Value| {
            if name == "token" {
                *v = Value::String("[REDACTED]".into());
            }
        });
        let p = DataPolicy::default()
            .with_exclude_params(&["path"])
            .with_redactor(Arc::new(redactor))
            .with_max_field_bytes(40)
            .unwrap();
        let m = p.apply(&e);
        let params = m.mcp_data.as_ref().unwrap().parameters.as_ref().unwrap();
        assert_eq!(params.get("path"), None);
        assert_eq!(params["token"], "[REDACTED]");
        let blob = params["blob"].as_str().unwrap();
        assert!(blob.len() <= 40 && blob.ends_with(crate::TRUNCATION_MARKER));
        assert!(m
            .message
            .as_ref()
            .unwrap()
            .ends_with(crate::TRUNCATION_MARKER));

        let only = DataPolicy::default()
            .with_include_params(&["path"])
            .apply(&e);
        let keys: Vec<_> = only
            .mcp_data
            .as_ref()
            .unwrap()
            .parameters
            .as_ref()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["path"]);

        let capped = DataPolicy::default()
            .with_max_parameters_bytes(64)
            .unwrap()
            .apply(&e);
        let cut = capped
            .mcp_data
            .as_ref()
            .unwrap()
            .parameters
            .as_ref()
            .unwrap();
        let text = cut["gatekit_truncated"].as_str().unwrap();
        assert!(text.len() <= 64 && text.ends_with(crate::TRUNCATION_MARKER));
        assert!(DataPolicy::default().with_max_parameters_bytes(8).is_err());
    }
}
