//! Test helpers shared by the property and integration tests.
#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]

pub(crate) mod expect;
pub(crate) mod gen;
pub(crate) mod kv;
pub(crate) mod parsers;
pub(crate) mod peers;
