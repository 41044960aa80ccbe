//! Test helpers shared by the integration tests of this crate (and, by path, of `gatekit`).
pub mod hec_receiver;
