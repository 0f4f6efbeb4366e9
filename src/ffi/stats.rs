//! Statistics: a producer's per-connection counters
//! (`kmq_producer_connection_stats`), every client's JSON document, and
//! the Prometheus page of several clients.

use super::consumer::{consumer, kmq_consumer};
use super::producer::kmq_producer;
use super::producer::producer;
use super::{call, call_value, kmq_status, non_null, put};
use crate::producer::ConnectionStats;
use std::ffi::c_char;

/// Size of kmq_connection_stats.node, its NUL included.
pub const KMQ_NODE_SIZE: usize = 272;

/// The counters of one of a producer's connections (`connections` per
/// node, see kmq_config_set). The totals of kmq_producer_stats are the
/// sums over the connections, and over connections since gone.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kmq_connection_stats {
    /// The node, as "host:port" (NUL-terminated).
    pub node: [c_char; KMQ_NODE_SIZE],
    /// 1 while the connection is open, 0 while it is being made again.
    pub connected: i32,
    /// Messages written on this connection, resends included.
    pub written: u64,
    /// Messages the node confirmed on this connection.
    pub confirmed: u64,
    /// Messages written on it again after it dropped.
    pub resent: u64,
    /// Times it was opened again after the first.
    pub reconnects: u64,
    /// Messages written on it and awaiting their "ok" now.
    pub in_flight: u64,
}

impl From<&ConnectionStats> for kmq_connection_stats {
    fn from(s: &ConnectionStats) -> Self {
        let mut out = kmq_connection_stats {
            node: [0; KMQ_NODE_SIZE],
            connected: s.connected as i32,
            written: s.written,
            confirmed: s.confirmed,
            resent: s.resent,
            reconnects: s.reconnects,
            in_flight: s.in_flight,
        };
        super::copy_text(&mut out.node, &s.node);
        out
    }
}

/// Copies the counters of up to `capacity` of the producer's connections
/// into `out` and writes to `*count` how many connections it has, which
/// may be more than `capacity` (call again with more room to see them
/// all). A single-node producer has `connections` of them (default 1); a
/// cluster producer that many per node. Like kmq_producer_get_stats it
/// still answers after kmq_producer_close; the connections leave the list
/// as they end. Never blocks.
///
/// # Safety
/// `p` must be NULL or a live producer; `out` NULL or room for `capacity`
/// entries (NULL only with `capacity` 0); `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_connection_stats(
    p: *const kmq_producer,
    out: *mut kmq_connection_stats,
    capacity: usize,
    count: *mut usize,
) -> kmq_status {
    call("kmq_producer_connection_stats", || {
        non_null(count, "count")?;
        if capacity > 0 {
            non_null(out, "out")?;
        }
        let all = producer(p)?.connection_stats();
        for (i, s) in all.iter().take(capacity).enumerate() {
            put(out.add(i), s.into());
        }
        put(count, all.len());
        Ok(())
    })
}

/// Writes `text` and a NUL to `buf` when `capacity` has room for both, and
/// its length (without the NUL) to `*len` in any case; too little room is
/// `InvalidArgument`, naming what is needed.
///
/// # Safety
/// `buf` NULL or room for `capacity` bytes; `len` writable (checked
/// non-NULL by the caller).
unsafe fn write_text(text: &str, buf: *mut c_char, capacity: usize, len: *mut usize) -> crate::Result<()> {
    // SAFETY: the caller's contract above.
    unsafe { put(len, text.len()) };
    if buf.is_null() || capacity <= text.len() {
        return Err(crate::Error::invalid(format!(
            "the buffer of {capacity} bytes is too small: {} are needed (written to *len, plus 1 for the NUL)",
            text.len()
        )));
    }
    // SAFETY: room for text.len() + 1 bytes, checked above.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, text.len());
        buf.add(text.len()).write(0);
    }
    Ok(())
}

/// Writes the producer's statistics as one JSON object (UTF-8, NUL
/// -terminated) to `buf` and its length without the NUL to `*len`: the
/// totals, the confirm latency over the last minute (`confirm_latency_us`:
/// `p50`, `p90`, `p99`, `max`, in microseconds) and each connection's state,
/// traffic and counters. The README lists every field and its unit.
///
/// When `capacity` is too small (NULL `buf` with 0 asks for the length),
/// returns KMQ_ERR_INVALID_ARGUMENT with the length needed in `*len`:
/// call again with at least `*len + 1` bytes, and some to spare, since the
/// figures move. Still answers after kmq_producer_close. Never blocks.
///
/// # Safety
/// `p` must be NULL or a live producer; `buf` NULL or room for `capacity`
/// bytes; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_stats_json(
    p: *const kmq_producer,
    buf: *mut c_char,
    capacity: usize,
    len: *mut usize,
) -> kmq_status {
    call("kmq_producer_stats_json", || {
        non_null(len, "len")?;
        write_text(&producer(p)?.stats_json(), buf, capacity, len)
    })
}

/// As kmq_producer_stats_json, for a consumer: the totals, the receive
/// buffer (`buffered`, `buffer_capacity`), messages handed out and not yet
/// acked (`unacked`), acks written (`acks_written`), and each connection's
/// state and traffic.
///
/// # Safety
/// `c` must be NULL or a live consumer; `buf` NULL or room for `capacity`
/// bytes; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_consumer_stats_json(
    c: *const kmq_consumer,
    buf: *mut c_char,
    capacity: usize,
    len: *mut usize,
) -> kmq_status {
    call("kmq_consumer_stats_json", || {
        non_null(len, "len")?;
        write_text(&consumer(c)?.stats_json(), buf, capacity, len)
    })
}

/// Writes a Prometheus page (text exposition format 0.0.4) of the given
/// producers and consumers to `buf`, NUL-terminated, and its length to
/// `*len`, as kmq_producer_stats_json does (a too small `capacity` is
/// KMQ_ERR_INVALID_ARGUMENT with the length needed in `*len`). Metric
/// names start `kapokmq_producer_` or `kapokmq_consumer_`; samples carry
/// the labels `topic` and `client_id`, and per connection `node` and
/// `connection`. Either list may be empty (NULL with a count of 0).
/// Never blocks.
///
/// # Safety
/// `producers` NULL or `n_producers` live producers; `consumers` NULL or
/// `n_consumers` live consumers; `buf` NULL or room for `capacity` bytes;
/// `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_prometheus_text(
    producers: *const *const kmq_producer,
    n_producers: usize,
    consumers: *const *const kmq_consumer,
    n_consumers: usize,
    buf: *mut c_char,
    capacity: usize,
    len: *mut usize,
) -> kmq_status {
    call("kmq_prometheus_text", || {
        non_null(len, "len")?;
        let mut docs = Vec::with_capacity(n_producers + n_consumers);
        if n_producers > 0 {
            non_null(producers, "producers")?;
            for i in 0..n_producers {
                docs.push(producer(*producers.add(i))?.stats_document());
            }
        }
        if n_consumers > 0 {
            non_null(consumers, "consumers")?;
            for i in 0..n_consumers {
                docs.push(consumer(*consumers.add(i))?.stats_document());
            }
        }
        write_text(&crate::prometheus::render(&docs), buf, capacity, len)
    })
}

/// The producer's serial number: unique among the clients of the process,
/// from 1; the `client` of its events (kmq_set_event_callback) and of its
/// statistics. 0 when p is NULL or not a live producer. Never blocks.
///
/// # Safety
/// `p` must be NULL or a live producer.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_serial(p: *const kmq_producer) -> u64 {
    call_value("kmq_producer_serial", 0, || Ok(producer(p)?.serial()))
}

/// As kmq_producer_serial, for a consumer.
///
/// # Safety
/// `c` must be NULL or a live consumer.
#[no_mangle]
pub unsafe extern "C" fn kmq_consumer_serial(c: *const kmq_consumer) -> u64 {
    call_value("kmq_consumer_serial", 0, || Ok(consumer(c)?.serial()))
}
