//! Cluster clients against a real registry and real nodes on 127.0.0.1.

mod common;

use common::{stored_messages, topic, ClientConfig, Cluster};
use kapokmq::{Consumer, ErrorKind, Producer};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[test]
fn messages_spread_over_every_node_and_all_arrive() {
    let cluster = Cluster::start(3, &[]);
    let cfg = cluster.config(&topic("spread"));
    let consumer = Consumer::connect_cluster(&cfg).unwrap();
    let producer = Producer::connect_cluster(&cfg).unwrap();
    for i in 0..30_000 {
        producer.send(&i.to_string(), 0).unwrap();
    }
    producer.flush(30_000).unwrap();
    let per_node: Vec<u64> = cluster.nodes.iter().map(|n| stored_messages(n.port)).collect();
    eprintln!("messages per node: {per_node:?}");
    assert_eq!(per_node.iter().sum::<u64>(), 30_000);
    assert!(per_node.iter().all(|&n| n > 0), "every node takes a share: {per_node:?}");
    let mut seen = HashSet::new();
    while seen.len() < 30_000 {
        let m = consumer.receive(10_000).expect("every message reaches the cluster consumer");
        seen.insert(m.data.clone());
        consumer.ack(&m.code).unwrap();
    }
}

#[test]
fn a_killed_node_loses_nothing_and_gets_no_more_traffic() {
    let wal = common::temp_path("cluster-wal");
    let wal_arg = wal.to_string_lossy().into_owned();
    let flags = ["--push-retry-ms", "1000", "--check-speed-ms", "200"];
    let mut cluster = Cluster::start(2, &flags);
    let victim = cluster.add_node(&["--wal", &wal_arg, "--push-retry-ms", "1000", "--check-speed-ms", "200"]);
    let cfg = cluster.config(&topic("failover"));
    let producer = Producer::connect_cluster(&cfg).unwrap();
    let total = 20_000;
    let frozen_at = total / 2;
    let sent: HashSet<String> = (0..total).map(|i| i.to_string()).collect();
    let mut killed_at = None;
    let mut unconfirmed_at_kill = 0;
    for i in 0..total {
        producer.send(&i.to_string(), 0).unwrap();
        if i == frozen_at {
            // Everything so far confirmed: the victim holds its share, which
            // no other node has. Then it is frozen, so that what is written
            // to it while the sends go on stays unconfirmed, and killed once
            // the links had time to write that.
            producer.flush(30_000).unwrap();
            cluster.nodes[victim].freeze();
        }
        if i == frozen_at + 2000 {
            // The live nodes confirm what they took within moments; what
            // stays unconfirmed was written to the frozen node.
            unconfirmed_at_kill = settled_in_flight(&producer);
            cluster.nodes[victim].kill();
            killed_at = Some(Instant::now());
        }
    }
    producer.flush(60_000).unwrap();
    let rerouted = killed_at.unwrap().elapsed();
    let s = producer.stats();
    assert_eq!((s.confirmed, s.failed), (total, 0), "{s:?}");
    assert!(unconfirmed_at_kill > 0, "the killed node had no unconfirmed messages");
    // What it had not confirmed was written again to the others.
    assert!(s.resent >= unconfirmed_at_kill, "{unconfirmed_at_kill} unconfirmed at the kill: {s:?}");

    // The consumer connects only now: what the killed node stored can reach
    // it only from that node's write-ahead log, after the restart. First
    // everything the live nodes hold.
    let consumer = Consumer::connect_cluster(&cfg).unwrap();
    let mut inbox = Inbox::default();
    let live: Vec<u16> = (0..cluster.nodes.len()).filter(|&n| n != victim).map(|n| cluster.nodes[n].port).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !live.iter().all(|&port| all_consumed(port)) {
        assert!(Instant::now() < deadline, "the live nodes never delivered everything they stored");
        while inbox.take(&consumer, 200) {}
    }
    let only_on_victim: HashSet<String> = sent.difference(&inbox.received).cloned().collect();
    assert!(!only_on_victim.is_empty(), "every message also reached a live node: the log was not needed");

    // The node comes back with its log, so what it confirmed is delivered.
    cluster.nodes[victim].restart_retrying();
    let on_victim = stored_messages(cluster.nodes[victim].port);
    let before_restart = inbox.received.clone();
    // Until every node, the restarted one too, saw every stored copy acked.
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(inbox.received.is_superset(&sent) && ports.iter().all(|&port| all_consumed(port)))
        && Instant::now() < deadline
    {
        while inbox.take(&consumer, 200) {}
    }
    let from_log = inbox.received.difference(&before_restart).count();
    eprintln!(
        "failover: sent {total}, confirmed {}, {unconfirmed_at_kill} unconfirmed at the kill, resent {}, received {} ({} only from the killed node's log), \
         {} stored twice, {} pushed again, on the killed node {on_victim}, all confirmed {:?} after the kill",
        s.confirmed,
        s.resent,
        inbox.received.len(),
        from_log,
        inbox.stored_twice(),
        inbox.redelivered,
        rerouted
    );
    let missing: Vec<&String> = only_on_victim.difference(&inbox.received).take(10).collect();
    assert!(missing.is_empty(), "stored only on the killed node and never received after its restart: {missing:?}");
    let foreign: Vec<&String> = inbox.received.difference(&sent).take(10).collect();
    let lost: Vec<&String> = sent.difference(&inbox.received).take(10).collect();
    assert!(
        foreign.is_empty() && lost.is_empty(),
        "received what was never sent: {foreign:?}; never received: {lost:?}"
    );
    assert_eq!(inbox.received, sent);
    // A message is stored twice only when it was written again.
    assert!(inbox.stored_twice() <= s.resent, "{} stored twice, {} resent", inbox.stored_twice(), s.resent);
    // Nothing sent after the freeze went to the dead node: it holds at most
    // what was sent before it.
    assert!(on_victim <= frozen_at + 1, "{on_victim} messages on the killed node");
    let _ = std::fs::remove_file(wal);
}

/// What a cluster consumer received: the distinct payloads, the codes
/// (one per stored copy) and how often a code came again.
#[derive(Default)]
struct Inbox {
    received: HashSet<String>,
    codes: HashSet<String>,
    copies: u64,
    redelivered: u64,
}

impl Inbox {
    /// Receives (waiting up to `wait_ms`) and acks one message; false when
    /// none came.
    fn take(&mut self, consumer: &Consumer, wait_ms: i64) -> bool {
        let Ok(m) = consumer.receive(wait_ms) else {
            return false;
        };
        if self.codes.insert(m.code.clone()) {
            self.copies += 1;
        } else {
            self.redelivered += 1;
        }
        self.received.insert(m.data);
        consumer.ack(&m.code).unwrap();
        true
    }

    /// Payloads that arrived under more than one code: stored twice.
    fn stored_twice(&self) -> u64 {
        self.copies - self.received.len() as u64
    }
}

/// The producer's `in_flight` once it stopped changing (for 100 ms).
fn settled_in_flight(producer: &Producer) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = producer.stats().in_flight;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = producer.stats().in_flight;
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "in_flight never settled: {:?}", producer.stats());
        last = now;
    }
}

/// Whether the node on `port` stores messages and every one was acked.
fn all_consumed(port: u16) -> bool {
    let body = common::console(port, "/Console/CountMessage");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    let (all, consumed) = (v["data"]["all"].as_u64(), v["data"]["consumed"].as_u64());
    all.is_some_and(|n| n > 0) && all == consumed
}

#[test]
fn a_node_started_later_gets_traffic_within_check_time() {
    let mut cluster = Cluster::start(1, &[]);
    let cfg = cluster.config(&topic("late"));
    let producer = Producer::connect_cluster(&cfg).unwrap();
    let late = cluster.add_node(&[]);
    std::thread::sleep(Duration::from_secs(2)); // check_time (1 s) + 1 s
    for i in 0..5000 {
        producer.send(&i.to_string(), 0).unwrap();
    }
    producer.flush(30_000).unwrap();
    assert!(stored_messages(cluster.nodes[late].port) > 0, "the new node receives traffic");
}

#[test]
fn registry_failures_are_clear_errors() {
    let mut cluster = Cluster::start(0, &[]);
    let cfg = cluster.config("none");
    let e = Producer::connect_cluster(&cfg).err().expect("no nodes");
    assert_eq!(e.kind(), ErrorKind::NoNodes, "{e}");
    let e = Consumer::connect_cluster(&cfg).err().expect("no nodes");
    assert_eq!(e.kind(), ErrorKind::NoNodes, "{e}");

    let mut wrong = cfg.clone();
    wrong.set("secret_key", "nope").unwrap();
    let e = Producer::connect_cluster(&wrong).err().expect("wrong key");
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");

    cluster.registry.kill();
    let e = Producer::connect_cluster(&cfg).err().expect("registry down");
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.message().contains("registry"), "{e}");

    let mut missing = cfg.clone();
    missing.registry_addr = None;
    assert_eq!(Producer::connect_cluster(&missing).err().unwrap().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn a_consumer_also_follows_its_standby_node() {
    // Two independent brokers stand for a master and its standby: the
    // consumer receives what either of them pushes.
    let master = common::Broker::start(&[]);
    let standby = common::Broker::start(&[]);
    let t = topic("standby");
    let mut cfg = master.config(&t);
    cfg.set("standby_addr", "127.0.0.1").unwrap();
    cfg.set("standby_port", &standby.port.to_string()).unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    std::thread::sleep(Duration::from_millis(300)); // the standby link connects in the background
    Producer::connect(&master.config(&t)).unwrap().send_wait("from the master", 0, 5000).unwrap();
    Producer::connect(&standby.config(&t)).unwrap().send_wait("from the standby", 0, 5000).unwrap();
    let mut got: Vec<String> = (0..2)
        .map(|_| consumer.receive(5000).unwrap())
        .map(|m| {
            consumer.ack(&m.code).unwrap();
            m.data
        })
        .collect();
    got.sort();
    assert_eq!(got, ["from the master", "from the standby"]);
    // Each ack went to the node that delivered the message.
    let consumed = |port| {
        let body = common::console(port, "/Console/CountMessage");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["data"]["consumed"].as_u64().unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while (consumed(master.port), consumed(standby.port)) != (1, 1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!((consumed(master.port), consumed(standby.port)), (1, 1));
}

/// Announces a node to the registry the way kmq-broker's heartbeat does;
/// false when the registry does not take it (Serena learns its nodes by
/// gossip only).
fn announce(registry_port: u16, node_port: u16) -> bool {
    use std::io::{Read, Write};
    let body = format!("addr=127.0.0.1&port={node_port}&name=mq:{node_port}");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", registry_port)).unwrap();
    write!(
        s,
        "POST /Registry/Join HTTP/1.1\r\nHost: 127.0.0.1\r\nsecretKey: test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// Producer connections the node on `port` has now.
fn producers_on(port: u16) -> usize {
    let body = common::console(port, "/Console/GetClients");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["producers"].as_array().map_or(0, |a| a.len())
}

#[test]
fn a_node_that_leaves_the_list_loses_its_link_and_gets_exactly_one_back() {
    let mut cluster = Cluster::start(1, &[]);
    // A node the test announces itself: it stays up while it leaves the list.
    let flicker = common::Broker::start(&[]);
    let (registry, port) = (cluster.registry.port, flicker.port);
    let listed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let heartbeat = {
        let listed = listed.clone();
        std::thread::spawn(move || loop {
            match listed.load(std::sync::atomic::Ordering::Relaxed) {
                true => {
                    announce(registry, port);
                }
                false if std::sync::Arc::strong_count(&listed) == 1 => return,
                false => {}
            }
            std::thread::sleep(Duration::from_millis(200));
        })
    };
    if !announce(registry, port) {
        println!(
            "SKIP a_node_that_leaves_the_list_loses_its_link_and_gets_exactly_one_back: \
             the registry takes no HTTP announcements (Serena learns its nodes by gossip)"
        );
        listed.store(false, std::sync::atomic::Ordering::Relaxed);
        return;
    }
    let cfg = cluster.config(&topic("leave"));
    let producer = Producer::connect_cluster(&cfg).unwrap();
    assert_eq!(producers_on(port), 1);

    // Off the list (the registry forgets it after 3 s): its link closes.
    listed.store(false, std::sync::atomic::Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while producers_on(port) > 0 {
        assert!(Instant::now() < deadline, "the link to a node off the list stays open");
        std::thread::sleep(Duration::from_millis(100));
    }
    let stored = stored_messages(port);
    for i in 0..2000 {
        producer.send(&i.to_string(), 0).unwrap();
    }
    producer.flush(10_000).unwrap();
    assert_eq!(stored_messages(port), stored, "a node off the list takes no messages");

    // Back on the list: exactly one link, which takes traffic again.
    listed.store(true, std::sync::atomic::Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while producers_on(port) == 0 {
        assert!(Instant::now() < deadline, "no link to the node back on the list");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3)); // a few more registry polls
    assert_eq!(producers_on(port), 1, "one link per node, never two");
    for i in 0..5000 {
        producer.send(&i.to_string(), 0).unwrap();
    }
    producer.flush(10_000).unwrap();
    assert!(stored_messages(port) > stored, "the node back on the list takes traffic");
    drop(producer);
    listed.store(false, std::sync::atomic::Ordering::Relaxed);
    drop(listed);
    let _ = heartbeat.join();
    cluster.nodes.clear();
}

#[test]
fn connections_per_node_in_a_cluster_and_a_node_that_leaves_takes_its_own() {
    let mut cluster = Cluster::start(2, &[]);
    let mut cfg = cluster.config(&topic("cluster-conns"));
    cfg.set("connections", "2").unwrap();
    let producer = Producer::connect_cluster(&cfg).unwrap();
    // The first connection to each node opens before connect returns; the
    // second dials at once in the background.
    let started = Instant::now();
    let connected = |p: &Producer| p.connection_stats().iter().filter(|l| l.connected).count();
    while connected(&producer) < 4 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let links = producer.connection_stats();
    assert_eq!(links.len(), 4, "{links:?}");
    for node in &cluster.nodes {
        let at = format!("127.0.0.1:{}", node.port);
        assert_eq!(links.iter().filter(|l| l.node == at && l.connected).count(), 2, "{links:?}");
    }
    for i in 0..4000 {
        producer.send(&i.to_string(), 0).unwrap();
    }
    producer.flush(30_000).unwrap();
    assert_eq!(producer.connection_stats().iter().map(|l| l.confirmed).sum::<u64>(), 4000);

    // A node gone from the registry's list takes both its connections.
    cluster.nodes[1].kill();
    let gone = format!("127.0.0.1:{}", cluster.nodes[1].port);
    let started = Instant::now();
    while producer.connection_stats().iter().any(|l| l.node == gone) && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let links = producer.connection_stats();
    assert_eq!(links.len(), 2, "{links:?}");
    producer.send_wait("after", 0, 10_000).unwrap();
    assert_eq!(producer.stats().confirmed, 4001);
}
