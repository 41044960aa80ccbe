//! CEF: no raw CR/LF, and the header has exactly seven unescaped `|` before the extension.
#![no_main]
use gatekit_format::{CefFormatter, CefSettings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let e = gatekit_fuzz::event(data);
    let f = CefFormatter::new(CefSettings::default()).expect("default settings");
    let out = gatekit_fuzz::check(&f, &e);
    // Count header pipes, skipping escaped characters (CEF header escapes `\\` and `\|`).
    let (mut pipes, mut i) = (0, 0);
    while i < out.len() && pipes < 7 {
        match out[i] {
            b'\\' => i += 1,
            b'|' => pipes += 1,
            _ => {}
        }
        i += 1;
    }
    assert_eq!(pipes, 7);
});
