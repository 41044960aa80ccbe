//! Test doubles shared by the integration tests: a scripted transport and helpers.
#![allow(
    clippy::unwrap_used,
    dead_code,
    reason = "shared by several test binaries, each using a part; tests fail loudly on errors"
)]

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatekit_delivery::{
    BatchOutcome, DeliveryConfig, DeliverySettings, Record, RecordId, SendFuture, Transport,
};
use tokio::time::Instant;

/// One scripted answer.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Answer(BatchOutcome),
    /// Never answers (a dead or hung endpoint).
    Hang,
    /// Answers after a delay.
    After(Duration, BatchOutcome),
}

/// A call the transport saw.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub at: Instant,
    pub ids: Vec<u128>,
}

/// A transport that answers from a script, then with a default step.
#[derive(Debug)]
pub(crate) struct Scripted {
    pub name: String,
    pub script: Mutex<VecDeque<Step>>,
    pub default: Mutex<Step>,
    pub calls: Mutex<Vec<Call>>,
    pub delivered: Mutex<Vec<u128>>,
}

impl Scripted {
    pub(crate) fn new(name: &str, default: Step) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(default),
            calls: Mutex::new(Vec::new()),
            delivered: Mutex::new(Vec::new()),
        })
    }
    pub(crate) fn ok(name: &str) -> Arc<Self> {
        Self::new(name, Step::Answer(BatchOutcome::Delivered))
    }
    pub(crate) fn push(&self, step: Step) {
        self.script.lock().unwrap().push_back(step);
    }
    pub(crate) fn set_default(&self, step: Step) {
        *self.default.lock().unwrap() = step;
    }
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    pub(crate) fn delivered(&self) -> Vec<u128> {
        self.delivered.lock().unwrap().clone()
    }
}

pub(crate) fn retry(reason: &str) -> Step {
    Step::Answer(BatchOutcome::Retry {
        reason: reason.into(),
        retry_after: None,
    })
}

impl Transport for Scripted {
    fn name(&self) -> &str {
        &self.name
    }
    fn send<'a>(&'a self, batch: &'a [Record]) -> SendFuture<'a> {
        let ids: Vec<u128> = batch.iter().map(|r| r.id.0).collect();
        self.calls.lock().unwrap().push(Call {
            at: Instant::now(),
            ids: ids.clone(),
        });
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.default.lock().unwrap().clone());
        Box::pin(async move {
            let outcome = match step {
                Step::Answer(o) => o,
                Step::Hang => std::future::pending().await,
                Step::After(d, o) => {
                    tokio::time::sleep(d).await;
                    o
                }
            };
            let n = match &outcome {
                BatchOutcome::Delivered => ids.len(),
                BatchOutcome::Partial { delivered, .. } => (*delivered).min(ids.len()),
                _ => 0,
            };
            self.delivered.lock().unwrap().extend_from_slice(&ids[..n]);
            outcome
        })
    }
}

/// Settings for tests: small batches, short timers, dead letters in `dir`.
pub(crate) fn config(dir: &Path) -> DeliveryConfig {
    DeliveryConfig {
        batch_size: 10,
        batch_timeout: 0.1,
        flush_interval: 1.0,
        dead_letter_path: Some(dir.join("dead-letter.jsonl")),
        ..DeliveryConfig::default()
    }
}

pub(crate) fn settings(c: &DeliveryConfig) -> DeliverySettings {
    c.validate("test").unwrap()
}

pub(crate) fn rec(id: u128) -> Record {
    Record::new(RecordId(id), format!("event {id}").into_bytes())
}

/// Polls `cond` while letting (possibly paused) time advance; panics after `limit` steps.
pub(crate) async fn wait_until(limit: u32, mut cond: impl FnMut() -> bool) {
    for _ in 0..limit {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(cond(), "condition not reached");
}

/// Like `wait_until`, printing `show()` when the condition is not reached.
pub(crate) async fn wait_or_show<T: std::fmt::Debug>(
    limit: u32,
    mut cond: impl FnMut() -> bool,
    show: impl Fn() -> T,
) {
    for _ in 0..limit {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(cond(), "condition not reached: {:#?}", show());
}

/// Dead-letter lines as JSON.
pub(crate) fn dead_letters(dir: &Path) -> Vec<serde_json::Value> {
    match std::fs::read_to_string(dir.join("dead-letter.jsonl")) {
        Ok(t) => t
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Resident set size in bytes from /proc/self/statm.
pub(crate) fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}
