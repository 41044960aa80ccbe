//! LEEF 1.0 and 2.0: no raw CR/LF; the attribute section splits into `key=value` pairs with
//! unique alphanumeric keys (no value can smuggle in a delimiter).
#![no_main]
use gatekit_format::{LeefFormatter, LeefSettings, LeefVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let e = gatekit_fuzz::event(data);
    let v2 = data.first().is_some_and(|b| b & 1 == 1);
    let settings = if v2 {
        LeefSettings {
            version: LeefVersion::V2 {
                delimiter: "x5E".into(),
            },
            ..LeefSettings::default()
        }
    } else {
        LeefSettings::v1()
    };
    let f = LeefFormatter::new(settings).expect("valid settings");
    let out = gatekit_fuzz::check(&f, &e);
    let text = std::str::from_utf8(&out).expect("utf-8");
    let header_fields = if v2 { 6 } else { 5 };
    let attrs = text
        .splitn(header_fields + 1, '|')
        .nth(header_fields)
        .expect("attributes");
    let mut keys = std::collections::HashSet::new();
    for pair in attrs.split(f.delimiter()) {
        let (k, _) = pair.split_once('=').expect("key=value");
        assert!(
            k.chars().all(|c| c.is_ascii_alphanumeric()),
            "bad key {k:?}"
        );
        assert!(keys.insert(k.to_owned()), "duplicate key {k}");
    }
});
