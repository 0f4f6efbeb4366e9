//! Draining a consumer (`Consumer::drain`) against a real kmq-broker
//! process: every pushed message ends acked, unacked or unread, and the
//! report adds up to what was sent.

mod common;

use common::{console, topic, Broker, ClientConfig};
use kapokmq::{Consumer, ErrorKind, Producer};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The broker's count of messages with `field` ("consumed", "unconsumed").
fn count(port: u16, field: &str) -> u64 {
    let body = console(port, "/Console/CountMessage");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    v["data"][field].as_u64().unwrap_or_else(|| panic!("no {field} in {body}"))
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_drain_with_a_deadline_accounts_for_every_message() {
    let broker = Broker::start(&[]);
    let mut cfg = broker.config(&topic("drain"));
    cfg.set("receive_buffer", "10000").unwrap();
    let consumer = Arc::new(Consumer::connect(&cfg).unwrap());
    let producer = Producer::connect(&cfg).unwrap();
    let data: Vec<String> = (0..5000).map(|i| format!("m{i}")).collect();
    producer.send_many(&data, 0).unwrap();
    producer.flush(10_000).unwrap();
    wait_for("5000 messages buffered", Duration::from_secs(10), || consumer.stats().buffered == 5000);

    // Before the drain: 1000 handled and acked, 500 taken and never acked.
    for _ in 0..1000 {
        let m = consumer.receive(1000).unwrap();
        consumer.ack(&m.code).unwrap();
    }
    for _ in 0..500 {
        consumer.receive(1000).unwrap();
    }
    // During it: a worker handles 1000 more, then stalls past the deadline.
    let worker = {
        let consumer = consumer.clone();
        std::thread::spawn(move || {
            for _ in 0..1000 {
                let m = consumer.receive(5000).unwrap();
                consumer.ack(&m.code).unwrap();
            }
            // Stalled (a slow handler): back after the deadline.
            std::thread::sleep(Duration::from_millis(2500));
            assert_eq!(consumer.receive(-1).unwrap_err().kind(), ErrorKind::Closed, "the drain closes the consumer");
        })
    };
    let started = Instant::now();
    let report = consumer.drain(1500).unwrap();
    let took = started.elapsed();
    worker.join().unwrap();
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(5), "drain took {took:?}");
    assert_eq!((report.handed_out, report.acked, report.unacked, report.unread), (1000, 1000, 500, 2500), "{report:?}");
    assert_eq!(1000 + report.acked + report.unacked + report.unread, 5000, "every message counted once");
    assert!(consumer.is_closed());
    assert_eq!(consumer.drain(0).unwrap_err().kind(), ErrorKind::Closed);

    // The node has the 2000 acks; the rest wait for their next push.
    wait_for("2000 acks stored", Duration::from_secs(5), || count(broker.port, "consumed") == 2000);
    assert_eq!(count(broker.port, "unconsumed"), 3000);
}

#[test]
fn a_drain_ends_as_soon_as_everything_is_handled() {
    let broker = Broker::start(&[]);
    let cfg = broker.config(&topic("drain-all"));
    let consumer = Arc::new(Consumer::connect(&cfg).unwrap());
    let producer = Producer::connect(&cfg).unwrap();
    let data: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    producer.send_many(&data, 0).unwrap();
    producer.flush(10_000).unwrap();
    wait_for("300 messages buffered", Duration::from_secs(10), || consumer.stats().buffered == 300);
    let worker = {
        let consumer = consumer.clone();
        std::thread::spawn(move || {
            let mut handled = 0;
            while let Ok(m) = consumer.receive(-1) {
                std::thread::sleep(Duration::from_micros(200));
                consumer.ack(&m.code).unwrap();
                handled += 1;
            }
            handled
        })
    };
    let started = Instant::now();
    let report = consumer.drain(30_000).unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the drain waited for its deadline");
    assert_eq!(worker.join().unwrap(), 300);
    assert_eq!((report.handed_out, report.acked, report.unacked, report.unread), (300, 300, 0, 0), "{report:?}");
    wait_for("300 acks stored", Duration::from_secs(5), || count(broker.port, "consumed") == 300);
}
