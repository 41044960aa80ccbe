//! Data minimisation: caps never exceed their limit nor split a UTF-8 character, and the
//! identity fields survive any policy.
#![no_main]
use gatekit_format::{DataPolicy, FnRedactor};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let e = gatekit_fuzz::event(data);
    let cap = 32 + usize::from(data.first().copied().unwrap_or(0));
    let policy = DataPolicy::default()
        .with_max_field_bytes(cap)
        .expect("cap >= 32")
        .with_max_parameters_bytes(cap * 2)
        .expect("cap >= 32")
        .with_redactor(Arc::new(FnRedactor(
            |_: &str, v: &mut serde_json::Value| {
                if let serde_json::Value::String(s) = v {
                    s.push_str(" [checked]");
                }
            },
        )));
    let m = policy.apply(&e);
    assert_eq!(m.event_id, e.event_id);
    assert_eq!(m.sequence, e.sequence);
    for s in [&m.message, &m.session_id, &m.correlation_id]
        .into_iter()
        .flatten()
    {
        assert!(s.len() <= cap);
    }
    if let Some(d) = &m.security_decision {
        assert!(d.reason.len() <= cap);
    }
});
