//! Measurements of the library through its Rust API, in this process.

use kapokmq::{Config, Consumer, Producer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub key: &'a str,
    /// The producer's `connections` (connections per node).
    pub connections: u32,
}

impl Target<'_> {
    fn config(&self, topic: &str, role_key: &str, id: &str) -> Result<Config, String> {
        let mut cfg = Config::new();
        for (k, v) in [
            ("mq_addr", self.host),
            ("mq_port", &self.port.to_string()),
            ("secret_key", self.key),
            ("topic", topic),
            (role_key, id),
            // Large runs enqueue everything at once.
            ("queue_max", "10000000"),
            ("message_timeout_ms", "300000"),
        ] {
            cfg.set(k, v).map_err(|e| e.to_string())?;
        }
        Ok(cfg)
    }

    pub fn producer(&self, topic: &str, id: &str) -> Result<Producer, String> {
        let mut cfg = self.config(topic, "producer_id", id)?;
        // Set only when asked for, so that the other rows run with a
        // library that does not know the key.
        if self.connections != 1 {
            cfg.set("connections", &self.connections.to_string()).map_err(|e| e.to_string())?;
        }
        Producer::connect(&cfg).map_err(|e| e.to_string())
    }

    pub fn consumer(&self, topic: &str, id: &str) -> Result<Consumer, String> {
        let mut cfg = self.config(topic, "consumer_id", id)?;
        cfg.set("receive_buffer", "100000").map_err(|e| e.to_string())?;
        Consumer::connect(&cfg).map_err(|e| e.to_string())
    }
}

/// `n` sends then one flush: the time until every message is confirmed.
pub fn confirmed(t: &Target, topic: &str, n: u64, payload: &str, done: Arc<AtomicU64>) -> Result<Duration, String> {
    let p = Arc::new(t.producer(topic, "lib-producer")?);
    let watcher = spawn_watcher(p.clone(), done);
    let started = Instant::now();
    for _ in 0..n {
        p.send(payload, 0).map_err(|e| e.to_string())?;
    }
    p.flush(-1).map_err(|e| e.to_string())?;
    let took = started.elapsed();
    watcher.stop();
    let s = p.stats();
    if s.confirmed != n || s.failed != 0 {
        return Err(format!("{} confirmed, {} failed of {n}", s.confirmed, s.failed));
    }
    p.close();
    Ok(took)
}

/// A thread that copies the producer's confirmed count into `done` for
/// the progress display, off the measured thread.
struct Watcher {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn spawn_watcher(p: Arc<Producer>, done: Arc<AtomicU64>) -> Watcher {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            done.store(p.stats().confirmed, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    Watcher { stop, thread: Some(thread) }
}

impl Watcher {
    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Produce → consume → ack: a producer thread sends `n` messages while
/// this thread receives and acks them; the time until the last ack call.
pub fn end_to_end(t: &Target, topic: &str, n: u64, payload: &str, done: Arc<AtomicU64>) -> Result<Duration, String> {
    let c = t.consumer(topic, "lib-consumer")?;
    let p = t.producer(topic, "lib-producer")?;
    let started = Instant::now();
    let payload_owned = payload.to_string();
    let sender = std::thread::spawn(move || -> Result<(), String> {
        for _ in 0..n {
            p.send(&payload_owned, 0).map_err(|e| e.to_string())?;
        }
        p.flush(-1).map_err(|e| e.to_string())
    });
    for i in 0..n {
        let m = c.receive(30_000).map_err(|e| format!("after {i} of {n}: {e}"))?;
        c.ack(&m.code).map_err(|e| e.to_string())?;
        if i % 1024 == 0 {
            done.store(i, Ordering::Relaxed);
        }
    }
    let took = started.elapsed();
    sender.join().map_err(|_| "the sending thread panicked".to_string())??;
    c.close();
    Ok(took)
}

/// Latencies of `n` confirmed sends one after another (send_wait), in µs,
/// sorted.
pub fn send_wait_latency(t: &Target, topic: &str, n: u64, payload: &str) -> Result<Vec<f64>, String> {
    let p = t.producer(topic, "lib-latency")?;
    // Warm up the connection and the allocator.
    for _ in 0..100 {
        p.send_wait(payload, 0, 10_000).map_err(|e| e.to_string())?;
    }
    let mut us = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let t0 = Instant::now();
        p.send_wait(payload, 0, 10_000).map_err(|e| e.to_string())?;
        us.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    us.sort_by(|a, b| a.total_cmp(b));
    p.close();
    Ok(us)
}

/// The value at quantile `q` of sorted `v`.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

pub struct Footprint {
    pub threads_before: usize,
    pub threads_after_first: usize,
    pub threads_after_all: usize,
    pub rss_per_producer_kib: f64,
    pub producers: usize,
}

/// Threads the library starts, and the memory each further idle producer
/// costs. Must run before anything else in this process uses the library.
pub fn footprint(t: &Target, extra: usize) -> Result<Footprint, String> {
    let threads_before = thread_count();
    // The first producer also starts the runtime: not counted per producer.
    let first = t.producer("footprint", "fp-0")?;
    std::thread::sleep(Duration::from_millis(200));
    let threads_after_first = thread_count();
    let rss_before = vm_rss_kib();
    let mut held = Vec::with_capacity(extra);
    for i in 1..=extra {
        held.push(t.producer("footprint", &format!("fp-{i}"))?);
    }
    // Let every connection task settle into its idle state.
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = vm_rss_kib();
    let threads_after_all = thread_count();
    for p in &held {
        p.close();
    }
    first.close();
    Ok(Footprint {
        threads_before,
        threads_after_first,
        threads_after_all,
        rss_per_producer_kib: rss_after.saturating_sub(rss_before) as f64 / extra as f64,
        producers: extra,
    })
}
