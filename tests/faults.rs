//! Fault injection against real kmq-broker processes: a broker killed and
//! restarted under load, one that never confirms, one that drops
//! connections, one that pushes garbage, and a consumer whose application
//! stops reading. Each run keeps a ledger of every message and prints it:
//! enqueued = confirmed + failed, every confirmed message received at least
//! once, and duplicates within what the faults can explain: a message is
//! stored twice only if the producer wrote it again after a drop, and
//! pushed twice only if the consumer's connection dropped before its ack
//! or the ack came after the broker's push retry period.

mod common;

use common::{topic, Broker, ClientConfig};
use kapokmq::{Config, Consumer, ErrorKind, Producer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Live heap bytes of this test process, all threads (the library's
/// runtime threads included): a precise measure of what a consumer holds,
/// where RSS would also count memory freed but kept by the allocator.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The runs take turns: the heap measure above must see one run only, and
/// timing assertions must not compete with another run for two cores.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What became of one message, as its delivery report said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pending,
    Confirmed,
    Failed(ErrorKind),
}

/// The producer's side of the ledger: one outcome per message index.
/// Messages are sent with `send_tracked`, whose ids count up from the
/// first, so `index = id - first_id`.
struct Sent {
    outcome: Vec<Outcome>,
    first_id: Option<u64>,
}

impl Sent {
    fn new(n: usize) -> Sent {
        Sent { outcome: vec![Outcome::Pending; n], first_id: None }
    }

    fn count(&self, what: impl Fn(&Outcome) -> bool) -> usize {
        self.outcome.iter().filter(|o| what(o)).count()
    }

    fn confirmed(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.outcome.len()).filter(|&i| self.outcome[i] == Outcome::Confirmed)
    }

    fn settled(&self) -> bool {
        self.count(|o| *o == Outcome::Pending) == 0
    }

    /// Takes the delivery reports that are ready (waiting up to `wait_ms`
    /// for the first); returns how many.
    fn take_reports(&mut self, producer: &Producer, wait_ms: i64) -> usize {
        let reports = match producer.poll_reports(4096, wait_ms) {
            Ok(r) => r,
            Err(e) if e.kind() == ErrorKind::Timeout => return 0,
            Err(e) => panic!("poll_reports: {e}"),
        };
        let first = self.first_id.expect("reports come only after a send");
        for r in &reports {
            let i = (r.id - first) as usize;
            assert_eq!(self.outcome[i], Outcome::Pending, "message {i} reported twice");
            self.outcome[i] = match &r.result {
                Ok(()) => Outcome::Confirmed,
                Err(e) => Outcome::Failed(e.kind()),
            };
        }
        reports.len()
    }

    /// Enqueues message `i`, waiting for room while the queue is full.
    fn send(&mut self, producer: &Producer, i: usize, pad: usize) {
        let data = payload(i, pad);
        loop {
            match producer.send_tracked(&data, 0) {
                Ok(id) => {
                    let first = *self.first_id.get_or_insert(id);
                    assert_eq!(id - first, i as u64, "tracked ids count up by one");
                    return;
                }
                Err(e) if e.kind() == ErrorKind::QueueFull => {
                    self.take_reports(producer, 10);
                }
                Err(e) => panic!("send {i}: {e}"),
            }
        }
    }

    /// Takes reports until every message is settled, or panics at `deadline`.
    fn settle(&mut self, producer: &Producer, deadline: Instant) {
        while !self.settled() {
            assert!(Instant::now() < deadline, "messages still unsettled: {:?}", producer.stats());
            self.take_reports(producer, 200);
        }
    }
}

/// `m{i}` padded with dots to at least `pad` bytes: the index comes back
/// from the consumer, the padding gives messages a realistic size.
fn payload(i: usize, pad: usize) -> String {
    let mut s = format!("m{i}:");
    while s.len() < pad {
        s.push('.');
    }
    s
}

fn index_of(data: &str) -> Option<usize> {
    data.strip_prefix('m')?.split(':').next()?.parse().ok()
}

/// The consumer's side of the ledger: how often each index arrived.
struct Inbox {
    counts: Mutex<Vec<u32>>,
    /// Every message code seen. A code that comes again is the server
    /// pushing the same stored message again; an index that comes again
    /// under a new code was stored twice (written again by the producer).
    codes: Mutex<HashSet<String>>,
    redelivered: AtomicU64,
    /// Messages that carry no index of this run (there must be none).
    foreign: AtomicU64,
    stop: AtomicBool,
}

impl Inbox {
    fn new(n: usize) -> Inbox {
        Inbox {
            counts: Mutex::new(vec![0; n]),
            codes: Mutex::new(HashSet::new()),
            redelivered: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        }
    }

    /// Receives and acks until told to stop. Run on its own thread.
    fn run(&self, consumer: &Consumer) {
        while !self.stop.load(Ordering::Relaxed) {
            let m = match consumer.receive(100) {
                Ok(m) => m,
                Err(e) if e.kind() == ErrorKind::Timeout => continue,
                Err(e) => panic!("receive: {e}"),
            };
            let mut counts = self.counts.lock().unwrap();
            match index_of(&m.data).and_then(|i| counts.get_mut(i)) {
                Some(n) => *n += 1,
                None => {
                    self.foreign.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(counts);
            if !self.codes.lock().unwrap().insert(m.code.clone()) {
                self.redelivered.fetch_add(1, Ordering::Relaxed);
            }
            consumer.ack(&m.code).unwrap();
        }
    }

    /// Stops `run` when dropped, also when the test panics: a scoped thread
    /// still running would keep the panic from ever being reported.
    fn stop_on_drop(&self) -> impl Drop + '_ {
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        Stop(&self.stop)
    }

    /// Waits until every confirmed message has arrived; false at `deadline`.
    fn wait_for_confirmed(&self, sent: &Sent, deadline: Instant) -> bool {
        loop {
            let missing = {
                let counts = self.counts.lock().unwrap();
                sent.confirmed().filter(|&i| counts[i] == 0).count()
            };
            if missing == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Prints the ledger of one run and checks that it adds up. At most
/// `max_redelivered` copies may come from the server pushing a stored
/// message again (it does so when a consumer connection drops before the
/// ack arrived, or the ack is later than its push retry period): each test
/// says what its faults allow.
fn account(
    run: &str,
    producer: &Producer,
    consumer: &Consumer,
    sent: &Sent,
    inbox: &Inbox,
    took: Duration,
    max_redelivered: u64,
) {
    let p = producer.stats();
    let c = consumer.stats();
    let counts = inbox.counts.lock().unwrap();
    let confirmed = sent.count(|o| *o == Outcome::Confirmed);
    let failed = sent.count(|o| matches!(o, Outcome::Failed(_)));
    let missing: Vec<usize> = sent.confirmed().filter(|&i| counts[i] == 0).collect();
    let received = counts.iter().filter(|&&n| n > 0).count();
    let duplicates: u64 = counts.iter().map(|&n| u64::from(n.saturating_sub(1))).sum();
    let failed_but_delivered =
        (0..counts.len()).filter(|&i| counts[i] > 0 && matches!(sent.outcome[i], Outcome::Failed(_))).count();
    let foreign = inbox.foreign.load(Ordering::Relaxed);
    let redelivered = inbox.redelivered.load(Ordering::Relaxed);
    let stored_twice = duplicates - redelivered;
    eprintln!(
        "[{run}] enqueued {} = confirmed {} + failed {} (in flight {}); received {received} distinct, \
         {} confirmed missing, {duplicates} duplicates ({stored_twice} stored twice, {redelivered} pushed again), \
         {failed_but_delivered} failed but delivered; \
         resent {}, reconnects {} producer / {} consumer, bad frames {}; {:.1} s",
        p.enqueued,
        p.confirmed,
        p.failed,
        p.in_flight,
        missing.len(),
        p.resent,
        p.reconnects,
        c.reconnects,
        c.bad_frames,
        took.as_secs_f64()
    );
    assert_eq!(p.enqueued, sent.outcome.len() as u64, "[{run}] every send was enqueued once");
    assert_eq!(p.enqueued, p.confirmed + p.failed, "[{run}] enqueued = confirmed + failed: {p:?}");
    assert_eq!(p.in_flight, 0, "[{run}] {p:?}");
    assert_eq!((confirmed as u64, failed as u64), (p.confirmed, p.failed), "[{run}] reports agree with counters");
    assert!(missing.is_empty(), "[{run}] confirmed but never received: {:?}", &missing[..missing.len().min(20)]);
    assert_eq!(foreign, 0, "[{run}] messages that were never sent arrived");
    // A message is stored twice only when the producer wrote it again on a
    // new connection, which `resent` counts.
    assert!(stored_twice <= p.resent, "[{run}] {stored_twice} messages stored twice, only {} resent", p.resent);
    assert!(
        redelivered <= max_redelivered,
        "[{run}] {redelivered} messages pushed again, at most {max_redelivered} expected"
    );
}

/// A config for `broker` with reconnect checks every second, so that the
/// runs stay short.
fn fast_config(broker: &Broker, name: &str) -> Config {
    let mut cfg = broker.config(&topic(name));
    cfg.set("check_time", "1").unwrap();
    cfg
}

/// Sends `n` messages of `pad` bytes while the consumer drains them on its
/// own thread. `hook(i, ledger)` runs on the calling thread before message
/// `i` is sent and, with `i == n`, after the last (it may inject faults).
/// Returns the ledgers once every message settled and every confirmed one
/// arrived (or the time limit passed).
fn run_load(
    producer: &Producer,
    consumer: &Consumer,
    n: usize,
    pad: usize,
    limit: Duration,
    mut hook: impl FnMut(usize, &mut Sent),
) -> (Sent, Inbox) {
    let deadline = Instant::now() + limit;
    let inbox = Inbox::new(n);
    let mut sent = Sent::new(n);
    std::thread::scope(|s| {
        s.spawn(|| inbox.run(consumer));
        let _stop = inbox.stop_on_drop();
        for i in 0..n {
            hook(i, &mut sent);
            sent.send(producer, i, pad);
        }
        hook(n, &mut sent);
        sent.settle(producer, deadline);
        inbox.wait_for_confirmed(&sent, deadline);
    });
    (sent, inbox)
}

#[test]
fn broker_killed_five_times_during_100k_confirmed_sends() {
    let _turn = one_at_a_time();
    const N: usize = 100_000;
    const KILLS: usize = 5;
    let wal = common::temp_path("faults-wal");
    let wal_arg = wal.to_string_lossy().into_owned();
    let mut broker = Broker::start(&["--wal", &wal_arg, "--push-retry-ms", "1000", "--check-speed-ms", "200"]);
    let cfg = fast_config(&broker, "kill5");
    let producer = Producer::connect(&cfg).unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    let started = Instant::now();
    // What the producer and the consumer had at each kill.
    struct Kill {
        in_flight: u64,
        received: u64,
        unacked: u64,
        down: Duration,
    }
    let mut kills = Vec::new();
    // Kill k comes after k sixths of the messages were enqueued. Before it
    // the producer must have reconnected since the kill before (then the
    // last 1000 sends go to the new broker), so every kill hits a live
    // connection with those sends in flight.
    let kill_at = |k: usize| k * N / (KILLS + 1);
    let (sent, inbox) = run_load(&producer, &consumer, N, 0, Duration::from_secs(150), |i, sent| {
        let k = kills.len() + 1;
        if k > KILLS {
            return;
        }
        if i + 1000 == kill_at(k) {
            let deadline = Instant::now() + Duration::from_secs(30);
            while producer.stats().reconnects < k as u64 - 1 {
                assert!(Instant::now() < deadline, "kill {k}: no reconnect: {:?}", producer.stats());
                sent.take_reports(&producer, 20);
            }
        }
        if i == kill_at(k) {
            let in_flight = producer.stats().in_flight;
            assert!(in_flight > 0, "kill {k} must land while sends are in flight");
            let c = consumer.stats();
            let t = Instant::now();
            broker.restart_retrying();
            kills.push(Kill { in_flight, received: c.received, unacked: c.received - c.acked, down: t.elapsed() });
        }
    });
    let took = started.elapsed();
    for (k, kill) in kills.iter().enumerate() {
        eprintln!(
            "[kill-restart] kill {}: {} messages in flight, {} received by the consumer ({} unacked), \
             broker back after {:?}",
            k + 1,
            kill.in_flight,
            kill.received,
            kill.unacked,
            kill.down
        );
    }
    // Only what was unconfirmed at a kill is written again, so that bounds
    // the messages stored twice (account() checks them against `resent`).
    let unconfirmed_at_kills: u64 = kills.iter().map(|k| k.in_flight).sum();
    let resent = producer.stats().resent;
    assert!(resent <= unconfirmed_at_kills, "{resent} resent, only {unconfirmed_at_kills} in flight at the kills");
    // Copies pushed again have no bound here: this broker pushes again what
    // is unacked after 1 s (so that a restarted one delivers soon), and the
    // consumer runs seconds behind 100k sends (see "received" above).
    account("kill-restart", &producer, &consumer, &sent, &inbox, took, u64::MAX);
    assert_eq!(sent.count(|o| *o == Outcome::Confirmed), N, "nothing fails while the broker comes back in time");
    assert!(producer.stats().reconnects >= KILLS as u64, "{:?}", producer.stats());
    let _ = std::fs::remove_file(wal);
}

#[test]
fn stalled_acks_fail_on_time_and_nothing_hangs() {
    let _turn = one_at_a_time();
    const N: usize = 2000;
    const TIMEOUT_MS: u64 = 500;
    let Some(broker) = Broker::start_or_skip(&["--stall-acks"]) else {
        return;
    };
    let mut cfg = fast_config(&broker, "stall");
    cfg.set("message_timeout_ms", &TIMEOUT_MS.to_string()).unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    let started = Instant::now();
    let limit = Duration::from_millis(TIMEOUT_MS) + Duration::from_secs(5);
    let (sent, inbox) = run_load(&producer, &consumer, N, 0, limit, |i, _| {
        if i < N {
            return;
        }
        // A call with no limit of its own returns once what it waits for
        // has failed: flush(-1) here, send_wait(-1) on a second producer
        // (whose message stays out of this ledger).
        let e = producer.flush(-1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.message().contains(&format!("{N} messages failed")), "{e}");
        let mut other_cfg = cfg.clone();
        other_cfg.set("topic", &topic("stall-wait")).unwrap();
        let other = Producer::connect(&other_cfg).unwrap();
        let t = Instant::now();
        let e = other.send_wait("waits without limit", 0, -1).unwrap_err();
        let waited = t.elapsed();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert!(e.message().contains("message_timeout_ms"), "{e}");
        assert!(waited >= Duration::from_millis(TIMEOUT_MS - 20), "failed before its time: {waited:?}");
        assert!(waited < Duration::from_millis(TIMEOUT_MS + 1000), "failed late: {waited:?}: {e}");
    });
    let took = started.elapsed();
    assert!(took < limit, "took {took:?}");
    account("stalled-acks", &producer, &consumer, &sent, &inbox, took, 0);
    assert_eq!(sent.count(|o| *o == Outcome::Failed(ErrorKind::Timeout)), N, "every report says Timeout");
}

#[test]
fn dropped_connections_lose_nothing() {
    let _turn = one_at_a_time();
    const N: usize = 20_000;
    const DROP_AFTER: usize = 997;
    // Each producer connection is dropped (no close frame) at its 997th
    // message frame, which the broker neither stores nor confirms.
    let Some(broker) = Broker::start_or_skip(&["--drop-after", &DROP_AFTER.to_string()]) else {
        return;
    };
    let cfg = fast_config(&broker, "drops");
    let producer = Producer::connect(&cfg).unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    let started = Instant::now();
    let (sent, inbox) = run_load(&producer, &consumer, N, 0, Duration::from_secs(40), |_, _| {});
    account("drop-after", &producer, &consumer, &sent, &inbox, started.elapsed(), 0);
    assert_eq!(sent.count(|o| *o == Outcome::Confirmed), N);
    let p = producer.stats();
    assert!(p.reconnects >= (N / DROP_AFTER) as u64 - 1 && p.resent > 0, "{p:?}");
    // What a drop costs is bounded by the connection's in-flight window,
    // which shrinks while connections keep dropping.
    assert!(p.resent <= 2 * N as u64, "resent {} for {N} messages: {p:?}", p.resent);
}

#[test]
fn stalled_acks_keep_memory_bounded_over_two_million_sends() {
    let _turn = one_at_a_time();
    const N: usize = 2_000_000;
    // The server reads every message and confirms none: each one fails
    // after 300 ms, while the application keeps sending as fast as
    // queue_max lets it.
    let Some(broker) = Broker::start_or_skip(&["--stall-acks"]) else {
        return;
    };
    let mut cfg = fast_config(&broker, "stall-memory");
    cfg.set("message_timeout_ms", "300").unwrap();
    cfg.set("queue_max", "100000").unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    let rss_before = rss_kib();
    let started = Instant::now();
    let mut rss_max = rss_before;
    let mut full = 0u64;
    for i in 0..N {
        let data = payload(i, 64);
        loop {
            match producer.send(&data, 0) {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::QueueFull => {
                    full += 1;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("send {i}: {e}"),
            }
        }
        if i % 100_000 == 0 {
            rss_max = rss_max.max(rss_kib());
        }
    }
    let e = producer.flush(-1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    rss_max = rss_max.max(rss_kib());
    let p = producer.stats();
    eprintln!(
        "[stalled-memory] {N} sends in {:.1} s ({full} waits for room): RSS {rss_before} KiB -> at most {rss_max} KiB; {p:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(p.enqueued, N as u64);
    assert_eq!((p.confirmed, p.failed, p.in_flight), (0, N as u64, 0), "{p:?}");
    let growth_mib = (rss_max - rss_before) / 1024;
    assert!(growth_mib <= 64, "RSS grew by {growth_mib} MiB while the server confirmed nothing");
}

#[test]
fn garbage_pushes_are_skipped_and_counted() {
    let _turn = one_at_a_time();
    const N: usize = 5000;
    const EVERY: u64 = 7;
    // A text frame "garbage" before every 7th push: not JSON, not a message.
    let Some(broker) = Broker::start_or_skip(&["--garbage-push-every", &EVERY.to_string()]) else {
        return;
    };
    let cfg = fast_config(&broker, "garbage");
    let producer = Producer::connect(&cfg).unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    let started = Instant::now();
    let (sent, inbox) = run_load(&producer, &consumer, N, 0, Duration::from_secs(30), |_, _| {});
    account("garbage-push", &producer, &consumer, &sent, &inbox, started.elapsed(), 0);
    assert_eq!(sent.count(|o| *o == Outcome::Confirmed), N);
    let c = consumer.stats();
    // One connection throughout, so the broker's push count is ours.
    assert_eq!(c.reconnects, 0, "{c:?}");
    assert_eq!(c.bad_frames, c.received / EVERY, "{c:?}");
}

#[test]
fn a_consumer_that_stops_reading_holds_at_most_its_receive_buffer() {
    let _turn = one_at_a_time();
    const N: usize = 20_000;
    const PAD: usize = 2048;
    const BUFFER: usize = 1000;
    const PAUSE: Duration = Duration::from_secs(10);
    // A consumer whose application does not read holds its receive buffer
    // and little else: at most 5 MiB of heap here (the buffer is 2 MiB).
    const MAX_HEAP_GROWTH: usize = 5 << 20;
    let broker = Broker::start(&[]);
    let mut cfg = fast_config(&broker, "pause");
    cfg.set("receive_buffer", &BUFFER.to_string()).unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    let started = Instant::now();
    let (heap_before, rss_before) = (LIVE_BYTES.load(Ordering::Relaxed), rss_kib());

    // The application takes nothing for 10 s after the last of 20k
    // messages of 2 KiB (40 MiB) was sent for it.
    let mut sent = Sent::new(N);
    for i in 0..N {
        sent.send(&producer, i, PAD);
    }
    let paused = Instant::now();
    sent.settle(&producer, Instant::now() + Duration::from_secs(30));
    let (mut max_buffered, mut max_heap) = (0, 0);
    while paused.elapsed() < PAUSE {
        let c = consumer.stats();
        assert_eq!(c.received, c.buffered, "nothing was taken, so all that arrived is buffered");
        max_buffered = max_buffered.max(c.buffered);
        max_heap = max_heap.max(LIVE_BYTES.load(Ordering::Relaxed).saturating_sub(heap_before));
        std::thread::sleep(Duration::from_millis(100));
    }
    let rss_paused = rss_kib();
    eprintln!(
        "[paused-consumer] after {:?} without reading: at most {max_buffered} messages buffered \
         (receive_buffer {BUFFER}), heap grew by at most {} KiB, RSS {rss_before} -> {rss_paused} KiB",
        PAUSE,
        max_heap / 1024
    );
    assert_eq!(max_buffered, BUFFER as u64, "the buffer fills up to its bound and no further");
    // The bound holds for memory too: 1000 buffered messages of 2 KiB plus
    // connection buffers, far from the 40 MiB that arrived.
    assert!(
        max_heap <= MAX_HEAP_GROWTH,
        "heap grew by {max_heap} bytes (at most {MAX_HEAP_GROWTH}) while the application did not read"
    );

    // Reading again, everything arrives.
    let inbox = Inbox::new(N);
    std::thread::scope(|s| {
        s.spawn(|| inbox.run(&consumer));
        let _stop = inbox.stop_on_drop();
        inbox.wait_for_confirmed(&sent, Instant::now() + Duration::from_secs(30));
    });
    account("paused-consumer", &producer, &consumer, &sent, &inbox, started.elapsed(), 0);
    assert_eq!(sent.count(|o| *o == Outcome::Confirmed), N);
}
