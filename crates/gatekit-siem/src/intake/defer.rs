//! Deferred wake-ups of the render thread, for the gateway's runtime thread.
//!
//! Job: let the thread that answers MCP calls hand events over without waking the render
//! thread for each one. Waking it costs that thread a futex call and, on a two-core machine,
//! puts the render thread on a CPU while the call it records is still in flight (forwarded to
//! the upstream, or on its way back to the client); measured with the latency harness, that
//! was most of what SIEM auditing added to a call (docs/performance.md). A thread that opted
//! in ([`defer_wakes_on_this_thread`]) only queues the event and notes which intake it owes a
//! wake-up; it pays the wake-ups in [`wake_deferred`], which the gateway calls from its
//! runtime's park hook, i.e. once the request is forwarded or the answer written and the thread
//! has nothing left to do.
//!
//! Invariants: an event queued this way is never left unannounced for long. The thread wakes
//! the render thread before it sleeps; [`DEFER_LIMIT`] queued events wake it at once (a thread
//! that is busy for a long stretch); and the sink's monitor kicks the intake on every tick, for
//! a thread that never sleeps. Threads that did not opt in (the SIEM runtime's tasks, `siem
//! load`, adoption) always wake the render thread at once.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

/// Events queued with deferred wake-ups after which the render thread is woken anyway.
pub(crate) const DEFER_LIMIT: usize = 256;

/// A queue whose consumer can be woken.
pub(crate) trait Kick: Send + Sync {
    /// Wakes the consumer if it sleeps while items are queued.
    fn kick(&self);
}

thread_local! {
    /// `None`: this thread wakes at once. `Some`: the queues it owes a wake-up.
    static OWED: RefCell<Option<Vec<Weak<dyn Kick>>>> = const { RefCell::new(None) };
}

/// From now on, events handed over on this thread wake the render thread only in
/// [`wake_deferred`] (or past [`DEFER_LIMIT`]). Call it on a runtime thread whose park hook
/// calls [`wake_deferred`].
pub fn defer_wakes_on_this_thread() {
    OWED.with(|owed| {
        owed.borrow_mut().get_or_insert_with(Vec::new);
    });
}

/// Pays every wake-up this thread owes. Cheap when it owes none.
pub fn wake_deferred() {
    OWED.with(|owed| {
        // `kick` takes the queue's own lock and never this thread-local, so holding the
        // borrow is safe; draining keeps the list's allocation for the next call.
        if let Some(list) = owed.borrow_mut().as_mut() {
            for queue in list.drain(..) {
                if let Some(queue) = queue.upgrade() {
                    queue.kick();
                }
            }
        }
    });
}

/// Whether this thread defers wake-ups; if so, notes that it owes `queue` one.
pub(crate) fn owe(queue: &Arc<impl Kick + 'static>) -> bool {
    OWED.with(|owed| {
        let mut owed = owed.borrow_mut();
        let Some(list) = owed.as_mut() else {
            return false;
        };
        // Usually one queue (the sink's intake): compared by address, no reference taken.
        if !list
            .iter()
            .any(|q| std::ptr::addr_eq(q.as_ptr(), Arc::as_ptr(queue)))
        {
            let queue: Arc<dyn Kick> = Arc::clone(queue) as Arc<dyn Kick>;
            list.push(Arc::downgrade(&queue));
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    #[derive(Default)]
    struct Counter(AtomicUsize);
    impl Kick for Counter {
        fn kick(&self) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn a_thread_that_did_not_opt_in_owes_nothing() {
        let queue = Arc::new(Counter::default());
        let deferred = std::thread::spawn(move || {
            let deferred = owe(&queue);
            wake_deferred();
            (deferred, queue.0.load(SeqCst))
        })
        .join()
        .unwrap_or_else(|_| panic!("thread panicked"));
        assert_eq!(deferred, (false, 0));
    }

    #[test]
    fn owed_wake_ups_are_paid_once_per_queue_and_then_forgotten() {
        let (a, b) = (Arc::new(Counter::default()), Arc::new(Counter::default()));
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        std::thread::spawn(move || {
            defer_wakes_on_this_thread();
            assert!(owe(&a2));
            assert!(owe(&a2));
            assert!(owe(&b2));
            wake_deferred();
            wake_deferred();
        })
        .join()
        .unwrap_or_else(|_| panic!("thread panicked"));
        assert_eq!((a.0.load(SeqCst), b.0.load(SeqCst)), (1, 1));
    }
}
