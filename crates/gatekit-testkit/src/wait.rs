//! Waiting in tests for something another thread or process makes true.
//!
//! A test asserts on the outcome, never on how long it took: the timeout is only there so a
//! test that will never pass fails with a message instead of hanging CI.

use std::time::{Duration, Instant};

/// Polls `done` every 20 ms until it returns true; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
