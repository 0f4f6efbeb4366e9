//! The producer's state, sans I/O: the queue of messages to write, each
//! link's FIFO of messages written and awaiting their `ok`, time limits,
//! flush marks and delivery reports. It holds no socket and reads no clock:
//! the link driver and the producer feed it events (`enqueue`,
//! `take_batch`, `on_ok`, `on_drop`, `on_tick(now)`) and act on what it answers,
//! so every rule below is unit-tested without a server.
//!
//! Memory is bounded by configuration whatever the server does: the queue
//! by `queue_max`; each link's FIFO by `max_in_flight` entries and
//! `max_in_flight_bytes` of frames. A message that times out while awaiting
//! its `ok` gives its frame back at once and leaves a placeholder, so that
//! later `ok`s still line up with the messages they confirm.

use crate::error::{Error, ErrorKind, Result};
use crate::flushes::{Flush, Flushes};
use crate::latency::{LatencySummary, LatencyWindow};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A link writes at most this many messages (or bytes) before it flushes.
const BATCH_MESSAGES: usize = 4096;
const BATCH_BYTES: usize = 1 << 20;
/// The smallest in-flight window a link falls back to after drops.
const MIN_WINDOW: usize = 64;
/// A link's window doubles once this many windows' worth of messages were
/// confirmed since it last changed: slow enough that a connection which
/// keeps dropping keeps a small window (few resends), fast enough that a
/// single drop on a busy link is forgotten within milliseconds.
const GROW_AFTER_WINDOWS: usize = 4;

/// The bounds an outbox keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Messages held at once, queued or in flight (`queue_max`).
    pub queue_max: usize,
    /// Messages written and not yet confirmed per link (`max_in_flight`).
    pub max_in_flight: usize,
    /// Bytes of frames written and not yet confirmed per link.
    pub max_in_flight_bytes: usize,
    /// How long a message may wait for its `ok` (`message_timeout_ms`).
    pub message_timeout: Duration,
}

/// The outcome of one tracked send (see `Producer::send_tracked`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub id: u64,
    pub result: Result<()>,
    /// The value given to `Producer::send_tracked_with` (0 otherwise).
    pub opaque: usize,
}

/// How the application learns a message's outcome.
pub(crate) enum Track {
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
    /// The encoded message (the payload of its text frame).
    frame: Vec<u8>,
    deadline: Instant,
    track: Track,
    /// Written at least once; a further write is a resend.
    written: bool,
    /// Its deadline is exact (see `clock::deadline_sampled`): its confirm
    /// latency is recorded.
    timed: bool,
}

/// An entry of a link's FIFO of written messages.
enum Slot {
    Live(Outgoing),
    /// A message already reported failed (its time ran out) whose `ok` may
    /// still come: it holds no frame, only its place in line.
    Expired,
}

/// One link's messages in flight.
struct Flight {
    fifo: VecDeque<Slot>,
    /// Bytes of the frames of live slots.
    bytes: usize,
    /// Live slots (the rest are placeholders).
    live: usize,
    /// How many entries the FIFO may hold now: `max_in_flight`, halved
    /// after a connection dropped with messages in flight, grown back as
    /// messages are confirmed.
    window: usize,
    confirmed_since_change: usize,
    connected: bool,
    /// This link's share of the producer's counters.
    counts: ConnectionStats,
}

impl Flight {
    fn new(max: usize, node: &str) -> Flight {
        let counts = ConnectionStats { node: node.to_string(), ..ConnectionStats::default() };
        Flight {
            fifo: VecDeque::new(),
            bytes: 0,
            live: 0,
            window: max,
            confirmed_since_change: 0,
            connected: false,
            counts,
        }
    }

    fn has_room(&self, limits: &Limits) -> bool {
        self.fifo.len() < self.window && (self.fifo.is_empty() || self.bytes < limits.max_in_flight_bytes)
    }

    /// Whether the link should write again: a full window waits until an
    /// eighth of it is free, so that the server's `ok`s, which arrive a few
    /// at a time, are answered with batches and not a write per `ok`.
    fn ready(&self, limits: &Limits) -> bool {
        let free = self.window.saturating_sub(self.fifo.len());
        self.fifo.is_empty() || (free >= (self.window / 8).max(1) && self.bytes <= limits.max_in_flight_bytes / 8 * 7)
    }
}

/// What an event changed that someone may be waiting for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wake {
    /// A `send_wait` or `flush` caller: its slot was filled.
    pub sender: bool,
    /// A report poller: the report queue went from empty to non-empty.
    pub reports: bool,
    /// The link whose event it was has room for more messages again.
    pub room: bool,
    /// The outbox closed: the links must stop.
    pub closed: bool,
}

impl Wake {
    /// Whether a caller blocked on the producer may have to look again.
    pub fn waiters(&self) -> bool {
        self.sender || self.reports
    }
    fn merge(&mut self, other: Wake) {
        self.sender |= other.sender;
        self.reports |= other.reports;
        self.room |= other.room;
        self.closed |= other.closed;
    }
}

/// What `enqueue` asks the caller to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Enqueued {
    pub id: u64,
    /// The queue was empty: an idle link must be woken.
    pub wake_link: bool,
    /// The first message held: the expiry timer must start.
    pub start_timer: bool,
}

/// What `take_batch` found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    /// This link took messages, and some are still queued that another
    /// connected link has room for.
    pub more_for_others: bool,
}

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

/// One connection's counters (see `Producer::connection_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// The node, as `host:port`.
    pub node: String,
    /// Whether the connection is open now.
    pub connected: bool,
    /// Messages written on it, resends included.
    pub written: u64,
    /// Messages the node confirmed on it.
    pub confirmed: u64,
    /// Messages written on it again after a drop.
    pub resent: u64,
    /// Times it was opened again after the first.
    pub reconnects: u64,
    /// Messages written on it and awaiting their `ok` now.
    pub in_flight: u64,
}

pub(crate) struct Outbox {
    limits: Limits,
    queue: VecDeque<Outgoing>,
    links: HashMap<u32, Flight>,
    ledger: Ledger,
    next_id: u64,
    /// Flush generations: a flush waits for every earlier generation to
    /// have no unsettled message left, whatever order they settle in.
    generation: u64,
    closed: Option<Error>,
    /// A flush that closes the producer is under way: sends are refused.
    closing: bool,
    /// The counters as they were when the outbox closed, before the close
    /// failed what was left.
    at_close: Option<ProducerStats>,
    /// Why the last connection attempt or connection failed, for reports.
    last_link_error: Option<String>,
}

/// Where outcomes are recorded: counters, flush generations, reports.
struct Ledger {
    /// Messages not yet settled, queued or in flight (bounded by queue_max).
    held: usize,
    /// Unsettled messages per flush generation.
    outstanding: BTreeMap<u64, u64>,
    flushes: Flushes<Track>,
    /// A flush that closes the producer ended: the outbox closes.
    close_due: bool,
    reports: VecDeque<DeliveryReport>,
    stats: ProducerStats,
    /// From send to `ok`, of the timed messages.
    latency: LatencyWindow,
}

impl Outbox {
    pub fn new(limits: Limits) -> Outbox {
        Outbox {
            limits,
            queue: VecDeque::new(),
            links: HashMap::new(),
            ledger: Ledger {
                held: 0,
                outstanding: BTreeMap::new(),
                flushes: Flushes::default(),
                close_due: false,
                reports: VecDeque::new(),
                stats: ProducerStats::default(),
                latency: LatencyWindow::new(Instant::now()),
            },
            next_id: 1,
            generation: 0,
            closed: None,
            closing: false,
            at_close: None,
            last_link_error: None,
        }
    }

    pub fn closed(&self) -> Option<&Error> {
        self.closed.as_ref()
    }

    /// Messages not yet settled.
    pub fn held(&self) -> usize {
        self.ledger.held
    }

    pub fn stats(&self) -> ProducerStats {
        ProducerStats { in_flight: self.ledger.held as u64, ..self.ledger.stats }
    }

    /// Each link's counters, in the order the links were added.
    pub fn connection_stats(&self) -> Vec<ConnectionStats> {
        self.connection_stats_by_link().into_iter().map(|(_, s)| s).collect()
    }

    /// Each link's id and counters, in the order the links were added.
    pub fn connection_stats_by_link(&self) -> Vec<(u32, ConnectionStats)> {
        let mut links: Vec<_> = self.links.iter().collect();
        links.sort_unstable_by_key(|(&l, _)| l);
        links
            .into_iter()
            .map(|(&l, f)| {
                (l, ConnectionStats { connected: f.connected, in_flight: f.live as u64, ..f.counts.clone() })
            })
            .collect()
    }

    /// The confirm latency over the last minute, as of `now`.
    pub fn latency(&self, now: Instant) -> LatencySummary {
        self.ledger.latency.summary(now)
    }

    /// A link to `node` (`host:port`) will write messages.
    pub fn add_link(&mut self, link: u32, node: &str) {
        let max = self.limits.max_in_flight;
        self.links.entry(link).or_insert_with(|| Flight::new(max, node));
    }

    /// `link` opened a connection again after a drop.
    pub fn note_reconnect(&mut self, link: u32) {
        self.ledger.stats.reconnects += 1;
        if let Some(f) = self.links.get_mut(&link) {
            f.counts.reconnects += 1;
        }
    }

    pub fn note_link_error(&mut self, why: &Error) {
        self.last_link_error = Some(why.message().to_string());
    }

    /// Accepts one encoded message due by `deadline`; `timed` when that is
    /// exactly `message_timeout` after it was sent.
    pub fn enqueue(&mut self, frame: Vec<u8>, track: Track, deadline: Instant, timed: bool) -> Result<Enqueued> {
        if let Some(e) = &self.closed {
            return Err(e.clone());
        }
        if self.closing {
            return Err(Error::closed("the producer is closing"));
        }
        let ledger = &mut self.ledger;
        if ledger.held >= self.limits.queue_max {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!("the producer already holds {} unconfirmed messages (queue_max)", ledger.held),
            ));
        }
        let id = self.next_id;
        self.next_id += 1;
        *ledger.outstanding.entry(self.generation).or_insert(0) += 1;
        ledger.held += 1;
        ledger.stats.enqueued += 1;
        let wake_link = self.queue.is_empty();
        let generation = self.generation;
        self.queue.push_back(Outgoing { id, generation, frame, deadline, track, written: false, timed });
        Ok(Enqueued { id, wake_link, start_timer: ledger.held == 1 })
    }

    /// Moves up to one batch from the queue into `link`'s FIFO, as far as
    /// its window and byte bound allow, and hands each message's bytes to
    /// `write` (which copies them out: the FIFO keeps them for a resend).
    pub fn take_batch(&mut self, link: u32, mut write: impl FnMut(&[u8])) -> Result<Taken> {
        if let Some(e) = &self.closed {
            return Err(e.clone());
        }
        let limits = self.limits;
        let connected = self.links.values().filter(|f| f.connected).count().max(1);
        // Each connected link takes its share, so that a burst spreads over
        // the nodes of a cluster instead of going to whichever woke first.
        let share = self.queue.len().div_ceil(connected).clamp(1, BATCH_MESSAGES);
        let flight = self.links.entry(link).or_insert_with(|| Flight::new(limits.max_in_flight, ""));
        let mut taken = 0;
        let mut bytes = 0;
        let ready = flight.ready(&limits);
        while ready && taken < share && bytes < BATCH_BYTES && flight.has_room(&limits) {
            let Some(mut m) = self.queue.pop_front() else {
                break;
            };
            bytes += m.frame.len();
            flight.bytes += m.frame.len();
            flight.live += 1;
            write(&m.frame);
            self.ledger.stats.resent += m.written as u64;
            flight.counts.resent += m.written as u64;
            flight.counts.written += 1;
            m.written = true;
            flight.fifo.push_back(Slot::Live(m));
            taken += 1;
        }
        // Only a link that made progress points others to the rest: a full
        // link that woke them would only wake itself again and again.
        let more_for_others = taken > 0
            && !self.queue.is_empty()
            && self.links.iter().any(|(&l, f)| l != link && f.connected && f.ready(&limits));
        Ok(Taken { more_for_others })
    }

    /// `count` `ok`s arrived on `link` at `now`: as many of its oldest
    /// written messages are confirmed (the server confirms in arrival
    /// order). More `ok`s than messages written is a protocol error.
    pub fn on_ok(&mut self, link: u32, count: usize, now: Instant) -> Result<Wake> {
        let limits = self.limits;
        let Some(flight) = self.links.get_mut(&link) else {
            return Err(Error::protocol("the server confirmed a message that was never sent"));
        };
        let was_ready = flight.ready(&limits);
        if count > flight.fifo.len() {
            return Err(Error::protocol(format!(
                "the server confirmed {count} messages while {} were awaiting confirmation",
                flight.fifo.len()
            )));
        }
        let mut wake = Wake::default();
        for _ in 0..count {
            if let Some(Slot::Live(m)) = flight.fifo.pop_front() {
                flight.bytes -= m.frame.len();
                flight.live -= 1;
                flight.counts.confirmed += 1;
                if m.timed {
                    let sent = m.deadline - limits.message_timeout;
                    self.ledger.latency.record(now, now.saturating_duration_since(sent));
                }
                wake.merge(self.ledger.settle(m, Ok(())));
            }
        }
        flight.confirmed_since_change += count;
        if flight.window < limits.max_in_flight && flight.confirmed_since_change >= GROW_AFTER_WINDOWS * flight.window {
            flight.window = (flight.window * 2).min(limits.max_in_flight);
            flight.confirmed_since_change = 0;
        }
        wake.room = !was_ready && flight.ready(&limits);
        wake.merge(self.close_if_due());
        Ok(wake)
    }

    /// `link` has an open connection now.
    pub fn connected(&mut self, link: u32) {
        let max = self.limits.max_in_flight;
        self.links.entry(link).or_insert_with(|| Flight::new(max, "")).connected = true;
    }

    /// The connection of `link` is gone: its unsettled messages go back to
    /// the front of the queue, in order, to be written again; placeholders
    /// are forgotten (their `ok`s will never come). Having lost messages in
    /// flight, the link halves its window, which bounds what the next drop
    /// costs in resends.
    pub fn on_drop(&mut self, link: u32, why: &Error) -> Wake {
        self.last_link_error = Some(why.message().to_string());
        let Some(flight) = self.links.get_mut(&link) else {
            return Wake::default();
        };
        flight.connected = false;
        let lost = flight.fifo.len();
        if lost > 0 {
            flight.window = (flight.window.min(lost) / 2).max(MIN_WINDOW).min(self.limits.max_in_flight);
            flight.confirmed_since_change = 0;
        }
        let fifo = std::mem::take(&mut flight.fifo);
        flight.bytes = 0;
        flight.live = 0;
        let requeued = fifo.len();
        for slot in fifo.into_iter().rev() {
            if let Slot::Live(m) = slot {
                self.queue.push_front(m);
            }
        }
        Wake { room: requeued > 0 && !self.queue.is_empty(), ..Wake::default() }
    }

    /// `link` is gone for good (its node left the cluster): as `on_drop`,
    /// and its state is forgotten.
    pub fn remove_link(&mut self, link: u32, why: &Error) -> Wake {
        let wake = self.on_drop(link, why);
        self.links.remove(&link);
        wake
    }

    /// Messages written on `link` and not yet confirmed, placeholders
    /// included.
    pub fn in_flight(&self, link: u32) -> usize {
        self.links.get(&link).map_or(0, |f| f.fifo.len())
    }

    /// Fails every message whose time is up at `now` and ends the flushes
    /// whose time is up; returns what to wake, how many messages failed, and
    /// the earliest deadline still pending.
    pub fn on_tick(&mut self, now: Instant) -> (Wake, usize, Option<Instant>) {
        let mut wake = Wake::default();
        let mut failed = 0;
        let mut next: Option<Instant> = None;
        let err = self.timeout_error();
        while self.queue.front().is_some_and(|m| m.deadline <= now) {
            let m = self.queue.pop_front().expect("front checked");
            wake.merge(self.ledger.settle(m, Err(err.clone())));
            failed += 1;
        }
        if let Some(m) = self.queue.front() {
            next = Some(m.deadline);
        }
        let limits = self.limits;
        let ledger = &mut self.ledger;
        for flight in self.links.values_mut() {
            if flight.live == 0 {
                // Only placeholders (or nothing): no deadline to look at.
                continue;
            }
            let was_ready = flight.ready(&limits);
            // Still awaiting its `ok`: report it failed now, give its frame
            // back, and keep its place so later `ok`s line up.
            for slot in flight.fifo.iter_mut() {
                let Slot::Live(m) = slot else { continue };
                if m.deadline > now {
                    next = Some(next.map_or(m.deadline, |n| n.min(m.deadline)));
                    break;
                }
                if let Slot::Live(m) = std::mem::replace(slot, Slot::Expired) {
                    flight.bytes -= m.frame.len();
                    flight.live -= 1;
                    wake.merge(ledger.settle(m, Err(err.clone())));
                    failed += 1;
                }
            }
            wake.room |= !was_ready && flight.ready(&limits);
        }
        for flush in self.ledger.flushes.due(now) {
            wake.merge(self.end_late(flush));
        }
        wake.merge(self.close_if_due());
        let next_flush = self.ledger.flushes.next_deadline();
        let next = next.into_iter().chain(next_flush).min();
        (wake, failed, next)
    }

    /// Closes the outbox for good: every message not yet settled fails with
    /// `why`.
    pub fn close(&mut self, why: Error) -> Wake {
        if self.closed.is_some() {
            return Wake::default();
        }
        self.closed = Some(why.clone());
        self.at_close = Some(self.stats());
        let mut pending: Vec<Outgoing> = self.queue.drain(..).collect();
        for flight in self.links.values_mut() {
            pending.extend(flight.fifo.drain(..).filter_map(|s| match s {
                Slot::Live(m) => Some(m),
                Slot::Expired => None,
            }));
            flight.bytes = 0;
            flight.live = 0;
        }
        let mut wake = Wake { sender: true, reports: true, room: true, closed: true };
        for m in pending {
            wake.merge(self.ledger.settle(m, Err(why.clone())));
        }
        wake
    }

    /// The counters as they were when the outbox closed (before the close
    /// failed what was left); while open, as they are now.
    pub fn close_report(&self) -> ProducerStats {
        self.at_close.unwrap_or_else(|| self.stats())
    }

    /// Begins a flush of every message enqueued so far. It ends once they
    /// all settled, or at `deadline`, and its outcome (see `Flush`) goes to
    /// `track` under the returned id, which is taken from the messages' ids.
    /// With `closes`, sends are refused from now on, and the outbox closes
    /// when the flush ends, failing what is left before the outcome is
    /// reported: its report comes last.
    pub fn begin_flush(
        &mut self,
        deadline: Option<Instant>,
        timeout_ms: i64,
        track: Track,
        closes: bool,
    ) -> Result<(u64, Wake)> {
        if let Some(e) = &self.closed {
            return Err(e.clone());
        }
        if closes && self.closing {
            return Err(Error::closed("the producer is closing already"));
        }
        self.closing |= closes;
        let id = self.next_id;
        self.next_id += 1;
        let mark = self.generation;
        self.generation += 1;
        self.ledger.flushes.begin(Flush::new(id, mark, deadline, timeout_ms, track, closes));
        // Nothing outstanding: it ends at once.
        let mut wake = self.ledger.end_finished();
        wake.merge(self.close_if_due());
        Ok((id, wake))
    }

    /// Ends the flush `id` as out of time now, if it has not ended: for a
    /// caller whose own wait ran out first.
    pub fn time_out_flush(&mut self, id: u64) -> Wake {
        let Some(flush) = self.ledger.flushes.take(id) else {
            return Wake::default();
        };
        let mut wake = self.end_late(flush);
        wake.merge(self.close_if_due());
        wake
    }

    /// Ends a flush whose time ran out: a closing one closes the outbox
    /// first (what is left fails), then its outcome is reported.
    fn end_late(&mut self, flush: Flush<Track>) -> Wake {
        let left = self.ledger.outstanding.range(..=flush.mark()).map(|(_, n)| n).sum();
        let mut wake = Wake::default();
        if flush.closes {
            wake.merge(self.close(closed_by_close()));
        }
        let error = flush.timed_out(left);
        wake.merge(self.ledger.deliver(flush.id, flush.track, Err(error)));
        wake
    }

    /// Closes the outbox when a closing flush ended.
    fn close_if_due(&mut self) -> Wake {
        if !std::mem::take(&mut self.ledger.close_due) || self.closed.is_some() {
            return Wake::default();
        }
        self.close(closed_by_close())
    }

    /// The one place delivery reports are handed out, oldest first.
    pub fn take_reports(&mut self, max: usize) -> Vec<DeliveryReport> {
        let n = self.ledger.reports.len().min(max);
        self.ledger.reports.drain(..n).collect()
    }

    pub fn has_reports(&self) -> bool {
        !self.ledger.reports.is_empty()
    }

    fn timeout_error(&self) -> Error {
        let mut msg =
            format!("message not confirmed within {} ms (message_timeout_ms)", self.limits.message_timeout.as_millis());
        if let Some(why) = &self.last_link_error {
            msg.push_str("; last connection problem: ");
            msg.push_str(why);
        }
        Error::timeout(msg)
    }
}

/// Why the messages a close fails failed, whichever way the producer closed.
pub(crate) fn closed_by_close() -> Error {
    Error::closed("the producer was closed")
}

impl Ledger {
    /// The one place a delivery report is queued.
    fn push_report(&mut self, report: DeliveryReport) -> bool {
        let was_empty = self.reports.is_empty();
        self.reports.push_back(report);
        was_empty
    }

    /// Records the outcome of `m`.
    fn settle(&mut self, m: Outgoing, result: Result<()>) -> Wake {
        self.held -= 1;
        let mut oldest_ended = false;
        if let Some(n) = self.outstanding.get_mut(&m.generation) {
            *n -= 1;
            if *n == 0 {
                oldest_ended = self.outstanding.keys().next() == Some(&m.generation);
                self.outstanding.remove(&m.generation);
            }
        }
        match &result {
            Ok(()) => self.stats.confirmed += 1,
            Err(e) => {
                self.flushes.note_failure(m.generation, e);
                self.stats.failed += 1
            }
        }
        let mut wake = self.deliver(m.id, m.track, result);
        // Only the oldest generation's end can end a flush.
        if oldest_ended && !self.flushes.is_empty() {
            wake.merge(self.end_finished());
        }
        wake
    }

    /// Hands the outcome `result` of `id` (a message or a flush) to `track`.
    fn deliver(&mut self, id: u64, track: Track, result: Result<()>) -> Wake {
        let mut wake = Wake::default();
        match track {
            Track::None => {}
            Track::Report(opaque) => wake.reports = self.push_report(DeliveryReport { id, result, opaque }),
            Track::Wait(slot) => {
                let _ = slot.set(result);
                wake.sender = true;
            }
        }
        wake
    }

    /// Ends the flushes whose messages all settled.
    fn end_finished(&mut self) -> Wake {
        let oldest = self.outstanding.keys().next().copied();
        let mut wake = Wake::default();
        for flush in self.flushes.finished(oldest) {
            self.close_due |= flush.closes;
            let outcome = flush.outcome();
            wake.merge(self.deliver(flush.id, flush.track, outcome));
        }
        wake
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_millis(1000);

    fn limits() -> Limits {
        Limits { queue_max: 100, max_in_flight: 8, max_in_flight_bytes: 1 << 20, message_timeout: T }
    }

    fn frame(i: usize) -> Vec<u8> {
        format!("m{i}").into_bytes()
    }

    /// An outbox with `n` tracked messages enqueued at `t0`.
    fn outbox_with(limits: Limits, n: usize, t0: Instant) -> Outbox {
        let mut ob = Outbox::new(limits);
        for i in 0..n {
            ob.enqueue(frame(i), Track::Report(0), t0 + T, false).unwrap();
        }
        ob
    }

    fn take(ob: &mut Outbox, link: u32) -> Vec<String> {
        let mut out = Vec::new();
        ob.take_batch(link, |f| out.push(String::from_utf8(f.to_vec()).unwrap())).unwrap();
        out
    }

    fn reports(ob: &mut Outbox) -> Vec<(u64, Option<ErrorKind>)> {
        ob.take_reports(usize::MAX).into_iter().map(|r| (r.id, r.result.err().map(|e| e.kind()))).collect()
    }

    #[test]
    fn confirm_latency_counts_timed_messages_only() {
        let t0 = Instant::now();
        let mut ob = Outbox::new(limits());
        ob.add_link(0, "n:1");
        ob.connected(0);
        ob.enqueue(frame(0), Track::None, t0 + T, true).unwrap();
        ob.enqueue(frame(1), Track::None, t0 + T, false).unwrap();
        take(&mut ob, 0);
        ob.on_ok(0, 2, t0 + Duration::from_millis(5)).unwrap();
        let l = ob.latency(t0 + Duration::from_millis(6));
        assert_eq!(l.count, 1, "the untimed one is not counted");
        assert!((5000..=5000 + 5000 / 8).contains(&l.p99_us), "{l:?}");
        assert_eq!(l.max_us, 5000);
    }

    #[test]
    fn oks_settle_in_order() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 3, t0);
        ob.connected(0);
        assert_eq!(take(&mut ob, 0), ["m0", "m1", "m2"]);
        let w = ob.on_ok(0, 2, Instant::now()).unwrap();
        assert!(w.reports);
        assert_eq!(reports(&mut ob), [(1, None), (2, None)]);
        assert_eq!(ob.stats().in_flight, 1);
        ob.on_ok(0, 1, Instant::now()).unwrap();
        assert_eq!(reports(&mut ob), [(3, None)]);
        assert_eq!(ob.stats().confirmed, 3);
    }

    #[test]
    fn surplus_ok_is_a_protocol_error() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 1, t0);
        ob.connected(0);
        take(&mut ob, 0);
        assert_eq!(ob.on_ok(0, 2, Instant::now()).unwrap_err().kind(), ErrorKind::Protocol);
        ob.on_ok(0, 1, Instant::now()).unwrap();
        assert_eq!(ob.on_ok(0, 1, Instant::now()).unwrap_err().kind(), ErrorKind::Protocol);
        assert_eq!(ob.on_ok(7, 1, Instant::now()).unwrap_err().kind(), ErrorKind::Protocol, "a link that never wrote");
    }

    #[test]
    fn links_settle_independently_of_each_other() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 4, t0);
        ob.connected(0);
        ob.connected(1);
        assert_eq!(take(&mut ob, 0), ["m0", "m1"], "each connected link takes its share");
        assert_eq!(take(&mut ob, 1), ["m2"], "half of what is left");
        assert_eq!(take(&mut ob, 1), ["m3"]);
        // Link 1 confirms first: settlement follows the oks, not the ids.
        ob.on_ok(1, 2, Instant::now()).unwrap();
        assert_eq!(reports(&mut ob), [(3, None), (4, None)]);
        ob.on_ok(0, 1, Instant::now()).unwrap();
        assert_eq!(reports(&mut ob), [(1, None)]);
    }

    #[test]
    fn each_link_counts_its_own_share() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 4, t0);
        ob.add_link(0, "a:1");
        ob.add_link(1, "b:2");
        ob.connected(0);
        ob.connected(1);
        take(&mut ob, 0);
        take(&mut ob, 1);
        ob.on_ok(0, 1, Instant::now()).unwrap();
        ob.on_drop(1, &Error::connect("gone"));
        ob.note_reconnect(1);
        ob.connected(1);
        take(&mut ob, 1);
        let counts = |s: &ConnectionStats| {
            (s.node.clone(), s.connected, s.written, s.confirmed, s.resent, s.reconnects, s.in_flight)
        };
        let stats: Vec<_> = ob.connection_stats().iter().map(counts).collect();
        assert_eq!(
            stats,
            [("a:1".to_string(), true, 2, 1, 0, 0, 1), ("b:2".to_string(), true, 2, 0, 1, 1, 1)],
            "link 1 wrote m2, lost it, wrote it again on its new connection"
        );
        let total = ob.stats();
        assert_eq!((total.resent, total.reconnects), (1, 1));
    }

    #[test]
    fn a_drop_requeues_in_order_and_counts_resends() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 3, t0);
        ob.connected(0);
        take(&mut ob, 0);
        ob.on_ok(0, 1, Instant::now()).unwrap();
        ob.on_drop(0, &Error::connect("gone"));
        assert_eq!(ob.in_flight(0), 0);
        ob.enqueue(frame(3), Track::None, t0 + T, false).unwrap();
        ob.connected(0);
        assert_eq!(take(&mut ob, 0), ["m1", "m2", "m3"], "unconfirmed ones first, in order");
        assert_eq!(ob.stats().resent, 2);
        ob.on_ok(0, 3, Instant::now()).unwrap();
        let s = ob.stats();
        assert_eq!((s.enqueued, s.confirmed, s.failed, s.in_flight), (4, 4, 0, 0));
    }

    #[test]
    fn the_window_bounds_what_is_written() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 20, t0);
        ob.connected(0);
        assert_eq!(take(&mut ob, 0).len(), 8, "max_in_flight");
        assert!(take(&mut ob, 0).is_empty(), "no room until an ok");
        let w = ob.on_ok(0, 3, Instant::now()).unwrap();
        assert!(w.room);
        assert_eq!(take(&mut ob, 0).len(), 3);
        let w = ob.on_ok(0, 1, Instant::now()).unwrap();
        assert!(w.room);
        let w = ob.on_ok(0, 1, Instant::now()).unwrap();
        assert!(!w.room, "room was there already");
    }

    #[test]
    fn a_full_window_waits_for_an_eighth_of_it_to_be_free() {
        let t0 = Instant::now();
        let mut ob = outbox_with(Limits { max_in_flight: 64, ..limits() }, 100, t0);
        ob.connected(0);
        assert_eq!(take(&mut ob, 0).len(), 64);
        for _ in 0..7 {
            assert!(!ob.on_ok(0, 1, Instant::now()).unwrap().room);
            assert!(take(&mut ob, 0).is_empty(), "no write per ok");
        }
        assert!(ob.on_ok(0, 1, Instant::now()).unwrap().room, "8 of 64 free");
        assert_eq!(take(&mut ob, 0).len(), 8);
    }

    #[test]
    fn the_byte_bound_holds_but_never_starves() {
        let t0 = Instant::now();
        let mut ob = Outbox::new(Limits { max_in_flight_bytes: 10, ..limits() });
        for i in 0..4 {
            ob.enqueue(format!("{i}{}", "x".repeat(5)).into_bytes(), Track::None, t0 + T, false).unwrap();
        }
        ob.enqueue("y".repeat(50).into_bytes(), Track::None, t0 + T, false).unwrap();
        ob.connected(0);
        assert_eq!(take(&mut ob, 0).len(), 2, "12 bytes reach the 10-byte bound");
        ob.on_ok(0, 2, Instant::now()).unwrap();
        assert_eq!(take(&mut ob, 0).len(), 2);
        ob.on_ok(0, 2, Instant::now()).unwrap();
        assert_eq!(take(&mut ob, 0), ["y".repeat(50)], "a frame larger than the bound goes alone");
    }

    #[test]
    fn windows_shrink_after_drops_and_grow_back() {
        let t0 = Instant::now();
        let lim = Limits { max_in_flight: 1024, queue_max: 100_000, ..limits() };
        let mut ob = outbox_with(lim, 50_000, t0);
        ob.connected(0);
        assert_eq!(take(&mut ob, 0).len(), 1024);
        ob.on_drop(0, &Error::connect("gone"));
        ob.connected(0);
        assert_eq!(take(&mut ob, 0).len(), 512);
        ob.on_drop(0, &Error::connect("gone"));
        ob.connected(0);
        assert_eq!(take(&mut ob, 0).len(), 256);
        // Confirming four windows' worth doubles it, up to max_in_flight.
        let mut confirmed = 0;
        while confirmed < 50_000 - 2048 {
            let n = ob.in_flight(0);
            ob.on_ok(0, n, Instant::now()).unwrap();
            confirmed += n;
            take(&mut ob, 0);
        }
        assert_eq!(ob.in_flight(0), 1024);
        ob.on_drop(0, &Error::connect("gone"));
        assert_eq!(ob.stats().resent, 1024 + 512);
    }

    #[test]
    fn expiry_fails_queued_and_in_flight_messages_and_frees_their_frames() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 12, t0);
        ob.connected(0);
        assert_eq!(take(&mut ob, 0).len(), 8);
        let (w, failed, next) = ob.on_tick(t0 + T / 2);
        assert_eq!((w, failed, next), (Wake::default(), 0, Some(t0 + T)));
        let (w, failed, next) = ob.on_tick(t0 + T);
        assert_eq!((failed, next), (12, None));
        assert!(w.reports);
        assert!(!w.room, "placeholders still take their place in the window");
        let r = reports(&mut ob);
        assert_eq!(r.len(), 12);
        assert!(r.iter().all(|(_, e)| *e == Some(ErrorKind::Timeout)));
        let flight = &ob.links[&0];
        assert_eq!((flight.fifo.len(), flight.live, flight.bytes), (8, 0, 0), "frames given back");
        // Later oks line up with the placeholders and confirm nothing.
        ob.enqueue(frame(99), Track::Report(0), t0 + 3 * T, false).unwrap();
        let w = ob.on_ok(0, 8, Instant::now()).unwrap();
        assert!(w.room);
        assert!(reports(&mut ob).is_empty());
        assert_eq!(take(&mut ob, 0), ["m99"]);
        ob.on_ok(0, 1, Instant::now()).unwrap();
        assert_eq!(reports(&mut ob), [(13, None)]);
        let s = ob.stats();
        assert_eq!((s.enqueued, s.confirmed, s.failed, s.in_flight), (13, 1, 12, 0));
    }

    #[test]
    fn a_drop_forgets_placeholders() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 2, t0);
        ob.connected(0);
        take(&mut ob, 0);
        ob.enqueue(frame(2), Track::Report(0), t0 + 2 * T, false).unwrap();
        take(&mut ob, 0);
        let (_, failed, _) = ob.on_tick(t0 + T);
        assert_eq!(failed, 2);
        ob.on_drop(0, &Error::connect("gone"));
        ob.connected(0);
        assert_eq!(take(&mut ob, 0), ["m2"], "only the live message is written again");
        ob.on_ok(0, 1, Instant::now()).unwrap();
        assert_eq!(reports(&mut ob).len(), 3);
    }

    /// Begins a flush reported under its id; returns the id.
    fn begin(ob: &mut Outbox, deadline: Option<Instant>, closes: bool) -> u64 {
        ob.begin_flush(deadline, 100, Track::Report(0), closes).unwrap().0
    }

    fn report_texts(ob: &mut Outbox) -> Vec<(u64, std::result::Result<(), String>)> {
        ob.take_reports(usize::MAX).into_iter().map(|r| (r.id, r.result.map_err(|e| e.message().to_string()))).collect()
    }

    #[test]
    fn a_flush_ends_when_the_messages_before_it_settled() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 2, t0);
        let first = begin(&mut ob, None, false);
        ob.enqueue(frame(2), Track::None, t0 + 2 * T, false).unwrap();
        let second = begin(&mut ob, None, false);
        assert_eq!((first, second), (3, 5), "flush ids come from the messages' sequence");
        ob.connected(0);
        take(&mut ob, 0);
        ob.on_ok(0, 1, Instant::now()).unwrap();
        assert_eq!(reports(&mut ob), [(1, None)], "the first flush still waits for a message");
        ob.on_ok(0, 1, Instant::now()).unwrap();
        assert_eq!(reports(&mut ob), [(2, None), (first, None)]);
        // The third message times out: only the flush that waits for it fails.
        let (w, failed, _) = ob.on_tick(t0 + 2 * T);
        assert!(w.reports && failed == 1);
        let r = report_texts(&mut ob);
        assert_eq!(r.len(), 1, "untracked messages have no report of their own");
        let (id, result) = &r[0];
        assert_eq!(*id, second);
        let text = result.clone().unwrap_err();
        assert!(text.starts_with("flush: 1 message failed; the last because: message not confirmed within"), "{text}");
    }

    #[test]
    fn a_flush_with_nothing_outstanding_ends_at_once() {
        let mut ob = Outbox::new(limits());
        let (id, w) = ob.begin_flush(None, -1, Track::Report(7), false).unwrap();
        assert!(w.reports);
        let r = ob.take_reports(usize::MAX);
        assert_eq!((r[0].id, r[0].opaque, r[0].result.is_ok()), (id, 7, true));
    }

    #[test]
    fn a_flush_times_out_at_its_deadline_and_leaves_the_messages_be() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 2, t0);
        let due = t0 + Duration::from_millis(100);
        let id = begin(&mut ob, Some(due), false);
        let (_, _, next) = ob.on_tick(t0);
        assert_eq!(next, Some(due), "the flush's deadline comes before the messages'");
        let (w, failed, next) = ob.on_tick(due);
        assert!(w.reports && !w.closed);
        assert_eq!((failed, next), (0, Some(t0 + T)));
        assert_eq!(report_texts(&mut ob), [(id, Err("flush: 2 messages still unconfirmed after 100 ms".into()))]);
        assert_eq!(ob.stats().in_flight, 2, "the messages keep their own time limit");
    }

    #[test]
    fn a_waiting_caller_out_of_time_ends_its_flush_in_the_same_words() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 1, t0);
        let slot = Arc::new(OnceLock::new());
        let (id, _) = ob.begin_flush(None, 50, Track::Wait(slot.clone()), false).unwrap();
        assert!(ob.time_out_flush(id).sender);
        let e = slot.get().cloned().unwrap().unwrap_err();
        assert_eq!((e.kind(), e.message()), (ErrorKind::Timeout, "flush: 1 message still unconfirmed after 50 ms"));
        assert_eq!(ob.time_out_flush(id), Wake::default(), "ended once");
    }

    #[test]
    fn a_closing_flush_refuses_sends_and_closes_once_done() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 1, t0);
        let id = begin(&mut ob, Some(t0 + T), true);
        let e = ob.enqueue(frame(9), Track::None, t0 + T, false).unwrap_err();
        assert_eq!((e.kind(), e.message()), (ErrorKind::Closed, "the producer is closing"));
        assert_eq!(ob.begin_flush(None, -1, Track::None, true).unwrap_err().kind(), ErrorKind::Closed);
        ob.connected(0);
        take(&mut ob, 0);
        let w = ob.on_ok(0, 1, Instant::now()).unwrap();
        assert!(w.closed && w.reports);
        assert_eq!(report_texts(&mut ob), [(1, Ok(())), (id, Ok(()))], "the close's report comes last");
        assert!(ob.closed().is_some());
        let r = ob.close_report();
        assert_eq!((r.confirmed, r.failed, r.in_flight), (1, 0, 0));
    }

    #[test]
    fn a_closing_flush_out_of_time_fails_what_is_left_then_reports() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 2, t0);
        let due = t0 + Duration::from_millis(100);
        let id = begin(&mut ob, Some(due), true);
        let (w, _, _) = ob.on_tick(due);
        assert!(w.closed);
        let r = report_texts(&mut ob);
        let closed = Err("the producer was closed".to_string());
        assert_eq!(r[..2], [(1, closed.clone()), (2, closed)]);
        assert_eq!(
            r[2],
            (
                id,
                Err("close: flush: 2 messages still unconfirmed after 100 ms; they failed when the producer closed"
                    .into())
            )
        );
        let report = ob.close_report();
        assert_eq!((report.confirmed, report.failed, report.in_flight), (0, 0, 2), "as it was when the flush ended");
        assert_eq!(ob.stats().failed, 2);
    }

    #[test]
    fn a_close_ends_the_flushes_under_way_with_its_failures() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 1, t0);
        let id = begin(&mut ob, None, false);
        ob.close(Error::closed("the producer was closed"));
        let r = report_texts(&mut ob);
        assert_eq!(r[1], (id, Err("flush: 1 message failed; the last because: the producer was closed".into())));
        assert!(ob.begin_flush(None, -1, Track::None, false).is_err());
    }

    #[test]
    fn queue_max_counts_unsettled_messages() {
        let t0 = Instant::now();
        let mut ob = outbox_with(Limits { queue_max: 3, ..limits() }, 3, t0);
        assert_eq!(ob.enqueue(frame(3), Track::None, t0 + T, false).unwrap_err().kind(), ErrorKind::QueueFull);
        ob.connected(0);
        take(&mut ob, 0);
        ob.on_tick(t0 + T);
        assert!(ob.enqueue(frame(4), Track::None, t0 + 2 * T, false).is_ok(), "failed messages make room");
    }

    #[test]
    fn close_fails_everything_once() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 10, t0);
        ob.connected(0);
        take(&mut ob, 0);
        let slot = Arc::new(OnceLock::new());
        ob.enqueue(frame(10), Track::Wait(slot.clone()), t0 + T, false).unwrap();
        ob.close(Error::closed("closed"));
        assert_eq!(slot.get().unwrap().as_ref().unwrap_err().kind(), ErrorKind::Closed);
        assert_eq!(reports(&mut ob).len(), 10);
        let s = ob.stats();
        assert_eq!((s.failed, s.in_flight), (11, 0));
        assert_eq!(ob.close(Error::closed("again")), Wake::default());
        assert_eq!(ob.enqueue(frame(0), Track::None, t0, false).unwrap_err().kind(), ErrorKind::Closed);
        assert!(ob.take_batch(0, |_| {}).is_err());
    }

    #[test]
    fn a_capped_link_points_work_to_another_with_room() {
        let t0 = Instant::now();
        let mut ob = outbox_with(limits(), 30, t0);
        ob.connected(0);
        ob.connected(1);
        let mut taken = 0;
        let t = ob.take_batch(0, |_| taken += 1).unwrap();
        assert_eq!(taken, 8);
        assert!(t.more_for_others);
        ob.take_batch(1, |_| {}).unwrap();
        let t = ob.take_batch(0, |_| {}).unwrap();
        assert!(!t.more_for_others, "every link is full: nobody to wake");
    }
}
