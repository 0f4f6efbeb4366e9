//! What a client tells about itself beyond its counters: who it is (for
//! events and labels), and each connection's state and traffic. The link
//! driver keeps a [`Gauge`] per connection up to date; the statistics
//! documents (`stats_json`) and the Prometheus page read them.

use crate::error::Error;
use crate::events::{Event, EventKind};
use crate::log;
use crate::sync::lock;
use crate::wire::Role;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A client as events and metrics name it.
#[derive(Debug)]
pub(crate) struct Source {
    /// Unique in the process, from 1.
    pub serial: u64,
    pub role: &'static str,
    pub topic: String,
    pub client_id: String,
}

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

impl Source {
    pub fn new(role: Role, topic: &str, client_id: &str) -> Arc<Source> {
        let role = match role {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        };
        Arc::new(Source {
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            role,
            topic: topic.to_string(),
            client_id: client_id.to_string(),
        })
    }

    /// Queues an event about `node` for the application's event sink (made
    /// only when one is installed).
    pub fn emit(&self, kind: EventKind, node: &str, reason: &str, attempt: u32, delay_ms: u64) {
        log::event(|| Event {
            kind,
            client: self.serial,
            role: self.role,
            topic: self.topic.clone(),
            client_id: self.client_id.clone(),
            node: node.to_string(),
            reason: reason.to_string(),
            attempt,
            delay_ms,
        });
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// One connection's state and traffic, kept by its link.
pub(crate) struct Gauge {
    pub source: Arc<Source>,
    /// The node, as `host:port`.
    pub node: String,
    /// When the connection opened, in Unix ms; 0 while it is not open.
    since_ms: AtomicU64,
    reconnects: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Consumer links: messages pushed, and acks written to the socket.
    pub received: AtomicU64,
    pub acks_written: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A copy of a [`Gauge`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionGauge {
    pub node: String,
    pub connected: bool,
    /// Unix ms when the connection opened, while it is open.
    pub connected_since_ms: Option<u64>,
    pub reconnects: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub received: u64,
    pub acks_written: u64,
    /// Why the last connection or attempt failed, if one did.
    pub last_error: Option<String>,
}

impl Gauge {
    pub fn new(source: &Arc<Source>, node: &str) -> Arc<Gauge> {
        Arc::new(Gauge {
            source: source.clone(),
            node: node.to_string(),
            since_ms: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            received: AtomicU64::new(0),
            acks_written: AtomicU64::new(0),
            last_error: Mutex::new(None),
        })
    }

    fn emit(&self, kind: EventKind, reason: &str, attempt: u32, delay_ms: u64) {
        self.source.emit(kind, &self.node, reason, attempt, delay_ms);
    }

    /// A connection opened; `again` when it replaces a lost one.
    pub fn opened(&self, again: bool) {
        self.since_ms.store(unix_ms().max(1), Ordering::Relaxed);
        if again {
            self.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        self.emit(EventKind::Connected, "", 0, 0);
    }

    /// The connection ended with `why`.
    pub fn lost(&self, why: &Error) {
        self.since_ms.store(0, Ordering::Relaxed);
        *lock(&self.last_error) = Some(why.message().to_string());
        self.emit(EventKind::Disconnected, why.message(), 0, 0);
    }

    /// An attempt to connect failed with `why`.
    pub fn attempt_failed(&self, why: &Error) {
        *lock(&self.last_error) = Some(why.message().to_string());
    }

    /// The link waits `delay_ms` before its `attempt`th try to connect again.
    pub fn reconnecting(&self, attempt: u32, delay_ms: u64) {
        self.emit(EventKind::Reconnecting, "", attempt, delay_ms);
    }

    pub fn read(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn wrote(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ConnectionGauge {
        let since = self.since_ms.load(Ordering::Relaxed);
        ConnectionGauge {
            node: self.node.clone(),
            connected: since != 0,
            connected_since_ms: (since != 0).then_some(since),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            acks_written: self.acks_written.load(Ordering::Relaxed),
            last_error: lock(&self.last_error).clone(),
        }
    }
}

/// A client's gauges, by link id (ids grow: the map keeps start order).
#[derive(Default)]
pub(crate) struct Gauges(Mutex<std::collections::BTreeMap<u32, Arc<Gauge>>>);

impl Gauges {
    pub fn add(&self, link: u32, gauge: Arc<Gauge>) {
        lock(&self.0).insert(link, gauge);
    }
    pub fn remove(&self, link: u32) {
        lock(&self.0).remove(&link);
    }
    /// Each live connection's link id and state, in start order.
    pub fn snapshot(&self) -> Vec<(u32, ConnectionGauge)> {
        lock(&self.0).iter().map(|(&link, g)| (link, g.snapshot())).collect()
    }
}

/// Bytes a WebSocket frame with `payload` bytes takes on the wire
/// (`masked`: written by a client, which masks every frame).
pub(crate) fn frame_len(payload: usize, masked: bool) -> usize {
    let header = match payload {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    };
    header + if masked { 4 } else { 0 } + payload
}
