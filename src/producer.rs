//! The producer: a bounded queue of encoded messages shared by one or more
//! connection tasks ("links"). A link pulls a batch from the queue, moves it
//! into its own FIFO of unconfirmed messages, writes it and flushes once;
//! each `ok` from the server pops the oldest unconfirmed message, because
//! the server confirms in arrival order. When a connection drops, its
//! unconfirmed messages go back to the front of the queue and are sent
//! again; a message that outlives its time limit is reported failed.
//! Every message ends confirmed or failed, and the application learns which.

use crate::config::Config;
use crate::conn::{self, Dialer, Dialled, Redial, Ws};
use crate::error::{Error, ErrorKind, Result};
use crate::log;
use crate::readiness::Readiness;
use crate::runtime;
use crate::wire::{self, Role};
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::collections::{BTreeMap, HashMap, VecDeque};
use crate::cluster;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Largest delay accepted, in seconds (the server adds it to a Unix time).
pub const MAX_DELAY_S: i64 = i32::MAX as i64;
/// Largest message accepted, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// A link writes at most this many messages (or bytes) before it flushes.
const BATCH_MESSAGES: usize = 4096;
const BATCH_BYTES: usize = 1 << 20;

/// Counters for accounting: `enqueued = confirmed + failed + in_flight`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProducerStats {
    pub enqueued: u64,
    pub confirmed: u64,
    pub failed: u64,
    /// Messages written again on a new connection after a drop.
    pub resent: u64,
    /// Connections opened again after the first one.
    pub reconnects: u64,
    /// Enqueued and not yet confirmed or failed.
    pub in_flight: u64,
}

impl ProducerStats {
    /// The counters as a JSON object.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "enqueued": self.enqueued,
            "confirmed": self.confirmed,
            "failed": self.failed,
            "resent": self.resent,
            "reconnects": self.reconnects,
            "in_flight": self.in_flight,
        })
        .to_string()
    }
}

/// The outcome of one tracked send (see [`Producer::send_tracked`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub id: u64,
    pub result: Result<()>,
    /// The value given to [`Producer::send_tracked_with`] (0 otherwise).
    pub opaque: usize,
}

/// How the application learns a message's outcome.
enum Track {
    /// Only through flush and the counters.
    None,
    /// Through a delivery report carrying the caller's value.
    Report(usize),
    /// A caller blocked in `send_wait` reads the slot.
    Wait(Arc<OnceLock<Result<()>>>),
}

struct Outgoing {
    id: u64,
    /// The flush generation it was enqueued in.
    generation: u64,
    frame: Utf8Bytes,
    deadline: Instant,
    track: Track,
    /// Already reported (failed on time) while still awaiting its `ok`.
    settled: bool,
    /// Written at least once; a further write is a resend.
    written: bool,
}

#[derive(Default)]
struct Counters {
    enqueued: AtomicU64,
    confirmed: AtomicU64,
    failed: AtomicU64,
    resent: AtomicU64,
    reconnects: AtomicU64,
}

struct State {
    queue: VecDeque<Outgoing>,
    /// Unconfirmed messages per link, oldest first.
    inflight: HashMap<u32, VecDeque<Outgoing>>,
    /// Messages not yet settled, queued or in flight (bounded by queue_max).
    held: usize,
    closed: Option<Error>,
    next_id: u64,
    /// Flush generations: a flush waits for every earlier generation to
    /// have no unsettled message left, whatever order they settle in.
    generation: u64,
    outstanding: BTreeMap<u64, u64>,
    reports: VecDeque<DeliveryReport>,
    /// Threads waiting on the condition variable; no wake-up is paid for
    /// while nobody waits.
    waiting: usize,
    last_failure: Option<Error>,
    /// Why the last connection attempt or connection failed, for reports.
    last_link_error: Option<String>,
    /// Links with an open connection, to share the queue between them.
    connected: usize,
}

pub(crate) struct Shared {
    config: Config,
    dialer: Dialer,
    state: Mutex<State>,
    settled: Condvar,
    /// Wakes an idle link when the queue becomes non-empty.
    work: Notify,
    /// Wakes the expiry task when the producer starts holding messages.
    expiry: Notify,
    counters: Counters,
    stop: watch::Sender<bool>,
    next_link: AtomicU32,
    /// Readable while `poll_reports(0)` would not time out (see `kmq_producer_fd`).
    ready: Readiness,
}

/// A KapokMQ producer. Cheap to share between threads (`&self` methods).
pub struct Producer {
    shared: Arc<Shared>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves the state consistent enough to
    // report and close; poisoning must not turn into a second panic.
    m.lock().unwrap_or_else(|p| p.into_inner())
}


impl State {
    /// Records the outcome of `m`; returns whether waiters must be woken.
    fn settle(&mut self, counters: &Counters, ready: &Readiness, m: &mut Outgoing, result: Result<()>) -> bool {
        debug_assert!(!m.settled);
        m.settled = true;
        self.held -= 1;
        if let Some(n) = self.outstanding.get_mut(&m.generation) {
            *n -= 1;
            if *n == 0 {
                self.outstanding.remove(&m.generation);
            }
        }
        match &result {
            Ok(()) => counters.confirmed.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                self.last_failure = Some(e.clone());
                counters.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
        match std::mem::replace(&mut m.track, Track::None) {
            Track::None => {}
            Track::Report(opaque) => {
                if self.reports.is_empty() {
                    ready.set();
                }
                self.reports.push_back(DeliveryReport { id: m.id, result, opaque })
            }
            Track::Wait(slot) => {
                let _ = slot.set(result);
            }
        }
        self.waiting > 0
    }

    fn timeout_error(&self, config: &Config) -> Error {
        let mut msg = format!(
            "message not confirmed within {} ms (message_timeout_ms)",
            config.message_timeout.as_millis()
        );
        if let Some(why) = &self.last_link_error {
            msg.push_str("; last connection problem: ");
            msg.push_str(why);
        }
        Error::timeout(msg)
    }
}

impl Shared {
    fn new(config: Config, dialer: Dialer) -> Self {
        Shared {
            config,
            dialer,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                inflight: HashMap::new(),
                held: 0,
                closed: None,
                next_id: 1,
                generation: 0,
                outstanding: BTreeMap::new(),
                reports: VecDeque::new(),
                waiting: 0,
                last_failure: None,
                last_link_error: None,
                connected: 0,
            }),
            settled: Condvar::new(),
            work: Notify::new(),
            expiry: Notify::new(),
            counters: Counters::default(),
            stop: watch::channel(false).0,
            next_link: AtomicU32::new(0),
            ready: Readiness::new(),
        }
    }

    /// Starts a link to `url` (connected already when `ws` is given);
    /// returns the flag that retires it.
    fn start_link(self: &Arc<Self>, url: String, ws: Option<Ws>) -> Arc<AtomicBool> {
        let retired = Arc::new(AtomicBool::new(false));
        let link = self.next_link.fetch_add(1, Ordering::Relaxed);
        if let Ok(rt) = runtime::handle() {
            rt.spawn(run_link(self.clone(), link, url, ws, retired.clone()));
        }
        retired
    }

    fn enqueue(&self, data: &str, delay_s: i64, track: Track) -> Result<u64> {
        if data.is_empty() {
            return Err(Error::invalid("message data is empty"));
        }
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(Error::invalid(format!(
                "message data is {} bytes; at most {MAX_MESSAGE_BYTES} are allowed",
                data.len()
            )));
        }
        if delay_s > MAX_DELAY_S {
            return Err(Error::invalid(format!("delay of {delay_s} s is larger than the maximum of {MAX_DELAY_S} s")));
        }
        // Encoding happens on the caller's thread, outside the lock.
        let frame = Utf8Bytes::from(wire::encode_send(data, delay_s.max(0)));
        let deadline = Instant::now() + self.config.message_timeout;
        let mut st = lock(&self.state);
        if let Some(e) = &st.closed {
            return Err(e.clone());
        }
        if st.held >= self.config.queue_max {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!("the producer already holds {} unconfirmed messages (queue_max)", st.held),
            ));
        }
        let id = st.next_id;
        st.next_id += 1;
        let generation = st.generation;
        *st.outstanding.entry(generation).or_insert(0) += 1;
        st.held += 1;
        let first_held = st.held == 1;
        let was_empty = st.queue.is_empty();
        st.queue.push_back(Outgoing { id, generation, frame, deadline, track, settled: false, written: false });
        drop(st);
        self.counters.enqueued.fetch_add(1, Ordering::Relaxed);
        if was_empty {
            self.work.notify_one();
        }
        if first_held {
            self.expiry.notify_one();
        }
        Ok(id)
    }

    /// Moves up to one batch from the queue into `link`'s unconfirmed FIFO
    /// and returns the frames to write.
    fn take_batch(&self, link: u32, out: &mut Vec<Utf8Bytes>) -> Result<()> {
        let mut st = lock(&self.state);
        if let Some(e) = &st.closed {
            return Err(e.clone());
        }
        let st = &mut *st;
        // Each connected link takes its share, so that a burst spreads over
        // the nodes of a cluster instead of going to whichever woke first.
        let share = st.queue.len().div_ceil(st.connected.max(1)).clamp(1, BATCH_MESSAGES);
        let inflight = st.inflight.entry(link).or_default();
        let mut bytes = 0;
        let mut resent = 0;
        while out.len() < share && bytes < BATCH_BYTES {
            let Some(mut m) = st.queue.pop_front() else { break };
            bytes += m.frame.len();
            out.push(m.frame.clone());
            resent += m.written as u64;
            m.written = true;
            inflight.push_back(m);
        }
        let more = !st.queue.is_empty();
        if resent > 0 {
            self.counters.resent.fetch_add(resent, Ordering::Relaxed);
        }
        if more {
            // Let another idle link share the rest.
            self.work.notify_one();
        }
        Ok(())
    }

    /// `count` `ok`s arrived on `link`: as many of its oldest unconfirmed
    /// messages are confirmed (the server confirms in arrival order).
    fn confirm(&self, link: u32, count: usize) -> Result<()> {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let mut wake = false;
        for _ in 0..count {
            let Some(mut m) = st.inflight.get_mut(&link).and_then(|q| q.pop_front()) else {
                return Err(Error::protocol("the server confirmed a message that was never sent"));
            };
            if !m.settled {
                wake |= st.settle(&self.counters, &self.ready, &mut m, Ok(()));
            }
        }
        drop(guard);
        if wake {
            self.settled.notify_all();
        }
        Ok(())
    }

    fn set_connected(&self, up: bool) {
        let mut st = lock(&self.state);
        if up {
            st.connected += 1;
        } else {
            st.connected -= 1;
        }
    }

    fn has_inflight(&self, link: u32) -> bool {
        lock(&self.state).inflight.get(&link).is_some_and(|q| !q.is_empty())
    }

    /// The connection of `link` is gone: its unconfirmed messages go back
    /// to the front of the queue, in order, to be sent again.
    fn requeue(&self, link: u32, why: &Error) {
        let mut st = lock(&self.state);
        st.last_link_error = Some(why.message().to_string());
        let Some(mut fifo) = st.inflight.remove(&link) else { return };
        let mut any = false;
        while let Some(m) = fifo.pop_back() {
            if !m.settled {
                st.queue.push_front(m);
                any = true;
            }
        }
        drop(st);
        if any {
            self.work.notify_one();
        }
    }

    fn note_link_error(&self, why: &Error) {
        lock(&self.state).last_link_error = Some(why.message().to_string());
    }

    /// Fails every message whose time is up; returns the earliest deadline
    /// still pending, if any.
    fn expire(&self, now: Instant) -> Option<Instant> {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let failed_before = self.counters.failed.load(Ordering::Relaxed);
        let mut wake = false;
        let mut next: Option<Instant> = None;
        while st.queue.front().is_some_and(|m| m.deadline <= now) {
            let mut m = st.queue.pop_front().expect("front checked");
            let err = st.timeout_error(&self.config);
            wake |= st.settle(&self.counters, &self.ready, &mut m, Err(err));
        }
        if let Some(m) = st.queue.front() {
            next = Some(m.deadline);
        }
        let links: Vec<u32> = st.inflight.keys().copied().collect();
        for link in links {
            let err = st.timeout_error(&self.config);
            let mut fifo = st.inflight.remove(&link).unwrap_or_default();
            // Still awaiting its `ok`: report it failed now and keep it in
            // the FIFO so later `ok`s still line up with their messages.
            for m in fifo.iter_mut().filter(|m| !m.settled) {
                if m.deadline > now {
                    next = Some(next.map_or(m.deadline, |n| n.min(m.deadline)));
                    break;
                }
                wake |= st.settle(&self.counters, &self.ready, m, Err(err.clone()));
            }
            st.inflight.insert(link, fifo);
        }
        let failed = self.counters.failed.load(Ordering::Relaxed) - failed_before;
        drop(guard);
        if failed > 0 {
            log::warn(|| format!("{failed} messages not confirmed within {} ms: reported failed", self.config.message_timeout.as_millis()));
        }
        if wake {
            self.settled.notify_all();
        }
        next
    }

    /// Closes the producer for good: every message not yet settled fails
    /// with `why`, every waiting caller wakes, every task stops.
    fn close_with(&self, why: Error) {
        let mut st = lock(&self.state);
        if st.closed.is_some() {
            return;
        }
        st.closed = Some(why.clone());
        let st = &mut *st;
        let mut pending: Vec<Outgoing> = st.queue.drain(..).collect();
        for (_, fifo) in st.inflight.drain() {
            pending.extend(fifo.into_iter().filter(|m| !m.settled));
        }
        for m in pending.iter_mut() {
            st.settle(&self.counters, &self.ready, m, Err(why.clone()));
        }
        drop(pending);
        // Closed: poll_reports returns at once from now on.
        self.ready.set();
        self.settled.notify_all();
        self.stop.send_replace(true);
        self.work.notify_waiters();
    }

    /// Waits on the caller's thread until `done` holds or the deadline
    /// passes. `done` sees the state under the lock.
    fn wait_until<T>(
        &self,
        deadline: Option<Instant>,
        mut done: impl FnMut(&mut State) -> Option<T>,
    ) -> Option<T> {
        let mut st = lock(&self.state);
        loop {
            if let Some(v) = done(&mut st) {
                return Some(v);
            }
            let left = match deadline {
                None => Duration::from_secs(3600),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    d - now
                }
            };
            st.waiting += 1;
            st = self.settled.wait_timeout(st, left).unwrap_or_else(|p| p.into_inner()).0;
            st.waiting -= 1;
        }
    }
}

impl Producer {
    /// Connects to the node in `config` and completes the handshake before
    /// it returns: a rejected key is `Auth`, an unreachable server `Connect`.
    pub fn connect(config: &Config) -> Result<Producer> {
        let topic = config.require_topic()?;
        let id = config.require_producer_id()?;
        runtime::check_blocking_allowed("connecting a producer")?;
        let url = wire::conn_url(&config.mq_protocol, &config.mq_addr, config.mq_port, Role::Producer, topic, id);
        let dialer = Dialer::from_config(config)?;
        let rt = runtime::handle()?;
        let ws = rt.block_on(dialer.open(&url))?;
        let shared = Arc::new(Shared::new(config.clone(), dialer));
        shared.start_link(url, Some(ws));
        rt.spawn(run_expiry(shared.clone()));
        Ok(Producer { shared })
    }

    /// Asks the registry (`registry_*` keys) for the live nodes and connects
    /// to every one before it returns; then follows the registry's list.
    /// Each message goes to one connected node: idle connections take the
    /// next batch from the shared queue, so a faster node takes more and a
    /// node whose connection drops takes none. Its unconfirmed messages go
    /// to the other nodes. Fails with `NoNodes` when the registry lists none,
    /// `Auth` when the key is rejected, `Connect` when no node can be reached.
    pub fn connect_cluster(config: &Config) -> Result<Producer> {
        let id = config.require_producer_id()?;
        runtime::check_blocking_allowed("connecting a cluster producer")?;
        let dialer = Dialer::from_config(config)?;
        let fleet = cluster::Fleet::connect(config, &dialer, Role::Producer, id)?;
        let shared = Arc::new(Shared::new(config.clone(), dialer));
        let starter = shared.clone();
        fleet.run(config.check_time, shared.stop.subscribe(), Arc::new(move |url, ws| starter.start_link(url, ws)))?;
        runtime::handle()?.spawn(run_expiry(shared.clone()));
        Ok(Producer { shared })
    }

    /// Enqueues one message and returns at once; the server confirms it
    /// later. `delay_s` of 0 or less delivers at once.
    pub fn send(&self, data: &str, delay_s: i64) -> Result<()> {
        self.shared.enqueue(data, delay_s, Track::None).map(|_| ())
    }

    /// Like `send`, and its outcome arrives later as a [`DeliveryReport`]
    /// with the returned id (see [`Producer::poll_reports`]).
    pub fn send_tracked(&self, data: &str, delay_s: i64) -> Result<u64> {
        self.send_tracked_with(data, delay_s, 0)
    }

    /// Like `send_tracked`; the report carries `opaque` back.
    pub fn send_tracked_with(&self, data: &str, delay_s: i64, opaque: usize) -> Result<u64> {
        self.shared.enqueue(data, delay_s, Track::Report(opaque))
    }

    /// Sends one message and waits for its confirmation. `timeout_ms` of -1
    /// waits without limit, 0 does not wait.
    pub fn send_wait(&self, data: &str, delay_s: i64, timeout_ms: i64) -> Result<()> {
        runtime::check_blocking_allowed("send_wait")?;
        let slot = Arc::new(OnceLock::new());
        self.shared.enqueue(data, delay_s, Track::Wait(slot.clone()))?;
        let outcome = self.shared.wait_until(runtime::deadline(timeout_ms), |_| slot.get().cloned());
        match outcome {
            Some(result) => result,
            None => Err(Error::timeout(format!(
                "message not confirmed within {timeout_ms} ms; it stays queued and may still be delivered"
            ))),
        }
    }

    /// Waits until every message enqueued before the call is confirmed or
    /// failed. `Timeout` if that takes longer than `timeout_ms`; the last
    /// failure's error if some were given up on.
    pub fn flush(&self, timeout_ms: i64) -> Result<()> {
        runtime::check_blocking_allowed("flush")?;
        let (generation, failed_before) = {
            let mut st = lock(&self.shared.state);
            if let Some(e) = &st.closed {
                return Err(e.clone());
            }
            st.generation += 1;
            (st.generation - 1, self.shared.counters.failed.load(Ordering::Relaxed))
        };
        let drained = self.shared.wait_until(runtime::deadline(timeout_ms), |st| {
            st.outstanding.range(..=generation).next().is_none().then_some(())
        });
        if drained.is_none() {
            let left: u64 = lock(&self.shared.state).outstanding.range(..=generation).map(|(_, n)| n).sum();
            return Err(Error::timeout(format!(
                "flush: {left} messages still unconfirmed after {timeout_ms} ms"
            )));
        }
        let failed = self.shared.counters.failed.load(Ordering::Relaxed) - failed_before;
        if failed > 0 {
            let last = lock(&self.shared.state).last_failure.clone();
            let last = last.unwrap_or_else(|| Error::internal("a message failed for no recorded reason"));
            return Err(Error::new(
                last.kind(),
                format!("flush: {failed} messages failed; the last because: {}", last.message()),
            ));
        }
        Ok(())
    }

    /// Takes up to `max` delivery reports of tracked sends, waiting up to
    /// `timeout_ms` for the first. `Timeout` when none came, `Closed` once
    /// the producer is closed and every report has been taken.
    pub fn poll_reports(&self, max: usize, timeout_ms: i64) -> Result<Vec<DeliveryReport>> {
        let ready = &self.shared.ready;
        let take = |st: &mut State| {
            if !st.reports.is_empty() {
                let n = st.reports.len().min(max);
                let taken = st.reports.drain(..n).collect::<Vec<_>>();
                if st.reports.is_empty() && st.closed.is_none() {
                    ready.clear();
                }
                return Some(Ok(taken));
            }
            st.closed.clone().map(Err)
        };
        if timeout_ms != 0 {
            runtime::check_blocking_allowed("poll_reports")?;
        }
        match self.shared.wait_until(runtime::deadline(timeout_ms), take) {
            Some(r) => r,
            None => Err(Error::timeout(format!("no delivery report within {timeout_ms} ms"))),
        }
    }

    /// Closes the connection; every message not yet confirmed fails with
    /// `Closed`, and every call blocked on this producer returns.
    pub fn close(&self) {
        self.shared.close_with(Error::closed("the producer was closed"));
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).closed.is_some()
    }

    /// A descriptor that polls readable while `poll_reports(0)` would
    /// return reports or `Closed`; owned by the producer.
    pub fn readiness_fd(&self) -> Result<std::os::fd::RawFd> {
        self.shared.ready.fd()
    }

    pub fn stats(&self) -> ProducerStats {
        let c = &self.shared.counters;
        let held = lock(&self.shared.state).held as u64;
        ProducerStats {
            enqueued: c.enqueued.load(Ordering::Relaxed),
            confirmed: c.confirmed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            resent: c.resent.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            in_flight: held,
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Fails messages whose time is up, sleeping while there is nothing to do.
async fn run_expiry(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    // Checked often enough that a failure is reported close to its time.
    let tick = (shared.config.message_timeout / 10).clamp(Duration::from_millis(5), Duration::from_millis(100));
    loop {
        if *stop.borrow() {
            return;
        }
        let next = shared.expire(Instant::now());
        let idle = lock(&shared.state).held == 0;
        tokio::select! {
            _ = stop.changed() => return,
            _ = shared.expiry.notified(), if idle => {}
            _ = tokio::time::sleep(next.map_or(tick, |n| n.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(1), tick))), if !idle => {}
        }
    }
}

/// One connection to one node, kept up until the producer closes.
async fn run_link(shared: Arc<Shared>, link: u32, url: String, first: Option<Ws>, retired: Arc<AtomicBool>) {
    let stop = shared.stop.subscribe();
    let mut redial = Redial::new(&shared.dialer, &url, "producer", first, &retired, stop, shared.config.check_time);
    loop {
        let ws = match redial.next(|e| shared.note_link_error(e)).await {
            Dialled::Open { ws, again } => {
                if again {
                    shared.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                ws
            }
            Dialled::Stopped => return,
            Dialled::Rejected(e) => return shared.close_with(e),
        };
        shared.set_connected(true);
        let why = serve(&shared, link, ws, redial.stop()).await;
        shared.set_connected(false);
        shared.requeue(link, &why);
        if redial.stopped() {
            return;
        }
        log::warn(|| format!("producer connection to {url} lost: {why}; unconfirmed messages will be sent again"));
        if !redial.pause().await {
            return;
        }
    }
}

/// Runs one open connection until it fails or the producer stops; returns why.
async fn serve(shared: &Shared, link: u32, ws: Ws, stop: &mut watch::Receiver<bool>) -> Error {
    let (mut sink, mut stream) = ws.split();
    let last_seen = conn::LastSeen::now();
    let check = shared.config.check_time;

    let reader = async {
        // A frame read ahead while counting `ok`s, handled next.
        let mut ahead = None;
        loop {
            let frame = match ahead.take() {
                Some(frame) => frame,
                None => stream.next().await,
            };
            let frame = match frame {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Error::connect(format!("connection lost: {}", conn::describe(&e))),
                None => return Error::connect("the server closed the connection"),
            };
            last_seen.touch();
            let text: &[u8] = match &frame {
                Message::Text(t) => t.as_bytes(),
                Message::Binary(b) => b,
                Message::Close(_) => return Error::connect("the server closed the connection"),
                _ => continue,
            };
            if text != wire::SEND_ACK.as_bytes() {
                return Error::protocol(format!(
                    "expected \"ok\", got {:?}",
                    wire::preview(&String::from_utf8_lossy(text))
                ));
            }
            // Confirm every `ok` already received under one lock.
            let mut oks = 1;
            while let Some(next) = stream.next().now_or_never() {
                match &next {
                    Some(Ok(Message::Text(t))) if t.as_str() == wire::SEND_ACK => oks += 1,
                    _ => {
                        ahead = Some(next);
                        break;
                    }
                }
            }
            if let Err(e) = shared.confirm(link, oks) {
                return e;
            }
        }
    };

    let writer = async {
        let mut batch = Vec::with_capacity(256);
        let mut ping = tokio::time::interval(check);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        loop {
            batch.clear();
            if let Err(e) = shared.take_batch(link, &mut batch) {
                return e;
            }
            let sent = if batch.is_empty() {
                tokio::select! {
                    _ = shared.work.notified() => continue,
                    _ = ping.tick() => sink.send(Message::Ping(Default::default())).await,
                }
            } else {
                let mut r = Ok(());
                for frame in batch.drain(..) {
                    r = sink.feed(Message::Text(frame)).await;
                    if r.is_err() {
                        break;
                    }
                }
                let flushed = match r {
                    Ok(()) => sink.flush().await,
                    e => e,
                };
                // Let the other links of a cluster take their share.
                tokio::task::yield_now().await;
                flushed
            };
            if let Err(e) = sent {
                return Error::connect(format!("connection lost while writing: {}", conn::describe(&e)));
            }
        }
    };

    // A peer that stops answering (not even pongs) while we wait for it is
    // dead, even if TCP has not noticed yet.
    let watchdog = async {
        let limit = check * 2 + Duration::from_secs(1);
        loop {
            tokio::time::sleep(check).await;
            if last_seen.silence() > limit && shared.has_inflight(link) {
                return Error::connect(format!("no answer from the server for {} ms", limit.as_millis()));
            }
        }
    };

    let why = tokio::select! {
        e = reader => e,
        e = writer => e,
        e = watchdog => e,
        _ = stop.changed() => Error::closed("the producer was closed"),
    };
    if *stop.borrow() {
        let _ = tokio::time::timeout(Duration::from_millis(200), sink.send(Message::Close(None))).await;
    }
    why
}
