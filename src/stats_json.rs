//! The statistics documents of `kmq_producer_stats_json` and
//! `kmq_consumer_stats_json`: a client's counters, each connection's state
//! and traffic, and (for producers) the confirm latency, as one JSON
//! object. The README lists every field with its unit; the Prometheus page
//! (`prometheus`) is rendered from these documents.

use crate::latency::{LatencySummary, WINDOW};
use crate::metrics::{unix_ms, ConnectionGauge, Source};
use crate::outbox::{ConnectionStats, ProducerStats};
use serde_json::{json, Map, Value};

/// The fields every document starts with: who the client is.
fn header(source: &Source, closed: bool) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("role".into(), source.role.into());
    doc.insert("client".into(), source.serial.into());
    doc.insert("topic".into(), source.topic.clone().into());
    doc.insert("client_id".into(), source.client_id.clone().into());
    doc.insert("closed".into(), closed.into());
    doc.insert("time_ms".into(), unix_ms().into());
    doc
}

/// A connection's fields, common to both roles.
fn connection(id: u32, g: &ConnectionGauge) -> Map<String, Value> {
    let entry = json!({
        "id": id,
        "node": g.node,
        "state": if g.connected { "connected" } else { "connecting" },
        "connected_since_ms": g.connected_since_ms,
        "reconnects": g.reconnects,
        "bytes_in": g.bytes_in,
        "bytes_out": g.bytes_out,
        "last_error": g.last_error,
    });
    match entry {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn extend(map: &mut Map<String, Value>, more: Value) {
    if let Value::Object(more) = more {
        map.extend(more);
    }
}

pub(crate) struct ProducerParts<'a> {
    pub closed: bool,
    pub totals: ProducerStats,
    /// The outbox's counters of each link, by link id.
    pub links: &'a [(u32, ConnectionStats)],
    pub gauges: &'a [(u32, ConnectionGauge)],
    pub latency: LatencySummary,
}

pub(crate) fn producer(source: &Source, p: &ProducerParts) -> Value {
    let mut doc = header(source, p.closed);
    let t = &p.totals;
    extend(
        &mut doc,
        json!({
            "enqueued": t.enqueued,
            "confirmed": t.confirmed,
            "failed": t.failed,
            "resent": t.resent,
            "reconnects": t.reconnects,
            "in_flight": t.in_flight,
            "confirm_latency_us": {
                "p50": p.latency.p50_us,
                "p90": p.latency.p90_us,
                "p99": p.latency.p99_us,
                "max": p.latency.max_us,
                "count": p.latency.count,
                "window_s": WINDOW.as_secs(),
                "total_count": p.latency.total_count,
                "total_sum": p.latency.total_sum_us,
            },
        }),
    );
    let connections = p.gauges.iter().map(|(id, g)| {
        let mut entry = connection(*id, g);
        let counts = p.links.iter().find(|(l, _)| l == id).map(|(_, c)| c.clone()).unwrap_or_default();
        extend(
            &mut entry,
            json!({
                "written": counts.written,
                "confirmed": counts.confirmed,
                "resent": counts.resent,
                "in_flight": counts.in_flight,
            }),
        );
        Value::Object(entry)
    });
    doc.insert("connections".into(), Value::Array(connections.collect()));
    Value::Object(doc)
}

pub(crate) struct ConsumerParts<'a> {
    pub closed: bool,
    pub received: u64,
    pub acked: u64,
    pub reconnects: u64,
    pub bad_frames: u64,
    pub buffered: u64,
    pub unacked: u64,
    pub acks_written: u64,
    pub buffer_capacity: u64,
    pub gauges: &'a [(u32, ConnectionGauge)],
}

pub(crate) fn consumer(source: &Source, c: &ConsumerParts) -> Value {
    let mut doc = header(source, c.closed);
    extend(
        &mut doc,
        json!({
            "received": c.received,
            "acked": c.acked,
            "acks_written": c.acks_written,
            "unacked": c.unacked,
            "buffered": c.buffered,
            "buffer_capacity": c.buffer_capacity,
            "reconnects": c.reconnects,
            "bad_frames": c.bad_frames,
        }),
    );
    let connections = c.gauges.iter().map(|(id, g)| {
        let mut entry = connection(*id, g);
        extend(&mut entry, json!({ "received": g.received, "acks_written": g.acks_written }));
        Value::Object(entry)
    });
    doc.insert("connections".into(), Value::Array(connections.collect()));
    Value::Object(doc)
}
