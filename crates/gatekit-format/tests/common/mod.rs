//! Test helpers shared by the property and integration tests.
#![allow(dead_code)]

pub mod expect;
pub mod gen;
pub mod kv;
pub mod parsers;
pub mod peers;
