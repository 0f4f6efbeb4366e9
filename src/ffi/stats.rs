//! Per-connection counters of a producer (`kmq_producer_connection_stats`).

use super::producer::kmq_producer;
use super::producer::producer;
use super::{call, kmq_status, non_null, put};
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
    // SAFETY: the caller keeps the contract documented above.
    unsafe {
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
}
