//! Key=value body (`format: syslog`): for arbitrary hostile content in every field, an
//! independent parser written from the documented rule (`key="value"`, `\"` and `\\` inside
//! quotes, numbers bare) recovers exactly the documented keys, each once, with the value
//! sanitised as documented; no value can add a key, and no record holds a control character
//! or a line separator.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::gen;
use common::kv::{expected, parse};
use gatekit_format::{Formatter, KeyValueFormatter};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn kv_roundtrips_and_forges_nothing(e in gen::event()) {
        let mut out = Vec::new();
        KeyValueFormatter.format(&e, &mut out).unwrap();
        let line = String::from_utf8(out).unwrap();
        prop_assert!(!line.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'), "{}", line);
        prop_assert!(!line.starts_with("CEF:") && !line.starts_with("LEEF:"));
        let got = parse(&line).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got, expected(&e));
    }
}
