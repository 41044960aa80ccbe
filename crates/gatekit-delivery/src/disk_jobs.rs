//! Disk maintenance off the worker's path: interval fsyncs and ack-file writes run on Tokio's
//! blocking pool while the worker keeps spilling and sending; their results are collected on
//! a later pass.
//!
//! Job: a slow or busy disk (an fsync can take hundreds of milliseconds on a shared machine)
//! must not hold a batch that is ready to go. The records are crash-safe in the page cache
//! once spilled; the fsync only narrows the power-loss window, so nothing needs to wait for
//! it except the next fsync.
//!
//! Invariants:
//! - At most one fsync job and one ack job at a time, so results arrive in order and the
//!   buffer's "persisted ack never moves backwards" check has little to do.
//! - The inline `DiskBuffer::maintain` (for file systems that cannot hand out a second file
//!   handle, and for ack writes nothing else has taken) runs only while no job is pending,
//!   so it never duplicates or blocks behind a running job.
//! - Before the buffer is closed, pending jobs are waited for ([`DiskJobs::drain`]), so an
//!   older ack write can never land after the final one.

use std::io;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Duration;

use crate::disk::{AckDone, DiskBuffer, DiskError};
use crate::metrics::Metrics;

/// Pending fsync and ack-file jobs of one worker.
#[derive(Debug, Default)]
pub(crate) struct DiskJobs {
    sync: Option<Receiver<(u64, io::Result<()>)>>,
    ack: Option<Receiver<AckDone>>,
}

/// What a pending job slot holds after a look.
enum Taken<T> {
    Done(T),
    Running,
    Lost,
}

fn take<T>(slot: &mut Option<Receiver<T>>) -> Option<Taken<T>> {
    let rx = slot.as_ref()?;
    let t = match rx.try_recv() {
        Ok(v) => Taken::Done(v),
        Err(TryRecvError::Empty) => return Some(Taken::Running),
        Err(TryRecvError::Disconnected) => Taken::Lost,
    };
    *slot = None;
    Some(t)
}

fn spawn<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Receiver<T> {
    let (tx, rx) = mpsc::channel();
    tokio::task::spawn_blocking(move || {
        let _ = tx.send(job());
    });
    rx
}

impl DiskJobs {
    /// Whether no job is running (nothing to collect on a later pass).
    pub(crate) fn is_idle(&self) -> bool {
        self.sync.is_none() && self.ack.is_none()
    }

    /// Collects finished jobs, starts due ones, and runs the inline maintenance when idle.
    /// Never waits.
    pub(crate) fn poll(&mut self, disk: &mut DiskBuffer, metrics: &Metrics) {
        match take(&mut self.sync) {
            Some(Taken::Done((seq, result))) => {
                if let Err(e) = disk.finish_sync(seq, result) {
                    report(metrics, &e);
                }
            }
            Some(Taken::Lost) => tracing::error!("Disk buffer fsync task failed."),
            Some(Taken::Running) | None => {}
        }
        match take(&mut self.ack) {
            Some(Taken::Done(done)) => {
                if let Err(e) = disk.finish_ack(done) {
                    report(metrics, &e);
                }
            }
            Some(Taken::Lost) => tracing::error!("Disk buffer ack task failed."),
            Some(Taken::Running) | None => {}
        }
        if self.ack.is_none() {
            if let Some(job) = disk.begin_ack() {
                self.ack = Some(spawn(move || job.run()));
            }
        }
        if self.sync.is_none() {
            if let Some(job) = disk.begin_sync() {
                self.sync = Some(spawn(move || job.run()));
            }
        }
        if self.sync.is_none() && self.ack.is_none() {
            if let Err(e) = disk.maintain() {
                report(metrics, &e);
            }
        }
    }

    /// Waits for pending jobs and records their results (before the buffer is closed).
    pub(crate) async fn drain(&mut self, disk: &mut DiskBuffer, metrics: &Metrics) {
        while self.sync.is_some() || self.ack.is_some() {
            tokio::time::sleep(Duration::from_millis(1)).await;
            match take(&mut self.sync) {
                Some(Taken::Done((seq, result))) => {
                    if let Err(e) = disk.finish_sync(seq, result) {
                        report(metrics, &e);
                    }
                }
                Some(Taken::Lost) | Some(Taken::Running) | None => {}
            }
            match take(&mut self.ack) {
                Some(Taken::Done(done)) => {
                    if let Err(e) = disk.finish_ack(done) {
                        report(metrics, &e);
                    }
                }
                Some(Taken::Lost) | Some(Taken::Running) | None => {}
            }
        }
    }
}

/// Counts and logs a disk error (the worker's single place for this).
pub(crate) fn report(metrics: &Metrics, e: &DiskError) {
    metrics
        .disk_errors
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::error!(error = %e, "Disk buffer error.");
}
