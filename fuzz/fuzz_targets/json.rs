//! JSON, HEC and Sentinel: output is one line of valid JSON; the canonical JSON reads back
//! to the same event.
#![no_main]
use gatekit_format::{Formatter, HecFormatter, HecSettings, JsonFormatter, SentinelFormatter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let e = gatekit_fuzz::event(data);
    let out = gatekit_fuzz::check(&JsonFormatter, &e);
    let back: gatekit_core::AuditEvent = serde_json::from_slice(&out).expect("reads back");
    assert_eq!(back, e);
    let hec = HecFormatter::new(HecSettings::default()).expect("defaults");
    let fs: [&dyn Formatter; 2] = [&hec, &SentinelFormatter];
    for f in fs {
        let out = gatekit_fuzz::check(f, &e);
        let _: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    }
});
