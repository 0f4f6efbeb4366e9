//! A panic inside a link task (a bug) is caught, logged through the
//! library's log, and the link starts over: its unconfirmed messages are
//! written again and nothing hangs. The panic is injected through a hidden
//! test hook; this file runs in its own process so that no other test's
//! link meets it.

mod common;

use common::{topic, Broker, ClientConfig};
use kapokmq::console::Console;
use kapokmq::log::{self, Level};
use kapokmq::{Consumer, Producer};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn a_panicking_link_is_logged_cleaned_up_and_started_again() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    log::set_sink(Level::Error, Some(Box::new(move |_, m| sink.lock().unwrap().push(m.to_string()))));
    let broker = Broker::start(&["--push-retry-ms", "1000"]);
    let mut cfg = broker.config(&topic("panics"));
    cfg.set("check_time", "1").unwrap();

    // The producer's link panics on the "ok" of the message: the message
    // goes back to the queue, the link starts over and writes it again.
    let producer = Producer::connect(&cfg).unwrap();
    kapokmq::internals::inject_link_panic();
    producer.send_wait("through a panic", 0, 10_000).unwrap();
    let s = producer.stats();
    assert_eq!((s.enqueued, s.confirmed, s.failed, s.in_flight), (1, 1, 0, 0), "{s:?}");
    assert_eq!(s.resent, 1, "the unconfirmed message was written again: {s:?}");
    let logged = lines.lock().unwrap().join("\n");
    assert!(logged.contains("producer link") && logged.contains("injected link panic"), "{logged}");

    // The consumer's link panics on the push: it starts over, the server
    // pushes the unacked message again.
    drop(producer);
    lines.lock().unwrap().clear();
    kapokmq::internals::inject_link_panic();
    let consumer = Consumer::connect(&cfg).unwrap();
    let m = consumer.receive(10_000).expect("the message arrives after the link started over");
    assert!(m.data == "through a panic", "{m:?}");
    let logged = lines.lock().unwrap().join("\n");
    assert!(logged.contains("consumer link") && logged.contains("injected link panic"), "{logged}");

    // The link panics after taking the ack from its queue, before writing
    // it: the ack is written on the next connection, and the server marks
    // the message consumed.
    lines.lock().unwrap().clear();
    kapokmq::internals::inject_ack_writer_panic();
    consumer.ack(&m.code).unwrap();
    let console = Console::new(&cfg).unwrap();
    let deadline = Instant::now() + Duration::from_secs(8);
    let status = loop {
        let status = console.message(&m.code).unwrap()["Status"].as_i64();
        if status == Some(1) || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status, Some(1), "the server never got the ack");
    let logged = lines.lock().unwrap().join("\n");
    assert!(logged.contains("injected ack writer panic"), "{logged}");
    log::set_sink(Level::Error, None);
}
