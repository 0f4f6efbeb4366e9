//! End-to-end behaviour of the Rust API against a real kmq-broker process.

mod common;

use common::{topic, Broker, ClientConfig};
use kapokmq::{Consumer, ErrorKind, Producer};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[test]
fn round_trip_keeps_nul_and_multibyte_text() {
    let broker = Broker::start(&[]);
    let cfg = broker.config(&topic("roundtrip"));
    let consumer = Consumer::connect(&cfg).unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    producer.flush(i64::MAX).unwrap();
    let text = "héllo\u{0}wörld 😀 \"quoted\"\n\\";
    producer.send_wait(text, 0, 5000).unwrap();
    let m = consumer.receive(5000).unwrap();
    assert_eq!(m.data, text);
    assert_eq!(m.code.len(), 32);
    assert!(m.code.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(&m.topic, cfg.topic.as_ref().unwrap());
    consumer.ack(&m.code).unwrap();
}

#[test]
fn ten_thousand_messages_confirmed_and_received_in_order() {
    let broker = Broker::start(&[]);
    let cfg = broker.config(&topic("bulk"));
    let consumer = Consumer::connect(&cfg).unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    let started = Instant::now();
    for i in 0..10_000 {
        producer.send(&format!("message {i}"), 0).unwrap();
    }
    producer.flush(30_000).unwrap();
    let confirmed_after = started.elapsed();
    for i in 0..10_000 {
        let m = consumer.receive(10_000).unwrap_or_else(|e| panic!("message {i}: {e}"));
        assert_eq!(m.data, format!("message {i}"));
        consumer.ack(&m.code).unwrap();
    }
    let stats = producer.stats();
    assert_eq!((stats.enqueued, stats.confirmed, stats.failed, stats.in_flight), (10_000, 10_000, 0, 0));
    eprintln!("10,000 messages: confirmed in {:?}, received in {:?}", confirmed_after, started.elapsed());
}

#[test]
fn large_messages_keep_flowing_whatever_the_batch_boundaries() {
    // 16 KiB messages: a batch (1 MiB) is written in whole 128 KiB pieces
    // and ends exactly on one. Nothing may then wait for the next ping
    // (every check_time, 10 s here) to write what is still queued.
    let broker = Broker::start(&[]);
    let mut cfg = broker.config(&topic("large"));
    cfg.set("check_time", "10").unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    let data = "x".repeat(16 << 10);
    for _ in 0..400 {
        producer.send(&data, 0).unwrap();
    }
    let started = Instant::now();
    producer.flush(8_000).unwrap();
    eprintln!("400 messages of 16 KiB confirmed in {:?}", started.elapsed());
    assert_eq!(producer.stats().confirmed, 400);
}

#[test]
fn wrong_key_is_an_auth_error_not_a_hang() {
    let broker = Broker::start(&["--secret-key", "right"]);
    let mut cfg = broker.config("auth");
    cfg.set("secret_key", "wrong").unwrap();
    let started = Instant::now();
    let e = Producer::connect(&cfg).err().expect("wrong key must fail");
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    let e = Consumer::connect(&cfg).err().expect("wrong key must fail");
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!e.message().contains("wrong"), "the key must not appear in errors: {e}");
}

#[test]
fn closed_port_and_silent_server_are_connect_errors() {
    let mut broker = Broker::start(&[]);
    let cfg = broker.config("nobody");
    broker.kill();
    let e = Producer::connect(&cfg).err().expect("closed port must fail");
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(e.message().contains(&format!("127.0.0.1:{}", broker.port)), "{e}");

    let Some(silent) = Broker::start_or_skip(&["--silent"]) else {
        return;
    };
    let mut cfg = silent.config("silent");
    cfg.set("connect_timeout_ms", "500").unwrap();
    let started = Instant::now();
    let e = Consumer::connect(&cfg).err().expect("a silent server must fail");
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[test]
fn receive_times_out_and_close_wakes_a_blocked_receive() {
    let broker = Broker::start(&[]);
    let cfg = broker.config(&topic("idle"));
    let consumer = Consumer::connect(&cfg).unwrap();
    let started = Instant::now();
    assert_eq!(consumer.receive(300).unwrap_err().kind(), ErrorKind::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(290));

    std::thread::scope(|s| {
        let waiter = s.spawn(|| consumer.receive(-1));
        let huge = s.spawn(|| consumer.receive(i64::MAX));
        let below = s.spawn(|| consumer.receive(-7));
        std::thread::sleep(Duration::from_millis(200));
        consumer.close();
        for blocked in [waiter, huge, below] {
            assert_eq!(blocked.join().unwrap().unwrap_err().kind(), ErrorKind::Closed);
        }
    });
    assert_eq!(consumer.ack("0123456789abcdef0123456789abcdef").unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn unconfirmed_messages_fail_on_time_and_are_reported() {
    let Some(broker) = Broker::start_or_skip(&["--stall-acks"]) else {
        return;
    };
    let mut cfg = broker.config(&topic("stalled"));
    cfg.set("message_timeout_ms", "300").unwrap();
    cfg.set("queue_max", "3").unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    let id = producer.send_tracked("a", 0).unwrap();
    producer.send("b", 0).unwrap();
    producer.send("c", 0).unwrap();
    assert_eq!(producer.send("d", 0).unwrap_err().kind(), ErrorKind::QueueFull);
    let e = producer.flush(5000).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().contains("3 messages failed"), "{e}");
    let reports = producer.poll_reports(10, 1000).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].id, id);
    assert_eq!(reports[0].result.as_ref().unwrap_err().kind(), ErrorKind::Timeout);
    let s = producer.stats();
    assert_eq!((s.enqueued, s.confirmed, s.failed, s.in_flight), (3, 0, 3, 0));
    assert_eq!(producer.send_wait("e", 0, 100).unwrap_err().kind(), ErrorKind::Timeout);
}

#[test]
fn dropped_connections_resend_until_everything_is_confirmed() {
    // The broker drops each producer connection at its 50th frame.
    let Some(broker) = Broker::start_or_skip(&["--drop-after", "50"]) else {
        return;
    };
    let cfg = broker.config(&topic("drops"));
    let producer = Producer::connect(&cfg).unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    for i in 0..500 {
        producer.send(&i.to_string(), 0).unwrap();
    }
    producer.flush(30_000).unwrap();
    let s = producer.stats();
    assert_eq!((s.confirmed, s.failed), (500, 0));
    assert!(s.reconnects >= 10 && s.resent > 0, "{s:?}");
    let mut seen = HashSet::new();
    while seen.len() < 500 {
        let m = consumer.receive(10_000).expect("every confirmed message arrives");
        seen.insert(m.data.clone());
        consumer.ack(&m.code).unwrap();
    }
}

#[test]
fn broker_killed_and_restarted_loses_nothing() {
    let wal = common::temp_path("wal");
    let wal_arg = wal.to_string_lossy().into_owned();
    let mut broker = Broker::start(&["--wal", &wal_arg, "--push-retry-ms", "1000", "--check-speed-ms", "200"]);
    let cfg = broker.config(&topic("restart"));
    let producer = Producer::connect(&cfg).unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    for i in 0..5000 {
        producer.send(&i.to_string(), 0).unwrap();
        if i == 2500 {
            broker.restart();
        }
    }
    producer.flush(60_000).unwrap();
    let s = producer.stats();
    assert_eq!((s.confirmed, s.failed), (5000, 0), "{s:?}");
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 5000 && Instant::now() < deadline {
        if let Ok(m) = consumer.receive(1000) {
            if !seen.insert(m.data.clone()) {
                duplicates += 1;
            }
            consumer.ack(&m.code).unwrap();
        }
    }
    eprintln!(
        "restart: {} received, {duplicates} duplicates, {} resent, {} reconnects",
        seen.len(),
        s.resent,
        s.reconnects
    );
    assert_eq!(seen.len(), 5000, "every confirmed message is received at least once");
    let _ = std::fs::remove_file(wal);
}

#[test]
fn producers_and_consumers_on_several_threads() {
    let broker = Broker::start(&[]);
    let cfgs: Vec<_> = (0..2).map(|i| broker.config(&topic(&format!("threads{i}")))).collect();
    // The consumers first, and listed by the server before anything is sent:
    // the real node registers a consumer a moment after its handshake, and a
    // message sent in that moment comes later, out of order.
    let consumers: Vec<_> = cfgs.iter().map(|cfg| Consumer::connect(cfg).unwrap()).collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::console(broker.port, "/Console/GetClients").matches("ConsumerId").count() < 2 {
        assert!(Instant::now() < deadline, "the server never listed both consumers");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::scope(|s| {
        for (cfg, c) in cfgs.iter().zip(&consumers) {
            s.spawn(move || {
                let p = Producer::connect(cfg).unwrap();
                for i in 0..2000 {
                    p.send(&i.to_string(), 0).unwrap();
                }
                p.flush(30_000).unwrap();
            });
            s.spawn(move || {
                for i in 0..2000 {
                    let m = c.receive(20_000).unwrap();
                    assert_eq!(m.data, i.to_string());
                    c.ack(&m.code).unwrap();
                }
            });
        }
    });
}

#[test]
fn a_small_receive_buffer_applies_back_pressure_without_losing_messages() {
    let broker = Broker::start(&[]);
    let mut cfg = broker.config(&topic("backpressure"));
    cfg.set("receive_buffer", "8").unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    let producer = Producer::connect(&cfg).unwrap();
    for i in 0..2000 {
        producer.send(&i.to_string(), 0).unwrap();
    }
    producer.flush(30_000).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(consumer.stats().buffered <= 8, "{:?}", consumer.stats());
    for i in 0..2000 {
        let m = consumer.receive(10_000).unwrap();
        assert_eq!(m.data, i.to_string());
        consumer.ack(&m.code).unwrap();
    }
}

#[test]
fn a_lost_connection_is_logged_and_stats_read_as_json() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    kapokmq::log::set_sink(
        kapokmq::log::Level::Info,
        Some(Box::new(move |level, msg| sink.lock().unwrap().push(format!("{level:?} {msg}")))),
    );
    let mut broker = Broker::start(&[]);
    let cfg = broker.config(&topic("logged"));
    let producer = Producer::connect(&cfg).unwrap();
    broker.restart();
    producer.send_wait("after restart", 0, 10_000).unwrap();
    kapokmq::log::set_sink(kapokmq::log::Level::Error, None);
    let lines = seen.lock().unwrap().clone();
    let port = broker.port.to_string();
    assert!(lines.iter().any(|l| l.starts_with("Warn") && l.contains("lost") && l.contains(&port)), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("Info") && l.contains("reconnected") && l.contains(&port)), "{lines:?}");
    let json: serde_json::Value = serde_json::from_str(&producer.stats_json()).unwrap();
    assert_eq!(json["confirmed"], 1);
    assert_eq!(json["reconnects"], 1);
    let link = &json["connections"][0];
    assert_eq!(link["node"], format!("127.0.0.1:{port}"));
    assert_eq!((link["state"].as_str(), link["reconnects"].as_u64()), (Some("connected"), Some(1)), "{json}");
    assert!(link["last_error"].as_str().is_some_and(|e| !e.is_empty()), "the loss is remembered: {json}");
    assert!(json["confirm_latency_us"]["count"].as_u64() >= Some(1), "{json}");
}

#[test]
fn producers_connecting_at_once_to_a_host_name_all_connect() {
    let broker = Broker::start(&[]);
    let mut cfg = broker.config(&topic("by-name"));
    cfg.set("mq_addr", "localhost").unwrap();
    cfg.set("connect_timeout_ms", "5000").unwrap();
    let started = Instant::now();
    let producers: Vec<Producer> = std::thread::scope(|s| {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let mut cfg = cfg.clone();
                cfg.set("producer_id", &format!("p{i}")).unwrap();
                s.spawn(move || Producer::connect(&cfg))
            })
            .collect();
        tasks.into_iter().map(|t| t.join().unwrap().expect("connect to localhost")).collect()
    });
    let took = started.elapsed();
    for p in &producers {
        p.send_wait("by name", 0, 5000).unwrap();
    }
    assert!(took < Duration::from_secs(3), "8 connects to a name took {took:?}");
}

#[test]
fn a_steady_stream_of_acks_still_pings_and_keeps_its_connection() {
    // check_time 1 s: silence of 3 s from the node ends a connection, and
    // while nothing is pushed only the pongs to its pings break it. Acks
    // written without a pause in between must not hold the pings back.
    let broker = Broker::start(&[]);
    let mut cfg = broker.config(&topic("ack-stream"));
    cfg.set("check_time", "1").unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();
    let until = Instant::now() + Duration::from_millis(4500);
    while Instant::now() < until {
        consumer.ack("0123456789abcdef0123456789abcdef").unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    assert_eq!(consumer.stats().reconnects, 0, "the connection was dropped as silent");
}
