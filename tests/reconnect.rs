//! Reconnects after a node restart: a fleet of clients comes back spread
//! over the jittered backoff window, not in one burst, and every one of
//! them within the cap plus the time to connect. Timed by the connection
//! events (its own test binary: the event sink is one per process).

mod common;

use common::{topic, Broker, ClientConfig};
use kapokmq::events::{Event, EventKind};
use kapokmq::Producer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 50;
const CAP_MS: u64 = 1000;

#[test]
fn fifty_producers_come_back_spread_over_the_backoff_window() {
    let mut broker = Broker::start(&[]);
    let mut cfg = broker.config(&topic("jitter"));
    cfg.set("reconnect_max_ms", &CAP_MS.to_string()).unwrap();
    let producers: Vec<Producer> = (0..CLIENTS)
        .map(|i| {
            cfg.set("producer_id", &format!("p{i}")).unwrap();
            Producer::connect(&cfg).unwrap()
        })
        .collect();

    let connected: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let seen = connected.clone();
    kapokmq::log::set_event_sink(Some(Box::new(move |e: &Event| {
        if e.kind == EventKind::Connected {
            seen.lock().unwrap().entry(e.client).or_insert_with(Instant::now);
        }
    })));

    broker.kill();
    // Down long enough for every backoff to reach its cap.
    std::thread::sleep(Duration::from_millis(2500));
    broker.restart_retrying();
    let back = Instant::now();
    let limit = back + Duration::from_millis(CAP_MS) + Duration::from_secs(3);
    while connected.lock().unwrap().len() < CLIENTS && Instant::now() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    kapokmq::log::set_event_sink(None);

    let times = connected.lock().unwrap().clone();
    assert_eq!(times.len(), CLIENTS, "only {} of {CLIENTS} came back by cap + connect time", times.len());
    let mut after: Vec<u64> = times.values().map(|t| t.saturating_duration_since(back).as_millis() as u64).collect();
    after.sort_unstable();
    let (first, last) = (after[0], after[CLIENTS - 1]);
    // Every one within the cap (plus the time to connect and to notice).
    assert!(last <= CAP_MS + 500, "the last came back {last} ms after the restart: {after:?}");
    // Spread, not a burst: no 50 ms holds half of them, and the whole
    // fleet takes a good part of the window.
    let busiest = after.iter().map(|&t| after.iter().filter(|&&u| u >= t && u < t + 50).count()).max().unwrap();
    assert!(busiest <= CLIENTS / 2, "{busiest} reconnects in one 50 ms: {after:?}");
    assert!(last - first >= CAP_MS / 3, "all within {} ms: {after:?}", last - first);
    for p in &producers {
        p.send_wait("back", 0, 5000).unwrap();
    }
}
