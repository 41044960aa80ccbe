//! The hand-off between the request thread and the render thread.
//!
//! Job: a bounded FIFO of work items whose wake-ups are paid per burst, not per item.
//!
//! Why not `std::sync::mpsc::sync_channel`: a bounded std channel wakes a blocked sender on
//! every `recv` and the receiver on every `send` into an empty channel. Under load the two
//! threads then take turns sleeping and waking once per event, and on this project's VMs a
//! futex wake-up of an idle vCPU costs several microseconds, more than rendering the event.
//!
//! Invariants:
//! - Items leave in the order they were pushed (the spool's order relies on it: `mod.rs`).
//! - The consumer takes everything queued in one step, so a full queue empties at once and the
//!   waiting producers are woken once, together, with the whole capacity free (hysteresis
//!   without a second threshold).
//! - A producer notifies only when the consumer is asleep; the consumer notifies only when a
//!   producer is waiting. No item is pushed after [`Handoff::close`], and the consumer still
//!   gets every item pushed before it.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

/// A bounded queue of `T` between producers and one consumer.
pub(crate) struct Handoff<T> {
    state: Mutex<State<T>>,
    /// The consumer waits here for items.
    items_ready: Condvar,
    /// Producers wait here for room.
    room_ready: Condvar,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    consumer_asleep: bool,
    producers_waiting: usize,
}

/// Why an item was not queued; the item is handed back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError<T> {
    /// The queue holds `capacity` items and the caller would not wait.
    Full(T),
    /// [`Handoff::close`] was called.
    Closed(T),
}

impl<T> Handoff<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                consumer_asleep: false,
                producers_waiting: 0,
            }),
            items_ready: Condvar::new(),
            room_ready: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    /// A poisoned lock only means a thread panicked between two plain queue operations; the
    /// queue itself is consistent, so keep going rather than lose audit events.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item`; when the queue is full, waits for room if `wait`, else refuses.
    pub(crate) fn push(&self, item: T, wait: bool) -> Result<(), PushError<T>> {
        self.push_waking_at(item, wait, 1)
    }

    /// Like [`Handoff::push`], but a sleeping consumer is woken only once `wake_at` items are
    /// queued; the producer owes a [`Handoff::kick`] for fewer.
    pub(crate) fn push_deferred(
        &self,
        item: T,
        wait: bool,
        wake_at: usize,
    ) -> Result<(), PushError<T>> {
        self.push_waking_at(item, wait, wake_at)
    }

    /// Wakes a sleeping consumer if anything is queued.
    pub(crate) fn kick(&self) {
        let mut state = self.lock();
        if state.consumer_asleep && !state.items.is_empty() {
            state.consumer_asleep = false;
            self.items_ready.notify_one();
        }
    }

    fn push_waking_at(&self, item: T, wait: bool, wake_at: usize) -> Result<(), PushError<T>> {
        let mut state = self.lock();
        while !state.closed && state.items.len() >= self.capacity {
            if !wait {
                return Err(PushError::Full(item));
            }
            state.producers_waiting += 1;
            state = self
                .room_ready
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
            state.producers_waiting -= 1;
        }
        if state.closed {
            return Err(PushError::Closed(item));
        }
        state.items.push_back(item);
        if state.consumer_asleep && state.items.len() >= wake_at {
            state.consumer_asleep = false;
            self.items_ready.notify_one();
        }
        Ok(())
    }

    /// Moves every queued item into `into` (which should be empty), waiting while there are
    /// none. Returns false once the queue is closed and empty: nothing more will come.
    pub(crate) fn take_all(&self, into: &mut VecDeque<T>) -> bool {
        let mut state = self.lock();
        loop {
            if !state.items.is_empty() {
                std::mem::swap(&mut state.items, into);
                if state.producers_waiting > 0 {
                    self.room_ready.notify_all();
                }
                return true;
            }
            if state.closed {
                return false;
            }
            state.consumer_asleep = true;
            state = self
                .items_ready
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Refuses further pushes and wakes everyone; items already queued are still taken.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.consumer_asleep = false;
        self.items_ready.notify_all();
        self.room_ready.notify_all();
    }

    /// Items queued and not yet taken.
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }
}

impl<T: Send> super::defer::Kick for Handoff<T> {
    fn kick(&self) {
        Handoff::kick(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn items_arrive_in_push_order_across_bursts() {
        let handoff = Arc::new(Handoff::new(8));
        let producer = {
            let handoff = Arc::clone(&handoff);
            std::thread::spawn(move || {
                for i in 0..10_000u32 {
                    handoff
                        .push(i, true)
                        .unwrap_or_else(|e| panic!("push {i}: {e:?}"));
                }
                handoff.close();
            })
        };
        let mut seen = Vec::new();
        let mut burst = VecDeque::new();
        while handoff.take_all(&mut burst) {
            assert!(burst.len() <= 8, "a burst is at most the capacity");
            seen.extend(burst.drain(..));
        }
        producer
            .join()
            .unwrap_or_else(|_| panic!("producer panicked"));
        assert_eq!(seen, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_queue_refuses_a_caller_that_will_not_wait() {
        let handoff = Handoff::new(2);
        handoff.push(1, false).unwrap_or_else(|e| panic!("{e:?}"));
        handoff.push(2, false).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(handoff.push(3, false), Err(PushError::Full(3)));
        assert_eq!(handoff.len(), 2);
    }

    #[test]
    fn after_close_pushes_are_refused_but_queued_items_are_still_taken() {
        let handoff = Handoff::new(4);
        handoff.push("a", true).unwrap_or_else(|e| panic!("{e:?}"));
        handoff.close();
        assert_eq!(handoff.push("b", true), Err(PushError::Closed("b")));
        let mut burst = VecDeque::new();
        assert!(handoff.take_all(&mut burst));
        assert_eq!(burst, ["a"]);
        burst.clear();
        assert!(!handoff.take_all(&mut burst), "closed and empty");
    }

    #[test]
    fn a_producer_waiting_on_a_full_queue_is_released_by_close() {
        let handoff = Arc::new(Handoff::new(1));
        handoff.push(0, true).unwrap_or_else(|e| panic!("{e:?}"));
        let waiter = {
            let handoff = Arc::clone(&handoff);
            std::thread::spawn(move || handoff.push(1, true))
        };
        // Whether the waiter is already asleep or not, close must end its wait.
        handoff.close();
        let result = waiter.join().unwrap_or_else(|_| panic!("waiter panicked"));
        assert_eq!(result, Err(PushError::Closed(1)));
    }
}
