//! The consumer: a connection task reads pushed messages into a bounded
//! local buffer (the [`Inbox`], see `inbox.rs`) and keeps reading while
//! earlier messages are still unacked. When the buffer is full it stops
//! reading, so TCP carries the back-pressure to the server. `receive` waits on the caller's thread; `ack` only queues
//! the code for the connection task and never waits for the network.

use crate::acks::{AckRoutes, ACK_BATCH};
use crate::cluster;
use crate::config::Config;
use crate::conn::{self, Dialer, Membership, Ws};
use crate::error::{Error, Result};
pub use crate::inbox::DrainReport;
use crate::inbox::Inbox;
use crate::log;
pub use crate::message::Message;
use crate::metrics::{self, Gauge, Gauges, Source};
use crate::readiness::Readiness;
use crate::runtime;
use crate::stats_json;
use crate::sync::lock;
use crate::wire::{self, Role};
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    pub received: u64,
    pub acked: u64,
    pub reconnects: u64,
    /// Frames from the server that were not a message, skipped.
    pub bad_frames: u64,
    /// Received and not yet taken by `receive`.
    pub buffered: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    acked: AtomicU64,
    /// Acks written to a socket (`acked` counts those given to `ack`).
    acks_written: AtomicU64,
    reconnects: AtomicU64,
    bad_frames: AtomicU64,
}

struct State {
    inbox: Inbox,
    /// Threads blocked in `receive`; no wake-up is paid for while none is.
    waiting: usize,
}

struct Shared {
    config: Config,
    dialer: Dialer,
    state: Mutex<State>,
    arrived: Condvar,
    /// Wakes a drain when a message is taken or acked.
    progress: Condvar,
    /// Wakes the reader when `receive` makes room in a full buffer.
    room: Notify,
    /// Each link's acks to write (see `acks.rs`), and how to wake its writer.
    links: Mutex<AckRoutes<Arc<Notify>>>,
    /// Signalled when a link's task ends (and leaves `links`).
    link_ended: Condvar,
    next_link: AtomicU32,
    counters: Counters,
    stop: watch::Sender<bool>,
    /// Readable while `receive(0)` would not time out (see `kmq_consumer_fd`).
    ready: Readiness,
    /// Who the consumer is, for events and metrics.
    source: Arc<Source>,
    /// Each link's connection state and traffic.
    gauges: Gauges,
}

/// How long `close` waits for the connections to write the acks given
/// before it.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Most messages a connection hands over at once.
const DELIVER_BATCH: usize = 256;
/// A read that brings at least this many pushes (and fewer than a full
/// batch) is taken as part of a stream: the reader pauses `conn::COALESCE_PAUSE`
/// before the next.
const COALESCE_BURST: usize = 16;

/// A KapokMQ consumer. Cheap to share between threads (`&self` methods).
pub struct Consumer {
    shared: Arc<Shared>,
}

impl Shared {
    fn new(config: &Config, dialer: Dialer, multi_node: bool, source: Arc<Source>) -> Arc<Shared> {
        Arc::new(Shared {
            config: config.clone(),
            dialer,
            state: Mutex::new(State { inbox: Inbox::new(config.receive_buffer, multi_node), waiting: 0 }),
            arrived: Condvar::new(),
            progress: Condvar::new(),
            room: Notify::new(),
            links: Mutex::new(AckRoutes::default()),
            link_ended: Condvar::new(),
            next_link: AtomicU32::new(0),
            counters: Counters::default(),
            stop: watch::channel(false).0,
            ready: Readiness::new(),
            source,
            gauges: Gauges::default(),
        })
    }

    /// Starts a link to `url` (connected already when `ws` is given);
    /// returns its membership, which retires it.
    fn start_link(self: &Arc<Self>, url: String, ws: Option<Ws>) -> Arc<Membership> {
        let retired = Arc::new(Membership::default());
        let link = self.next_link.fetch_add(1, Ordering::Relaxed);
        let acks = Arc::new(Notify::new());
        lock(&self.links).add_link(link, acks.clone());
        let gauge = Gauge::new(&self.source, wire::authority(&url));
        self.gauges.add(link, gauge.clone());
        if let Ok(rt) = runtime::handle() {
            retired.join();
            rt.spawn(run_link(self.clone(), link, url, ws, acks, retired.clone(), gauge));
        }
        retired
    }

    /// Queues an ack on the link that delivered the message, or on every
    /// link when that is not known.
    fn route_ack(&self, code: &str) -> Result<()> {
        let from = lock(&self.state).inbox.route_ack(code);
        let writers = lock(&self.links).route(from, code)?;
        for writer in writers {
            writer.notify_one();
        }
        // Counted only once queued: a drain that sees it acked closes, and
        // closing writes what is queued.
        let draining = {
            let mut st = lock(&self.state);
            st.inbox.acked(code);
            st.inbox.draining()
        };
        if draining {
            self.progress.notify_all();
        }
        Ok(())
    }

    fn close_with(&self, why: Error) {
        lock(&self.state).inbox.close(why);
        // Closed: receive returns at once from now on.
        self.ready.set();
        self.arrived.notify_all();
        self.progress.notify_all();
        self.stop.send_replace(true);
        self.room.notify_waiters();
    }

    /// Moves pushed messages into the buffer, waiting (without reading the
    /// socket) while it is full. Returns false once the consumer is closed.
    async fn deliver(&self, batch: &mut VecDeque<Message>, link: u32) -> bool {
        while !batch.is_empty() {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut st = lock(&self.state);
                if st.inbox.closed().is_some() {
                    return false;
                }
                let offered = st.inbox.offer(batch, link);
                if offered.wake_receivers && offered.taken > 0 {
                    // Under the lock, as receive clears it under the lock.
                    self.ready.set();
                }
                if offered.taken > 0 {
                    // One wake-up per batch, and only when a receiver can
                    // be waiting: the buffer was empty.
                    let wake = offered.wake_receivers && st.waiting > 0;
                    drop(st);
                    self.counters.received.fetch_add(offered.taken as u64, Ordering::Relaxed);
                    if wake {
                        self.arrived.notify_all();
                    }
                    continue;
                }
                if batch.is_empty() {
                    // Dropped by a drain: read on, and drop what follows.
                    return true;
                }
            }
            room.await;
        }
        true
    }
}

/// What one frame from the server means to a consumer.
enum Pushed {
    Message(Message),
    /// Not a message (a ping, a garbage frame): nothing to deliver.
    Nothing,
    /// The server closed the connection.
    End,
}

fn read_push(shared: &Shared, frame: WsMessage) -> Pushed {
    let text = match &frame {
        WsMessage::Text(t) => t.as_str(),
        WsMessage::Binary(b) => match std::str::from_utf8(b) {
            Ok(t) => t,
            Err(_) => {
                shared.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                return Pushed::Nothing;
            }
        },
        WsMessage::Close(_) => return Pushed::End,
        _ => return Pushed::Nothing,
    };
    // A frame that is not a message is skipped: the message it may have
    // stood for stays unacked on the server and comes again.
    match wire::parse_push(text) {
        Ok(push) => Pushed::Message(push.into()),
        Err(e) => {
            log::warn(|| format!("consumer skipped a frame: {e}"));
            shared.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
            Pushed::Nothing
        }
    }
}

impl Consumer {
    /// Connects to the node in `config` and completes the handshake before
    /// it returns: a rejected key is `Auth`, an unreachable server `Connect`.
    pub fn connect(config: &Config) -> Result<Consumer> {
        let topic = config.require_topic()?;
        let id = config.require_consumer_id()?;
        runtime::check_blocking_allowed("connecting a consumer")?;
        let url = wire::conn_url(&config.mq_protocol, &config.mq_addr, config.mq_port, Role::Consumer, topic, id);
        let dialer = Dialer::from_config(config)?;
        let rt = runtime::handle()?;
        let ws = rt.block_on(dialer.open(&url))?;
        let standby = config.standby_addr.as_ref().map(|addr| {
            let port = config.standby_port.unwrap_or(config.mq_port);
            wire::conn_url(&config.mq_protocol, addr, port, Role::Consumer, topic, id)
        });
        let source = Source::new(Role::Consumer, topic, id);
        let shared = Shared::new(config, dialer, standby.is_some(), source);
        shared.start_link(url, Some(ws));
        // A standby pushes only once its master is gone; its link connects
        // in the background and keeps trying while the standby is down.
        if let Some(standby) = standby {
            shared.start_link(standby, None);
        }
        Ok(Consumer { shared })
    }

    /// Asks the registry (`registry_*` keys) for the live nodes and connects
    /// to every one before it returns (a message lives on the node it was
    /// sent to), then follows the registry's list. One `receive` serves all
    /// nodes; each ack goes to the node its message came from. Fails with
    /// `NoNodes`, `Auth` or `Connect` as the situation says.
    pub fn connect_cluster(config: &Config) -> Result<Consumer> {
        let id = config.require_consumer_id()?;
        let (fleet, dialer) = cluster::Fleet::connect(config, Role::Consumer, id)?;
        let source = Source::new(Role::Consumer, config.require_topic()?, id);
        let shared = Shared::new(config, dialer, true, source.clone());
        let starter = shared.clone();
        let start = Arc::new(move |url, ws| starter.start_link(url, ws));
        fleet.run(config.check_time, shared.stop.subscribe(), start, source)?;
        Ok(Consumer { shared })
    }

    /// The next pushed message. `timeout_ms` of -1 waits without limit, 0
    /// does not wait. `Timeout` when none came in time; `Closed` once closed.
    pub fn receive(&self, timeout_ms: i64) -> Result<Message> {
        self.take_when_ready(timeout_ms, |inbox| inbox.take())
    }

    /// Up to `max` pushed messages, in order: waits like `receive` for the
    /// first, then takes those already buffered behind it, under one lock.
    /// A loop that handles many messages pays one call (and at most one
    /// wake-up) per batch instead of per message.
    pub fn receive_many(&self, max: usize, timeout_ms: i64) -> Result<Vec<Message>> {
        if max == 0 {
            return Err(Error::invalid("receive_many: max must be at least 1"));
        }
        self.take_when_ready(timeout_ms, |inbox| {
            let (first, mut was_full) = inbox.take()?;
            let mut batch = Vec::with_capacity(max.min(inbox.buffered() + 1));
            batch.push(first);
            while batch.len() < max {
                let Some((m, full)) = inbox.take() else { break };
                was_full |= full;
                batch.push(m);
            }
            Some((batch, was_full))
        })
    }

    /// Waits (up to `timeout_ms`) until `take` finds something in the
    /// buffer; `take` answers what it took and whether the buffer was full.
    fn take_when_ready<T>(&self, timeout_ms: i64, mut take: impl FnMut(&mut Inbox) -> Option<(T, bool)>) -> Result<T> {
        let deadline = runtime::deadline(timeout_ms);
        if timeout_ms != 0 {
            runtime::check_blocking_allowed("receive")?;
        }
        let mut st = lock(&self.shared.state);
        loop {
            if let Some(e) = st.inbox.closed() {
                return Err(e.clone());
            }
            if let Some((taken, was_full)) = take(&mut st.inbox) {
                if st.inbox.buffered() == 0 {
                    self.shared.ready.clear();
                }
                let draining = st.inbox.draining();
                drop(st);
                if draining {
                    self.shared.progress.notify_all();
                }
                if was_full {
                    // Every link may be waiting for room (one per node).
                    self.shared.room.notify_waiters();
                }
                return Ok(taken);
            }
            let Some(left) = runtime::wait_slice(deadline) else {
                return Err(Error::timeout(format!("no message within {timeout_ms} ms")));
            };
            st.waiting += 1;
            st = crate::sync::wait(&self.shared.arrived, st, left);
            st.waiting -= 1;
        }
    }

    /// Tells the server the message with `code` was handled. Queued for the
    /// connection task; never waits for the network. Unknown codes are
    /// ignored by the server.
    pub fn ack(&self, code: &str) -> Result<()> {
        wire::check_code(code)?;
        if let Some(e) = lock(&self.shared.state).inbox.closed() {
            return Err(e.clone());
        }
        self.shared.route_ack(code)?;
        self.shared.counters.acked.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Stops taking pushes, waits (up to `timeout_ms`; -1: no limit) until
    /// the application has taken every buffered message (with `receive`,
    /// from other threads) and acked every message it was handed, then
    /// closes. Pushes that arrive meanwhile are dropped unread; the node
    /// pushes them again after its pushRetryTime, as it does the unacked
    /// ones. The report says where every message ended. `Closed` when the
    /// consumer was closed (or drained) before.
    pub fn drain(&self, timeout_ms: i64) -> Result<DrainReport> {
        runtime::check_blocking_allowed("drain")?;
        let deadline = runtime::deadline(timeout_ms);
        let mut st = lock(&self.shared.state);
        if let Some(e) = st.inbox.closed() {
            return Err(e.clone());
        }
        if !st.inbox.begin_drain() {
            return Err(Error::closed("the consumer is being drained already"));
        }
        while !st.inbox.drained() && st.inbox.closed().is_none() {
            let Some(left) = runtime::wait_slice(deadline) else { break };
            st = crate::sync::wait(&self.shared.progress, st, left);
        }
        let report = st.inbox.drain_report();
        drop(st);
        self.close();
        Ok(report)
    }

    /// Closes the connection and wakes every call blocked on this consumer.
    ///
    /// Acks already given are still written: from a plain thread, `close`
    /// waits (at most [`CLOSE_GRACE`]) until every connection has written
    /// them, so a process may exit right after it.
    pub fn close(&self) {
        self.shared.close_with(Error::closed("the consumer was closed"));
        if runtime::check_blocking_allowed("close").is_err() {
            return;
        }
        let deadline = Instant::now() + CLOSE_GRACE;
        let mut links = lock(&self.shared.links);
        while !links.is_empty() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            links = crate::sync::wait(&self.shared.link_ended, links, left);
        }
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).inbox.closed().is_some()
    }

    /// A descriptor that polls readable while `receive(0)` would return a
    /// message or `Closed`; owned by the consumer.
    pub fn readiness_fd(&self) -> Result<crate::readiness::Descriptor> {
        self.shared.ready.fd()
    }

    pub fn stats(&self) -> ConsumerStats {
        let c = &self.shared.counters;
        ConsumerStats {
            received: c.received.load(Ordering::Relaxed),
            acked: c.acked.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            bad_frames: c.bad_frames.load(Ordering::Relaxed),
            buffered: lock(&self.shared.state).inbox.buffered() as u64,
        }
    }

    /// Everything the consumer counts, as one JSON document: the totals,
    /// the buffer, what was handed out and not yet acked, and each
    /// connection's state and traffic (the README lists every field).
    pub fn stats_json(&self) -> String {
        self.stats_document().to_string()
    }

    pub(crate) fn stats_document(&self) -> serde_json::Value {
        let ConsumerStats { received, acked, reconnects, bad_frames, buffered } = self.stats();
        let (unacked, closed) = {
            let st = lock(&self.shared.state);
            (st.inbox.unacked() as u64, st.inbox.closed().is_some())
        };
        let gauges = self.shared.gauges.snapshot();
        let parts = stats_json::ConsumerParts {
            closed,
            received,
            acked,
            reconnects,
            bad_frames,
            buffered,
            unacked,
            acks_written: self.shared.counters.acks_written.load(Ordering::Relaxed),
            buffer_capacity: self.shared.config.receive_buffer as u64,
            gauges: &gauges,
        };
        stats_json::consumer(&self.shared.source, &parts)
    }

    /// The consumer's serial number, unique in the process: the `client`
    /// of its events and statistics.
    pub fn serial(&self) -> u64 {
        self.shared.source.serial
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Keeps one connection up until the consumer closes. Acks not yet written
/// when a connection drops are written on the next one.
async fn run_link(
    shared: Arc<Shared>,
    link: u32,
    url: String,
    first: Option<Ws>,
    acks: Arc<Notify>,
    retired: Arc<Membership>,
    gauge: Arc<Gauge>,
) {
    // The acks not yet written stay in `shared.links`: they outlive a
    // dropped connection and a panic alike.
    let mut first = first;
    let run = || {
        let (shared, url, first, acks, retired, gauge) =
            (shared.clone(), url.clone(), first.take(), acks.clone(), retired.clone(), gauge.clone());
        async move { keep_link(&shared, link, &url, first, &acks, &retired, &gauge).await }
    };
    conn::supervise("consumer", &url, shared.stop.subscribe(), run, |_| {}).await;
    lock(&shared.links).remove_link(link);
    shared.gauges.remove(link);
    retired.end();
    shared.link_ended.notify_all();
}

async fn keep_link(
    shared: &Shared,
    link: u32,
    url: &str,
    first: Option<Ws>,
    acks: &Notify,
    member: &Membership,
    gauge: &Gauge,
) {
    let stop = shared.stop.subscribe();
    let mut this = ConsumerLink { shared, link, acks, member, gauge };
    if let Some(rejected) = conn::drive(&mut this, &shared.dialer, url, first, member, stop, gauge).await {
        shared.close_with(rejected);
    }
}

/// A consumer's link, as the link driver sees it. Acks not yet written
/// when a connection drops are written on the next one.
struct ConsumerLink<'a> {
    shared: &'a Shared,
    link: u32,
    /// Wakes the writer when acks are queued for this link.
    acks: &'a Notify,
    member: &'a Membership,
    gauge: &'a Gauge,
}

impl conn::Link for ConsumerLink<'_> {
    const ROLE: &'static str = "consumer";

    fn opened(&mut self, again: bool) {
        if again {
            self.shared.counters.reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn serve<'s>(&'s mut self, ws: Ws, stop: &'s mut watch::Receiver<bool>) -> impl Future<Output = Error> + Send + 's {
        serve(self, ws, stop)
    }

    fn lost(&mut self, _why: &Error) {}
}

type Sink = futures_util::stream::SplitSink<Ws, WsMessage>;
type Stream = futures_util::stream::SplitStream<Ws>;

/// Serves one open connection until it ends, the node leaves the
/// registry's list or the consumer closes; returns why. On the way out of
/// the last two, the acks given so far are written first.
async fn serve(this: &mut ConsumerLink<'_>, ws: Ws, stop: &mut watch::Receiver<bool>) -> Error {
    let (shared, member) = (this.shared, this.member);
    let (mut sink, mut stream) = ws.split();
    let io = PushIo {
        shared,
        link: this.link,
        gauge: this.gauge,
        last_seen: conn::LastSeen::now(),
        paused: std::sync::atomic::AtomicBool::new(false),
    };
    // Pings go out every check_time; while the buffer is full the socket is
    // not read on purpose, and silence then says nothing about the server.
    let watchdog = conn::watchdog(&io.last_seen, shared.config.check_time, || !io.paused.load(Ordering::Relaxed));
    let why = tokio::select! {
        _ = io.read_pushes(&mut stream) => Error::connect("the connection was lost or closed by the server"),
        _ = io.write_acks(&mut sink, this.acks) => Error::connect("the connection was lost while writing acks"),
        e = watchdog => e,
        _ = member.retirement() => Error::closed("the node left the registry's list"),
        _ = stop.changed() => Error::closed("the consumer was closed"),
    };
    if *stop.borrow() || member.retired() {
        // Acks the application gave before closing still reach the server.
        let goodbye = async {
            while io.write_batch(&mut sink).await? > 0 {}
            sink.send(WsMessage::Close(None)).await
        };
        if tokio::time::timeout(ACKS_AT_CLOSE_WAIT, goodbye).await.is_ok_and(|sent| sent.is_ok()) {
            let _ = tokio::time::timeout(SERVER_CLOSE_WAIT, server_closed(sink, stream)).await;
        }
    }
    why
}

/// How long a closing consumer tries to write its acks and close frame,
/// and then waits for the server to close (see `server_closed`).
const ACKS_AT_CLOSE_WAIT: Duration = Duration::from_millis(500);
const SERVER_CLOSE_WAIT: Duration = Duration::from_millis(400);

/// What the reader and the writer of one open connection share.
struct PushIo<'a> {
    shared: &'a Shared,
    link: u32,
    gauge: &'a Gauge,
    last_seen: conn::LastSeen,
    /// While the buffer is full the socket is not read on purpose; silence
    /// then says nothing about the server.
    paused: std::sync::atomic::AtomicBool,
}

impl PushIo<'_> {
    /// Reads pushes into the buffer until the connection ends or the
    /// consumer closes.
    async fn read_pushes(&self, stream: &mut Stream) {
        let mut batch = VecDeque::new();
        loop {
            let ended = self.take_frames(stream, &mut batch).await;
            // A full batch leaves more in the socket: read on at once.
            let burst = (COALESCE_BURST..DELIVER_BATCH).contains(&batch.len());
            self.paused.store(true, Ordering::Relaxed);
            let open = self.shared.deliver(&mut batch, self.link).await;
            self.paused.store(false, Ordering::Relaxed);
            self.last_seen.touch();
            if !open || ended {
                return;
            }
            if burst {
                // The node pushes every message as a frame of its own. In
                // a stream of pushes, a pause lets them gather in the
                // socket, so that one read and one wake-up take many; a
                // lone push is read at once.
                tokio::time::sleep(conn::COALESCE_PAUSE).await;
            }
        }
    }

    /// Waits for a frame, then takes every frame already received (up to a
    /// batch), so that the application is woken once for all; true when
    /// the connection ended.
    async fn take_frames(&self, stream: &mut Stream, batch: &mut VecDeque<Message>) -> bool {
        let mut next = stream.next().await;
        loop {
            let Some(Ok(frame)) = next else {
                return true;
            };
            self.last_seen.touch();
            self.gauge.read(metrics::frame_len(frame.len(), false));
            runtime::injected_panic_point();
            match read_push(self.shared, frame) {
                Pushed::Message(m) => {
                    self.gauge.received.fetch_add(1, Ordering::Relaxed);
                    batch.push_back(m)
                }
                Pushed::Nothing => {}
                Pushed::End => return true,
            }
            if batch.len() >= DELIVER_BATCH {
                return false;
            }
            match stream.next().now_or_never() {
                Some(frame) => next = frame,
                None => return false,
            }
        }
    }

    /// Writes the acks the application gives, and pings, until the
    /// connection fails.
    async fn write_acks(&self, sink: &mut Sink, wake: &Notify) {
        let mut ping = conn::ping_interval(self.shared.config.check_time).await;
        loop {
            let Ok(written) = self.write_batch(sink).await else {
                return;
            };
            if written > 0 {
                // Acks written at most once a pause: the acks of a stream
                // of messages go out many to a write, a lone one at once. A
                // full batch leaves more: on at once.
                if written < ACK_BATCH {
                    tokio::time::sleep(conn::COALESCE_PAUSE).await;
                }
                // A stream of acks never waits below; its pings are due
                // all the same (their pongs keep the watchdog fed).
                if ping.tick().now_or_never().is_some() && self.ping(sink).await.is_err() {
                    return;
                }
                continue;
            }
            // Nothing queued: until an ack is (its route wakes this link
            // only from empty), or it is time to ping.
            tokio::select! {
                _ = wake.notified() => {}
                _ = ping.tick() => {
                    if self.ping(sink).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    async fn ping(&self, sink: &mut Sink) -> std::result::Result<(), tokio_tungstenite::tungstenite::Error> {
        sink.send(WsMessage::Ping(Default::default())).await?;
        self.gauge.wrote(metrics::frame_len(0, true));
        Ok(())
    }

    /// Writes the next batch of this link's acks in one flush and forgets
    /// them once written (kept for the next connection if not); returns how
    /// many.
    async fn write_batch(&self, sink: &mut Sink) -> std::result::Result<usize, tokio_tungstenite::tungstenite::Error> {
        let batch = lock(&self.shared.links).batch(self.link);
        if batch.is_empty() {
            return Ok(0);
        }
        runtime::injected_ack_panic_point();
        for code in &batch {
            sink.feed(WsMessage::text(code.as_ref())).await?;
        }
        sink.flush().await?;
        lock(&self.shared.links).written(self.link, batch.len());
        let bytes: usize = batch.iter().map(|code| metrics::frame_len(code.len(), true)).sum();
        self.gauge.wrote(bytes);
        let n = batch.len() as u64;
        self.gauge.acks_written.fetch_add(n, Ordering::Relaxed);
        self.shared.counters.acks_written.fetch_add(n, Ordering::Relaxed);
        Ok(batch.len())
    }
}

/// Waits until the server has closed the TCP connection after our close
/// frame. The node takes a consumer off its push list only as its handler
/// ends, just before it closes the connection, and it keys consumers by id,
/// topic, address and second: a consumer opened right after this one closed
/// would otherwise be the entry taken off, and get no pushes.
async fn server_closed(sink: Sink, mut stream: Stream) {
    use tokio::io::AsyncReadExt;
    // The server's close frame (and anything pushed before it) first.
    while let Some(Ok(_)) = stream.next().await {}
    let Ok(mut ws) = sink.reunite(stream) else {
        return;
    };
    let mut buf = [0u8; 512];
    while let Ok(n) = ws.get_mut().read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}
