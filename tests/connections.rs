//! Producers with more than one connection per node (`connections`),
//! against a real kmq-broker process.

mod common;

use common::{stored_messages, topic, Broker, ClientConfig};
use kapokmq::{Consumer, Producer};
use std::collections::HashSet;

fn producer_with(broker: &Broker, name: &str, connections: usize) -> (kapokmq::Config, Producer) {
    let mut cfg = broker.config(&topic(name));
    cfg.set("connections", &connections.to_string()).unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    (cfg, producer)
}

#[test]
fn four_connections_share_the_work_and_count_it() {
    let broker = Broker::start(&[]);
    let (cfg, producer) = producer_with(&broker, "conns4", 4);
    let links = producer.connection_stats();
    assert_eq!(links.len(), 4, "{links:?}");
    let node = format!("127.0.0.1:{}", broker.port);
    assert!(links.iter().all(|l| l.connected && l.node == node), "{links:?}");

    let consumer = Consumer::connect(&cfg).unwrap();
    for i in 0..20_000 {
        producer.send(&format!("m{i}"), 0).unwrap();
    }
    producer.flush(30_000).unwrap();
    let links = producer.connection_stats();
    let total = producer.stats();
    assert_eq!((total.confirmed, total.failed, total.in_flight), (20_000, 0, 0));
    assert_eq!(links.iter().map(|l| l.confirmed).sum::<u64>(), 20_000, "{links:?}");
    assert_eq!(links.iter().map(|l| l.written).sum::<u64>(), 20_000, "{links:?}");
    assert!(links.iter().filter(|l| l.confirmed > 0).count() >= 2, "one connection took everything: {links:?}");
    assert!(links.iter().all(|l| l.in_flight == 0));

    // Every message arrives once, whichever connection carried it.
    let mut seen = HashSet::new();
    for _ in 0..20_000 {
        let m = consumer.receive(10_000).unwrap();
        consumer.ack(&m.code).unwrap();
        assert!(seen.insert(m.data.clone()), "{} twice", m.data);
    }
    assert_eq!(stored_messages(broker.port), 20_000);
}

#[test]
fn a_dropped_connection_hands_its_messages_to_the_others() {
    // Each connection is dropped at its 700th message frame, which the
    // broker neither stores nor confirms: every message must still end
    // confirmed, the lost ones written again.
    let Some(broker) = Broker::start_or_skip(&["--drop-after", "700"]) else {
        return;
    };
    let (_, producer) = producer_with(&broker, "conns-drop", 2);
    for i in 0..5_000 {
        producer.send(&format!("m{i}"), 0).unwrap();
    }
    producer.flush(30_000).unwrap();
    let total = producer.stats();
    assert_eq!((total.confirmed, total.failed), (5_000, 0));
    assert!(total.reconnects > 0 && total.resent > 0, "{total:?}");
    let links = producer.connection_stats();
    assert_eq!(links.iter().map(|l| l.reconnects).sum::<u64>(), total.reconnects, "{links:?}");
    assert_eq!(links.iter().map(|l| l.resent).sum::<u64>(), total.resent, "{links:?}");
    assert_eq!(links.iter().map(|l| l.confirmed).sum::<u64>(), 5_000, "{links:?}");
    assert!(stored_messages(broker.port) >= 5_000);
}

#[test]
fn the_in_flight_bound_holds_per_connection() {
    // The broker never confirms: each connection writes at most
    // max_in_flight messages, and the rest wait in the queue.
    let Some(broker) = Broker::start_or_skip(&["--stall-acks"]) else {
        return;
    };
    let mut cfg = broker.config(&topic("conns-window"));
    cfg.set("connections", "3").unwrap();
    cfg.set("max_in_flight", "100").unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    for i in 0..1_000 {
        producer.send(&format!("m{i}"), 0).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let written = || producer.connection_stats().iter().map(|l| l.written).sum::<u64>();
    while written() < 300 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let links = producer.connection_stats();
    assert!(links.iter().all(|l| l.in_flight == 100 && l.written == 100), "{links:?}");
    assert_eq!(producer.stats().in_flight, 1_000);
}

#[test]
fn the_number_of_connections_is_checked() {
    let mut cfg = kapokmq::Config::new();
    for bad in ["0", "65", "two"] {
        let e = cfg.set("connections", bad).unwrap_err();
        assert!(e.message().contains("connections"), "{e}");
    }
    cfg.set("connections", "64").unwrap();
}
