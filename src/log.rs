//! Logging: nothing is printed by default. An application installs one
//! sink (the C API's log callback, Python's `logging`, a Node callback) and
//! a most verbose level; messages above it cost one atomic load.
//!
//! A record is never handed to the sink on the thread that made it: that
//! thread may be the network thread, or hold a lock, and a slow sink (a
//! Python callback waiting for the GIL) would stall every socket. Records
//! go into a bounded queue instead, and one thread of their own (`kmq-log`)
//! hands them to the sink in order. When the sink falls behind and the
//! queue is full, new records are dropped and counted; the next record
//! delivered is preceded by a warning that says how many were lost.
//!
//! Connection events (`events`) take the same queue and thread, to a sink
//! of their own, so that they keep their order with the log lines.

use crate::events::{Event, EventSink};
use crate::sync;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How important a log message is; lower is more important.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

pub type Sink = Box<dyn Fn(Level, &str) + Send + Sync>;

/// Records waiting for the sink, at most.
const QUEUE_MAX: usize = 1024;
/// How long `set_sink` lets the old sink catch up with records already queued.
const CATCH_UP: Duration = Duration::from_secs(1);

static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
static SINK: RwLock<Option<Sink>> = RwLock::new(None);
/// Whether an event sink is installed: events are made only then.
static EVENTS_ON: AtomicBool = AtomicBool::new(false);
static EVENT_SINK: RwLock<Option<EventSink>> = RwLock::new(None);

enum Record {
    Log(Level, String),
    Event(Box<Event>),
}

/// Counts of the queue, so that `set_sink` can wait for what came before it.
struct Progress {
    queued: AtomicU64,
    /// Records in the queue now: when it is full, a record is dropped
    /// before it is even formatted.
    waiting: AtomicUsize,
    dropped: AtomicU64,
    handled: Mutex<u64>,
    moved: Condvar,
}

static PROGRESS: Progress = Progress {
    queued: AtomicU64::new(0),
    waiting: AtomicUsize::new(0),
    dropped: AtomicU64::new(0),
    handled: Mutex::new(0),
    moved: Condvar::new(),
};

/// The queue of this process and the `kmq-log` thread that drains it.
struct Queue {
    pid: u32,
    tx: SyncSender<Record>,
}

/// The queue's sending end, with its thread started on first use. A child
/// process after fork() has no copy of the parent's thread: it gets a queue
/// and a thread of its own (the parent's queue is left behind, leaked).
/// `None` when no thread can be started (records are then dropped).
static QUEUE: AtomicPtr<Queue> = AtomicPtr::new(std::ptr::null_mut());

fn queue() -> Option<&'static SyncSender<Record>> {
    let pid = std::process::id();
    let current = QUEUE.load(Ordering::Acquire);
    // SAFETY: a non-null pointer in QUEUE is a leaked Box, never freed.
    if let Some(q) = unsafe { current.as_ref() } {
        if q.pid == pid {
            return Some(&q.tx);
        }
        // Forked: what the parent queued will never be handed out here.
        let queued = PROGRESS.queued.load(Ordering::Acquire);
        *sync::lock(&PROGRESS.handled) = queued;
        PROGRESS.waiting.store(0, Ordering::Release);
    }
    let (tx, rx) = mpsc::sync_channel(QUEUE_MAX);
    std::thread::Builder::new().name("kmq-log".into()).spawn(move || deliver_all(rx)).ok()?;
    let fresh = Box::into_raw(Box::new(Queue { pid, tx }));
    match QUEUE.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just leaked above, never freed.
        Ok(_) => Some(unsafe { &(*fresh).tx }),
        Err(winner) => {
            // Another thread started one first: ours ends with its sender.
            // SAFETY: `fresh` was never shared; `winner` is a leaked Box.
            unsafe {
                drop(Box::from_raw(fresh));
                winner.as_ref().map(|q| &q.tx)
            }
        }
    }
}

/// The `kmq-log` thread: hands every record to the sink of the moment.
fn deliver_all(rx: Receiver<Record>) {
    for record in rx {
        let dropped = PROGRESS.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            deliver(
                Level::Warn,
                &format!("{dropped} log messages were dropped: the log callback is slower than they come"),
            );
        }
        match record {
            Record::Log(level, text) => deliver(level, &text),
            Record::Event(event) => deliver_event(&event),
        }
        PROGRESS.waiting.fetch_sub(1, Ordering::AcqRel);
        *sync::lock(&PROGRESS.handled) += 1;
        PROGRESS.moved.notify_all();
    }
}

fn deliver(level: Level, text: &str) {
    // The level may have been lowered since the record was queued.
    if level as u8 > MAX_LEVEL.load(Ordering::Acquire) {
        return;
    }
    let slot = sync::read(&SINK);
    if let Some(sink) = slot.as_ref() {
        // A panicking sink must not end the thread that serves every sink.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(level, text)));
    }
}

fn deliver_event(event: &Event) {
    let slot = sync::read(&EVENT_SINK);
    if let Some(sink) = slot.as_ref() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(event)));
    }
}

/// Waits (at most `limit`) until every record queued so far was handed out.
fn catch_up(limit: Duration) {
    // SAFETY: a non-null pointer in QUEUE is a leaked Box, never freed.
    let ours = unsafe { QUEUE.load(Ordering::Acquire).as_ref() }.is_some_and(|q| q.pid == std::process::id());
    if !ours {
        return; // nothing queued in this process yet
    }
    let target = PROGRESS.queued.load(Ordering::Acquire);
    let deadline = Instant::now() + limit;
    let mut handled = sync::lock(&PROGRESS.handled);
    while *handled < target {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return;
        };
        handled = sync::wait(&PROGRESS.moved, handled, left);
    }
}

/// Sends messages up to `max` to `sink` from now on; `None` stops logging.
/// Records queued before the call still go to the old sink first (for at
/// most a second); once this returns, the old sink is no longer called.
pub fn set_sink(max: Level, sink: Option<Sink>) {
    // From now on fork() must find the log's locks free.
    sync::hold_across_fork(1, hold_for_fork);
    catch_up(CATCH_UP);
    let mut slot = sync::write(&SINK);
    MAX_LEVEL.store(if sink.is_some() { max as u8 } else { 0 }, Ordering::Release);
    *slot = sink;
}

/// Sends connection events to `sink` from now on; `None` stops them. As
/// with `set_sink`, events queued before the call go to the old sink
/// first, and the old sink is not called once this returns.
pub fn set_event_sink(sink: Option<EventSink>) {
    sync::hold_across_fork(1, hold_for_fork);
    catch_up(CATCH_UP);
    let mut slot = sync::write(&EVENT_SINK);
    EVENTS_ON.store(sink.is_some(), Ordering::Release);
    *slot = sink;
}

/// Whether anyone listens for events (so that none is made otherwise).
pub(crate) fn events_on() -> bool {
    EVENTS_ON.load(Ordering::Acquire)
}

/// Queues the event `make` builds for the event sink, if one is
/// installed. Never waits for the sink.
pub(crate) fn event(make: impl FnOnce() -> Event) {
    if events_on() {
        post(|| Record::Event(Box::new(make())));
    }
}

/// Logs the message `make` builds, if anyone listens at `level`. Never
/// waits for the sink.
pub fn log(level: Level, make: impl FnOnce() -> String) {
    if level as u8 > MAX_LEVEL.load(Ordering::Acquire) {
        return;
    }
    post(|| Record::Log(level, make()));
}

/// Queues a record for the kmq-log thread, or drops (and counts) it when
/// the queue is full.
fn post(make: impl FnOnce() -> Record) {
    let Some(queue) = queue() else { return };
    if PROGRESS.waiting.fetch_add(1, Ordering::AcqRel) >= QUEUE_MAX {
        PROGRESS.waiting.fetch_sub(1, Ordering::AcqRel);
        PROGRESS.dropped.fetch_add(1, Ordering::Relaxed);
        return;
    }
    PROGRESS.queued.fetch_add(1, Ordering::AcqRel);
    if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = queue.try_send(make()) {
        PROGRESS.waiting.fetch_sub(1, Ordering::AcqRel);
        PROGRESS.queued.fetch_sub(1, Ordering::AcqRel);
        PROGRESS.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn error(make: impl FnOnce() -> String) {
    log(Level::Error, make)
}
pub fn warn(make: impl FnOnce() -> String) {
    log(Level::Warn, make)
}
pub fn info(make: impl FnOnce() -> String) {
    log(Level::Info, make)
}
pub fn debug(make: impl FnOnce() -> String) {
    log(Level::Debug, make)
}

/// The log's locks, held across fork() (see `sync`), in the order of
/// `set_sink` and of the kmq-log thread: the sinks, then the count.
fn hold_for_fork() -> Box<dyn std::any::Any> {
    Box::new((sync::write(&SINK), sync::write(&EVENT_SINK), sync::lock(&PROGRESS.handled)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Condvar, Mutex};

    #[test]
    fn a_stuck_sink_loses_records_past_the_bound_and_is_told_how_many() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (g, s) = (gate.clone(), seen.clone());
        set_sink(
            Level::Debug,
            Some(Box::new(move |_, text| {
                let mut open = g.0.lock().unwrap();
                while !*open {
                    open = g.1.wait(open).unwrap();
                }
                s.lock().unwrap().push(text.to_string());
            })),
        );
        // The sink holds the first record; QUEUE_MAX fit in all; the rest
        // are dropped, and logging them does not wait.
        let started = Instant::now();
        for i in 0..QUEUE_MAX + 100 {
            info(|| format!("test record {i}"));
        }
        assert!(started.elapsed() < Duration::from_secs(1), "logging waited for the sink");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let deadline = Instant::now() + Duration::from_secs(10);
        while PROGRESS.waiting.load(Ordering::Acquire) > 0 {
            assert!(Instant::now() < deadline, "the queue never drained");
            std::thread::sleep(Duration::from_millis(5));
        }
        info(|| "test record after".to_string());
        while !seen.lock().unwrap().iter().any(|t| t == "test record after") {
            assert!(Instant::now() < deadline, "the last record never arrived");
            std::thread::sleep(Duration::from_millis(5));
        }
        set_sink(Level::Error, None);
        let seen = seen.lock().unwrap();
        let records = seen.iter().filter(|t| t.starts_with("test record")).count();
        assert_eq!(records, QUEUE_MAX + 1, "the queued records and the one after the gate opened");
        let warning = seen.iter().find(|t| t.contains("were dropped")).expect("a warning about the dropped records");
        let dropped: usize = warning.split_whitespace().next().unwrap().parse().unwrap();
        assert!(dropped >= 100, "{warning}");
        assert_eq!(seen.last().map(String::as_str), Some("test record after"));
    }
}
