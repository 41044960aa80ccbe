//! The SIEM intake: how an audit event leaves the request thread.
//!
//! Job: the request thread hands the canonical event over in a few microseconds (a shared
//! reference pushed onto the hand-off queue, `handoff.rs`; with a spool, one JSON
//! serialisation and one `write` first), and a render thread of its own links it into the hash chain, renders it for
//! every destination (data minimisation, detectors, format, framing) and submits it to each
//! delivery pipeline.
//!
//! Invariants:
//! - Order: with a spool, the spool append and the hand-off push happen under one lock, so the
//!   render thread sees events in spool order, which is what settlement relies on (see
//!   `spool/mod.rs`). The hash chain is linked on the render thread, in that same order.
//! - Committed: when [`Intake::accept`] returns for a spooled event, its bytes were written to
//!   the spool file (the OS has them; fsync by the spool's policy), so a SIGKILL after the
//!   gateway answered cannot lose the event: the next Gatekit process adopts the spool.
//! - The render thread waits for room in a destination under `block` and `fail_closed` (the
//!   spool or the hand-off still holds the event); `drop_*` policies never wait. The gateway's
//!   own path waits only when the render thread is [`HANDOFF_CAPACITY`] events behind, so
//!   the trail is slowed, never silently thinned; the sink's own reports (system events from
//!   runtime tasks) never wait, they are dropped and counted instead, because a runtime task
//!   that waits here could stall the very pipeline the render thread waits for.

pub(crate) mod defer;
mod handoff;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use gatekit_core::chain::Chain;
use gatekit_core::AuditEvent;
use gatekit_delivery::disk::{DiskBuffer, Mark};
use gatekit_delivery::{Record, RecordId, SubmitError, Ticket};
use gatekit_format::Formatter;
use tracing::warn;

use crate::destination::Destination;
use crate::spool::bell::KeeperBell;
use handoff::Handoff;

/// Events the render thread may fall behind before the gateway's path waits for it. Tens of
/// milliseconds of rendering; it was 65,536, but since the render thread takes the whole queue
/// at once that let it run a long way ahead of the delivery worker: peak RSS in
/// `scripts/bench-siem-tls` fell from about 228 to 99-107 MiB at 8,192, and the rate rose
/// (docs/performance.md).
pub(crate) const HANDOFF_CAPACITY: usize = 8_192;

/// Records the render thread queues at one destination before it wakes that destination's
/// worker within a burst (it always wakes it at the end of a burst). Enough to make a spill a
/// few hundred records long, few enough that at 200k events/s a worker waits about 2 ms.
const WAKE_EVERY: usize = 512;

/// Whether [`Intake::accept`] may wait for room in the hand-off queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The gateway's request path: wait rather than lose the event.
    Yes,
    /// A runtime task reporting trouble: never wait (drop and count instead).
    No,
}

/// What travels to the render thread.
enum Work {
    /// An event, shared with the gateway's audit fan-out (no copy on the request path), and
    /// its spool record when it has one to settle.
    Event {
        event: Arc<AuditEvent>,
        spooled: Option<Spooled>,
    },
    /// Answered once everything before it is submitted.
    Flush(std::sync::mpsc::Sender<()>),
}

/// State behind one lock: whether events are still taken (not once closing) and the spool.
pub(crate) struct State {
    open: bool,
    pub(crate) spool: Option<DiskBuffer>,
}

/// Where a spooled event's record ends in the spool, and its size, so it can be acknowledged
/// by position once settled (`DiskBuffer::ack_through`).
#[derive(Debug, Clone, Copy)]
struct Spooled {
    end: Mark,
    bytes: u64,
}

/// One spooled event waiting to settle: the ticket each destination gave it.
struct Entry {
    tickets: Vec<(usize, Ticket)>,
    spooled: Spooled,
}

/// Spool records every destination settled, oldest first: how many, their bytes, and where
/// the last one ends.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Settled {
    pub(crate) events: u64,
    pub(crate) bytes: u64,
    pub(crate) end: Mark,
}

/// Per spooled event, the ticket each destination gave it; in spool order.
#[derive(Default)]
pub(crate) struct Settlement {
    entries: Mutex<VecDeque<Entry>>,
}

/// A ticket no destination ever reaches: the event could not be handed to a pipeline, so the
/// spool must keep it for the next process.
const NEVER: Ticket = Ticket(u64::MAX);

impl Settlement {
    fn push(&self, entry: Entry) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(entry);
    }

    /// Removes the oldest entries every destination has settled; `None` if there are none.
    pub(crate) fn take_settled(&self, destinations: &[Destination]) -> Option<Settled> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut settled: Option<Settled> = None;
        while let Some(front) = entries.front() {
            let done = front.tickets.iter().all(|(i, t)| {
                destinations
                    .get(*i)
                    .is_none_or(|d| d.producer.settled() >= *t)
            });
            if !done {
                break;
            }
            let Spooled { end, bytes } = front.spooled;
            entries.pop_front();
            let s = settled.get_or_insert(Settled {
                events: 0,
                bytes: 0,
                end,
            });
            s.events += 1;
            s.bytes += bytes;
            s.end = end;
        }
        settled
    }
}

/// The intake of one sink.
pub(crate) struct Intake {
    pub(crate) state: Mutex<State>,
    pub(crate) settlement: Arc<Settlement>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Work on its way to the render thread.
    handoff: Arc<Handoff<Work>>,
    /// Events of the sink's own reports dropped because the render thread was far behind.
    pub(crate) dropped_reports: AtomicU64,
    /// Events that could not be written to the spool (full or an I/O error) and went on
    /// memory-only.
    pub(crate) spool_refused: AtomicU64,
    /// Whether the intake started with a spool (events are serialised for it).
    spooling: bool,
    /// Length of the last spool record, to size the next one's buffer.
    spool_size_hint: AtomicUsize,
    /// Wakes the spool keeper when it dozes (`spool/bell.rs`).
    pub(crate) keeper_bell: KeeperBell,
}

impl Intake {
    /// Starts the render thread over `destinations`; `spool` makes the intake committed.
    pub(crate) fn start(
        destinations: Arc<Vec<Destination>>,
        chain: bool,
        spool: Option<DiskBuffer>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, String> {
        let spooling = spool.is_some();
        let handoff = Arc::new(Handoff::new(HANDOFF_CAPACITY));
        let settlement = Arc::new(Settlement::default());
        let render = Render {
            unwoken: vec![0; destinations.len()],
            destinations,
            chain: chain.then(Chain::default),
            runtime,
            settlement: Arc::clone(&settlement),
        };
        let thread = std::thread::Builder::new()
            .name("gatekit-siem-render".into())
            .spawn({
                let handoff = Arc::clone(&handoff);
                move || render.run(&handoff)
            })
            .map_err(|e| format!("cannot start the SIEM render thread: {e}"))?;
        Ok(Intake {
            state: Mutex::new(State { open: true, spool }),
            settlement,
            thread: Mutex::new(Some(thread)),
            handoff,
            dropped_reports: AtomicU64::new(0),
            spool_refused: AtomicU64::new(0),
            spooling,
            spool_size_hint: AtomicUsize::new(0),
            keeper_bell: KeeperBell::default(),
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `event` over: written to the spool first when there is one, then queued for the
    /// render thread. An error only once the intake is closing.
    pub(crate) fn accept(&self, event: Arc<AuditEvent>, wait: Wait) -> Result<(), String> {
        let id = RecordId(event.event_id.as_uuid().as_u128());
        if wait == Wait::No && self.handoff.len() >= HANDOFF_CAPACITY - 64 {
            // Checked before anything is spooled, so spool and settlement stay in step.
            self.dropped_reports.fetch_add(1, Relaxed);
            return Ok(());
        }
        // Serialised before the lock: the spool keeper takes the same lock to acknowledge, and
        // the request thread should hold it only for the `write`.
        let spool_payload = if self.spooling {
            // Sized from the previous event: growing from serde_json's default 128 bytes
            // reallocated and copied the buffer three or four times per event.
            let mut payload = Vec::with_capacity(self.spool_size_hint.load(Relaxed) + 256);
            match serde_json::to_writer(&mut payload, &*event) {
                Ok(()) => {
                    self.spool_size_hint.store(payload.len(), Relaxed);
                    Some(payload)
                }
                Err(e) => {
                    warn!(error = %crate::secret::log_safe(&e.to_string()), "Event could not be serialised for the spool; sent from memory only.");
                    None
                }
            }
        } else {
            None
        };
        let mut state = self.lock();
        if !state.open {
            return Err("SIEM delivery is stopping".into());
        }
        let mut spooled = None;
        if let (Some(disk), Some(payload)) = (state.spool.as_mut(), spool_payload) {
            let record = Record::new(id, payload);
            let appended = disk.append(std::slice::from_ref(&record));
            spooled = disk.last_appended().map(|end| Spooled {
                end,
                bytes: record.size() as u64,
            });
            if spooled.is_none() {
                let n = self.spool_refused.fetch_add(1, Relaxed) + 1;
                // Once, then every 10,000th: a full spool refuses every event.
                if n == 1 || n % 10_000 == 0 {
                    warn!(refused = n, stop = ?appended.stop, "The SIEM spool refused an event; it is delivered from memory only (lost if this process is killed).");
                }
            }
        }
        let in_spool = spooled.is_some();
        let work = Work::Event { event, spooled };
        // Pushed under the state lock: hand-off order is spool order. It waits (even for
        // `Wait::No`, which checked for room above) because the spool already has the event.
        // The gateway's thread wakes the render thread when it runs out of work (`defer.rs`).
        let pushed = if defer::owe(&self.handoff) {
            self.handoff
                .push_deferred(work, true, defer::DEFER_LIMIT)
                .is_ok()
        } else {
            self.handoff.push(work, true).is_ok()
        };
        drop(state);
        if in_spool {
            // After the lock, as `spool/bell.rs` requires.
            self.keeper_bell.ring();
        }
        if pushed {
            Ok(())
        } else {
            Err("SIEM delivery is stopping".to_string())
        }
    }

    /// Wakes the render thread if events wait for it (the safety net for deferred wake-ups).
    pub(crate) fn kick(&self) {
        self.handoff.kick();
    }

    /// Waits until every event accepted so far is submitted to its destinations.
    pub(crate) fn flush(&self) {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let open = self.lock().open;
        if open && self.handoff.push(Work::Flush(done_tx), true).is_ok() {
            let _ = done_rx.recv();
        }
    }

    /// Refuses new events, lets the render thread submit what it has, and waits for it.
    pub(crate) fn close(&self) {
        self.lock().open = false;
        self.handoff.close();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("The SIEM render thread panicked.");
            }
        }
    }
}

/// The render thread's state.
struct Render {
    /// Per destination, records queued since its worker was last woken.
    unwoken: Vec<usize>,
    destinations: Arc<Vec<Destination>>,
    chain: Option<Chain>,
    runtime: tokio::runtime::Handle,
    settlement: Arc<Settlement>,
}

impl Render {
    fn run(mut self, handoff: &Handoff<Work>) {
        let mut burst = VecDeque::new();
        while handoff.take_all(&mut burst) {
            for work in burst.drain(..) {
                self.handle(work);
            }
            self.wake_workers();
        }
    }

    /// Wakes every worker that has records queued since it was last woken.
    fn wake_workers(&mut self) {
        for (d, unwoken) in self.destinations.iter().zip(self.unwoken.iter_mut()) {
            if *unwoken > 0 {
                d.producer.wake_worker();
                *unwoken = 0;
            }
        }
    }

    fn handle(&mut self, work: Work) {
        match work {
            Work::Event { event, spooled } => {
                let tickets = match self.chain.is_some() {
                    // Linking changes the event: a copy only if the gateway still holds it.
                    true => {
                        let linked = self.link(Arc::unwrap_or_clone(event));
                        self.submit(&linked)
                    }
                    false => self.submit(&event),
                };
                if let Some(spooled) = spooled {
                    self.settlement.push(Entry { tickets, spooled });
                }
            }
            Work::Flush(done) => {
                self.wake_workers();
                let _ = done.send(());
            }
        }
    }

    /// Links `event` into the hash chain (over its canonical JSON without the link).
    fn link(&mut self, event: AuditEvent) -> AuditEvent {
        let Some(chain) = self.chain.as_mut() else {
            return event;
        };
        let mut body = Vec::with_capacity(1024);
        if let Err(e) = gatekit_format::JsonFormatter.format(&event, &mut body) {
            warn!(error = %crate::secret::log_safe(&e.to_string()), "Event could not be rendered for the hash chain; sent unlinked.");
            return event;
        }
        let (prev_hash, hash) = chain.next(&body);
        let linked = event.with_hash_chain(prev_hash, hash.clone());
        chain.commit(hash);
        linked
    }

    /// Renders and submits `event` to every destination; the tickets it got.
    fn submit(&mut self, event: &AuditEvent) -> Vec<(usize, Ticket)> {
        let id = RecordId(event.event_id.as_uuid().as_u128());
        let mut tickets = Vec::with_capacity(self.destinations.len());
        for (i, d) in self.destinations.iter().enumerate() {
            let payload = match d.render(event) {
                Ok(p) => p,
                Err(e) => {
                    // Counted as a drop, so the monitor reports it to the destinations that
                    // work (a system_event) and /metrics shows it; no ticket, so the spool
                    // does not wait for it.
                    d.producer.metrics().record_unrenderable();
                    warn!(platform = d.platform, error = %crate::secret::log_safe(&e.to_string()), "Event could not be formatted; not sent (counted as dropped, reason unrenderable).");
                    continue;
                }
            };
            let ticket = match d
                .producer
                .try_submit_tracked_deferred(Record::new(id, payload))
            {
                Ok(t) => {
                    let unwoken = &mut self.unwoken[i];
                    *unwoken += 1;
                    if *unwoken >= WAKE_EVERY {
                        d.producer.wake_worker();
                        *unwoken = 0;
                    }
                    t
                }
                Err(SubmitError::Full { record, .. }) => {
                    match self.runtime.block_on(d.producer.submit_tracked(record)) {
                        Ok(t) => t,
                        Err(_) => NEVER,
                    }
                }
                Err(e) => {
                    warn!(platform = d.platform, error = %crate::secret::log_safe(&e.to_string()), "Event not accepted by SIEM delivery; the spool keeps it for the next process.");
                    NEVER
                }
            };
            tickets.push((i, ticket));
        }
        tickets
    }
}
