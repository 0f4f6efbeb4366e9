//! The producer: the public handle over an [`Outbox`] (the queue, each
//! link's FIFO of unconfirmed messages, time limits, flush marks and
//! reports, see `outbox.rs`) shared by one or more connection tasks
//! ("links"). A link takes a batch from the outbox as far as its in-flight
//! window allows, writes it and flushes once; each `ok` from the server
//! confirms the oldest unconfirmed message of that link, because the server
//! confirms in arrival order. Every message ends confirmed or failed, and
//! the application learns which.

use crate::clock;
use crate::cluster;
use crate::config::Config;
use crate::conn::{self, Dialer, Membership, Ws};
use crate::error::{Error, Result};
use crate::frames::{self, Frame};
use crate::log;
use crate::metrics::{Gauge, Gauges, Source};
use crate::outbox::{closed_by_close, Limits, Outbox, Track, Wake};
use crate::readiness::Readiness;
use crate::runtime;
use crate::stats_json;
use crate::sync::lock;
use crate::wire::{self, Role};
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{watch, Notify};

pub use crate::outbox::{ConnectionStats, DeliveryReport, ProducerStats};

/// What became of a producer's messages when it closed (see
/// [`Producer::close_report`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// Messages the server confirmed, over the producer's life.
    pub confirmed: u64,
    /// Messages that failed before the close (they timed out).
    pub failed: u64,
    /// Messages still unconfirmed when it closed: the close failed them
    /// (they may still have reached the server).
    pub in_flight: u64,
}

/// What a batch send enqueued: `accepted` messages with the ids
/// `first_id .. first_id + accepted`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Batch {
    pub accepted: usize,
    pub first_id: u64,
}

/// While at least this many messages of a link await their `ok` after a
/// read, its reader pauses for `conn::COALESCE_PAUSE` before reading again: the
/// node takes longer than that to confirm them (the real node confirms
/// about 130 a millisecond, kmq-broker about 1,200), so it never runs dry.
/// Half the default window: a link with a smaller window never pauses.
const COALESCE_IN_FLIGHT: usize = 2048;

/// Largest delay accepted, in seconds (the server adds it to a Unix time).
pub const MAX_DELAY_S: i64 = i32::MAX as i64;
/// Largest message accepted, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

struct State {
    outbox: Outbox,
    /// Threads waiting on the condition variable; no wake-up is paid for
    /// while nobody waits.
    waiting: usize,
}

pub(crate) struct Shared {
    config: Config,
    dialer: Dialer,
    state: Mutex<State>,
    settled: Condvar,
    /// Wakes the idle links when the queue becomes non-empty (always with
    /// `notify_waiters`: each link registers before it looks at the queue,
    /// and a stored permit would let a link wake itself).
    work: Notify,
    /// Wakes the expiry task when the producer starts holding messages.
    expiry: Notify,
    stop: watch::Sender<bool>,
    next_link: AtomicU32,
    /// Readable while `poll_reports(0)` would not time out (see `kmq_producer_fd`).
    ready: Readiness,
    /// Who the producer is, for events and metrics.
    source: Arc<Source>,
    /// Each link's connection state and traffic.
    gauges: Gauges,
    /// The coarse clock's tick of the last exactly timed send.
    last_timed: AtomicU64,
}

/// A KapokMQ producer. Cheap to share between threads (`&self` methods).
pub struct Producer {
    shared: Arc<Shared>,
}

impl Shared {
    fn new(config: Config, dialer: Dialer, source: Arc<Source>) -> Self {
        let limits = Limits {
            queue_max: config.queue_max,
            max_in_flight: config.max_in_flight,
            max_in_flight_bytes: config.max_in_flight_bytes,
            message_timeout: config.message_timeout,
        };
        Shared {
            config,
            dialer,
            state: Mutex::new(State { outbox: Outbox::new(limits), waiting: 0 }),
            settled: Condvar::new(),
            work: Notify::new(),
            expiry: Notify::new(),
            stop: watch::channel(false).0,
            next_link: AtomicU32::new(0),
            ready: Readiness::new(),
            source,
            gauges: Gauges::default(),
            last_timed: AtomicU64::new(0),
        }
    }

    /// Starts the links to `url` (the first connected already when `ws` is
    /// given); returns their membership, which retires them.
    fn start_link(self: &Arc<Self>, url: String, ws: Option<Ws>) -> Arc<Membership> {
        self.start_links(url, ws.into_iter().collect())
    }

    /// Starts `connections` links to `url`, handing them the connections
    /// already open (the others dial in the background); returns their
    /// membership, which retires them all.
    fn start_links(self: &Arc<Self>, url: String, opened: Vec<Ws>) -> Arc<Membership> {
        let member = Arc::new(Membership::default());
        let Ok(rt) = runtime::handle() else {
            return member;
        };
        let mut opened = opened.into_iter();
        for _ in 0..self.config.connections {
            let link = self.next_link.fetch_add(1, Ordering::Relaxed);
            let ws = opened.next();
            let mut st = lock(&self.state);
            st.outbox.add_link(link, wire::authority(&url));
            if ws.is_some() {
                // Open already: it counts (and takes its share) at once.
                st.outbox.connected(link);
            }
            drop(st);
            let gauge = Gauge::new(&self.source, wire::authority(&url));
            self.gauges.add(link, gauge.clone());
            member.join();
            rt.spawn(self.clone().link_task(link, url.clone(), ws, member.clone(), gauge));
        }
        member
    }

    /// One link's task: runs it (again after a panic) until the producer
    /// closes or its node leaves, then takes it out of the outbox.
    async fn link_task(
        self: Arc<Self>,
        link: u32,
        url: String,
        ws: Option<Ws>,
        member: Arc<Membership>,
        gauge: Arc<Gauge>,
    ) {
        let mut first = ws;
        let run = || run_link(self.clone(), link, url.clone(), first.take(), member.clone(), gauge.clone());
        let cleanup = |why: &Error| {
            let _ = lock(&self.state).outbox.on_drop(link, why);
            self.work.notify_waiters();
        };
        conn::supervise("producer", &url, self.stop.subscribe(), run, cleanup).await;
        // Gone for good (closed, or its node left the cluster).
        let _ = lock(&self.state).outbox.remove_link(link, &Error::closed("the link ended"));
        self.gauges.remove(link);
        self.work.notify_waiters();
        member.end();
    }

    /// Runs `event` on the outbox under the lock and wakes the callers its
    /// answer says may have to look again.
    fn with_outbox<T>(&self, event: impl FnOnce(&mut Outbox) -> (T, Wake)) -> T {
        let mut st = lock(&self.state);
        let (value, wake) = event(&mut st.outbox);
        // Under the lock, as poll_reports clears it under the lock.
        if wake.reports || st.outbox.closed().is_some() {
            self.ready.set();
        }
        let notify = wake.waiters() && st.waiting > 0;
        drop(st);
        if notify {
            self.settled.notify_all();
        }
        if wake.closed {
            // The outbox closed (a close, or a closing flush that ended):
            // every task stops.
            self.stop.send_replace(true);
            self.work.notify_waiters();
        }
        value
    }

    /// Begins a flush (see `Outbox::begin_flush`) ending at the latest
    /// after `timeout_ms` (-1: no limit); returns its id and deadline.
    fn begin_flush(&self, timeout_ms: i64, track: Track, closes: bool) -> Result<(u64, Option<Instant>)> {
        let deadline = runtime::deadline(timeout_ms);
        let id = self.with_outbox(|ob| match ob.begin_flush(deadline, timeout_ms, track, closes) {
            Ok((id, wake)) => (Ok(id), wake),
            Err(e) => (Err(e), Wake::default()),
        })?;
        if deadline.is_some() {
            // Its deadline may come before the expiry task's next look.
            self.expiry.notify_one();
        }
        Ok((id, deadline))
    }

    fn enqueue(&self, data: &str, delay_s: i64, track: Track) -> Result<u64> {
        let frame = encode(data, delay_s)?;
        let (deadline, timed) = clock::deadline_sampled(self.config.message_timeout, &self.last_timed);
        let done = lock(&self.state).outbox.enqueue(frame, track, deadline, timed)?;
        self.after_enqueue(done.wake_link, done.start_timer);
        Ok(done.id)
    }

    /// Enqueues `msgs` in order under one lock (each with a delivery report
    /// when `tracked`); stops at the first one refused. Returns how many
    /// were accepted, the id of the first (the others follow it one by
    /// one), and why it stopped.
    fn enqueue_many<S: AsRef<str>>(&self, msgs: &[S], delay_s: i64, tracked: bool) -> (Batch, Result<()>) {
        // Encoded on the caller's thread, outside the lock; a message that
        // is refused ends the run where it stands.
        let mut refused = Ok(());
        let mut frames = Vec::with_capacity(msgs.len());
        for m in msgs {
            match encode(m.as_ref(), delay_s) {
                Ok(f) => frames.push(f),
                Err(e) => {
                    refused = Err(e);
                    break;
                }
            }
        }
        let (deadline, timed) = clock::deadline_sampled(self.config.message_timeout, &self.last_timed);
        let (mut batch, mut wake_link, mut start_timer) = (Batch::default(), false, false);
        let mut st = lock(&self.state);
        for frame in frames {
            let track = if tracked { Track::Report(0) } else { Track::None };
            // The first of the batch is the one sent at the time read.
            match st.outbox.enqueue(frame, track, deadline, timed && batch.accepted == 0) {
                Ok(done) => {
                    if batch.accepted == 0 {
                        batch.first_id = done.id;
                    }
                    batch.accepted += 1;
                    wake_link |= done.wake_link;
                    start_timer |= done.start_timer;
                }
                Err(e) => {
                    refused = Err(e);
                    break;
                }
            }
        }
        drop(st);
        self.after_enqueue(wake_link, start_timer);
        (batch, refused)
    }

    /// Wakes an idle link for a queue that was empty, and the expiry task
    /// for a producer that held nothing.
    fn after_enqueue(&self, wake_link: bool, start_timer: bool) {
        if wake_link {
            self.work.notify_waiters();
        }
        if start_timer {
            self.expiry.notify_one();
        }
    }

    /// Fails every message whose time is up; returns the earliest deadline
    /// still pending, if any.
    fn expire(&self, now: Instant) -> Option<Instant> {
        let (failed, next, room) = self.with_outbox(|ob| {
            let (wake, failed, next) = ob.on_tick(now);
            ((failed, next, wake.room), wake)
        });
        if room {
            self.work.notify_waiters();
        }
        if failed > 0 {
            log::warn(|| {
                format!(
                    "{failed} messages not confirmed within {} ms: reported failed",
                    self.config.message_timeout.as_millis()
                )
            });
        }
        next
    }

    /// Closes the producer for good: every message not yet settled fails
    /// with `why`, every waiting caller wakes, every task stops.
    fn close_with(&self, why: Error) {
        self.with_outbox(|ob| ((), ob.close(why)));
    }

    /// Waits on the caller's thread until `done` holds or the deadline
    /// passes. `done` sees the outbox under the lock.
    fn wait_until<T>(&self, deadline: Option<Instant>, mut done: impl FnMut(&mut Outbox) -> Option<T>) -> Option<T> {
        let mut st = lock(&self.state);
        loop {
            if let Some(v) = done(&mut st.outbox) {
                return Some(v);
            }
            let left = runtime::wait_slice(deadline)?;
            st.waiting += 1;
            st = crate::sync::wait(&self.settled, st, left);
            st.waiting -= 1;
        }
    }
}

/// Checks one message and encodes its frame.
fn encode(data: &str, delay_s: i64) -> Result<Vec<u8>> {
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
    Ok(wire::encode_send(data, delay_s.max(0)).into_bytes())
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
        // The ones that failed to open dial again in the background.
        let opened = rt.block_on(conn::open_all(&dialer, vec![url.clone(); config.connections]))?;
        let opened = opened.into_iter().flatten().collect();
        let source = Source::new(Role::Producer, topic, id);
        let shared = Arc::new(Shared::new(config.clone(), dialer, source));
        shared.start_links(url, opened);
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
        let (fleet, dialer) = cluster::Fleet::connect(config, Role::Producer, id)?;
        let source = Source::new(Role::Producer, config.require_topic()?, id);
        let shared = Arc::new(Shared::new(config.clone(), dialer, source.clone()));
        let starter = shared.clone();
        let start = Arc::new(move |url, ws| starter.start_link(url, ws));
        fleet.run(config.check_time, shared.stop.subscribe(), start, source)?;
        runtime::handle()?.spawn(run_expiry(shared.clone()));
        Ok(Producer { shared })
    }

    /// Enqueues one message and returns at once; the server confirms it
    /// later. `delay_s` of 0 or less delivers at once.
    pub fn send(&self, data: &str, delay_s: i64) -> Result<()> {
        self.shared.enqueue(data, delay_s, Track::None).map(|_| ())
    }

    /// Enqueues every message of `msgs` (in order, with one delay) under
    /// one lock and returns at once: `send` for many messages at the cost
    /// of one call. On a refusal (a bad message, a full queue, a closed
    /// producer) the messages before it stay enqueued and the error says
    /// how many they were; the rest are not sent.
    pub fn send_many<S: AsRef<str>>(&self, msgs: &[S], delay_s: i64) -> Result<()> {
        let (batch, result) = self.send_batch(msgs, delay_s, false);
        result.map_err(|e| e.context(format!("send_many: {} of {} messages enqueued", batch.accepted, msgs.len())))
    }

    /// `send_many` with a delivery report for each message enqueued (see
    /// [`Producer::poll_reports`]; their `opaque` is 0) when `tracked`.
    /// Returns how many were enqueued and the first one's id (the ids run
    /// on from it one by one), and the refusal that stopped it, if any, in
    /// its own words.
    pub fn send_batch<S: AsRef<str>>(&self, msgs: &[S], delay_s: i64, tracked: bool) -> (Batch, Result<()>) {
        self.shared.enqueue_many(msgs, delay_s, tracked)
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
    /// failed. `Timeout` if that takes longer than `timeout_ms`; if some
    /// were given up on, the last failure's kind, saying how many failed.
    pub fn flush(&self, timeout_ms: i64) -> Result<()> {
        runtime::check_blocking_allowed("flush")?;
        let slot = Arc::new(OnceLock::new());
        let (id, deadline) = self.shared.begin_flush(timeout_ms, Track::Wait(slot.clone()), false)?;
        if let Some(outcome) = self.shared.wait_until(deadline, |_| slot.get().cloned()) {
            return outcome;
        }
        // This thread's wait ran out first: ended here as the expiry task would.
        self.shared.with_outbox(|ob| ((), ob.time_out_flush(id)));
        slot.get().cloned().unwrap_or_else(|| Err(Error::internal("flush: ended without an outcome")))
    }

    /// Begins a flush and returns at once: once every message enqueued
    /// before the call is confirmed or failed, or after `timeout_ms` (-1: no
    /// limit), its outcome arrives as a [`DeliveryReport`] with the returned
    /// id (taken from the messages' ids) and `opaque`, as `flush` would have
    /// returned it.
    pub fn flush_begin(&self, timeout_ms: i64, opaque: usize) -> Result<u64> {
        self.shared.begin_flush(timeout_ms, Track::Report(opaque), false).map(|(id, _)| id)
    }

    /// Begins closing and returns at once: sends are refused from now on;
    /// once every message is confirmed or failed, or after `timeout_ms`
    /// (-1: no limit), the producer closes (what is still unconfirmed fails
    /// with `Closed`) and the flush's outcome arrives as the last
    /// [`DeliveryReport`], with the returned id; its error, if any, begins
    /// with "close: ". Then `poll_reports` says `Closed`. `Closed` when
    /// closed or closing already.
    pub fn close_begin(&self, timeout_ms: i64, opaque: usize) -> Result<u64> {
        self.shared.begin_flush(timeout_ms, Track::Report(opaque), true).map(|(id, _)| id)
    }

    /// What became of the messages when the producer closed: confirmed
    /// and failed before the close, and in flight (failed by the close).
    /// While it is open: the figures so far.
    pub fn close_report(&self) -> CloseReport {
        let s = lock(&self.shared.state).outbox.close_report();
        CloseReport { confirmed: s.confirmed, failed: s.failed, in_flight: s.in_flight }
    }

    /// Takes up to `max` delivery reports of tracked sends, waiting up to
    /// `timeout_ms` for the first. `Timeout` when none came, `Closed` once
    /// the producer is closed and every report has been taken.
    pub fn poll_reports(&self, max: usize, timeout_ms: i64) -> Result<Vec<DeliveryReport>> {
        let ready = &self.shared.ready;
        let take = |ob: &mut Outbox| {
            if ob.has_reports() {
                let taken = ob.take_reports(max);
                if !ob.has_reports() && ob.closed().is_none() {
                    ready.clear();
                }
                return Some(Ok(taken));
            }
            ob.closed().cloned().map(Err)
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
        self.shared.close_with(closed_by_close());
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).outbox.closed().is_some()
    }

    /// A descriptor that polls readable while `poll_reports(0)` would
    /// return reports or `Closed`; owned by the producer.
    pub fn readiness_fd(&self) -> Result<crate::readiness::Descriptor> {
        self.shared.ready.fd()
    }

    pub fn stats(&self) -> ProducerStats {
        lock(&self.shared.state).outbox.stats()
    }

    /// Each connection's counters: `connections` per node (see the config
    /// key), in the order they were started. A cluster node's connections
    /// leave the list when the node leaves the registry's list; the
    /// totals in [`Producer::stats`] keep what they counted.
    pub fn connection_stats(&self) -> Vec<ConnectionStats> {
        lock(&self.shared.state).outbox.connection_stats()
    }

    /// Everything the producer counts, as one JSON document: the totals,
    /// the confirm latency over the last minute, and each connection's
    /// state, traffic and counters (the README lists every field).
    pub fn stats_json(&self) -> String {
        self.stats_document().to_string()
    }

    pub(crate) fn stats_document(&self) -> serde_json::Value {
        let now = Instant::now();
        let (totals, links, latency, closed) = {
            let st = lock(&self.shared.state);
            let ob = &st.outbox;
            (ob.stats(), ob.connection_stats_by_link(), ob.latency(now), ob.closed().is_some())
        };
        let gauges = self.shared.gauges.snapshot();
        let parts = stats_json::ProducerParts { closed, totals, links: &links, gauges: &gauges, latency };
        stats_json::producer(&self.shared.source, &parts)
    }

    /// The producer's serial number, unique in the process: the `client`
    /// of its events and statistics.
    pub fn serial(&self) -> u64 {
        self.shared.source.serial
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
        let idle = lock(&shared.state).outbox.held() == 0;
        tokio::select! {
            _ = stop.changed() => return,
            // A first message held, or a flush begun with a deadline.
            _ = shared.expiry.notified() => {}
            _ = tokio::time::sleep(next.map_or(tick, |n| n.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(1), tick))), if !idle => {}
        }
    }
}

/// One connection to one node, kept up until the producer closes.
async fn run_link(
    shared: Arc<Shared>,
    link: u32,
    url: String,
    first: Option<Ws>,
    member: Arc<Membership>,
    gauge: Arc<Gauge>,
) {
    let stop = shared.stop.subscribe();
    let mut this = ProducerLink { shared: &shared, link, room: Notify::new(), member: &member, gauge: &gauge };
    if let Some(rejected) = conn::drive(&mut this, &shared.dialer, &url, first, &member, stop, &gauge).await {
        shared.close_with(rejected);
    }
}

/// A producer's link, as the link driver sees it.
struct ProducerLink<'a> {
    shared: &'a Shared,
    link: u32,
    /// Wakes the writer when `ok`s make room in a full window.
    room: Notify,
    member: &'a Membership,
    gauge: &'a Gauge,
}

impl conn::Link for ProducerLink<'_> {
    const ROLE: &'static str = "producer";

    fn attempt_failed(&mut self, why: &Error) {
        lock(&self.shared.state).outbox.note_link_error(why);
    }

    fn opened(&mut self, again: bool) {
        let mut st = lock(&self.shared.state);
        if again {
            st.outbox.note_reconnect(self.link);
        }
        st.outbox.connected(self.link);
    }

    fn serve<'s>(&'s mut self, ws: Ws, stop: &'s mut watch::Receiver<bool>) -> impl Future<Output = Error> + Send + 's {
        serve(self.shared, self.link, ws, &self.room, self.member, self.gauge, stop)
    }

    /// Its unconfirmed messages go back to the queue, to be sent again.
    fn lost(&mut self, why: &Error) {
        let wake = lock(&self.shared.state).outbox.on_drop(self.link, why);
        if wake.room {
            // Another link may take them.
            self.shared.work.notify_waiters();
        }
    }
}

/// Runs one open connection until it fails or the producer stops; returns why.
/// `room` wakes the writer when `ok`s make room in a full window.
///
/// Past the handshake the connection carries only the producer's frames,
/// framed by `frames` rather than tungstenite (see there why). The server
/// has sent nothing tungstenite could have read ahead: it answers only
/// messages, and none was written yet.
async fn serve(
    shared: &Shared,
    link: u32,
    ws: Ws,
    room: &Notify,
    member: &Membership,
    gauge: &Gauge,
    stop: &mut watch::Receiver<bool>,
) -> Error {
    let (rd, mut wr) = tokio::io::split(ws.into_inner());
    let io = LinkIo {
        shared,
        link,
        room,
        member,
        gauge,
        last_seen: conn::LastSeen::now(),
        pong: Mutex::new(None),
        pong_due: Notify::new(),
    };
    // An answer is due while messages await their `ok`.
    let watchdog =
        conn::watchdog(&io.last_seen, shared.config.check_time, || lock(&shared.state).outbox.in_flight(link) > 0);
    let why = tokio::select! {
        e = io.read_oks(rd) => e,
        e = io.write_batches(&mut wr) => e,
        e = watchdog => e,
        _ = stop.changed() => Error::closed("the producer was closed"),
    };
    if *stop.borrow() {
        let mut close = frames::Writer::new();
        close.close();
        let _ = tokio::time::timeout(CLOSE_FRAME_WAIT, wr.write_all(close.bytes())).await;
    }
    why
}

/// How often a link whose node left looks again at what it still awaits.
const LEAVE_CHECK: Duration = Duration::from_millis(50);

/// How long a closing producer tries to write its close frame.
const CLOSE_FRAME_WAIT: Duration = Duration::from_millis(200);

/// What the reader and the writer of one open connection share.
struct LinkIo<'a> {
    shared: &'a Shared,
    link: u32,
    room: &'a Notify,
    member: &'a Membership,
    gauge: &'a Gauge,
    last_seen: conn::LastSeen,
    /// A ping of the server's, for the writer to answer.
    pong: Mutex<Option<Vec<u8>>>,
    pong_due: Notify,
}

/// What one read brought: how many `ok`s, and the error that ends the
/// connection if a frame did (the `ok`s before it still count).
struct Read {
    oks: usize,
    ended: Option<Error>,
}

impl LinkIo<'_> {
    /// Reads the server's frames until the connection ends; returns why.
    async fn read_oks(&self, mut rd: impl tokio::io::AsyncRead + Unpin) -> Error {
        let mut frames = frames::Reader::new();
        loop {
            let read = match frames.fill(&mut rd).await {
                Ok(0) => return Error::connect("the server closed the connection"),
                Ok(n) => n,
                Err(e) => return Error::connect(format!("connection lost: {e}")),
            };
            self.last_seen.touch();
            self.gauge.read(read);
            runtime::injected_panic_point();
            let Read { oks, ended } = self.take_frames(&mut frames);
            let busy = match self.confirm(oks) {
                // A read that filled the buffer left more behind.
                Ok(left) => left >= COALESCE_IN_FLIGHT && read < frames::READ_CHUNK,
                Err(e) => return e,
            };
            if let Some(e) = ended {
                return e;
            }
            if busy {
                // The node answers every message with a frame of its own.
                // While it has plenty left to confirm, a pause lets its
                // oks gather in the socket, so that one read and one wake-up
                // take many of them; at light load nothing waits.
                tokio::time::sleep(conn::COALESCE_PAUSE).await;
            }
        }
    }

    /// Counts the `ok`s among the frames read, and hands a ping to the writer.
    fn take_frames(&self, frames: &mut frames::Reader) -> Read {
        let mut oks = 0;
        loop {
            let ended = match frames.next_frame() {
                Ok(None) => None,
                Ok(Some(Frame::Data(d))) if d == wire::SEND_ACK.as_bytes() => {
                    oks += 1;
                    continue;
                }
                Ok(Some(Frame::Data(other))) => Some(Error::protocol(format!(
                    "expected \"ok\", got {:?}",
                    wire::preview(&String::from_utf8_lossy(other))
                ))),
                Ok(Some(Frame::Ping(payload))) => {
                    *lock(&self.pong) = Some(payload.to_vec());
                    self.pong_due.notify_one();
                    continue;
                }
                Ok(Some(Frame::Pong)) => continue,
                Ok(Some(Frame::Close)) => Some(Error::connect("the server closed the connection")),
                Err(e) => Some(e),
            };
            return Read { oks, ended };
        }
    }

    /// Confirms `oks` messages of the link under one lock; returns how
    /// many are still awaiting theirs (0 when none was confirmed: nothing
    /// to pause for).
    fn confirm(&self, oks: usize) -> Result<usize> {
        if oks == 0 {
            return Ok(0);
        }
        let now = Instant::now();
        let confirmed = self.shared.with_outbox(|ob| match ob.on_ok(self.link, oks, now) {
            Ok(wake) => (Ok((wake.room, ob.in_flight(self.link))), wake),
            Err(e) => (Err(e), Wake::default()),
        });
        let (room_made, left) = confirmed?;
        if room_made {
            self.room.notify_one();
        }
        Ok(left)
    }

    /// Writes batches from the outbox (and pings and pongs) until the
    /// connection fails or the node leaves; returns why.
    async fn write_batches(&self, wr: &mut (impl AsyncWrite + Unpin)) -> Error {
        let mut out = frames::Writer::new();
        let mut ping = conn::ping_interval(self.shared.config.check_time).await;
        loop {
            if self.member.retired() {
                match leave(self.shared, self.link, self.room, self.member).await {
                    Some(why) => return why,
                    None => continue,
                }
            }
            // Registered before looking, so that no wake-up is missed.
            let work = self.shared.work.notified();
            tokio::pin!(work);
            work.as_mut().enable();
            let retiring = self.member.changed.notified();
            tokio::pin!(retiring);
            retiring.as_mut().enable();
            if self.member.retired() {
                continue;
            }
            let took = match self.take_batch(&mut out) {
                Ok(took) => took,
                Err(e) => return e,
            };
            // Nothing taken: wait for something to do.
            if !took && out.is_empty() {
                tokio::select! {
                    _ = work => {}
                    _ = self.room.notified() => {}
                    _ = retiring => {}
                    _ = self.pong_due.notified() => {}
                    _ = ping.tick() => out.ping(),
                }
                if out.is_empty() {
                    continue;
                }
            }
            let bytes = out.len();
            if let Err(e) = write_out(wr, &mut out, true).await {
                return e;
            }
            self.gauge.wrote(bytes);
            // Let the other links of a cluster take their share.
            tokio::task::yield_now().await;
        }
    }

    /// Frames a batch from the outbox, and a pong that is due, into `out`;
    /// whether a batch was taken.
    fn take_batch(&self, out: &mut frames::Writer) -> Result<bool> {
        // Framed straight from the outbox into `out`, under the lock: a
        // copy of each message, and no allocation.
        let before = out.len();
        let taken = lock(&self.shared.state).outbox.take_batch(self.link, |frame| out.text(frame))?;
        if taken.more_for_others {
            self.shared.work.notify_waiters();
        }
        if let Some(payload) = lock(&self.pong).take() {
            out.pong(&payload);
        }
        Ok(out.len() > before)
    }
}

/// Writes what `out` holds (and flushes it through TLS when `flush`), then
/// empties it.
async fn write_out(wr: &mut (impl AsyncWrite + Unpin), out: &mut frames::Writer, flush: bool) -> Result<()> {
    let written = async {
        wr.write_all(out.bytes()).await?;
        if flush {
            wr.flush().await?;
        }
        std::io::Result::Ok(())
    };
    written.await.map_err(|e| Error::connect(format!("connection lost while writing: {e}")))?;
    out.clear();
    Ok(())
}

/// The node of `link` left the registry's list: it takes no new messages,
/// and waits (at most two check periods) for the `ok`s of those it has
/// written; whatever is still unconfirmed then goes to the other nodes
/// when the connection closes. Returns the reason to close, or `None` when
/// the node came back meanwhile and the link carries on.
async fn leave(shared: &Shared, link: u32, room: &Notify, member: &Membership) -> Option<Error> {
    let limit = tokio::time::Instant::now() + shared.config.check_time * 2;
    loop {
        let retiring = member.changed.notified();
        tokio::pin!(retiring);
        retiring.as_mut().enable();
        if !member.retired() {
            return None;
        }
        let left = lock(&shared.state).outbox.in_flight(link);
        if left == 0 {
            return Some(Error::closed("the node left the registry's list"));
        }
        tokio::select! {
            _ = room.notified() => {}
            _ = retiring => {}
            _ = tokio::time::sleep(LEAVE_CHECK) => {}
            _ = tokio::time::sleep_until(limit) => {
                return Some(Error::connect(format!(
                    "the node left the registry's list with {left} messages unconfirmed; they go to other nodes"
                )));
            }
        }
    }
}
